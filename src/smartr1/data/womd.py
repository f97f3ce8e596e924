"""TFRecord shards of WOMD `Scenario` protos: find, read (streamed, checked, optionally in parallel)
and write them. Real WOMD files and our generated data share this one path, so every later stage
treats them alike; the proto conversion itself is `smartr1.data.womd_proto`.
"""

from __future__ import annotations

import glob as _glob
import multiprocessing as mp
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from google.protobuf.message import DecodeError

from smartr1.data.checks import check_scenario, scenario_problems
from smartr1.data.errors import DataError
from smartr1.data.protos import womd_scenario_pb2 as scenario_pb
from smartr1.data.scenario import Scenario
from smartr1.data.tfrecord import iter_records, iter_records_at, read_record_at, write_records
from smartr1.data.womd_proto import scenario_from_proto, scenario_to_proto, wire_type_clashes

__all__ = ["check_scenario", "expand_paths", "parse_scenario", "read_scenario", "read_scenarios",
           "scenario_file_problems", "scenario_from_proto", "scenario_to_proto", "wire_type_clashes",
           "write_scenarios"]  # fmt: skip


# ---------------------------------------------------------------------------------------------- files
# files a data directory often holds beside its shards (a README, provenance, markers): skipped when a
# directory is expanded (named explicitly, they are read, and fail naming themselves)
NOT_SCENARIOS = {".md", ".txt", ".json", ".yaml", ".yml", ".csv", ".png", ".html", ".py", ".sha256"}


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files from paths, directories (every file inside but hidden and NOT_SCENARIOS ones) and glob
    patterns, sorted, duplicates removed."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = str(p)
        if any(c in p for c in "*?["):
            matches = sorted(_glob.glob(p, recursive=True))
            if not matches:
                raise DataError(p, "glob pattern matches no file")
            out.extend(Path(m) for m in matches if Path(m).is_file())
        elif Path(p).is_dir():
            out.extend(sorted(q for q in Path(p).iterdir() if q.is_file() and not q.name.startswith(".")
                              and q.suffix.lower() not in NOT_SCENARIOS))  # fmt: skip
        elif Path(p).is_file():
            out.append(Path(p))
        else:
            raise DataError(p, "no such file or directory")
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def scenario_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The files behind scenario arguments (files, directories, globs) of a verb that needs at least
    one scenario; a `DataError` naming the arguments when they hold none: no file (an empty
    directory), or only empty files (an empty TFRecord file is zero records). Cheap: one stat a file;
    a non-empty file holds a record or fails to read, naming itself."""
    args = [paths] if isinstance(paths, str | Path) else list(paths)
    files = expand_paths(args)
    if not any(f.stat().st_size for f in files):
        label = ", ".join(str(a) for a in args) or "(no path given)"
        if not files:
            why = "no file" if not all(Path(a).is_dir() for a in args) else "an empty directory"
        else:
            why = "an empty file" if len(files) == 1 else f"{len(files)} empty files"
        raise DataError(label, f"no scenarios ({why})")
    return files


def _decode(payload: bytes, path: str | Path | None, record: int | None) -> scenario_pb.Scenario:
    try:
        return scenario_pb.Scenario.FromString(payload)
    except DecodeError as e:
        raise DataError(path, f"record is not a decodable Scenario proto ({e})", record) from e


def parse_scenario(
    payload: bytes, path: str | Path | None = None, record: int | None = None, check: bool = True
) -> Scenario:
    msg = _decode(payload, path, record)
    clash = wire_type_clashes(msg)
    if clash:
        raise DataError(
            path, f"record is not a Scenario proto (field(s) {clash} have the wrong wire type)", record
        )
    s = scenario_from_proto(msg, path, record, usable_only=check).validate(path, record)
    return check_scenario(s, path, record) if check else s


def index_scenarios(path: str | Path, skip_bad: bool = False) -> Iterator[tuple[str, int, int]]:
    """(scenario id, byte offset, record index) of each record of one file, decoding only the proto
    (no conversion, no checks): a cheap pass so that single scenarios can be read later
    (`read_scenario_at`). Undecodable records raise `DataError`, or are skipped with `skip_bad`."""
    errors: list[DataError] = []
    for n, (offset, payload) in enumerate(iter_records_at(path, skip_bad=skip_bad, errors=errors)):
        index = n + len(errors)
        try:
            yield _decode(payload, path, index).scenario_id, offset, index
        except DataError:
            if not skip_bad:
                raise


def read_scenario_at(path: str | Path, offset: int, index: int | None = None) -> Scenario:
    """The scenario of the record at byte `offset` of `path` (from `index_scenarios`), checked."""
    return parse_scenario(read_record_at(path, offset, index), path, index)


def read_scenarios(
    paths: str | Path | Iterable[str | Path],
    skip_bad: bool = False,
    stats: dict | None = None,
    check: bool = True,
    shuffle_buffer: int = 0,
    seed: int = 0,
    workers: int = 0,
) -> Iterator[Scenario]:
    """Stream scenarios lazily from TFRecord shards (paths, directories or globs).

    With `skip_bad`, corrupt records and unusable scenarios are skipped and counted in
    `stats["bad_records"]` instead of raising. `shuffle_buffer > 0` shuffles files and records
    through a buffer of that many scenarios (deterministic for `seed`). `workers > 1` decodes
    whole files in that many processes (file order is kept).
    """
    files = expand_paths(paths)
    rng = random.Random(seed)
    if shuffle_buffer:
        rng.shuffle(files)
    stats = {} if stats is None else stats
    stats.setdefault("bad_records", 0)
    stats.setdefault("scenarios", 0)

    def stream() -> Iterator[Scenario]:
        if workers > 1 and len(files) > 1:
            yield from _stream_parallel(files, skip_bad, check, stats, workers)
            return
        for f in files:
            for i, payload in enumerate(iter_records(f, skip_bad=skip_bad, stats=stats)):
                try:
                    s = parse_scenario(payload, f, i, check=check)
                except DataError:
                    if not skip_bad:
                        raise
                    stats["bad_records"] += 1
                    continue
                stats["scenarios"] += 1
                yield s

    if not shuffle_buffer:
        yield from stream()
        return
    buf: list[Scenario] = []
    for s in stream():
        buf.append(s)
        if len(buf) >= shuffle_buffer:
            yield buf.pop(rng.randrange(len(buf)))
    rng.shuffle(buf)
    yield from buf


def _read_file(args: tuple[Path, bool, bool]) -> tuple[list[Scenario], dict]:
    path, skip_bad, check = args
    stats: dict = {}
    return list(read_scenarios([path], skip_bad=skip_bad, stats=stats, check=check)), stats


def _stream_parallel(files, skip_bad, check, stats, workers) -> Iterator[Scenario]:
    with mp.get_context("spawn").Pool(workers) as pool:
        for scenarios, st in pool.imap(_read_file, [(f, skip_bad, check) for f in files]):
            for k, v in st.items():
                stats[k] = stats.get(k, 0) + v
            yield from scenarios


def scenario_file_problems(paths) -> tuple[int, list[str]]:
    """(records read, every problem) of scenario files: framing, decoding, structure and content.

    A broken length header or truncated tail ends its file (nothing after it can be framed); every
    other problem is listed and the pass goes on with the next record.
    """
    records, out = 0, []
    for f in expand_paths(paths):
        errors: list[DataError] = []
        for n, payload in enumerate(iter_records(f, skip_bad=True, errors=errors)):
            records += 1
            i = n + len(errors)  # the record's index in the file, skipped ones included
            try:
                s = parse_scenario(payload, f, i, check=False)
            except DataError as e:
                out.append(str(e))
                continue
            out += [f"{f}, record {i}: {p}" for p in scenario_problems(s)]
        records += len(errors)
        out += [str(e) for e in errors]
    return records, out


def read_scenario(path: str | Path, check: bool = True) -> Scenario:
    """The first scenario of a file."""
    for s in read_scenarios([path], check=check):
        return s
    raise DataError(path, "file holds no record")


def write_scenarios(path: str | Path, scenarios: Iterable[Scenario]) -> int:
    """Atomically write scenarios as one TFRecord shard; returns the count."""
    return write_records(path, (scenario_to_proto(s).SerializeToString() for s in scenarios))
