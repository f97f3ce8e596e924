"""End-to-end SUMO generation on tiny worlds: determinism, read-back sanity, retries."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from smartr1.data.scenario import AgentType, MapKind
from smartr1.data.sumo import generate as gen
from smartr1.data.sumo import plan
from smartr1.data.sumo.world import WorldError
from smartr1.data.tfrecord import iter_records
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS
from smartr1.data.womd import read_scenarios
from tests.test_sumo_map import check_map

pytestmark = pytest.mark.sumo

NUM = 4
CFG = plan.tiny_config(per_world=2)  # 2 worlds of 2 scenarios


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sumo")
    out = {}
    for name, seed, workers in (("a", 0, 1), ("b", 0, 2), ("c", 1, 2)):
        out[name] = gen.generate(NUM, root / name, seed=seed, workers=workers, cfg=CFG, progress=False)
        out[name + "_dir"] = root / name
    return out


def _payloads(d: Path) -> dict[str, list[bytes]]:
    return {p.name: list(iter_records(p)) for p in sorted(d.glob("*.tfrecord"))}


def test_plan_worlds():
    cfg = plan.GenerateConfig(per_world=50, min_worlds=2)
    assert plan.plan_worlds(1, cfg) == [1]
    assert plan.plan_worlds(20, cfg) == [10, 10]
    assert plan.plan_worlds(101, cfg) == [34, 34, 33]
    for n in (1, 7, 99, 100, 1001):
        q = plan.plan_worlds(n, cfg)
        assert sum(q) == n and max(q) <= 50


def test_same_seed_gives_identical_shards_for_any_worker_count(runs):
    a, b = _payloads(runs["a_dir"]), _payloads(runs["b_dir"])
    assert list(a) == ["sumo-s0-w0000.tfrecord", "sumo-s0-w0001.tfrecord"]
    assert a == b
    assert runs["a"].workers == 1 and runs["b"].workers == 2


def test_different_seed_gives_different_scenarios(runs):
    a = [r for rs in _payloads(runs["a_dir"]).values() for r in rs]
    c = [r for rs in _payloads(runs["c_dir"]).values() for r in rs]
    assert len(a) == len(c) == NUM
    assert not set(a) & set(c)


def test_generated_scenarios_read_back_sane(runs):
    scenarios = list(read_scenarios(runs["a_dir"]))
    assert len(scenarios) == NUM
    ids = [s.scenario_id for s in scenarios]
    assert len(set(ids)) == NUM and all(re.fullmatch(r"sumo-s0-w\d+-\d+", i) for i in ids)
    for s in scenarios:
        t = s.tracks
        assert t.num_steps == NUM_STEPS and len(s.timestamps) == NUM_STEPS
        assert 0 < t.num_agents <= 128
        assert len(set(t.id.tolist())) == t.num_agents
        sdc = s.sdc_track_index
        assert t.valid[sdc].all() and t.type[sdc] == AgentType.VEHICLE
        k = s.tracks_to_predict
        assert len(k) in range(1, 9) and sdc not in k
        assert t.valid[k, CURRENT_STEP].all() and t.valid[k].all()
        for name in ("x", "y", "z", "heading", "velocity_x", "velocity_y", "length", "width", "height"):
            assert np.isfinite(getattr(t, name)[t.valid]).all(), name
        assert (t.length[t.valid] > 0).all() and (t.width[t.valid] > 0).all()
        # Agents are valid only within the sensor radius of the SDC.
        d = np.hypot(t.x - t.x[sdc], t.y - t.y[sdc])
        assert (d[t.valid] <= 60.0 + 1e-6).all()
        # No teleport jumps: consecutive valid steps are less than 5 m apart.
        both = t.valid[:, 1:] & t.valid[:, :-1]
        step = np.hypot(np.diff(t.x, axis=1), np.diff(t.y, axis=1))
        assert (step[both] < 5.0).all()
        # Box motion agrees with the logged velocity (SUMO speeds, box from the front path).
        speed = np.hypot(t.velocity_x, t.velocity_y)[:, 1:]
        assert np.median(np.abs(step[both] / 0.1 - speed[both])) < 0.2
        # Map and signals.
        check_map(s.map, s.signals.lane_id[s.signals.valid])
        assert len(s.map.of_kind(MapKind.ROAD_EDGE)) > 0
        assert s.signals.num_steps == NUM_STEPS
        # Vehicles drive on lanes: centre within 2.5 m of a lane centreline point.
        lane_pts = np.concatenate([s.map.polyline(f)[:, :2] for f in s.map.of_kind(MapKind.LANE)])
        veh = np.flatnonzero((t.type == AgentType.VEHICLE) & t.valid[:, CURRENT_STEP])
        for i in veh:
            p = np.array([t.x[i, CURRENT_STEP], t.y[i, CURRENT_STEP]])
            assert np.hypot(*(lane_pts - p).T).min() < 2.5


def test_summary_reports_worlds(runs):
    s = runs["a"]
    assert s.num == NUM and sum(w.scenarios for w in s.worlds) == NUM
    assert [w.world_seed for w in s.worlds] == [plan.world_seed(0, w, 0) for w in range(2)]
    assert (runs["a_dir"] / ".sumo-s0.generate.json").exists()


def test_failed_world_is_retried_with_next_seed(runs, tmp_path, monkeypatch):
    good = list(read_scenarios(runs["a_dir"] / "sumo-s0-w0000.tfrecord"))
    bad_seed = plan.world_seed(5, 0, 0)
    calls = []

    def fake(seed, world, wseed, quota, cfg, report=None, info=None):
        calls.append(wseed)
        yield good[0]
        if wseed == bad_seed:
            raise WorldError("gridlock (simulated)")  # half-way through the shard
        yield from good[1:quota]
        info.update(layout="grid", recorded_s=1.0, teleports=0, seconds={})

    monkeypatch.setattr(gen, "simulate_world", fake)
    r = gen.generate_world(5, 0, 2, tmp_path, CFG)
    assert calls == [bad_seed, plan.world_seed(5, 0, 1)]
    assert r.world_seed == calls[-1] and len(r.failures) == 1 and "gridlock" in r.failures[0]
    assert len(list(read_scenarios(tmp_path / plan.shard_name(5, 0)))) == 2
    assert [p.name for p in tmp_path.iterdir()] == [plan.shard_name(5, 0)]  # no partial file left


def test_world_failing_every_attempt_raises_and_writes_nothing(tmp_path, monkeypatch):
    def fake(*args, **kwargs):
        raise WorldError("SUMO crashed (simulated)")
        yield  # a generator, like simulate_world

    monkeypatch.setattr(gen, "simulate_world", fake)
    with pytest.raises(WorldError, match="all 5 attempts failed"):
        gen.generate_world(0, 3, 2, tmp_path, CFG)
    assert not list(tmp_path.iterdir())


def test_sumo_error_becomes_world_error(tmp_path):
    from smartr1.data.sumo.record import Recorder
    from smartr1.data.sumo.world import WorldFiles

    missing = tmp_path / "missing.net.xml"
    files = WorldFiles(net=missing, routes=(missing,), pedtypes=missing)
    with pytest.raises(WorldError, match="SUMO failed"):
        Recorder(files, 0, 1.0)


def test_crashed_worker_costs_one_attempt(tmp_path):
    cfg = plan.tiny_config(per_world=2, inject_crash=(0, 0))
    s = gen.generate(2, tmp_path, seed=3, workers=1, cfg=cfg, progress=False)
    (w,) = s.worlds
    assert len(w.failures) == 1 and "worker died" in w.failures[0]
    assert w.world_seed == plan.world_seed(3, 0, 1)
    assert len(list(read_scenarios(tmp_path))) == 2
