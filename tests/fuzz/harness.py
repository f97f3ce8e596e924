"""What every fuzz test shares: the case runner (typed error or accepted, never anything else; a time
limit per case), the case counter behind benchmarks/results/fuzz.md, budgets, and small real inputs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import signal
import tracemalloc
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from smartr1.data.errors import DataError

COUNTS: Counter = Counter()  # (target, fault, outcome) -> cases
CASE_SECONDS = 30  # a case running longer than this is a hang
ALLOC_LIMIT = 64 << 20  # bytes a single adversarial read may allocate (traced by tracemalloc)


def budgets(ci: int, long: int):
    """Parametrize a fuzz test with its CI budget and its long (`-m fuzz_long`) budget."""
    return pytest.mark.parametrize(
        "budget", [pytest.param(ci, id="ci"), pytest.param(long, id="long", marks=pytest.mark.fuzz_long)]
    )


def fuzz_settings(budget: int) -> settings:
    return settings(
        max_examples=budget,
        deadline=None,
        database=None,
        derandomize=True,  # CI runs the same cases every time; the long run draws many more
        suppress_health_check=list(HealthCheck),
    )


@contextlib.contextmanager
def time_limit(seconds: int = CASE_SECONDS):
    def fail(signum, frame):
        raise TimeoutError(f"case ran over {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_case(target: str, fault: str, fn, *args, **kwargs):
    """Run one case: it returns (outcome "accepted") or raises a `DataError` (outcome: the error
    class). Anything else is a bug: counted as "CRASH: <type>" and re-raised so the test fails."""
    try:
        with time_limit():
            result = fn(*args, **kwargs)
    except DataError as e:
        COUNTS[target, fault, type(e).__name__] += 1
        return e
    except BaseException as e:
        COUNTS[target, fault, f"CRASH: {type(e).__name__}"] += 1
        raise
    COUNTS[target, fault, "accepted"] += 1
    return result


def count(target: str, fault: str, outcome: str) -> None:
    COUNTS[target, fault, outcome] += 1


def peak_allocation(fn) -> tuple[object, int]:
    """(fn's result or DataError, the peak bytes traced while it ran)."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except DataError as e:
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------- mutations
def flip_bits(raw: bytes, positions: list[int]) -> bytes:
    b = bytearray(raw)
    for p in positions:
        b[(p // 8) % len(b)] ^= 1 << (p % 8)
    return bytes(b)


def offsets(n: int, step: int) -> list[int]:
    """Every `step`-th offset of n bytes plus the first and last few: truncation points."""
    return sorted(set(range(0, n, step)) | set(range(min(n, 16))) | set(range(max(0, n - 16), n)))


# ------------------------------------------------------------------------------------- small inputs
def small_scenario(s):
    """A cut of a real scenario: a few sim agents (SDC and tracks to predict kept), a few map features."""
    from smartr1.data.scenario import MapFeatures, MapKind

    sim = [int(i) for i in s.sim_agent_index()[:6]]
    keep = sorted(set(sim) | {int(s.sdc_track_index)} | {int(i) for i in s.tracks_to_predict})
    pos = {old: new for new, old in enumerate(keep)}
    m = s.map
    feats = list(m.of_kind(MapKind.ROAD_EDGE)[:4]) + list(m.of_kind(MapKind.LANE)[:6])
    rows = [
        {"id": int(m.id[f]), "kind": int(m.kind[f]), "subtype": int(m.subtype[f]), "points": m.polyline(f)}
        for f in feats
    ]
    sig = s.signals
    cut = dataclasses.replace(
        sig, **{k: getattr(sig, k)[:, :2] for k in ("lane_id", "state", "stop_point", "valid")}
    )
    return dataclasses.replace(
        s,
        scenario_id="small-" + s.scenario_id,
        tracks=s.tracks.select(np.array(keep)),
        map=MapFeatures.from_polylines(rows),
        signals=cut,
        sdc_track_index=pos[int(s.sdc_track_index)],
        tracks_to_predict=np.array([pos[int(i)] for i in s.tracks_to_predict], np.int64),
    )


def tiny_checkpoint(path: Path) -> Path:
    import torch

    from smartr1.data.atomic import atomic_write_bytes
    from smartr1.model.checkpoint import smartr1_meta
    from smartr1.model.smart import SMART, model_config
    from smartr1.testing.batches import arc_vocab_poses

    torch.manual_seed(0)
    cfg = model_config(
        "nano", vocab_size=8, hidden=16, heads=2, head_dim=4, agent_layers=1, map_layers=1, fourier_bands=4
    )
    m = SMART(cfg, arc_vocab_poses(8))
    buf = io.BytesIO()
    torch.save({"smartr1": smartr1_meta(m, "pretrain"), "state_dict": m.state_dict()}, buf)
    atomic_write_bytes(path, [buf.getvalue()])
    return path


def make_small_inputs(root: Path, real) -> SimpleNamespace:
    from smartr1.data.tfrecord import iter_records
    from smartr1.data.womd import write_scenarios
    from smartr1.metrics.submission import package_submission, rollouts_to_proto, write_rollout_shards
    from smartr1.rollout.reference import constant_velocity

    s = small_scenario(real)
    scen_file = root / "small.tfrecord"
    write_scenarios(scen_file, [s])
    ro32 = constant_velocity(s)
    shards = root / "shards"
    write_rollout_shards(shards, [ro32])
    tar = package_submission(
        shards, root / "small.tar.gz", scenarios=[s],
        account_name="fuzz@example.com", unique_method_name="fuzz", num_model_parameters="1",
    )  # fmt: skip
    few = rollouts_to_proto(constant_velocity(s, num_rollouts=2)).SerializeToString()
    (root / "few.binproto").write_bytes(few)
    return SimpleNamespace(
        root=root,
        scenario=s,
        scenario_file=scen_file,
        payload=next(iter_records(scen_file)),
        rollouts=ro32,
        shards=shards,
        tar=Path(tar),
        few=few,  # a bare ScenarioRollouts of 2 rollouts: small enough to cut at every offset
        checkpoint=tiny_checkpoint(root / "tiny.pt"),
    )
