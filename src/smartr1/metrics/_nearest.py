"""Exact nearest-segment search with chunk bounds (shared by road edges and traffic-light lanes).

Segments are grouped into chunks of consecutive segments with axis-aligned bounds in a "bound space"
where the true distance can never be smaller than the point-to-box distance. Queries come in small
groups of nearby points (e.g. 4 corners x 8 steps of one object). Per group:

1. lower bound to every chunk = box-to-box distance;
2. upper bound = exact distance of every point to the segments of the few most promising chunks;
3. only chunks whose lower bound is within the group's upper bound (plus slack for f32 rounding) can
   hold a point's minimum; those are evaluated exactly and the first index among equal minima wins.

This returns exactly the argmin of the exhaustive search (same f32 distances, same tie rule); the
slack only makes it evaluate a few more segments.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

SLACK_REL = 1e-4
SLACK_ABS = 1e-2
UB_CHUNKS = 4  # chunks evaluated exactly to get each group's upper bound

DistanceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def first_argmin(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """index[..., j*] with j* the smallest index among the minima along the last axis.

    NaN distances (non-finite query points) count as +inf so an index is always returned.
    """
    values = torch.nan_to_num(values, nan=float("inf"))
    m = values.amin(-1, keepdim=True)
    big = torch.iinfo(index.dtype).max
    return torch.where(values == m, index, torch.full_like(index, big)).amin(-1)


def _box_lower_bound(glo, ghi, lo, hi):
    """Distance between boxes [G, D] and [C, D] -> [G, C]."""
    gap = torch.clamp(torch.maximum(lo[None] - ghi[:, None], glo[:, None] - hi[None]), min=0.0)
    return (gap * gap).sum(-1)  # squared


def _morton_order(xy: torch.Tensor, cell: float = 0.5) -> torch.Tensor:
    """Permutation that sorts 2D points along a Z-order curve (nearby points end up adjacent)."""
    finite = torch.isfinite(xy).all(-1)
    xy = torch.where(finite[:, None], xy, torch.zeros_like(xy))
    c = ((xy - xy.amin(0)) / cell).long().clamp(0, (1 << 20) - 1)
    code = torch.zeros(xy.shape[0], dtype=torch.long, device=xy.device)
    for bit in range(20):
        code |= ((c[:, 0] >> bit) & 1) << (2 * bit)
        code |= ((c[:, 1] >> bit) & 1) << (2 * bit + 1)
    return torch.argsort(code)


def nearest_segment(
    q: torch.Tensor,
    qb: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    chunk: int,
    dist: DistanceFn,
    group: int = 64,
    budget: int = 1 << 18,
) -> torch.Tensor:
    """Segment index of the minimum of `dist` for each point (first index on ties).

    q: [Q, Dq] query points; qb: [Q, D] the same points in bound space; lo, hi: [C, D] chunk bounds
    (inf / -inf for empty chunks); segments are numbered chunk * `chunk` + offset.
    `dist(q [g, P, 1, Dq], seg [g, 1, K]) -> [g, P, K]`. Returns [Q] int64.
    Points are grouped `group` at a time along a Z-order curve so that groups are compact.
    """
    n = q.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=q.device)
    order = _morton_order(qb[:, :2])
    pad = (-n) % group
    if pad:
        order = torch.cat([order, order[-1:].expand(pad)])
    res = _nearest_groups(
        q[order].reshape(-1, group, q.shape[1]),
        qb[order].reshape(-1, group, qb.shape[1]),
        lo,
        hi,
        chunk,
        dist,
        budget,
    ).reshape(-1)
    out = torch.empty(n, dtype=torch.long, device=q.device)
    out[order[:n]] = res[:n]
    return out


def _nearest_groups(q, qb, lo, hi, chunk, dist, budget):
    g_all, p = q.shape[:2]
    c = lo.shape[0]
    dev = q.device
    offs = torch.arange(chunk, device=dev)
    glo, ghi = qb.amin(1), qb.amax(1)
    step = max(1, budget // max(1, c * lo.shape[1]))
    lb = torch.cat(
        [_box_lower_bound(glo[i : i + step], ghi[i : i + step], lo, hi) for i in range(0, g_all, step)]
    )
    k0 = min(UB_CHUNKS, c)
    c0 = torch.topk(lb, k0, dim=-1, largest=False).indices  # [G, k0]
    thr = torch.empty(g_all, dtype=q.dtype, device=dev)
    step = max(1, budget // max(1, p * chunk * k0))
    for i in range(0, g_all, step):
        seg0 = (c0[i : i + step, :, None] * chunk + offs).reshape(-1, 1, k0 * chunk)
        ub = dist(q[i : i + step, :, None], seg0).amin(-1).amax(-1)
        thr[i : i + step] = ub * (1.0 + SLACK_REL) + SLACK_ABS
    count = (lb <= (thr * thr)[:, None]).sum(-1).clamp(min=1)
    out = torch.empty((g_all, p), dtype=torch.long, device=dev)
    # Groups with similar candidate counts are evaluated together (k rounded up to a power of 2).
    kk = torch.clamp(2 ** torch.ceil(torch.log2(count.to(torch.float32))).long(), max=c)
    for k in torch.unique(kk).tolist():
        members = (kk == k).nonzero(as_tuple=True)[0]
        step = max(1, budget // max(1, p * k * chunk))
        for i in range(0, members.shape[0], step):
            gi = members[i : i + step]
            sel = torch.topk(lb[gi], k, dim=-1, largest=False).indices  # [g, k]
            seg = (sel[:, :, None] * chunk + offs).reshape(gi.shape[0], 1, -1)  # [g, 1, k*chunk]
            d = dist(q[gi][:, :, None], seg)
            out[gi] = first_argmin(d, seg.expand(-1, p, -1))
    return out
