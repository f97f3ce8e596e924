"""SIGKILL in the middle of a sharded job, then the same command again: the rerun resumes from the
shards already done, its output equals an uninterrupted run's byte for byte, and no half-written
file is left behind at any point (every write is a temp file renamed into place)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SCENARIO_IDS, scenario_file

CLI = [sys.executable, "-m", "smartr1.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
SHARDS = [str(scenario_file(sid)) for sid in SCENARIO_IDS]  # 83 then 257 agents: the 2nd takes longer


def _each(flag: str) -> list[str]:
    return [a for shard in SHARDS for a in (flag, shard)]


def _run(args):
    subprocess.run([*CLI, *args], check=True, env=ENV, capture_output=True, timeout=600)


def _kill_after_first_shard(args, results_glob: str, root: Path) -> int:
    """Start the command, SIGKILL it once one shard result exists; the number of results then."""
    p = subprocess.Popen([*CLI, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    try:
        while not list(root.glob(results_glob)):
            assert p.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    return len(list(root.glob(results_glob)))


def _no_partial_files(root: Path):
    """Every result a reader would pick up is whole (a temp file the kill interrupted may stay behind
    under its hidden `.tmp` name; nothing reads those, and the rerun writes its own)."""
    import torch

    for f in root.rglob("*.result.pt"):
        torch.load(f, weights_only=False)  # raises on a truncated file


def _tree(root: Path) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.glob("submission.binproto-*"))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    _run(["simulate", "--checkpoint", "smartr1-nano-sumo", *_each("-s"), "-o", str(d / "sim"),
          "--rollouts", "4"])  # fmt: skip
    _run(["evaluate", *_each("--scenarios"), "--submission", str(d / "sim"), "--out", str(d / "eval.json"),
          "--num-rollouts", "0"])  # fmt: skip
    return d


def test_killed_simulation_resumes_and_equals_the_uninterrupted_run(tmp_path, uninterrupted):
    args = ["simulate", "--checkpoint", "smartr1-nano-sumo", *_each("-s"), "-o", str(tmp_path / "sim"),
            "--rollouts", "4"]  # fmt: skip
    done = _kill_after_first_shard(args, "sim/.shards-*/*.result.pt", tmp_path)
    assert done == 1  # killed mid-way: one shard of two finished
    _no_partial_files(tmp_path)
    assert not _tree(tmp_path / "sim")  # submission shards are written only at the end
    _run(args)
    _no_partial_files(tmp_path)
    got, want = _tree(tmp_path / "sim"), _tree(uninterrupted / "sim")
    assert got and got == want


def test_killed_evaluation_resumes_and_equals_the_uninterrupted_run(tmp_path, uninterrupted):
    args = ["evaluate", *_each("--scenarios"), "--submission", str(uninterrupted / "sim"),
            "--out", str(tmp_path / "eval.json"), "--num-rollouts", "0"]  # fmt: skip
    done = _kill_after_first_shard(args, ".eval.json.*.shards/*.result.pt", tmp_path)
    assert done == 1
    _no_partial_files(tmp_path)
    assert not (tmp_path / "eval.json").exists()
    _run(args)
    import json

    got = json.loads((tmp_path / "eval.json").read_text())
    want = json.loads((uninterrupted / "eval.json").read_text())
    got.pop("submission", None), want.pop("submission", None)
    assert got == want
