"""Interaction features: distance to the nearest object, collisions and time to collision.

Tensors are `[B, N, T]` (B = any flattened batch of scenario x sample, N agents with the E evaluated
ones first, T steps); outputs are `[B, E, T]`. Pairwise work is chunked over the other-object axis so
memory stays bounded for hundreds of agents. Arithmetic follows the official f32 op order
(see `shared/spec/wosac_metrics.md` §3.2-3.3).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from smartr1.metrics import _ops

CORNER_ROUNDING_FACTOR = 0.7
EXTREMELY_LARGE_DISTANCE = 1e10
MAXIMUM_TIME_TO_COLLISION = 5.0
MAX_HEADING_DIFF = float(np.float32(math.radians(75.0)))
MAX_HEADING_DIFF_FOR_SMALL_OVERLAP = float(np.float32(math.radians(10.0)))
SMALL_OVERLAP_THRESHOLD = 0.5
_P1 = [0, 0, 1, 1, 2, 2, 3, 3]
_P2 = [0, 1, 1, 2, 2, 3, 3, 0]
DEFAULT_CHUNK = 1 << 17  # (pair, step) entries per chunk


def box_corners_2d(
    x: torch.Tensor, y: torch.Tensor, heading: torch.Tensor, length: torch.Tensor, width: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bottom corners (+l,+w), (−l,+w), (−l,−w), (+l,−w), CCW, world coords: ([..., 4], [..., 4]).

    Rotate first, then add the centre, as box_utils does (the other order differs by ~1e-3 m at
    world coordinates of a few km).
    """
    c, s = _ops.cos(heading).unsqueeze(-1), _ops.sin(heading).unsqueeze(-1)
    l2 = (length * 0.5).unsqueeze(-1)
    w2 = (width * 0.5).unsqueeze(-1)
    sign_l = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=x.dtype, device=x.device)
    sign_w = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=x.dtype, device=x.device)
    lx, ly = l2 * sign_l, w2 * sign_w
    cx = (c * lx - s * ly) + x.unsqueeze(-1)
    cy = (s * lx + c * ly) + y.unsqueeze(-1)
    return cx, cy


