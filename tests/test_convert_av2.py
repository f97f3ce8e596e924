"""`smartr1 convert --from av2` on the real Argoverse 2 scenario in ../shared/data/foreign: one valid
91-step window holding the parquet's values, the AV as SDC, focal + scored tracks to predict, and road
edges wound the way the WOSAC offroad sign expects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from smartr1.data.foreign.av2 import BOX_SIZES, scene_files
from smartr1.data.scenario import AgentType, MapKind
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS
from smartr1.metrics.map_features import road_edges_from_scenario, signed_distance_to_edges
from tests.convert_checks import convert_sample, road_distance

pq = pytest.importorskip("pyarrow.parquet")

AV2 = ("data", "foreign", "av2_motion_forecasting")


@pytest.fixture(scope="module")
def source(shared_dir):
    return shared_dir.joinpath(*AV2)


@pytest.fixture(scope="module")
def scenario(source, tmp_path_factory):
    summary, scenarios = convert_sample("av2", source, tmp_path_factory.mktemp("av2") / "av2.tfrecord")
    assert summary.files == 1 and summary.scenarios == 1 and not summary.notes
    return scenarios[0]


def test_window_is_av2_steps_0_to_90_with_the_parquet_values(source, scenario):
    rows = pq.read_table(scene_files(source)[0]).to_pylist()
    t = scenario.tracks
    assert t.num_steps == NUM_STEPS and scenario.current_step == CURRENT_STEP
    assert scenario.scenario_id == "av2-0a1e6f0a-1817-4a98-b02e-db8c9327d151-t0"
    index = {int(i): a for a, i in enumerate(t.id)}
    sdc = scenario.sdc_track_index
    seen = np.zeros_like(t.valid)
    for r in rows:
        k = r["timestep"]
        if k >= NUM_STEPS:  # AV2 steps 91..109 lie past the window
            continue
        a = sdc if r["track_id"] == "AV" else index.get(int(r["track_id"]))
        if a is None:  # static / background objects are dropped by default
            assert r["object_type"] not in ("vehicle", "bus", "pedestrian", "cyclist", "motorcyclist")
            continue
        seen[a, k] = True
        assert (t.x[a, k], t.y[a, k]) == (r["position_x"], r["position_y"])
        assert abs(np.angle(np.exp(1j * (t.heading[a, k] - r["heading"])))) < 1e-6
        assert t.velocity_x[a, k] == np.float32(r["velocity_x"]) and t.velocity_y[a, k] == np.float32(
            r["velocity_y"]
        )
        assert t.length[a, k] == np.float32(BOX_SIZES[r["object_type"]][0]) and t.z[a, k] == 0.0
    np.testing.assert_array_equal(t.valid, seen)  # validity = row presence, not AV2's `observed`
    assert len(np.unique(t.id)) == t.num_agents and t.type[sdc] == AgentType.VEHICLE
    focal_scored = {138951, 139344}  # FOCAL_TRACK and SCORED_TRACK of this scenario
    assert {int(i) for i in t.id[scenario.tracks_to_predict]} == focal_scored


def test_map_features(scenario):
    m = scenario.map
    count = {k: len(m.of_kind(k)) for k in MapKind}
    assert count[MapKind.LANE] == 71 and count[MapKind.CROSSWALK] == 6 and count[MapKind.ROAD_EDGE] >= 2
    assert len(np.unique(m.id)) == m.num_features
    assert 0 < count[MapKind.ROAD_LINE] < 71 * 2  # shared boundaries written once
    lanes = m.of_kind(MapKind.LANE)
    steps = [np.hypot(*np.diff(m.polyline(f)[:, :2], axis=0).T) for f in lanes]
    assert max(s.max() for s in steps) <= 0.51  # resampled to WOMD's 0.5 m
    assert all(len(m.polyline(f)) == 4 for f in m.of_kind(MapKind.CROSSWALK))
    assert (m.points[:, 2] == 0.0).all()  # flat scene: AV2 tracks have no z


def _lane_points(scenario) -> torch.Tensor:
    m = scenario.map
    lanes = [f for f in m.of_kind(MapKind.LANE) if m.subtype[f] == 2 and not m.interpolating[f]]
    return torch.tensor(np.concatenate([m.polyline(f) for f in lanes]), dtype=torch.float32)


def test_road_edges_keep_the_road_on_their_left(scenario):
    """The metric calls a point on the left of the nearest road edge on-road (negative): lane centres
    must come out negative; with every edge reversed the same points come out positive."""
    q = _lane_points(scenario)
    d = signed_distance_to_edges(q, road_edges_from_scenario([scenario]), 0).numpy()
    assert (d < 0).mean() > 0.95, (d < 0).mean()
    m = scenario.map
    pts = m.points.copy()
    for f in m.of_kind(MapKind.ROAD_EDGE):
        pts[m.offsets[f] : m.offsets[f + 1]] = pts[m.offsets[f] : m.offsets[f + 1]][::-1]
    flipped = dataclasses.replace(scenario, map=dataclasses.replace(m, points=pts))
    d_flipped = signed_distance_to_edges(q, road_edges_from_scenario([flipped]), 0).numpy()
    assert (d_flipped > 0).mean() > 0.95


def test_moving_vehicles_are_on_the_road(scenario):
    """All 5 vehicles that move more than 5 m inside the map's extent (the AV and focal track among
    them) stay on the road at every step. This fixture's map is cut to a box: 7 vehicles drive or park
    outside it, and 11 parked or creeping ones overhang the curb by 0.02-8.6 m (default box sizes)."""
    t = scenario.tracks
    m = scenario.map
    lo, hi = m.points[:, :2].min(axis=0) + 3.0, m.points[:, :2].max(axis=0) - 3.0
    veh = np.flatnonzero(t.type == AgentType.VEHICLE)
    d = road_distance(scenario, veh)
    moving = []
    for j, a in enumerate(veh):
        v = t.valid[a]
        x, y = t.x[a][v], t.y[a][v]
        inside = ((x > lo[0]) & (x < hi[0]) & (y > lo[1]) & (y < hi[1])).all()
        if inside and np.hypot(x - x[0], y - y[0]).max() > 5.0:
            moving.append(int(t.id[a]))
            assert (d[j][v] < 0).all(), int(t.id[a])
    assert len(moving) == 5 and int(t.id[scenario.sdc_track_index]) in moving
