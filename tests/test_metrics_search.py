"""The pruned searches (nearest object, road edge, lane) return exactly what exhaustive search does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smartr1.metrics import interaction, traffic_lights
from smartr1.metrics.features import FUT
from smartr1.metrics.map_features import distance_to_road_edge
from smartr1.metrics.scoring import ScenarioContext
from smartr1.testing.scenes import busy_scene
from tests.conftest import WOSAC


@pytest.fixture(scope="module")
def noisy(real_scenarios):
    from smartr1.data.rollouts import Rollouts

    sid = "637f20cafde22ff8"
    sub = np.load(WOSAC / sid / "submission_logged_noisy.npz")
    ro = Rollouts(sid, sub["object_id"], sub["x"][:3], sub["y"][:3], sub["z"][:3], sub["heading"][:3])
    ctx = ScenarioContext.build([real_scenarios[sid]])
    return ctx, ctx.align([ro])


def test_road_edge_pruned_equals_brute_force(noisy):
    ctx, fut = noisy
    b = ctx.batch
    e = b.num_eval
    args = [fut[:, :, :e, :, i] for i in range(3)] + [fut[:, :, :e, :, 3]]
    sizes = [v[:, None, :e, FUT].expand(-1, fut.shape[1], -1, -1) for v in (b.length, b.width, b.height)]
    valid = torch.ones_like(args[0], dtype=torch.bool)
    fast = distance_to_road_edge(*args, *sizes, valid, b.road_edges)
    slow = distance_to_road_edge(*args, *sizes, valid, b.road_edges, brute_force=True)
    assert torch.equal(fast, slow)


def test_nearest_object_pruned_equals_dense():
    scen, ro = busy_scene(num_agents=96, num_eval=6, seed=3)
    ctx = ScenarioContext.build([scen])
    fut = ctx.align([ro])[0, :2]  # [R=2, N, 80, 4]
    b = ctx.batch
    r = fut.shape[0]
    x, y, h = fut[..., 0], fut[..., 1], fut[..., 3]
    size_l = b.length[:, :, FUT].expand(r, -1, -1)
    size_w = b.width[:, :, FUT].expand(r, -1, -1)
    valid = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) > 0.1
    args = (x, y, h, size_l, size_w, valid, b.num_eval)
    assert torch.equal(
        interaction.distance_to_nearest_object(*args), interaction.distance_to_nearest_object_dense(*args)
    )


def test_nearest_lane_pruned_equals_brute_force(real_scenarios):
    ctx = ScenarioContext.build([real_scenarios["637f20cafde22ff8"]])
    sig = ctx.batch.signals
    pts = sig.points[0][sig.slot_valid[0].any(-1)].reshape(-1, 2)
    g = torch.Generator().manual_seed(0)
    q = pts[torch.randint(0, pts.shape[0], (3000,), generator=g)] + torch.randn(3000, 2, generator=g) * 8
    fast = traffic_lights._nearest_lane_pruned(q, sig, 0)
    slow = traffic_lights._nearest_lane(q, sig.points[0], sig.slot_valid[0])
    assert torch.equal(fast, slow)
