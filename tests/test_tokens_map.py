"""Map segments: 11 points, <= 5 m, gap breaks, crosswalk sides, traffic lights on the right lanes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smartr1.data.scenario import MapFeatures, MapKind
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.map import (
    SEGMENT_POINTS,
    LightState,
    SegmentKind,
    crosswalk_sides,
    light_state,
    resample_pieces,
    tokenize_map,
)


def _lengths(points) -> np.ndarray:
    p = np.asarray(points, np.float64)
    return np.linalg.norm(np.diff(p, axis=1), axis=-1).sum(-1)


def test_resample_lengths_and_spacing():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 300)
    curve = np.stack([40 * t, 10 * np.sin(4 * t)], -1)
    straight = np.array([[0.0, 0.0], [12.3, 0.0]])
    pts, piece = resample_pieces([curve, straight, curve[:3] + rng.normal(size=2)])
    assert pts.shape[1:] == (SEGMENT_POINTS, 2)
    L = _lengths(pts)
    assert (L <= 5.0 + 1e-9).all()
    full = L > 4.99
    gaps = np.linalg.norm(np.diff(pts[full], axis=1), axis=-1)
    np.testing.assert_allclose(gaps, 0.5, atol=0.02)  # 0.5 m spacing on full segments
    s = pts[piece == 1]
    assert len(s) == 3 and np.allclose(_lengths(s), [5.0, 5.0, 2.3])
    # consecutive segments of a piece join up
    np.testing.assert_allclose(s[0, -1], s[1, 0]) and np.testing.assert_allclose(s[1, -1], s[2, 0])


def test_tokenize_map_toy(real_scenarios):
    s = synthetic_scenario(0, 3)
    seg = tokenize_map(s)
    assert seg.points.shape == (seg.num_segments, 11, 2)
    assert (_lengths(seg.points) <= 5.0 + 1e-4).all()
    kinds = seg.kind.numpy()
    # 3 lanes + 2 edges of 60 m -> 12 segments each; road line 0..20 and 24..40 (gap 4 m > 3 m) -> 4 + 4
    assert (kinds == SegmentKind.LANE).sum() == 36 and (kinds == SegmentKind.ROAD_EDGE).sum() == 24
    line = seg.points[kinds == SegmentKind.ROAD_LINE].numpy()
    assert len(line) == 8
    assert not ((line[..., 0] > 20.01) & (line[..., 0] < 23.99)).any()  # nothing bridges the gap
    # crosswalk 4 x 12 m -> its two 12 m sides, 3 segments each, parallel and the same direction
    cw = seg.points[kinds == SegmentKind.CROSSWALK].numpy()
    assert len(cw) == 6 and set(np.round(cw[..., 0].ravel()).tolist()) == {62.0, 66.0}
    assert np.allclose(seg.pose[kinds == SegmentKind.CROSSWALK, 2].numpy(), np.pi / 2, atol=1e-5)
    # stop signs are dropped; ids point back to the features
    assert set(seg.feature_id.tolist()) == {1, 2, 3, 10, 11, 20, 30}
    # pose = first point + first direction
    np.testing.assert_allclose(seg.pose[:, :2].numpy(), seg.points[:, 0].numpy())


def test_signals_attached_to_right_lanes():
    s = synthetic_scenario(0, 3)  # lane 2: STOP at step 10, GO elsewhere; lane 3 UNKNOWN
    seg = tokenize_map(s, step=10)
    by_lane = {fid: set(seg.light[seg.feature_id == fid].tolist()) for fid in (1, 2, 3)}
    assert by_lane == {1: {LightState.NONE}, 2: {LightState.STOP}, 3: {LightState.UNKNOWN}}
    assert (seg.light[seg.kind != SegmentKind.LANE] == LightState.NONE).all()
    assert set(tokenize_map(s, step=11).light[seg.feature_id == 2].tolist()) == {LightState.GO}


def test_signals_real_scenario(real_scenarios):
    s = real_scenarios["637f20cafde22ff8"]
    seg = tokenize_map(s, step=10)
    ok = s.signals.valid[10]
    want = dict(
        zip(s.signals.lane_id[10][ok].tolist(), light_state(s.signals.state[10][ok]).tolist(), strict=True)
    )
    assert want, "the scenario has signals at step 10"
    for fid, state in want.items():
        got = set(seg.light[seg.feature_id == fid].tolist())
        assert got == {state}
    other = ~np.isin(seg.feature_id.numpy(), list(want))
    assert (seg.light.numpy()[other] == LightState.NONE).all()
    assert (_lengths(seg.points) <= 5.0 + 1e-2).all()  # float32 rounding at |x| ~ 8 km
    # every lane / edge / line / crosswalk feature with two distinct points yields segments
    kinds = {int(MapKind.LANE), int(MapKind.ROAD_EDGE), int(MapKind.ROAD_LINE), int(MapKind.CROSSWALK)}
    feats = {
        int(s.map.id[f])
        for f in range(s.map.num_features)
        if int(s.map.kind[f]) in kinds and len(np.unique(s.map.polyline(f)[:, :2], axis=0)) >= 2
    }
    assert feats == set(seg.feature_id.tolist())


def test_crosswalk_sides_general_polygon():
    sides = crosswalk_sides(np.array([[0, 0], [3, 0], [3, 10], [1.5, 10.5], [0, 10]], float))
    assert len(sides) == 2
    a, b = sides
    assert np.isclose(np.linalg.norm(a[1] - a[0]), 10) and np.isclose(np.linalg.norm(b[1] - b[0]), 10)
    assert np.dot(a[1] - a[0], b[1] - b[0]) > 0


def test_sparse_polylines_are_not_split():
    """Long straight steps in sparsely sampled polylines are geometry, not gaps."""
    m = MapFeatures.from_polylines([{"id": 5, "kind": MapKind.LANE, "points": [[0, 0], [20, 0], [20, 20]]}])
    s = dataclasses.replace(synthetic_scenario(0, 2), map=m)
    seg = tokenize_map(s)
    assert seg.num_segments == 8 and np.isclose(_lengths(seg.points).sum(), 40)


@pytest.mark.parametrize("n", [0, 1])
def test_degenerate_maps(n):
    rows = [{"id": 9, "kind": MapKind.LANE, "points": [[1, 1]] * (n + 1)}] if n else []
    s = dataclasses.replace(synthetic_scenario(0, 2), map=MapFeatures.from_polylines(rows))
    seg = tokenize_map(s)
    assert seg.num_segments == 0 and seg.points.shape == (0, 11, 2)
