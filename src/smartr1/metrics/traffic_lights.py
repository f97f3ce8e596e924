"""Red-light violations (new in WOSAC 2025, §3.5 of the spec), quirks included.

An object violates at step t when it crosses, between t−1 and t, the stop line of a signal lane that
is red (ARROW_STOP or STOP) at t, and its nearest surface-street lane at t is that signal lane. The
official nearest-segment helper measures `|ap + t·ab|` (a sign bug) and treats a slot as valid when
only its start point is, so for shorter lanes the slot from the last point to the (0, 0) padding
point is a real segment; both are reproduced.

The all-lanes nearest search is only needed where a red stop line was crossed, so it is run for
those (object, step) entries only; everything else is a cheap projection on the stop-line fences.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.scenario import LaneType, MapKind, Scenario, SignalState
from smartr1.metrics import _ops
from smartr1.metrics._nearest import nearest_segment

EXTREMELY_LARGE_DISTANCE = 1e10
CHUNK_SLOTS = 8
RED_STATES = (int(SignalState.ARROW_STOP), int(SignalState.STOP))


@dataclass
class SignalLanes:
    """Surface-street lanes and per-step signal states of S scenarios (padded)."""

    points: torch.Tensor  # [S, L, P, 2] f32 lane points, zero padding
    slot_valid: torch.Tensor  # [S, L, P - 1] bool: start point valid and slot inside the scenario's P
    lane_id: torch.Tensor  # [S, L] int64 (−2 for padding)
    signal_id: torch.Tensor  # [S, K] int64 lane ids with a signal at any step (−1 dummy)
    signal_lane: torch.Tensor  # [S, K] int64 index of the first lane with that id (0 if none)
    signal_lane_valid: torch.Tensor  # [S, K] bool: the id exists among the lanes
    state: torch.Tensor  # [S, T, K] int64 (0 = unknown where a lane has no entry at a step)
    stop_point: torch.Tensor  # [S, T, K, 2] f32
    active: torch.Tensor  # [S] bool: has lanes and dynamic states (else no violation is possible)
    slots: torch.Tensor  # [S, 4, Z] valid slots compacted in (lane, slot) order: ax, ay, bx, by
    slot_lane: torch.Tensor  # [S, Z] int64 lane index of each compact slot
    chunk_lo: torch.Tensor  # [S, Z / CHUNK_SLOTS, 2] bounds of the points |ap + t·ab| can measure to
    chunk_hi: torch.Tensor


def _scenario_signals(s: Scenario) -> dict:
    m = s.map
    lanes = [
        (int(m.id[f]), m.polyline(f)[:, :2].astype(np.float32))
        for f in m.of_kind(MapKind.LANE)
        if int(m.subtype[f]) == int(LaneType.SURFACE_STREET)
    ]
    lanes = [(i, p) for i, p in lanes if len(p) >= 2]
    sig = s.signals
    t = sig.num_steps
    ids = sorted({int(v) for v in sig.lane_id[sig.valid].tolist()}) or [-1]
    col = {v: k for k, v in enumerate(ids)}
    state = np.zeros((t, len(ids)), np.int64)
    stop = np.zeros((t, len(ids), 2), np.float32)
    for step, slot in zip(*np.nonzero(sig.valid), strict=True):
        k = col[int(sig.lane_id[step, slot])]
        state[step, k] = int(sig.state[step, slot])
        stop[step, k] = sig.stop_point[step, slot, :2].astype(np.float32)
    lane_ids = [i for i, _ in lanes]
    first = {}
    for li, lid in enumerate(lane_ids):
        first.setdefault(lid, li)
    return {
        "lanes": lanes,
        "signal_id": np.array(ids, np.int64),
        "signal_lane": np.array([first.get(v, 0) for v in ids], np.int64),
        "signal_lane_valid": np.array([v in first for v in ids], bool),
        "state": state,
        "stop": stop,
        "active": bool(lanes) and bool(sig.valid.any()) and t > 0,
    }


def signal_lanes_from_scenario(scenarios: list[Scenario], device: torch.device | str = "cpu") -> SignalLanes:
    per = [_scenario_signals(s) for s in scenarios]
    n_s = len(per)
    big_l = max(1, max(len(p["lanes"]) for p in per))
    big_p = max(2, max((len(pts) for p in per for _, pts in p["lanes"]), default=2))
    big_k = max(len(p["signal_id"]) for p in per)
    big_t = max(p["state"].shape[0] for p in per)
    points = np.zeros((n_s, big_l, big_p, 2), np.float32)
    slot_valid = np.zeros((n_s, big_l, big_p - 1), bool)
    lane_id = np.full((n_s, big_l), -2, np.int64)
    signal_id = np.full((n_s, big_k), -1, np.int64)
    signal_lane = np.zeros((n_s, big_k), np.int64)
    signal_lane_valid = np.zeros((n_s, big_k), bool)
    state = np.zeros((n_s, big_t, big_k), np.int64)
    stop = np.zeros((n_s, big_t, big_k, 2), np.float32)
    for i, p in enumerate(per):
        p_s = max((len(pts) for _, pts in p["lanes"]), default=2)
        for li, (lid, pts) in enumerate(p["lanes"]):
            points[i, li, : len(pts)] = pts
            # Slot k is valid when point k is, and it exists only up to the scenario's own P − 2.
            slot_valid[i, li, : min(len(pts), p_s - 1)] = True
            lane_id[i, li] = lid
        k = len(p["signal_id"])
        signal_id[i, :k] = p["signal_id"]
        signal_lane[i, :k] = p["signal_lane"]
        signal_lane_valid[i, :k] = p["signal_lane_valid"]
        state[i, : p["state"].shape[0], :k] = p["state"]
        stop[i, : p["stop"].shape[0], :k] = p["stop"]

    # Compact valid slots (lane-major, so the first-index tie rule is unchanged) for the pruned search.
    rows, lanes_of = [], []
    for i in range(n_s):
        li, ki = np.nonzero(slot_valid[i])
        a, b = points[i, li, ki], points[i, li, ki + 1]
        rows.append(np.concatenate([a, b], axis=1).T)
        lanes_of.append(li)
    z = max(CHUNK_SLOTS, -(-max(r.shape[1] for r in rows) // CHUNK_SLOTS) * CHUNK_SLOTS)
    slots = np.full((n_s, 4, z), np.float32(1e9), np.float32)
    slot_lane = np.zeros((n_s, z), np.int64)
    lo = np.full((n_s, z, 2), np.inf, np.float32)
    hi = np.full((n_s, z, 2), -np.inf, np.float32)
    for i, (r, li) in enumerate(zip(rows, lanes_of, strict=True)):
        k = r.shape[1]
        slots[i, :, :k] = r
        slot_lane[i, :k] = li
        a, b = r[:2].T, r[2:].T
        back = a - (b - a)  # |ap + t·ab| measures to a point between a and 2a − b
        lo[i, :k], hi[i, :k] = np.minimum(a, back), np.maximum(a, back)
    chunk_lo = lo.reshape(n_s, -1, CHUNK_SLOTS, 2).min(2)
    chunk_hi = hi.reshape(n_s, -1, CHUNK_SLOTS, 2).max(2)

    t = functools.partial(_ops.to_tensor, device=device)
    return SignalLanes(
        points=t(points),
        slot_valid=t(slot_valid),
        lane_id=t(lane_id),
        signal_id=t(signal_id),
        signal_lane=t(signal_lane),
        signal_lane_valid=t(signal_lane_valid),
        state=t(state),
        stop_point=t(stop),
        active=t(np.array([p["active"] for p in per], bool)),
        slots=t(slots),
        slot_lane=t(slot_lane),
        chunk_lo=t(chunk_lo),
        chunk_hi=t(chunk_hi),
    )


def _bug_distance(q: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The official nearest-segment metric |ap + t·ab| (sic), t clipped to [0, 1]."""
    apx, apy = q[..., 0] - a[..., 0], q[..., 1] - a[..., 1]
    abx, aby = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    t = _ops.divide_no_nan(apx * abx + apy * aby, abx * abx + aby * aby).clamp(0.0, 1.0)
    return _ops.norm2(apx + t * abx, apy + t * aby)


