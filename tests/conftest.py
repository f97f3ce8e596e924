"""Shared fixtures: the read-only reference data beside the repo (../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WOSAC = SHARED / "data" / "wosac"
SCENARIO_IDS = ("637f20cafde22ff8", "ee519cf571686d19")


def scenario_file(scenario_id: str) -> Path:
    return WOSAC / "scenarios" / f"scenario_{scenario_id}.tfrecord"


def golden_rollouts(sid: str, kind: str):
    """One of the official example submissions of a real scenario (`submission_<kind>.npz`)."""
    import numpy as np

    from smartr1.data.rollouts import Rollouts

    sub = np.load(WOSAC / sid / f"submission_{kind}.npz")
    return Rollouts(sid, sub["object_id"], sub["x"], sub["y"], sub["z"], sub["heading"])


def write_golden_inputs(d: Path, real_scenarios) -> tuple[Path, list[Path]]:
    """The two real scenes in one shard and two golden submissions (constant velocity, logged noisy;
    32 rollouts each) as rollout shards under `d`: (scenario file, [submission dirs])."""
    from smartr1.data.womd import write_scenarios
    from smartr1.metrics.submission import write_rollout_shards

    write_scenarios(d / "scenes.tfrecord", [real_scenarios[s] for s in SCENARIO_IDS])
    subs = []
    for kind in ("constant_velocity", "logged_noisy"):
        write_rollout_shards(d / kind, [golden_rollouts(s, kind) for s in SCENARIO_IDS])
        subs.append(d / kind)
    return d / "scenes.tfrecord", subs


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"reference data not found at {SHARED} (the repo expects ../shared beside it)")
    return SHARED


@pytest.fixture(scope="session")
def real_scenarios(shared_dir):
    """The two real WOMD scenarios, read once per session."""
    from smartr1.data.womd import read_scenario

    return {sid: read_scenario(scenario_file(sid)) for sid in SCENARIO_IDS}


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Tests check correctness, not speed, and run on one torch thread: on a shared 2-core machine
    two intra-op threads can be 100x slower than one (threads spin-wait for descheduled peers)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
