"""k-disk clustering: radius bound, coverage, determinism, farthest-point fill."""

from __future__ import annotations

import numpy as np
import torch

from smartr1.tokens.kdisk import farthest_points, greedy_cover, kdisk_cluster


def _points(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    centre = torch.randn(n, 1, 2, generator=g) * 3
    offsets = torch.tensor([[1.0, 0.5], [1.0, -0.5], [-1.0, -0.5], [-1.0, 0.5]])
    return centre + offsets + torch.randn(n, 4, 2, generator=g) * 0.05


def _dist(a, b):
    return np.sqrt(((np.asarray(a) - np.asarray(b)) ** 2).sum(-1)).mean(-1)


def test_disks_respect_radius_and_do_not_overlap():
    feat = _points()
    res = kdisk_cluster(feat, 100, coverage=0.98, seed=1)
    assert len(res.members) <= 100 and res.coverage >= 0.98
    seen = np.concatenate([m.numpy() for m in res.members])
    assert len(seen) == len(np.unique(seen)) == round(res.coverage * len(feat))
    for m in res.members:
        centre = feat[m[0]]
        assert (_dist(feat[m], centre) <= res.tol + 1e-6).all()


def test_greedy_cover_matches_a_naive_pass():
    """The sorted-window search finds exactly the disks of the plain O(N) pass."""
    feat = _points(800, seed=2).numpy()
    order = np.random.default_rng(0).permutation(len(feat))
    fast, covered = greedy_cover(feat, order, 60, 0.4)
    free = np.ones(len(feat), bool)
    naive = []
    for i in order:
        if len(naive) == 60:
            break
        if not free[i]:
            continue
        inside = free & (_dist(feat, feat[i]) <= 0.4)
        naive.append(set(np.flatnonzero(inside).tolist()))
        free &= ~inside
    assert [set(m.tolist()) for m in fast] == naive
    assert covered == sum(len(s) for s in naive)


def test_smaller_radius_needs_more_disks_and_is_deterministic():
    feat = _points()
    a = kdisk_cluster(feat, 50, coverage=0.95, seed=0)
    b = kdisk_cluster(feat, 200, coverage=0.95, seed=0)
    assert b.tol < a.tol
    again = kdisk_cluster(feat, 50, coverage=0.95, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a.members, again.members, strict=True))


def test_farthest_points_spread():
    pool = _points(500, seed=3).numpy()
    existing = pool[:1]
    pick = farthest_points(pool, existing, 20)
    assert len(set(pick.tolist())) == 20
    # each pick is the farthest remaining from everything chosen before it
    chosen = [existing[0]]
    for j in pick:
        d = np.min([_dist(pool, c) for c in chosen], axis=0)
        assert d[j] >= d.max() - 1e-5
        chosen.append(pool[j])
