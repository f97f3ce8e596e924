"""Hand-made geometries whose answers are worked out on paper (comments give the arithmetic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from smartr1.data.scenario import AgentType, SignalState
from smartr1.metrics import estimators, interaction
from smartr1.metrics.config import load_config
from smartr1.metrics.features import compute_features
from smartr1.metrics.inputs import build_batch
from smartr1.metrics.map_features import distance_to_road_edge, road_edges_from_scenario
from smartr1.testing.scenes import make_scenario


def t3(*rows):
    """[1, N, 1] float32 tensor from per-object scalars."""
    return torch.tensor(rows, dtype=torch.float32).reshape(1, -1, 1)


def nearest(xs, ys, hs=None, length=4.0, width=2.0, valid=None):
    n = len(xs)
    hs = hs or [0.0] * n
    v = torch.ones(1, n, 1, dtype=torch.bool) if valid is None else torch.tensor(valid).reshape(1, n, 1)
    args = (t3(*xs), t3(*ys), t3(*hs), t3(*[length] * n), t3(*[width] * n), v, 1)
    fast, dense = (
        interaction.distance_to_nearest_object(*args),
        interaction.distance_to_nearest_object_dense(*args),
    )
    assert torch.equal(fast, dense)
    return float(fast[0, 0, 0])


# ------------------------------------------------------------------------------ nearest object
def test_overlapping_boxes_collide():
    # 4 x 2 boxes, centres 3 m apart along x: they overlap by 1 m. Rounding s = min(4,2)*0.7/2 = 0.7;
    # cores 2.6 x 0.6, core gap 3 - 1.3 - 1.3 = 0.4, distance 0.4 - 0.7 - 0.7 = -1.0.
    assert nearest([0, 3], [0, 0]) == pytest.approx(-1.0, abs=1e-6)


def test_face_to_face_gap():
    # Centres 6 m apart: gap between faces 6 - 2 - 2 = 2 m.
    assert nearest([0, 6], [0, 0]) == pytest.approx(2.0, abs=1e-6)


def test_corner_to_corner_uses_rounded_corners():
    # Diagonal neighbour at (6, 4): core corners (1.3, 0.3) and (4.7, 3.7), 3.4*sqrt(2) apart, minus 2 * 0.7.
    assert nearest([0, 6], [0, 4]) == pytest.approx(3.4 * math.sqrt(2) - 1.4, abs=1e-5)


def test_rotated_box_collides():
    # A box rotated by 90 degrees centred 2.5 m away: its long side reaches x = 2.5 - 1 = 1.5 < 2.
    assert nearest([0, 2.5], [0, 0], hs=[0.0, math.pi / 2]) < 0


def test_no_valid_neighbour_reads_1e10():
    assert nearest([0, 3], [0, 0], valid=[True, False]) == pytest.approx(1e10)
    assert nearest([0], [0]) == pytest.approx(1e10)


# ------------------------------------------------------------------------------ time to collision
def ttc(dx, dy=0.0, h_other=0.0, v_ego=10.0, v_other=5.0, valid_other=True):
    x, y, h = t3(0.0, dx), t3(0.0, dy), t3(0.0, h_other)
    size_l, size_w = t3(4.0, 4.0), t3(2.0, 2.0)
    speed = t3(v_ego, v_other)
    valid = torch.tensor([True, valid_other]).reshape(1, 2, 1)
    return float(interaction.time_to_collision(x, y, h, size_l, size_w, speed, valid, 1)[0, 0, 0])


def test_ttc_following():
    # Gap between bumpers 20 - 2 - 2 = 16 m, closing at 10 - 5 = 5 m/s: 3.2 s.
    assert ttc(20.0) == pytest.approx(3.2, abs=1e-6)


def test_ttc_capped_and_not_closing():
    assert ttc(60.0) == 5.0  # 56 / 5 = 11.2 s, capped at 5
    assert ttc(20.0, v_other=12.0) == 5.0  # the leader is faster


def test_ttc_head_on_is_not_following():
    # Heading difference pi > 75 degrees: the oncoming car is not a leader.
    assert ttc(20.0, h_other=math.pi) == 5.0


def test_ttc_lateral_rules():
    assert ttc(20.0, dy=3.0) == 5.0  # lateral gap 3 - 1 - 1 = 1 m > 0: not in the lane
    assert ttc(20.0, dy=1.8) == pytest.approx(3.2, abs=1e-6)  # overlap 0.2 m, aligned (<= 10 deg)
    # Leader turned by 20 deg: its half extents along/across the ego axis are lo = 2 cos20 + 1 sin20 = 2.221
    # and la = 2 sin20 + 1 cos20 = 1.624. At dy = 1.8 the overlap is 1.8 - 1 - 1.624 = -0.824 < -0.5:
    # following, TTC = (20 - 2 - 2.221) / 5 = 3.1557. At dy = 2.4 the overlap is only 0.224 m (< 0.5 m
    # while more than 10 deg apart): not following.
    h20 = math.radians(20)
    lo = 2 * math.cos(h20) + math.sin(h20)
    assert ttc(20.0, dy=1.8, h_other=h20) == pytest.approx((20 - 2 - lo) / 5, abs=1e-5)
    assert ttc(20.0, dy=2.4, h_other=h20) == 5.0


def test_ttc_invalid_leader_ignored():
    assert ttc(20.0, valid_other=False) == 5.0


def test_ttc_through_pipeline_constant_speeds():
    # Ego at 10 m/s, leader 20 m ahead at 5 m/s; at future step k (global t = 11 + k) the centre gap is
    # 20 - 0.5 t, bumper gap 16 - 0.5 t, TTC = (16 - 0.5 t) / 5 capped at 5 while the gap is positive (once
    # the boxes overlap the leader no longer counts as ahead: 5); the last step has no speed -> 5.
    t = np.arange(91) * 0.1
    scen = make_scenario(
        np.stack([10 * t, 20 + 5 * t]), 0.0, road_edges=[np.array([[-100, -10], [500, -10]])]
    )
    batch = build_batch([scen])
    got = compute_features(batch).time_to_collision[0, 0, 0].numpy()
    steps = np.arange(11, 91)
    gap = 16 - 0.5 * steps
    want = np.where(gap > 0, np.minimum(gap / 5.0, 5.0), 5.0)
    want[-1] = 5.0
    np.testing.assert_allclose(got, want, atol=2e-5)


# ------------------------------------------------------------------------------ road edge / offroad
def edge_distance(scen, x, y, heading=0.0, length=4.0, width=2.0, valid=True, brute_force=False):
    edges = road_edges_from_scenario([scen])
    one = torch.ones(1, len(x), dtype=torch.float32)

    def f(v):
        return torch.tensor(v, dtype=torch.float32).reshape(1, -1) * one

    out = distance_to_road_edge(
        f(x), f(y), f(0.0), f(heading), f(length), f(width), f(1.5), torch.tensor(valid).expand(1, len(x)), edges,
        brute_force,
    )  # fmt: skip
    return out[0].numpy()


@pytest.fixture
def straight_road():
    # One road edge along +x: the road is on its left (y > 0), off-road on the right (y < 0).
    return make_scenario([0.0], [5.0], road_edges=[np.array([[-100.0, 0.0], [0.0, 0.0], [100.0, 0.0]])])


def test_box_fully_off_road(straight_road):
    # Box at y = -5 (width 2): corners at y = -4 and -6 -> +4 and +6 -> max 6 > 0: offroad.
    d = edge_distance(straight_road, [0.0], [-5.0])
    assert d[0] == pytest.approx(6.0, abs=1e-5)


def test_box_on_road_and_straddling(straight_road):
    # On road at y = 5: corners at -4 / -6 -> max -4. Straddling at y = 0.5: corner at y = -0.5 -> +0.5.
    d = edge_distance(straight_road, [0.0, 10.0], [5.0, 0.5])
    assert d[0] == pytest.approx(-4.0, abs=1e-5)
    assert d[1] == pytest.approx(0.5, abs=1e-5)


def test_invalid_box_reads_minus_1e10(straight_road):
    assert edge_distance(straight_road, [0.0], [-5.0], valid=[False])[0] == pytest.approx(-1e10)


def test_closed_loop_inside_outside():
    # Counter-clockwise square: the road (left side) is inside. A 2 x 2 box at the centre is 4 m from
    # every side (corners 4 m in); a box centred at (13, 13) has its nearest corner (12, 12) sqrt(8) from
    # the vertex (10, 10) and its far corner (14, 14) sqrt(32) away: max = sqrt(32), off-road.
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], np.float64)
    scen = make_scenario([0.0], [0.0], road_edges=[square])
    d = edge_distance(scen, [5.0, 13.0], [5.0, 13.0], length=2.0, width=2.0)
    assert d[0] == pytest.approx(-4.0, abs=1e-5)
    assert d[1] == pytest.approx(math.sqrt(32), abs=1e-5)
    assert np.array_equal(
        d, edge_distance(scen, [5.0, 13.0], [5.0, 13.0], length=2.0, width=2.0, brute_force=True)
    )


# ------------------------------------------------------------------------------ red lights
def red_light_scene(state, lane_y=0.0, car_y=0.0, valid=True, agent_type=AgentType.VEHICLE):
    """Lane 7 along +x through (0..100, lane_y) with a stop point at x = 50; a second lane 8 at y = 20.

    The car drives along y = car_y at 5 m/s: x(t) = 30.25 + 0.5 t, so x(39) = 49.75 is behind the
    stop line and x(40) = 50.25 beyond it: the crossing is at global step 40 (future step 29).
    """
    t = np.arange(91)
    xs = np.linspace(0, 100, 11)
    lanes = [(7, np.stack([xs, np.full(11, lane_y)], 1)), (8, np.stack([xs, np.full(11, 20.0)], 1))]
    return make_scenario(
        [30.25 + 0.5 * t], [car_y], 0.0, valid=valid, types=[int(agent_type)],
        road_edges=[np.array([[-100, -5.0], [200, -5.0]])], lanes=lanes, signals=[(7, int(state), (50.0, lane_y))],
    )  # fmt: skip


def violations(scen):
    return compute_features(build_batch([scen])).traffic_light_violation_per_step[0, 0, 0].numpy()


def test_running_a_red_light_violates_once():
    v = violations(red_light_scene(SignalState.STOP))
    assert v.sum() == 1 and v[40 - 11]
    v = violations(red_light_scene(SignalState.ARROW_STOP))
    assert v.sum() == 1 and v[29]


@pytest.mark.parametrize("state", [SignalState.GO, SignalState.CAUTION, SignalState.FLASHING_STOP])
def test_not_red_no_violation(state):
    assert not violations(red_light_scene(state)).any()


def test_crossing_in_another_lane_is_not_a_violation():
    # The car drives along lane 8 (y = 20): it crosses the x = 50 fence line, but its nearest lane is 8.
    assert not violations(red_light_scene(SignalState.STOP, car_y=20.0)).any()


def test_invalid_car_does_not_violate():
    valid = np.ones((1, 91), bool)
    valid[0, 40] = False
    assert not violations(red_light_scene(SignalState.STOP, valid=valid)).any()


def test_tl_likelihood_masks_vehicles_but_rate_does_not():
    # A pedestrian crossing on red: the per-step feature fires, the rate counts it, the likelihood
    # (vehicles only) sees False/False -> log((32 + 0.001) / 32.002).
    from smartr1.metrics.reward import metric_fields
    from smartr1.metrics.scoring import ScenarioContext
    from smartr1.rollout.reference import logged_oracle

    scen = red_light_scene(SignalState.STOP, agent_type=AgentType.PEDESTRIAN)
    ctx = ScenarioContext.build([scen])
    m = metric_fields(ctx, ctx.align([logged_oracle(scen)]))
    assert float(m["simulated_traffic_light_violation_rate"][0]) == 1.0
    assert float(m["traffic_light_violation_likelihood"][0]) == pytest.approx(32.001 / 32.002, abs=1e-7)


# ------------------------------------------------------------------------------ estimators
def test_bin_edges_match_spec():
    cfg = load_config("2025").features
    spec_ang = [-0.62800002, -0.51381820, -0.39963639, -0.28545454, -0.17127272, -0.05709088,
                0.05709094, 0.17127275, 0.28545457, 0.39963639, 0.51381826, 0.62800002]  # fmt: skip
    np.testing.assert_allclose(estimators.bin_edges(cfg["angular_speed"]).numpy(), spec_ang, atol=1e-8)
    spec_acc = [-12, -9.818182, -7.6363635, -5.454545, -3.272727, -1.090909, 1.09091, 3.272728, 5.454546,
                7.636364, 9.818182, 12]  # fmt: skip
    np.testing.assert_allclose(estimators.bin_edges(cfg["linear_acceleration"]).numpy(), spec_acc, atol=1e-6)


def test_histogram_by_hand():
    # linear speed: 10 bins of 2.5 m/s, alpha 0.1. One object, R = 2 rollouts x 2 steps of samples:
    # 1.0, 1.0, 30 (clipped -> last bin), NaN (-> last bin). Bin 0: 2 samples, bin 9: 2 samples.
    cfg = load_config("2025").features["linear_speed"]
    sim = torch.tensor([[[1.0, 30.0]], [[1.0, float("nan")]]])  # [R=2, E=1, T=2]
    log = torch.tensor([[1.0, 12.0]])  # bin 0 and bin 4
    ll = estimators.histogram_loglik(log, sim, cfg)
    total = 4 + 10 * 0.1
    np.testing.assert_allclose(ll.numpy(), [[math.log(2.1 / total), math.log(0.1 / total)]], rtol=1e-6)


def test_bernoulli_by_hand():
    cfg = load_config("2025").features["collision_indication"]
    sim = torch.tensor([[True], [True], [False], [False]] + [[False]] * 28)  # 2 of 32 rollouts collide
    got = estimators.bernoulli_loglik(torch.tensor([True]), sim, cfg)
    assert float(got[0]) == pytest.approx(math.log(2.001 / 32.002), rel=1e-6)
