"""SIGKILL `smartr1 generate` mid-way, then the same command again: the rerun keeps the shards the
killed run finished (the very files, not rewritten), generates the rest, its shards equal an
uninterrupted run's byte for byte, and no half-written file is ever left under a final name (a world
being written lives under a hidden temporary name, which the completed rerun removes).

The kill takes the whole process group, as a cluster scheduler does: the parent and its world workers.
Tiny worlds, two worlds of one scenario each, one worker: about 10 s per run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smartr1.data.sumo import generate as gen
from smartr1.data.sumo import plan
from smartr1.data.tfrecord import iter_records
from smartr1.data.womd import expand_paths

pytestmark = pytest.mark.sumo

CLI = [sys.executable, "-m", "smartr1.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
SEED = 0
SHARDS = [plan.shard_name(SEED, w) for w in range(2)]


def _args(out: Path) -> list[str]:
    return [
        "generate",
        "-n",
        "2",
        "--per-world",
        "1",
        "--tiny",
        "-w",
        "1",
        "--seed",
        str(SEED),
        "-o",
        str(out),
    ]


def _run(out: Path) -> dict:
    subprocess.run([*CLI, *_args(out)], check=True, env=ENV, capture_output=True, timeout=300)
    return json.loads((out / f".sumo-s{SEED}.generate.json").read_text())


def _shards(out: Path) -> dict[str, bytes]:
    """What a reader of the directory sees (hidden files are skipped), by name."""
    return {p.name: p.read_bytes() for p in expand_paths([out])}


def _temps(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if ".tmp" in p.name)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "gen"
    summary = _run(out)
    assert summary["kept"] == []
    return out


def test_killed_generation_resumes_and_equals_the_uninterrupted_run(tmp_path, uninterrupted):
    out = tmp_path / "gen"
    first, second_tmp = out / SHARDS[0], f".{SHARDS[1]}.*.tmp.tfrecord"
    # Killed while world 1 is half-written: world 0's shard is in place, world 1's temp file exists.
    p = subprocess.Popen(
        [*CLI, *_args(out)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while not (first.exists() and list(out.glob(second_tmp))):
            assert p.poll() is None, "generation ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    time.sleep(0.2)  # the killed workers' files are closed

    # What the kill left: one whole shard under a final name, the half-written one only hidden.
    want = _shards(uninterrupted)
    assert list(want) == SHARDS
    assert _shards(out) == {SHARDS[0]: want[SHARDS[0]]}
    assert len(list(iter_records(first))) == 1  # whole: every record frames and checks
    assert list(out.glob(second_tmp)), "the half-written shard should still be there, hidden"
    assert not (out / SHARDS[1]).exists()
    before = first.stat()

    summary = _run(out)
    assert summary["kept"] == [0]  # world 0 was not generated again ...
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # ... nor rewritten
    assert [w["world"] for w in summary["worlds"]] == [0, 1]
    assert _shards(out) == want  # byte for byte
    assert not _temps(out), _temps(out)  # the killed run's temp file is gone


def test_a_shard_is_kept_only_under_the_key_it_was_made_with(tmp_path):
    """The done record names seed, world, quota and config, and the shard's size: change any of them
    (or cut the shard) and the world is generated again."""
    cfg = plan.tiny_config(per_world=1)
    shard = tmp_path / plan.shard_name(SEED, 0)
    shard.write_bytes(b"x" * 100)
    r = plan.WorldResult(
        world=0, world_seed=plan.world_seed(SEED, 0, 0), layout="grid", scenarios=1, path=str(shard),
        failures=[], seconds={"total": 1.0}, recorded_s=9.1, teleports=0, agents=[3], valid_now=[3],
        by_type={"vehicle": [3]},
    )  # fmt: skip
    assert gen.finished_world(tmp_path, SEED, 0, 1, cfg) is None  # no record yet
    gen._mark_done(tmp_path, SEED, 0, 1, cfg, r)
    assert gen.finished_world(tmp_path, SEED, 0, 1, cfg) == r
    assert gen.finished_world(tmp_path, SEED, 0, 2, cfg) is None  # another quota
    assert gen.finished_world(tmp_path, SEED + 1, 0, 1, cfg) is None  # another seed (another shard)
    assert gen.finished_world(tmp_path, SEED, 0, 1, plan.tiny_config(per_world=1, warmup_s=41.0)) is None
    shard.write_bytes(b"x" * 99)
    assert gen.finished_world(tmp_path, SEED, 0, 1, cfg) is None  # not the shard the record describes
    shard.write_bytes(b"x" * 100)
    gen._done_path(tmp_path, SEED, 0).write_text("{not json")
    assert gen.finished_world(tmp_path, SEED, 0, 1, cfg) is None  # an unreadable record keeps nothing