def _nearest_lane(
    q: torch.Tensor, pts: torch.Tensor, slot_valid: torch.Tensor, chunk: int = 1 << 20
) -> torch.Tensor:
    """Index of the lane holding the nearest slot (lane-major, first on ties) for q [Q, 2]."""
    a = pts[:, :-1].reshape(-1, 2)
    b = pts[:, 1:].reshape(-1, 2)
    ok = slot_valid.reshape(-1)
    per_lane = pts.shape[1] - 1
    out = []
    step = max(1, chunk // max(1, a.shape[0]))
    for q0 in range(0, q.shape[0], step):
        d = _bug_distance(q[q0 : q0 + step, None], a[None], b[None])
        d = torch.where(ok[None], d, torch.full_like(d, EXTREMELY_LARGE_DISTANCE))
        out.append(torch.argmin(d, dim=-1) // per_lane)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=q.device)


def _nearest_lane_pruned(q: torch.Tensor, sig: SignalLanes, s: int) -> torch.Tensor:
    """Same result as `_nearest_lane`, evaluating only slots whose bounds can hold the minimum."""
    tab = sig.slots[s]

    def dist(qq, seg):
        ax, ay, bx, by = tab[:, seg]
        return _bug_distance(qq, torch.stack([ax, ay], -1), torch.stack([bx, by], -1))

    idx = nearest_segment(q, q, sig.chunk_lo[s], sig.chunk_hi[s], CHUNK_SLOTS, dist)
    return sig.slot_lane[s][idx]


def _fences(sig: SignalLanes, s: int):
    """Per step and signal lane: fence start fa, direction e, |e|² and the stop point's projection."""
    ls = sig.signal_lane[s]  # [K]
    pts = sig.points[s][ls]  # [K, P, 2]
    ok = sig.slot_valid[s][ls]  # [K, P-1]
    stop = sig.stop_point[s]  # [T, K, 2]
    d = _bug_distance(stop[:, :, None], pts[None, :, :-1], pts[None, :, 1:])  # [T, K, P-1]
    d = torch.where(ok[None], d, torch.full_like(d, EXTREMELY_LARGE_DISTANCE))
    k = torch.argmin(d, dim=-1)  # [T, K]
    kk = torch.arange(pts.shape[0], device=pts.device)[None].expand_as(k)
    fa = pts[kk, k]  # [T, K, 2]
    fb = pts[kk, k + 1]
    ex, ey = fb[..., 0] - fa[..., 0], fb[..., 1] - fa[..., 1]
    len2 = ex * ex + ey * ey
    stop_rel = _ops.divide_no_nan((stop[..., 0] - fa[..., 0]) * ex + (stop[..., 1] - fa[..., 1]) * ey, len2)
    return fa, ex, ey, len2, stop_rel


def red_light_violation(
    x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, sig: SignalLanes
) -> torch.Tensor:
    """Per-step violation flags: x, y, valid [S, ..., T] (T = 91 global steps) -> bool [S, ..., T]."""
    out = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    t = x.shape[-1]
    for s in range(x.shape[0]):
        if not bool(sig.active[s]):
            continue
        fa, ex, ey, len2, stop_rel = _fences(sig, s)
        fa, ex, ey, len2, stop_rel = (v[:t] for v in (fa, ex, ey, len2, stop_rel))
        xs, ys = x[s][..., None], y[s][..., None]  # [..., T, 1]
        obj_rel = _ops.divide_no_nan((xs - fa[..., 0]) * ex + (ys - fa[..., 1]) * ey, len2)  # [..., T, K]
        behind, ahead = obj_rel < stop_rel, obj_rel > stop_rel
        crossed = torch.zeros_like(behind)
        crossed[..., 1:, :] = behind[..., :-1, :] & ahead[..., 1:, :]
        state = sig.state[s][:t]
        red = (state == RED_STATES[0]) | (state == RED_STATES[1])
        cand = crossed & red & sig.signal_lane_valid[s] & valid[s][..., None]
        hit = cand.any(-1)
        if not bool(hit.any()):
            continue
        where = hit.nonzero(as_tuple=True)
        q = torch.stack([x[s][where], y[s][where]], dim=-1)
        lane = _nearest_lane_pruned(q, sig, s)
        lid = sig.lane_id[s][lane]  # [Q]
        viol = (cand[where] & (sig.signal_id[s][None] == lid[:, None])).any(-1)
        out[s][where] = viol
    return out
