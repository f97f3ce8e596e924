"""k-disk clustering: a greedy cover of point sets by disks of one radius, in random order.

Each sample is a small set of 2D points (box corners); the distance between two samples is the mean
distance between corresponding points. Visiting samples in a seeded random order, each not-yet-covered
sample becomes a centre and takes every uncovered sample within `tol` of it. The radius is chosen by
bisection as the smallest one whose first `count` disks cover a `coverage` fraction of the samples, so
the vocabulary size is fixed and the worst-case error of the covered samples is bounded by `tol`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class KDiskResult:
    members: list[torch.Tensor]  # per disk: [n_i] long sample indices (first = the centre)
    tol: float  # disk radius (mean point distance), metres
    coverage: float  # fraction of samples inside some disk
    runs: int  # number of greedy passes made by the bisection


def _disk_dist(feat: np.ndarray, centre: np.ndarray) -> np.ndarray:
    # feat [N, P, 2], centre [P, 2] -> [N]
    return np.sqrt(((feat - centre) ** 2).sum(-1)).mean(-1)


class _Sorted:
    """Samples sorted by centroid x. The mean point distance bounds the centroid distance from above,
    so only samples within `tol` in centroid x can lie in a disk: one searchsorted finds that window."""

    def __init__(self, feat: np.ndarray):
        cx = feat[..., 0].mean(-1)
        self.perm = np.argsort(cx, kind="stable")
        self.cx = cx[self.perm]
        self.feat = np.ascontiguousarray(feat[self.perm])
        self.rank = np.empty_like(self.perm)
        self.rank[self.perm] = np.arange(len(self.perm))


def greedy_cover(
    feat: np.ndarray | torch.Tensor,
    order: np.ndarray | torch.Tensor,
    count: int,
    tol: float,
    first_centre: np.ndarray | torch.Tensor | None = None,
    _sorted: _Sorted | None = None,
) -> tuple[list[torch.Tensor], int]:
    """One greedy pass: up to `count` disks of radius `tol`; returns (members per disk, samples covered).

    Samples are visited in `order`; members of a disk are listed centre first. `first_centre` [P, 2],
    if given, is a virtual centre whose disk is removed first (not counted): it reserves a token (e.g.
    'no motion') that is fixed rather than a cluster mean.
    """
    feat = np.asarray(feat, np.float32)
    srt = _sorted or _Sorted(feat)
    n = len(srt.cx)
    pos = srt.rank[np.asarray(order)]
    covered = np.zeros(n, bool)
    if first_centre is not None:
        covered |= _disk_dist(srt.feat, np.asarray(first_centre, np.float32)) <= tol
    disks: list[torch.Tensor] = []
    ptr, block = 0, 1024
    while len(disks) < count:
        while ptr < n:  # next uncovered sample in visiting order
            free = ~covered[pos[ptr : ptr + block]]
            if free.any():
                ptr += int(np.argmax(free))
                break
            ptr += block
        if ptr >= n:
            break
        c = pos[ptr]
        lo = np.searchsorted(srt.cx, srt.cx[c] - tol, "left")
        hi = np.searchsorted(srt.cx, srt.cx[c] + tol, "right")
        cand = lo + np.flatnonzero(~covered[lo:hi])
        inside = cand[_disk_dist(srt.feat[cand], srt.feat[c]) <= tol]
        inside = np.concatenate([[c], inside[inside != c]])
        covered[inside] = True
        disks.append(torch.from_numpy(srt.perm[inside]))
    return disks, int(covered.sum())


def kdisk_cluster(
    feat: torch.Tensor,
    count: int,
    coverage: float = 0.995,
    seed: int = 0,
    first_centre: torch.Tensor | None = None,
    min_tol: float = 1e-3,
    iters: int = 14,
) -> KDiskResult:
    """`count` disks of the smallest radius (within bisection precision) covering `coverage` of `feat` [N, P, 2]."""
    n = int(feat.shape[0])
    if n == 0:
        return KDiskResult([], min_tol, 1.0, 0)
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=gen).numpy()
    feat_np = np.asarray(feat.detach().cpu().numpy() if isinstance(feat, torch.Tensor) else feat, np.float32)
    srt = _Sorted(feat_np)
    need = coverage * n
    runs = 0

    def run(tol: float):
        nonlocal runs
        runs += 1
        return greedy_cover(feat_np, order, count, tol, first_centre, srt)

    disks, covered = run(min_tol)
    if covered >= need:  # few distinct samples: the smallest radius already covers them
        return KDiskResult(disks, min_tol, covered / n, runs)
    lo, hi = min_tol, 0.1
    best = run(hi)
    while best[1] < need:
        lo, hi = hi, hi * 2
        best = run(hi)
    for _ in range(iters):
        mid = (lo * hi) ** 0.5
        res = run(mid)
        if res[1] >= need:
            hi, best = mid, res
        else:
            lo = mid
        if hi / lo < 1.02:
            break
    return KDiskResult(best[0], hi, best[1] / n, runs)


def _min_dist(pool: np.ndarray, existing: np.ndarray, chunk: int = 256) -> np.ndarray:
    """[N] distance of each pool sample to its nearest `existing` sample (inf if none)."""
    mind = np.full(len(pool), np.inf, np.float32)
    for i in range(0, len(existing), chunk):
        e = np.asarray(existing[i : i + chunk], np.float32)
        d = np.sqrt(((pool[:, None] - e[None]) ** 2).sum(-1)).mean(-1)  # [N, e]
        mind = np.minimum(mind, d.min(1))
    return mind


def fill_gaps(pool: np.ndarray, existing: np.ndarray, k: int, tol: float, seed: int = 0) -> np.ndarray:
    """Indices of k pool samples [N, P, 2] that cover what `existing` [E, P, 2] misses.

    Pool samples farther than `tol` from every existing sample are covered greedily (random order,
    so denser uncovered regions get centres first) by disks of radius `tol`; leftover picks go
    farthest-first. Deterministic for a seed.
    """
    if k <= 0 or len(pool) == 0:
        return np.zeros(0, np.int64)
    pool = np.asarray(pool, np.float32)
    free = np.flatnonzero(_min_dist(pool, existing) > tol)
    order = np.random.default_rng(seed).permutation(len(free))
    disks, _ = greedy_cover(pool[free], order, k, tol)
    pick = [int(free[d[0]]) for d in disks]
    if len(pick) < k:
        chosen = np.concatenate([np.asarray(existing, np.float32).reshape(-1, *pool.shape[1:]), pool[pick]])
        pick += farthest_points(pool, chosen, k - len(pick)).tolist()
    return np.asarray(pick, np.int64)


def farthest_points(pool: np.ndarray, existing: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    """Indices of k samples of `pool` [N, P, 2] picked farthest-first from `existing` [E, P, 2] and each
    other (greedy max-min distance); deterministic."""
    n = len(pool)
    if k <= 0 or n == 0:
        return np.zeros(0, np.int64)
    pool = np.asarray(pool, np.float32)
    mind = _min_dist(pool, existing, chunk)
    out = []
    for _ in range(min(k, n)):
        j = int(np.argmax(mind))
        out.append(j)
        mind = np.minimum(mind, _disk_dist(pool, pool[j]))
        mind[j] = -1.0
    while len(out) < k:  # pool exhausted: repeat (ties resolve to the lowest token id)
        out.append(out[len(out) % n])
    return np.asarray(out, np.int64)
