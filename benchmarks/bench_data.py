"""Data pipeline speed: reading real WOMD shards, and generating SUMO scenarios.

(a) `smartr1.data.womd.read_scenarios` on the real WOMD files in ../shared/data/wosac/scenarios,
    repeated for a stable number, against raw protobuf parsing of the same records (the baseline:
    TFRecord framing + `Scenario.FromString`, no conversion to arrays).
(b) `smartr1 generate` throughput with 1 and 2 worker processes (same seed, so the same output),
    plus per-scenario agent counts of the generated data next to the real scenarios'.

Writes benchmarks/results/data.json and data.md.

    .venv/bin/python benchmarks/bench_data.py [--num 20] [--large 100] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import SHARED, machine, write_results

WOMD_DIR = SHARED / "data" / "wosac" / "scenarios"


def bench_read(repeats: int) -> dict:
    from smartr1.data.protos import womd_scenario_pb2
    from smartr1.data.tfrecord import iter_records
    from smartr1.data.womd import read_scenarios

    files = sorted(WOMD_DIR.glob("*.tfrecord"))
    if not files:
        raise SystemExit(f"no WOMD files in {WOMD_DIR}")
    mb = sum(f.stat().st_size for f in files) / 1e6

    def raw() -> int:
        n = 0
        for f in files:
            for payload in iter_records(f):
                womd_scenario_pb2.Scenario.FromString(payload)
                n += 1
        return n

    def ours() -> int:
        return sum(1 for _ in read_scenarios(files))

    out = {}
    for name, fn in (("raw_protobuf", raw), ("read_scenarios", ours)):
        fn()  # warm
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            n = fn()
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        out[name] = dict(
            scenarios=n, seconds_median=med, scenarios_per_s=n / med, mb_per_s=mb / med, repeats=repeats
        )
    out["files"] = [f.name for f in files]
    out["mb"] = mb
    out["ratio_read_vs_raw"] = out["read_scenarios"]["seconds_median"] / out["raw_protobuf"]["seconds_median"]
    return out


def counts(dirs) -> dict:
    from smartr1.data.scenario import AgentType
    from smartr1.data.timeline import CURRENT_STEP
    from smartr1.data.womd import read_scenarios

    rows = []
    for s in read_scenarios(dirs):
        t = s.tracks
        rows.append(
            dict(
                tracks=t.num_agents,
                valid_now=int(t.valid[:, CURRENT_STEP].sum()),
                vehicles=int((t.type == AgentType.VEHICLE).sum()),
                pedestrians=int((t.type == AgentType.PEDESTRIAN).sum()),
                cyclists=int((t.type == AgentType.CYCLIST).sum()),
                predict=len(s.tracks_to_predict),
                map_features=s.map.num_features,
                signal_lanes=int(s.signals.valid.any(axis=0).sum()),
            )
        )
    keys = rows[0].keys() if rows else []
    return {
        k: dict(
            mean=float(np.mean([r[k] for r in rows])),
            min=int(min(r[k] for r in rows)),
            max=int(max(r[k] for r in rows)),
        )
        for k in keys
    } | {"scenarios": len(rows)}


def bench_generate(num: int, workers: int, seed: int, root: Path) -> dict:
    import resource

    from smartr1.data.sumo.generate import generate

    out = root / f"n{num}-w{workers}"
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = generate(num, out, seed=seed, workers=workers, progress=False)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the worker processes and their SUMO subprocesses: robust to other jobs on the machine.
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    mb = sum(p.stat().st_size for p in out.glob("*.tfrecord")) / 1e6
    stage = {}
    for w in s.worlds:
        for k, v in w.seconds.items():
            stage[k] = stage.get(k, 0.0) + v
    return dict(
        num=num,
        workers=s.workers,
        worlds=len(s.worlds),
        seconds=s.seconds,
        scenarios_per_s=num / s.seconds,
        cpu_seconds=round(cpu, 2),
        cpu_s_per_scenario=cpu / num,
        mb_written=mb,
        retries=sum(len(w.failures) for w in s.worlds),
        teleports=sum(w.teleports for w in s.worlds),
        recorded_s=sum(w.recorded_s for w in s.worlds),
        stage_seconds_summed_over_worlds={k: round(v, 2) for k, v in stage.items()},
        out=str(out),
    )


def payload_digest(d: Path) -> str:
    import hashlib

    from smartr1.data.tfrecord import iter_records

    h = hashlib.sha256()
    for p in sorted(d.glob("*.tfrecord")):
        for r in iter_records(p):
            h.update(r)
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num", type=int, default=20, help="scenarios for the 1- vs 2-worker comparison")
    ap.add_argument("--large", type=int, default=100, help="scenarios for a larger 2-worker run (0 = skip)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    result = dict(machine=machine())
    result["read"] = bench_read(args.repeats)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        root = Path(tmp)
        gen = [bench_generate(args.num, w, args.seed, root) for w in (1, 2)]
        same = payload_digest(Path(gen[0]["out"])) == payload_digest(Path(gen[1]["out"]))
        if args.large:
            gen.append(bench_generate(args.large, 2, args.seed + 1, root))
        result["generate"] = gen
        result["generate_identical_for_1_and_2_workers"] = same
        result["speedup_2_vs_1_workers"] = gen[1]["scenarios_per_s"] / gen[0]["scenarios_per_s"]
        result["agent_counts_generated"] = counts([Path(g["out"]) for g in gen[1:]])
        result["agent_counts_real_womd"] = counts(sorted(WOMD_DIR.glob("*.tfrecord")))
        for g in gen:
            g.pop("out")
    result["machine"]["load_avg_1min_end"] = os.getloadavg()[0]

    md = render_md(result)
    write_results("data", result, md)
    print(md)


def render_md(r: dict) -> str:
    m, rd = r["machine"], r["read"]
    lines = [
        "# Data pipeline speed",
        "",
        f"Machine: {m['cpu_count']} CPUs, {m['platform']}, Python {m['python']}, torch {m['torch']}, "
        f"device {m['device']}; 1-min load average {m['loadavg_1min_start']:.1f} at start, "
        f"{m['load_avg_1min_end']:.1f} at end (other jobs share the machine).",
        "",
        f"## Reading real WOMD shards ({len(rd['files'])} files, {rd['mb']:.2f} MB, "
        f"median of {rd['read_scenarios']['repeats']} repeats)",
        "",
        "| reader | s per pass | scenarios/s | MB/s | time vs raw protobuf |",
        "|---|---|---|---|---|",
    ]
    for name in ("raw_protobuf", "read_scenarios"):
        x = rd[name]
        ratio = x["seconds_median"] / rd["raw_protobuf"]["seconds_median"]
        lines.append(
            f"| {name} | {x['seconds_median']:.4f} | {x['scenarios_per_s']:.1f} | {x['mb_per_s']:.1f} | "
            f"{ratio:.2f}x |"
        )
    lines += [
        "",
        "## Generating SUMO scenarios (default config)",
        "",
        "| scenarios | workers | worlds | wall s | scenarios/s | CPU s / scenario | MB written | retries | teleports |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for g in r["generate"]:
        lines.append(
            f"| {g['num']} | {g['workers']} | {g['worlds']} | {g['seconds']:.1f} | "
            f"{g['scenarios_per_s']:.2f} | {g['cpu_s_per_scenario']:.2f} | {g['mb_written']:.1f} | "
            f"{g['retries']} | {g['teleports']} |"
        )
    lines += [
        "",
        f"2 vs 1 workers: {r['speedup_2_vs_1_workers']:.2f}x; "
        f"identical output for 1 and 2 workers: {r['generate_identical_for_1_and_2_workers']}.",
        "",
        "Stage seconds (summed over worlds): "
        + "; ".join(
            f"{g['num']}/{g['workers']}w: "
            + ", ".join(f"{k} {v}" for k, v in g["stage_seconds_summed_over_worlds"].items())
            for g in r["generate"]
        ),
        "",
        "## Per-scenario counts: generated vs the real WOMD scenarios",
        "",
        "| quantity | generated mean (min-max) | real WOMD mean (min-max) |",
        "|---|---|---|",
    ]
    gen, real = r["agent_counts_generated"], r["agent_counts_real_womd"]
    for k in gen:
        if k == "scenarios":
            continue
        lines.append(
            f"| {k} | {gen[k]['mean']:.1f} ({gen[k]['min']}-{gen[k]['max']}) | "
            f"{real[k]['mean']:.1f} ({real[k]['min']}-{real[k]['max']}) |"
        )
    lines.append(f"| scenarios | {gen['scenarios']} | {real['scenarios']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
