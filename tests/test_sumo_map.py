"""Map extraction from netgenerate networks (netgenerate only, no simulation)."""

from __future__ import annotations

import numpy as np
import pytest

from smartr1.data.scenario import LaneType, MapKind
from smartr1.data.sumo.map_extract import crop_map, extract_map, resample
from smartr1.data.sumo.world import LAYOUTS, TINY, build_net, sample_world

pytestmark = pytest.mark.sumo


@pytest.fixture(scope="module", params=LAYOUTS)
def world_net(request, tmp_path_factory):
    spec = sample_world(7, 100.0, TINY, layout=request.param)
    return build_net(spec, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def world_map(world_net):
    return extract_map(world_net)


def _lane_ids(m):
    return {int(i) for i in m.id[m.of_kind(MapKind.LANE)]}


def check_map(m, signal_lanes=()):
    lanes = _lane_ids(m)
    assert lanes
    assert len(set(m.id.tolist())) == m.num_features  # unique feature ids
    for f in range(m.num_features):
        if m.kind[f] == MapKind.STOP_SIGN:  # a point, like WOMD's stop sign position
            assert len(m.polyline(f)) == 1, f"stop sign {m.id[f]} is not one point"
        else:
            assert len(m.polyline(f)) >= 2, f"feature {m.id[f]} has < 2 points"
    assert np.isfinite(m.points).all()
    for key in ("entry_lanes", "exit_lanes", "left_neighbors", "right_neighbors", "stop_sign_lanes"):
        for fid, refs in getattr(m, key).items():
            if key != "stop_sign_lanes":
                assert fid in lanes, f"{key} of a non-lane {fid}"
            assert set(refs) <= lanes, f"{key} of lane {fid} refers to a missing lane"
    for lid in signal_lanes:
        assert int(lid) in lanes, f"signal on missing lane {lid}"


def test_world_map_is_consistent(world_map):
    m = world_map.features
    check_map(m, world_map.signals.lane_id)
    assert len(m.of_kind(MapKind.ROAD_EDGE)) > 0
    assert len(m.of_kind(MapKind.ROAD_LINE)) > 0
    assert len(m.of_kind(MapKind.CROSSWALK)) > 0
    assert len(world_map.signals.lane_id) > 0
    # Junction lanes exist and are linked both ways; bike lanes are typed as such.
    lanes = m.of_kind(MapKind.LANE)
    assert m.interpolating[lanes].any() and (~m.interpolating[lanes]).any()
    assert (m.subtype[lanes] == LaneType.BIKE_LANE).any()
    for fid, outs in m.exit_lanes.items():
        for o in outs:
            assert fid in m.entry_lanes.get(o, [])
    # Signals sit on junction lanes, the stop point is that lane's first point.
    idx = {int(i): k for k, i in enumerate(m.id)}
    for lid, sp in zip(world_map.signals.lane_id, world_map.signals.stop_point, strict=True):
        f = idx[int(lid)]
        assert m.interpolating[f]
        assert np.allclose(m.polyline(f)[0, :2], sp[:2])


def test_crop_keeps_references_valid(world_map):
    m = world_map.features
    xmin, ymin, xmax, ymax = world_map.bounds
    c = crop_map(m, ((xmin + xmax) / 2, (ymin + ymax) / 2), 60.0)
    assert 0 < c.num_features < m.num_features
    check_map(c)
    d = np.hypot(c.points[:, 0] - (xmin + xmax) / 2, c.points[:, 1] - (ymin + ymax) / 2)
    near = np.minimum.reduceat(d, c.offsets[:-1])
    assert (near <= 60.0).all()


def test_resample_spacing_and_ends():
    p = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 3.0], [10.0, 3.0]])
    r = resample(p, 0.5)
    assert np.allclose(r[0], p[0]) and np.allclose(r[-1], p[-1])
    steps = np.hypot(*np.diff(r, axis=0).T)
    assert steps.max() <= 0.5 + 1e-9 and steps.min() > 0.4


def test_stop_signs_control_car_lanes_and_stand_at_their_end(world_map):
    """Unsignalled junctions (stop-controlled residential crossings) get a stop sign at the curb."""
    m = world_map.features
    idx = {int(i): k for k, i in enumerate(m.id)}
    assert len(m.of_kind(MapKind.STOP_SIGN)) > 0
    for f in m.of_kind(MapKind.STOP_SIGN):
        pos = m.polyline(f)[0, :2]
        lanes = m.stop_sign_lanes[int(m.id[f])]
        assert lanes
        for lid in lanes:
            k = idx[lid]
            assert m.subtype[k] == LaneType.SURFACE_STREET and not m.interpolating[k]
            assert np.hypot(*(m.polyline(k)[-1, :2] - pos)) < 15.0  # beside the stop line


def test_parking_lanes_are_not_map_lanes(world_map, request):
    """Parked cars stand on lanes no class may use; the map has no lane there (like WOMD)."""
    from smartr1.data.sumo.parking import parking_lanes

    net = request.getfixturevalue("world_net")
    ids = set(world_map.lane_ids)
    assert all(p.lane not in ids for p in parking_lanes(net))
