"""End-to-end SUMO generation on tiny worlds: determinism, read-back sanity, retries."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from smartr1.data.scenario import AgentType, LaneType, MapKind
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
        # Vehicles drive on car lanes: a moving vehicle's centre is within 2.5 m of a car-lane
        # centreline point; stationary ones are either on a car lane or parked beside it.
        lane_pts = _car_lane_points(s.map)
        speed = np.hypot(t.velocity_x, t.velocity_y)
        veh = np.flatnonzero((t.type == AgentType.VEHICLE) & t.valid[:, CURRENT_STEP])
        for i in veh:
            p = np.array([t.x[i, CURRENT_STEP], t.y[i, CURRENT_STEP]])
            d = np.hypot(*(lane_pts - p).T).min()
            assert d < 2.5 if speed[i][t.valid[i]].max() > 0.5 else d < PARKED_FROM_LANE[1]


PARKED_FROM_LANE = (2.3, 3.6)  # m from a car-lane centre: half a lane + half a parking lane


def _car_lane_points(m) -> np.ndarray:
    lanes = [f for f in m.of_kind(MapKind.LANE) if m.subtype[f] != LaneType.BIKE_LANE]
    return np.concatenate([m.polyline(f)[:, :2] for f in lanes])


def test_scenarios_contain_parked_cars(runs):
    """Parked cars are ordinary vehicle tracks: valid boxes, zero speed, beside a car lane."""
    parked = 0
    for s in read_scenarios(runs["a_dir"]):
        t = s.tracks
        lane_pts = _car_lane_points(s.map)
        for i in np.flatnonzero(t.type == AgentType.VEHICLE):
            v = t.valid[i]
            if np.hypot(t.velocity_x[i], t.velocity_y[i])[v].max() > 0.0:
                continue
            d = np.hypot(*(lane_pts - [t.x[i, v][0], t.y[i, v][0]]).T).min()
            if d < 1.0:
                continue  # standing in a queue on its lane
            parked += 1
            assert PARKED_FROM_LANE[0] < d < PARKED_FROM_LANE[1]
            assert np.ptp(t.x[i, v]) == 0 and np.ptp(t.y[i, v]) == 0 and np.ptp(t.heading[i, v]) == 0
            assert ((t.length[i, v] > 3) & (t.width[i, v] > 1.5) & (t.height[i, v] > 1)).all()
            assert i not in s.tracks_to_predict and i != s.sdc_track_index
    assert parked > 0


@pytest.fixture(scope="module")
def parked_log(tmp_path_factory):
    from smartr1.data.sumo.map_extract import extract_map
    from smartr1.data.sumo.record import record
    from smartr1.data.sumo.world import TINY, build_world, sample_world

    files = build_world(sample_world(11, 200.0, TINY, layout="grid"), tmp_path_factory.mktemp("parked"))
    log = record(files, 11, 20.0, 100)
    return files, log, extract_map(files.net)


def test_parked_cars_stand_still_beside_the_lane_for_the_whole_recording(parked_log):
    from smartr1.data.sumo.parking import is_parked

    files, log, wmap = parked_log
    parked = [a for a in log.agents if is_parked(a.sumo_id)]
    assert files.parked > 0 and len(parked) == files.parked  # every one of them was inserted
    lane_pts = _car_lane_points(wmap.features)
    edges = np.concatenate(
        [wmap.features.polyline(f)[:, :2] for f in wmap.features.of_kind(MapKind.ROAD_EDGE)]
    )
    for a in parked:
        assert a.type == AgentType.VEHICLE and a.start == 0 and a.stop == log.num_steps
        for arr in (a.x, a.y, a.heading):
            assert np.ptp(arr) == 0
        assert not a.vx.any() and not a.vy.any()
        p = np.array([a.x[0], a.y[0]])
        assert PARKED_FROM_LANE[0] < np.hypot(*(lane_pts - p).T).min() < PARKED_FROM_LANE[1]
        assert np.hypot(*(edges - p).T).min() > a.width / 2  # inside the curb, not on the sidewalk
    # Parked boxes are disjoint along their lane (sorted by position along the heading).
    by_heading: dict[float, list] = {}
    for a in parked:
        by_heading.setdefault(round(float(a.heading[0]), 2), []).append(a)
    for group in by_heading.values():
        h = group[0].heading[0]
        along = sorted((a.x[0] * np.cos(h) + a.y[0] * np.sin(h), a.length) for a in group)
        lateral = {round(-a.x[0] * np.sin(h) + a.y[0] * np.cos(h), 1) for a in group}
        if len(lateral) == 1:  # all on one line
            for (c1, l1), (c2, l2) in zip(along, along[1:], strict=False):
                assert c2 - c1 >= (l1 + l2) / 2


def test_moving_traffic_keeps_off_parking_lanes(parked_log):
    """No driving vehicle ever comes as close to a parked car as a car in the same lane would."""
    from smartr1.data.sumo.parking import is_parked

    _, log, _ = parked_log
    parked = np.array([[a.x[0], a.y[0]] for a in log.agents if is_parked(a.sumo_id)])
    for a in log.agents:
        if is_parked(a.sumo_id) or a.type != AgentType.VEHICLE:
            continue
        pts = np.stack([a.x[~a.internal], a.y[~a.internal]], axis=1)[::10]
        if len(pts):
            d = np.hypot(pts[:, None, 0] - parked[None, :, 0], pts[:, None, 1] - parked[None, :, 1])
            assert d.min() > 1.5


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
