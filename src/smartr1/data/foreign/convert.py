"""`smartr1 convert`: foreign scenes -> WOMD TFRecord shards, resumable like `smartr1 generate`.

Input files are split into shards of `shard_size` files (all in one shard by default); each shard is
written atomically (`write_scenarios`), so a failure leaves no half-written shard, and gets a hidden
`.<shard>.done.json` beside it once complete, holding its run key (format, config, and each input
file's path, size and mtime). A rerun keeps every shard whose record matches its key and size and
converts the rest.
"""

from __future__ import annotations

import glob
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.foreign import av2, scenarionet
from smartr1.data.foreign.scene import ConvertConfig, SourceScene, cut_windows
from smartr1.data.progress import count_bar
from smartr1.data.scenario import Scenario
from smartr1.data.womd import check_scenario, write_scenarios

DONE_FORMAT = 1
FORMATS: dict[str, tuple[Callable[[Path], list[Path]], Callable[[Path, ConvertConfig], SourceScene]]] = {
    "scenarionet": (scenarionet.scene_files, scenarionet.read_scene),
    "av2": (av2.scene_files, av2.read_scene),
}


def input_files(fmt: str, inputs: list[str | Path]) -> list[Path]:
    """Scene files from files, folders (searched the format's way) and glob patterns, in order."""
    if fmt not in FORMATS:
        raise DataError(None, f"unknown input format {fmt!r} (use one of {sorted(FORMATS)})")
    find = FORMATS[fmt][0]
    out: list[Path] = []
    for item in map(str, inputs):
        if any(c in item for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=True))]
            if not matches:
                raise DataError(item, "glob pattern matches no file")
            for m in matches:
                out += find(m) if m.is_dir() else [m]
        elif Path(item).is_dir():
            out += find(Path(item))
        elif Path(item).is_file():
            out.append(Path(item))
        else:
            raise DataError(item, "no such file or directory")
    out = [p for p in out if p.name not in scenarionet.INDEX_FILES]
    if not out:
        raise DataError(", ".join(map(str, inputs)), f"no {fmt} scene file found")
    return list(dict.fromkeys(out))


def shard_paths(out: Path, files: int, shard_size: int) -> list[Path]:
    """`out` itself, or `<stem>-00000-of-00003.tfrecord`, ... with `shard_size` files each."""
    if shard_size <= 0 or files <= shard_size:
        return [out]
    n = -(-files // shard_size)
    return [out.with_name(f"{out.stem}-{k:05d}-of-{n:05d}{out.suffix or '.tfrecord'}") for k in range(n)]


def _done_path(shard: Path) -> Path:
    return shard.with_name(f".{shard.name}.done.json")


def _run_key(fmt: str, cfg: ConvertConfig, files: list[Path]) -> dict:
    stats = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return json.loads(json.dumps(dict(format=DONE_FORMAT, source=fmt, cfg=asdict(cfg), files=stats)))


def _finished(shard: Path, key: dict) -> dict | None:
    try:
        record = json.loads(_done_path(shard).read_text())
        if record["key"] == key and record["bytes"] == shard.stat().st_size:
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


@dataclass
class ConvertSummary:
    source: str
    files: int  # input scene files
    scenarios: int  # 91-step scenarios written (or kept)
    shards: list[str]
    seconds: float
    scenes_per_s: float  # input scene files per second (kept shards not counted)
    notes: list[str] = field(default_factory=list)  # refused scenes and windows
    kept: list[str] = field(default_factory=list)  # shards an earlier run had finished

    def to_json(self) -> dict:
        return asdict(self)


def convert_files(
    fmt: str, files: list[Path], cfg: ConvertConfig, notes: list[str], on_file=None
) -> Iterator[Scenario]:
    """The checked scenarios of the files, in order; refusals are appended to `notes`."""
    read = FORMATS[fmt][1]
    for f in files:
        scenarios, why = cut_windows(read(f, cfg), cfg)
        notes += [f"{f}: {w}" for w in why]
        for s in scenarios:
            yield check_scenario(s, f)
        if on_file is not None:
            on_file(f)


def convert(
    fmt: str,
    inputs: list[str | Path],
    out: str | Path,
    cfg: ConvertConfig | None = None,
    shard_size: int = 0,
    progress: bool = True,
    console=None,
) -> ConvertSummary:
    """Convert every scene of `inputs` into WOMD TFRecord shard(s) at `out` (see the module doc)."""
    cfg = cfg or ConvertConfig()
    files = input_files(fmt, inputs)
    out = Path(out)
    shards = shard_paths(out, len(files), shard_size)
    size = len(files) if len(shards) == 1 else shard_size
    t0 = time.perf_counter()
    summary = ConvertSummary(fmt, len(files), 0, [str(s) for s in shards], 0.0, 0.0)
    converted = 0
    bar = count_bar("convert", "scenes", console, progress)
    with bar:
        task = bar.add_task("convert", total=len(files), note="")
        for k, shard in enumerate(shards):
            group = files[k * size : (k + 1) * size]
            key = _run_key(fmt, cfg, group)
            done = _finished(shard, key)
            if done is None:
                notes: list[str] = []
                n = write_scenarios(shard, convert_files(fmt, group, cfg, notes, lambda _: bar.advance(task)))
                done = dict(key=key, bytes=shard.stat().st_size, scenarios=n, notes=notes)
                atomic_write_bytes(_done_path(shard), [json.dumps(done).encode()])  # after the shard
                converted += len(group)
            else:
                summary.kept.append(str(shard))
                bar.advance(task, len(group))
            summary.scenarios += int(done["scenarios"])
            summary.notes += list(done["notes"])
            rate = converted / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, note=f"{rate:.1f} scenes/s")
    summary.seconds = round(time.perf_counter() - t0, 3)
    summary.scenes_per_s = round(converted / max(summary.seconds, 1e-9), 3)
    for shard in shards:  # temporary files of a killed earlier run (this run has finished writing)
        for tmp in shard.parent.glob(f".{shard.name}.*.tmp*"):
            tmp.unlink(missing_ok=True)
    return summary
