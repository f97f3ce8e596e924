"""Signed distance from agent box corners to the road edges, and offroad (§3.4 of the spec).

Road edges are kept as a flat list of real segments per scenario (polyline-major, slot order), with
each segment's neighbours and local convexity precomputed. That reproduces the official padded
`(polylines, P, 4)` tensor semantics exactly, including its quirk that wrap-around at polyline ends
only applies to cyclic polylines as long as the longest one in the scenario.

The nearest segment (by z-stretched 3D distance, first index on ties) is found with the bounded
search of `_nearest` (chunks of consecutive segments, groups of nearby query points); the result is
identical to the exhaustive search kept behind `brute_force=True` for tests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import MapKind, Scenario
from smartr1.metrics import _ops
from smartr1.metrics._nearest import nearest_segment
from smartr1.metrics.interaction import box_corners_2d

Z_STRETCH = 3.0
CYCLIC_TOLERANCE_M2 = 1.0
EXTREMELY_LARGE_DISTANCE = 1e10
CHUNK_SEGMENTS = 4


@dataclass
class RoadEdges:
    """Road-edge segments of S scenarios, padded to K segments (C chunks of `CHUNK_SEGMENTS`)."""

    a: torch.Tensor  # [S, K, 3] f32 segment start
    ab: torch.Tensor  # [S, K, 3] f32 end − start
    valid: torch.Tensor  # [S, K] bool (False for padding)
    prior: torch.Tensor  # [S, K] int64 neighbour slot before (self where the official code uses self)
    prior_valid: torch.Tensor  # [S, K] bool
    next: torch.Tensor  # [S, K] int64
    next_valid: torch.Tensor  # [S, K] bool
    convex_before: torch.Tensor  # [S, K] bool cross(E_prior, E) > 0
    convex_after: torch.Tensor  # [S, K] bool cross(E, E_next) > 0
    chunk_lo: torch.Tensor  # [S, C, 3] bounds of each chunk in (x, y, 3z)
    chunk_hi: torch.Tensor  # [S, C, 3]
    num_segments: list[int]


def _cross(ax, ay, bx, by):
    return ax * by - ay * bx


def _scenario_segments(scenario: Scenario) -> dict[str, np.ndarray]:
    m = scenario.map
    polys = [m.polyline(f).astype(np.float32) for f in m.of_kind(MapKind.ROAD_EDGE)]
    polys = [p for p in polys if len(p) >= 2]
    if not polys:
        raise DataError(None, f"scenario {scenario.scenario_id!r} has no road edge: WOSAC cannot score it")
    big_p = max(len(p) for p in polys)
    a, ab, prior, prior_ok, nxt, next_ok, cvb, cva = ([] for _ in range(8))
    base = 0
    for p in polys:
        n = len(p)
        d = p[0] - p[-1]
        cyclic = bool((d[0] * d[0] + d[1] * d[1]) + d[2] * d[2] < np.float32(CYCLIC_TOLERANCE_M2))
        full = n == big_p
        wrap = cyclic and full
        seg_a = p[:-1]
        seg_ab = p[1:] - p[:-1]
        k = np.arange(n - 1)
        ex, ey = seg_ab[:, 0], seg_ab[:, 1]
        # Neighbour slots as the padded official tensor sees them.
        pr = np.where(k > 0, k - 1, (n - 2) if wrap else 0)
        pr_ok = np.ones(n - 1, bool)
        pr_ok[0] = full or not cyclic  # cyclic & short: the wrapped slot is padding
        nx = np.where(k < n - 2, k + 1, 0 if wrap else n - 2)
        nx_ok = np.ones(n - 1, bool)
        nx_ok[-1] = full  # short polylines: the next slot is padding
        # E_{-1} = E_{P-2} and E_{P-1} = E_0 only reach real slots for full-length polylines;
        # elsewhere the neighbour is self or invalid, and convexity does not change the sign.
        e_prev_x = np.where(k > 0, np.roll(ex, 1), ex[-1] if full else 0.0)
        e_prev_y = np.where(k > 0, np.roll(ey, 1), ey[-1] if full else 0.0)
        e_next_x = np.where(k < n - 2, np.roll(ex, -1), ex[0] if full else 0.0)
        e_next_y = np.where(k < n - 2, np.roll(ey, -1), ey[0] if full else 0.0)
        a.append(seg_a)
        ab.append(seg_ab)
        prior.append(pr + base)
        prior_ok.append(pr_ok)
        nxt.append(nx + base)
        next_ok.append(nx_ok)
        cvb.append(_cross(e_prev_x, e_prev_y, ex, ey) > 0)
        cva.append(_cross(ex, ey, e_next_x, e_next_y) > 0)
        base += n - 1
    cat = np.concatenate
    return {
        "a": cat(a).astype(np.float32),
        "ab": cat(ab).astype(np.float32),
        "prior": cat(prior).astype(np.int64),
        "prior_valid": cat(prior_ok),
        "next": cat(nxt).astype(np.int64),
        "next_valid": cat(next_ok),
        "convex_before": cat(cvb),
        "convex_after": cat(cva),
    }


def road_edges_from_scenario(scenarios: list[Scenario], device: torch.device | str = "cpu") -> RoadEdges:
    segs = [_scenario_segments(s) for s in scenarios]
    counts = [len(s["a"]) for s in segs]
    k = -(-max(counts) // CHUNK_SEGMENTS) * CHUNK_SEGMENTS
    c = k // CHUNK_SEGMENTS

    def pad(name, fill):
        first = segs[0][name]
        out = np.full((len(segs), k, *first.shape[1:]), fill, dtype=first.dtype)
        for i, s in enumerate(segs):
            out[i, : len(s[name])] = s[name]
        return out

    a, ab = pad("a", 0.0), pad("ab", 0.0)
    valid = np.zeros((len(segs), k), bool)
    for i, n in enumerate(counts):
        valid[i, :n] = True
    # Far-away padding segments: never nearest, never inside a chunk's bounds.
    a[~valid] = np.float32(1e9)
    ab[~valid] = 0.0
    end = a + ab
    lo = np.minimum(a, end) * np.array([1, 1, Z_STRETCH], np.float32)
    hi = np.maximum(a, end) * np.array([1, 1, Z_STRETCH], np.float32)
    lo3, hi3 = np.minimum(lo, hi), np.maximum(lo, hi)
    lo3[~valid], hi3[~valid] = np.inf, -np.inf
    chunk_lo = lo3.reshape(len(segs), c, CHUNK_SEGMENTS, 3).min(2)
    chunk_hi = hi3.reshape(len(segs), c, CHUNK_SEGMENTS, 3).max(2)
    idx = np.arange(k)
    prior = pad("prior", 0)
    nxt = pad("next", 0)
    prior[~valid] = idx[None].repeat(len(segs), 0)[~valid]
    nxt[~valid] = idx[None].repeat(len(segs), 0)[~valid]

    t = functools.partial(_ops.to_tensor, device=device)
    return RoadEdges(
        a=t(a),
        ab=t(ab),
        valid=t(valid),
        prior=t(prior),
        prior_valid=t(pad("prior_valid", False)),
        next=t(nxt),
        next_valid=t(pad("next_valid", False)),
        convex_before=t(pad("convex_before", False)),
        convex_after=t(pad("convex_after", False)),
        chunk_lo=t(chunk_lo),
        chunk_hi=t(chunk_hi),
        num_segments=counts,
    )


def _d3(q: torch.Tensor, a: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """z-stretched distance from points q [..., 3] to segments (a, ab) [..., 3] (broadcast)."""
    ap = q - a
    num = ap[..., 0] * ab[..., 0] + ap[..., 1] * ab[..., 1]
    den = ab[..., 0] * ab[..., 0] + ab[..., 1] * ab[..., 1]
    tc = _ops.divide_no_nan(num, den).clamp(0.0, 1.0)
    gx = ap[..., 0] - ab[..., 0] * tc
    gy = ap[..., 1] - ab[..., 1] * tc
    gz = (ap[..., 2] - ab[..., 2] * tc) * Z_STRETCH
    return _ops.sqrt((gx * gx + gy * gy) + gz * gz)


def _d3_soa(qx, qy, qz, tab: torch.Tensor) -> torch.Tensor:
    """`_d3` on component tensors; tab = [7, ...] rows ax, ay, az, abx, aby, abz, den (1 where 0).

    With ab_xy = 0 the numerator is 0 too, so dividing by 1 gives divide_no_nan's 0.
    """
    ax, ay, az, bx, by, bz, den = tab
    apx, apy, apz = qx - ax, qy - ay, qz - az
    tc = ((apx * bx + apy * by) / den).clamp(0.0, 1.0)
    gx = apx - bx * tc
    gy = apy - by * tc
    gz = (apz - bz * tc) * Z_STRETCH
    return _ops.sqrt((gx * gx + gy * gy) + gz * gz)


def _nearest_brute(q: torch.Tensor, edges: RoadEdges, s: int, chunk: int = 1 << 20) -> torch.Tensor:
    """Nearest segment index for q [Q, 3] by exhaustive search (first on ties)."""
    k = edges.a.shape[1]
    out = []
    step = max(1, chunk // k)
    for q0 in range(0, q.shape[0], step):
        d = _d3(q[q0 : q0 + step, None], edges.a[s][None], edges.ab[s][None])
        out.append(torch.argmin(d, dim=-1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=q.device)


def _nearest_pruned(q: torch.Tensor, edges: RoadEdges, s: int) -> torch.Tensor:
    """Nearest segment for q [Q, 3] with chunk-bound pruning (same result as `_nearest_brute`)."""
    a, ab = edges.a[s], edges.ab[s]
    den = ab[:, 0] * ab[:, 0] + ab[:, 1] * ab[:, 1]
    tab = torch.cat([a.T, ab.T, torch.where(den == 0, torch.ones_like(den), den)[None]]).contiguous()
    stretch = torch.tensor([1.0, 1.0, Z_STRETCH], dtype=q.dtype, device=q.device)

    def dist(qq, seg):
        return _d3_soa(qq[..., 0], qq[..., 1], qq[..., 2], tab[:, seg])

    return nearest_segment(q, q * stretch, edges.chunk_lo[s], edges.chunk_hi[s], CHUNK_SEGMENTS, dist)


def _side(q: torch.Tensor, a: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    ap = q - a
    return torch.sign(_cross(ap[..., 0], ap[..., 1], ab[..., 0], ab[..., 1]))


def signed_distance_to_edges(
    q: torch.Tensor, edges: RoadEdges, s: int, brute_force: bool = False
) -> torch.Tensor:
    """Signed 2D distance from points q [Q, 3] to the road edges of scenario s (left/on-road < 0)."""
    idx = (_nearest_brute if brute_force else _nearest_pruned)(q, edges, s)
    a, ab = edges.a[s][idx], edges.ab[s][idx]
    ap = q - a
    num = ap[..., 0] * ab[..., 0] + ap[..., 1] * ab[..., 1]
    den = ab[..., 0] * ab[..., 0] + ab[..., 1] * ab[..., 1]
    rel_t = _ops.divide_no_nan(num, den)
    tc = rel_t.clamp(0.0, 1.0)
    gx = ap[..., 0] - ab[..., 0] * tc
    gy = ap[..., 1] - ab[..., 1] * tc
    d2 = _ops.norm2(gx, gy)
    n = torch.sign(_cross(ap[..., 0], ap[..., 1], ab[..., 0], ab[..., 1]))
    pr, nx = edges.prior[s][idx], edges.next[s][idx]
    n_prior = _side(q, edges.a[s][pr], edges.ab[s][pr])
    n_next = _side(q, edges.a[s][nx], edges.ab[s][nx])
    before = torch.where(edges.convex_before[s][idx], torch.maximum(n, n_prior), torch.minimum(n, n_prior))
    after = torch.where(edges.convex_after[s][idx], torch.maximum(n, n_next), torch.minimum(n, n_next))
    sign = torch.where(
        (rel_t < 0.0) & edges.prior_valid[s][idx],
        before,
        torch.where((rel_t > 1.0) & edges.next_valid[s][idx], after, n),
    )
    return sign * d2


def bottom_corners_3d(x, y, z, heading, length, width, height) -> torch.Tensor:
    """The 4 bottom corners of the full (unrounded) boxes: [..., 4, 3]."""
    cx, cy = box_corners_2d(x, y, heading, length, width)
    cz = (z - height * 0.5).unsqueeze(-1).expand_as(cx)
    return torch.stack([cx, cy, cz], dim=-1)


def distance_to_road_edge(
    x: torch.Tensor,
    y: torch.Tensor,
    z: torch.Tensor,
    heading: torch.Tensor,
    length: torch.Tensor,
    width: torch.Tensor,
    height: torch.Tensor,
    valid: torch.Tensor,
    edges: RoadEdges,
    brute_force: bool = False,
) -> torch.Tensor:
    """Max over the 4 bottom corners of the signed corner distance; −1e10 where invalid.

    Inputs are `[S, ...]` with the scenario on the first axis (any trailing shape); output the same.
    """
    corners = bottom_corners_3d(x, y, z, heading, length, width, height)  # [S, ..., T, 4, 3]
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    for s in range(x.shape[0]):
        d = signed_distance_to_edges(corners[s].reshape(-1, 3), edges, s, brute_force)
        out[s] = d.reshape(*x.shape[1:], 4).amax(-1)
    return torch.where(valid, out, torch.full_like(out, -EXTREMELY_LARGE_DISTANCE))