def _rounding(length: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    return torch.minimum(length, width) * CORNER_ROUNDING_FACTOR / 2.0


def _downmost_edge(px: torch.Tensor, py: torch.Tensor):
    """Index of the lowest vertex (first on ties) and the unit direction of the edge leaving it."""
    start = torch.argmin(py, dim=-1, keepdim=True)
    end = (start + 1) & 3
    ex = px.gather(-1, end) - px.gather(-1, start)
    ey = py.gather(-1, end) - py.gather(-1, start)
    ln = _ops.norm2(ex, ey)
    return start, ex / ln, ey / ln


def _roll(p: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """p[..., (k + start) % 4] for k = 0..3."""
    idx = (torch.arange(4, device=p.device) + start) & 3
    return p.gather(-1, idx)


def _prep(px: torch.Tensor, py: torch.Tensor):
    start, ux, uy = _downmost_edge(px, py)
    return _roll(px, start), _roll(py, start), ux, uy


def _signed_distance_origin_to_polygon(mx: torch.Tensor, my: torch.Tensor) -> torch.Tensor:
    """Signed distance from (0, 0) to the convex CCW polygon with vertices (mx, my) [..., n]."""
    ex = torch.roll(mx, -1, dims=-1) - mx
    ey = torch.roll(my, -1, dims=-1) - my
    ln = _ops.norm2(ex, ey)
    tx, ty = ex / ln, ey / ln
    rx, ry = 0.0 - mx, 0.0 - my
    # −ν = (τy, −τx)
    perp = ty * rx + (-tx) * ry
    inside = (perp <= 0).all(dim=-1)
    proj = (tx * rx + ty * ry) / ln
    on_edge = (proj >= 0.0) & (proj <= 1.0)
    edge = torch.where(on_edge, perp.abs(), torch.full_like(perp, float("inf")))
    vert = _ops.norm2(rx, ry)
    d = torch.minimum(edge.amin(-1), vert.amin(-1))
    return torch.where(inside, -d, d)


def _pair_distance(ax, ay, aux, auy, s_a, bx, by, bux, buy, s_b):
    """Rounded-box distance from prepared eval boxes A [..., 1 or K, 4] to reflected boxes B [..., K, 4]."""
    p1 = torch.tensor(_P1, device=ax.device)
    p2 = torch.tensor(_P2, device=ax.device)
    cond = (aux * buy - auy * bux) >= 0  # cross(uA, uB) >= 0 -> A follows P2, B follows P1
    mx = torch.where(cond, ax[..., p2] + bx[..., p1], ax[..., p1] + bx[..., p2])
    my = torch.where(cond, ay[..., p2] + by[..., p1], ay[..., p1] + by[..., p2])
    return (_signed_distance_origin_to_polygon(mx, my) - s_a) - s_b


def distance_to_nearest_object(
    x: torch.Tensor,
    y: torch.Tensor,
    heading: torch.Tensor,
    length: torch.Tensor,
    width: torch.Tensor,
    valid: torch.Tensor,
    num_eval: int,
    budget: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Signed distance between rounded boxes to the nearest valid other object: [B, N, T] -> [B, E, T].

    Self pairs get +1e10, pairs with an invalid box are replaced by 1e10, so an object with no valid
    neighbour reads 1e10 (exactly what the official min over all pairs gives).

    Only the objects that can be the nearest are evaluated exactly (see the bounds below); the result
    equals `distance_to_nearest_object_dense`, which evaluates every pair like the official code.
    """
    b, n, t = x.shape
    e = num_eval
    dev = x.device
    s = _rounding(length, width)
    core_l, core_w = length - 2.0 * s, width - 2.0 * s
    cx, cy = box_corners_2d(x[:, :e], y[:, :e], heading[:, :e], core_l[:, :e], core_w[:, :e])  # [B, E, T, 4]
    ax, ay, aux, auy = _prep(cx, cy)  # eval boxes A

    # Lower bound per (eval i, other j, step): the gap between the two full boxes' projections on the
    # centre line (a separating-axis bound; it also bounds the negative distance of overlapping boxes,
    # and rounded boxes lie inside full boxes). Upper bound: the exact distance to the j with the
    # smallest lower bound. Only the j whose lower bound reaches it are evaluated exactly.
    hl, hw = length * 0.5, width * 0.5
    cos_h, sin_h = torch.cos(heading), torch.sin(heading)
    not_self = torch.arange(n, device=dev)[None, :] != torch.arange(e, device=dev)[:, None]  # [E, N]
    out = torch.full((b * e * t,), EXTREMELY_LARGE_DISTANCE, dtype=x.dtype, device=dev)
    step = max(1, budget // max(1, e * t * n))

    def exact(pb, pi, pj, pt):
        # Reflected boxes B = −corners, built only for the pairs evaluated (same f32 ops as for all).
        bcx, bcy = box_corners_2d(
            x[pb, pj, pt], y[pb, pj, pt], heading[pb, pj, pt], core_l[pb, pj, pt], core_w[pb, pj, pt]
        )
        bx, by, bux, buy = _prep(-bcx, -bcy)
        return _pair_distance(
            ax[pb, pi, pt], ay[pb, pi, pt], aux[pb, pi, pt], auy[pb, pi, pt], s[pb, pi, pt],
            bx, by, bux, buy, s[pb, pj, pt],
        )  # fmt: skip

    for b0 in range(0, b, step):
        sl = slice(b0, b0 + step)
        dx = x[sl, None] - x[sl, :e, None]  # [b, E, N, T]
        dy = y[sl, None] - y[sl, :e, None]
        centre = torch.sqrt(dx * dx + dy * dy)
        ci, si, cj, sj = cos_h[sl, :e, None], sin_h[sl, :e, None], cos_h[sl, None], sin_h[sl, None]
        reach_i = hl[sl, :e, None] * (dx * ci + dy * si).abs() + hw[sl, :e, None] * (dy * ci - dx * si).abs()
        reach_j = hl[sl, None] * (dx * cj + dy * sj).abs() + hw[sl, None] * (dy * cj - dx * sj).abs()
        lb = centre - (reach_i + reach_j) / centre
        lb = torch.where(centre > 0, lb, torch.full_like(lb, -float("inf")))
        ok = valid[sl, None] & valid[sl, :e, None] & not_self[None, :, :, None]
        lb = torch.where(ok & ~torch.isnan(lb), lb, torch.full_like(lb, float("inf")))
        lb_min, j0 = lb.min(dim=2)  # [b, E, T]
        has = torch.isfinite(lb_min)
        bi, ii, ti = has.nonzero(as_tuple=True)
        d0 = torch.full(has.shape, float("inf"), dtype=x.dtype, device=dev)
        if bi.numel():
            d0[bi, ii, ti] = exact(bi + b0, ii, j0[bi, ii, ti], ti)
        thr = d0 + (d0.abs() * 1e-4 + 1e-2)
        j_idx = torch.arange(n, device=dev)[None, None, :, None]
        cand = ok & (lb <= thr[:, :, None]) & (j_idx != j0[:, :, None])
        bi, ii, jj, ti = cand.nonzero(as_tuple=True)
        best = d0.reshape(-1)
        for p0 in range(0, bi.shape[0], max(1, budget // 8)):
            pb, pi, pj, pt = (v[p0 : p0 + budget // 8] for v in (bi, ii, jj, ti))
            best.scatter_reduce_(0, (pb * e + pi) * t + pt, exact(pb + b0, pi, pj, pt), reduce="amin")
        best = torch.where(torch.isfinite(best), best, torch.full_like(best, EXTREMELY_LARGE_DISTANCE))
        out.view(b, e, t)[sl] = best.reshape(-1, e, t)
    return out.reshape(b, e, t)


def distance_to_nearest_object_dense(
    x: torch.Tensor,
    y: torch.Tensor,
    heading: torch.Tensor,
    length: torch.Tensor,
    width: torch.Tensor,
    valid: torch.Tensor,
    num_eval: int,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Reference: every pair evaluated, exactly as the official code (chunked over other objects)."""
    b, n, t = x.shape
    e = num_eval
    s = _rounding(length, width)
    cx, cy = box_corners_2d(x, y, heading, length - 2.0 * s, width - 2.0 * s)  # [B, N, T, 4]
    ax, ay, aux, auy = _prep(cx[:, :e], cy[:, :e])
    bx, by, bux, buy = _prep(-cx, -cy)
    s_e, v_e = s[:, :e], valid[:, :e]
    out = torch.full((b, e, t), float("inf"), dtype=x.dtype, device=x.device)
    step = max(1, chunk // max(1, b * e * t))
    big = torch.tensor(EXTREMELY_LARGE_DISTANCE, dtype=x.dtype, device=x.device)
    for j0 in range(0, n, step):
        j = slice(j0, min(n, j0 + step))
        cond = (aux[:, :, None] * buy[:, None, j] - auy[:, :, None] * bux[:, None, j]) >= 0
        p1 = torch.tensor(_P1, device=x.device)
        p2 = torch.tensor(_P2, device=x.device)
        a_x, a_y, b_x, b_y = ax[:, :, None], ay[:, :, None], bx[:, None, j], by[:, None, j]
        mx = torch.where(cond, a_x[..., p2] + b_x[..., p1], a_x[..., p1] + b_x[..., p2])
        my = torch.where(cond, a_y[..., p2] + b_y[..., p1], a_y[..., p1] + b_y[..., p2])
        d = (_signed_distance_origin_to_polygon(mx, my) - s_e[:, :, None]) - s[:, None, j]
        jj = torch.arange(j0, j.stop, device=x.device)
        self_pair = torch.arange(e, device=x.device)[:, None] == jj[None, :]  # [E, J]
        d = torch.where(self_pair[None, :, :, None], d + EXTREMELY_LARGE_DISTANCE, d)
        d = torch.where(v_e[:, :, None] & valid[:, None, j], d, big)
        out = torch.minimum(out, d.amin(2))
    return out


def time_to_collision(
    x: torch.Tensor,
    y: torch.Tensor,
    heading: torch.Tensor,
    length: torch.Tensor,
    width: torch.Tensor,
    speed: torch.Tensor,
    valid: torch.Tensor,
    num_eval: int,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Time to collision with the nearest valid object ahead (capped at 5 s): [B, N, T] -> [B, E, T].

    `speed` is the 2D central-difference speed of every object (NaN at the last step -> 5 s).
    Heading differences are deliberately not wrapped and the ego's validity is not checked.
    """
    b, n, t = x.shape
    e = num_eval
    xi, yi, hi = x[:, :e, None], y[:, :e, None], heading[:, :e, None]
    li, wi = length[:, :e, None], width[:, :e, None]
    c, s = _ops.cos(-hi), _ops.sin(-hi)
    best = torch.full((b, e, t), float("inf"), dtype=x.dtype, device=x.device)
    best_speed = torch.zeros((b, e, t), dtype=x.dtype, device=x.device)
    step = max(1, chunk // max(1, b * e * t))
    for j0 in range(0, n, step):
        j = slice(j0, min(n, j0 + step))
        xj, yj, hj = x[:, None, j], y[:, None, j], heading[:, None, j]
        lj2, wj2 = length[:, None, j] / 2.0, width[:, None, j] / 2.0
        delta = (hj - hi).abs()
        cd, sd = _ops.cos(delta).abs(), _ops.sin(delta).abs()
        lo = lj2 * cd + wj2 * sd
        la = lj2 * sd + wj2 * cd
        dx, dy = xj - xi, yj - yi
        rx = c * dx - s * dy
        ry = s * dx + c * dy
        lon = (rx - li / 2.0) - lo
        lat = (ry.abs() - wi / 2.0) - la
        follow = (lon > 0.0) & (delta <= MAX_HEADING_DIFF) & (lat < 0.0)
        follow &= (lat < -SMALL_OVERLAP_THRESHOLD) | (delta <= MAX_HEADING_DIFF_FOR_SMALL_OVERLAP)
        mask = valid[:, None, j] & follow
        mld = lon + (1.0 - mask.to(x.dtype)) * EXTREMELY_LARGE_DISTANCE
        val, idx = mld.min(dim=2)  # first index on ties
        spd = speed[:, None, j].expand(b, e, -1, t).gather(2, idx[:, :, None]).squeeze(2)
        better = val < best  # strict: an earlier chunk wins ties
        best = torch.where(better, val, best)
        best_speed = torch.where(better, spd, best_speed)
    rel = speed[:, :e] - best_speed
    cap = torch.full_like(best, MAXIMUM_TIME_TO_COLLISION)
    ttc = torch.minimum(best / torch.where(rel > 0, rel, torch.ones_like(rel)), cap)
    return torch.where(rel > 0.0, ttc, cap)
