"""Conversion speed of `smartr1 convert`: source scenes per second, ScenarioNet (nuScenes-mini) and AV2.

Converts the samples in ../shared/data/foreign `--repeats` times into a temporary folder (a fresh
output each time, so nothing is resumed) and reports the median wall time per pass, split into
reading + windowing (source -> `Scenario`) and proto encoding + writing.

Writes benchmarks/results/convert.json and convert.md.

    .venv/bin/python benchmarks/bench_convert.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import SHARED, machine, write_results

FOREIGN = SHARED / "data" / "foreign"
SOURCES = {"scenarionet": FOREIGN / "scenarionet_nuscenes_mini", "av2": FOREIGN / "av2_motion_forecasting"}


def bench(fmt: str, src: Path, repeats: int) -> dict:
    from smartr1.data.foreign import av2
    from smartr1.data.foreign.convert import FORMATS, convert, input_files
    from smartr1.data.foreign.scene import ConvertConfig, cut_windows

    files = input_files(fmt, [src])
    inputs = files + ([av2.map_file(f) for f in files] if fmt == "av2" else [])  # AV2: parquet + map JSON
    cfg = ConvertConfig()
    walls, reads = [], []
    scenarios = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            summary = convert(fmt, [src], Path(tmp) / "out.tfrecord", cfg, progress=False)
            walls.append(time.perf_counter() - t0)
            scenarios = summary.scenarios
        t0 = time.perf_counter()
        for f in files:
            cut_windows(FORMATS[fmt][1](f, cfg), cfg)
        reads.append(time.perf_counter() - t0)
    wall, read = statistics.median(walls), statistics.median(reads)
    return dict(
        files=len(files),
        scenarios=scenarios,
        wall_s=round(wall, 3),
        read_and_cut_s=round(read, 3),
        encode_and_write_s=round(wall - read, 3),
        scenes_per_s=round(len(files) / wall, 2),
        scenarios_per_s=round(scenarios / wall, 2),
        megabytes_in=round(sum(f.stat().st_size for f in inputs) / 1e6, 2),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    m = machine()
    results = {fmt: bench(fmt, src, args.repeats) for fmt, src in SOURCES.items()}
    md = [
        "# `smartr1 convert` speed",
        "",
        f"Median of {args.repeats} passes in one process on {m['cpu_count']} CPU cores (a shared machine; load "
        f"{m['loadavg_1min_start']:.1f} at the start). A *scene* is one source file (a ScenarioNet pickle, or",
        "an AV2 parquet + map JSON); each yields one or more 91-step scenarios.",
        "",
        "| source | scenes (MB) | scenarios | wall s | scenes/s | scenarios/s | read + cut s | encode + write s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fmt, r in results.items():
        md.append(
            f"| {fmt} | {r['files']} ({r['megabytes_in']}) | {r['scenarios']} | {r['wall_s']} | "
            f"**{r['scenes_per_s']}** | {r['scenarios_per_s']} | {r['read_and_cut_s']} | {r['encode_and_write_s']} |"
        )
    md += [
        "",
        "The AV2 figure is one small scenario: it is dominated by fixed costs (pyarrow's first read, the",
        "map JSON), so treat it as a lower bound on AV2 throughput.",
    ]
    write_results("convert", dict(results=results, repeats=args.repeats, machine=m), md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
