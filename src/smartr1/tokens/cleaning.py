"""Track cleaning before tokenizing: heading flips removed, history gaps filled, futures completed.

NumPy here: these are many small per-step operations, where torch's per-op overhead dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import STEP_SECONDS
from smartr1.tokens.vocabulary import agent_class

FLIP_THRESHOLD = 1.5  # rad between consecutive valid steps


@dataclass
class CleanTracks:
    """Tracks as float64 arrays with flips removed and (optionally) gaps filled."""

    pose: np.ndarray  # [A, T, 3] float64 (x, y, heading)
    valid: np.ndarray  # [A, T] bool, after filling
    logged: np.ndarray  # [A, T] bool, the original validity
    cls: np.ndarray  # [A] int64


def remove_flips(heading: np.ndarray, valid: np.ndarray, threshold: float = FLIP_THRESHOLD) -> np.ndarray:
    """Keep the previous heading wherever it jumps by more than `threshold` from the previous valid step."""
    h = np.array(heading, np.float64, copy=True)
    last = h[:, 0].copy()
    seen = valid[:, 0].copy()
    for t in range(1, h.shape[1]):
        v = valid[:, t]
        jump = seen & v & (np.abs(wrap_angle(h[:, t] - last)) > threshold)
        h[:, t] = np.where(jump, last, h[:, t])
        last = np.where(v, h[:, t], last)
        seen |= v
    return h


def _fill_interior(pose: np.ndarray, valid: np.ndarray, lo: int, hi: int) -> None:
    """In place: interpolate invalid steps in [lo, hi) with valid steps on both sides inside the range."""
    v = valid[:, lo:hi]
    n = v.shape[1]
    t = np.broadcast_to(np.arange(n), v.shape)
    prev = np.maximum.accumulate(np.where(v, t, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(v, t, n)[:, ::-1], axis=1)[:, ::-1]
    gap = ~v & (prev >= 0) & (nxt < n)
    if not gap.any():
        return
    p = pose[:, lo:hi]
    rows = np.arange(len(p))[:, None]
    a, b = p[rows, prev.clip(0, n - 1)], p[rows, nxt.clip(0, n - 1)]
    w = ((t - prev) / np.maximum(nxt - prev, 1))[..., None]
    lerp = a + w * (b - a)
    lerp[..., 2] = wrap_angle(a[..., 2] + w[..., 0] * wrap_angle(b[..., 2] - a[..., 2]))
    pose[:, lo:hi] = np.where(gap[..., None], lerp, p)
    valid[:, lo:hi] = v | gap


def _start_velocity(pose, valid, vel, rows, src, direction):
    """Velocity at `src` per row: the logged one if non-zero, else the finite difference with a neighbour."""
    v = vel[rows, src]
    nb = np.clip(src + direction, 0, pose.shape[1] - 1)
    nb_ok = valid[rows, nb] & (nb != src)
    diff = (pose[rows, nb, :2] - pose[rows, src, :2]) * direction / STEP_SECONDS
    use_diff = (np.abs(v).sum(-1) == 0) & nb_ok
    return np.where(use_diff[:, None], diff, v)


def _extrapolate(pose, valid, vel, rows, src, fill):
    """In place: constant-velocity poses from step `src` [R] at the steps where `fill` [R, T] is set."""
    dt = (np.arange(pose.shape[1])[None] - src[:, None]) * STEP_SECONDS  # [R, T]
    p0 = pose[rows, src]  # [R, 3]
    ext = np.stack(
        [
            p0[:, None, 0] + vel[:, None, 0] * dt,
            p0[:, None, 1] + vel[:, None, 1] * dt,
            np.broadcast_to(p0[:, None, 2], dt.shape),
        ],
        -1,
    )
    pose[rows] = np.where(fill[..., None], ext, pose[rows])
    valid[rows] |= fill


def clean_tracks(scenario: Scenario, fill_future: bool = False) -> CleanTracks:
    """Flip-free poses; history back-filled (constant velocity) and interior history gaps interpolated.

    With `fill_future`, agents valid at the current step also get interior future gaps interpolated and
    trailing gaps extrapolated at constant velocity (complete futures, for tokenized-log rollouts).
    """
    tr = scenario.tracks
    cur = scenario.current_step
    sid = scenario.scenario_id
    if tr.num_agents == 0:
        raise DataError(None, f"scenario {sid!r}: has no agents")
    logged = np.asarray(tr.valid, bool).copy()
    pose = np.stack([tr.x, tr.y, tr.heading], axis=-1).astype(np.float64)
    bad = ~np.isfinite(pose).all(-1) & logged
    if bad.any():
        a, t = np.argwhere(bad)[0]
        raise DataError(None, f"scenario {sid!r}: non-finite pose of track {int(tr.id[a])} at step {int(t)}")
    pose = np.where(logged[..., None], pose, 0.0)
    pose[..., 2] = remove_flips(pose[..., 2], logged)
    vel = np.stack([tr.velocity_x, tr.velocity_y], -1).astype(np.float64)
    vel = np.where(np.isfinite(vel), vel, 0.0)
    valid = logged.copy()
    t_n = pose.shape[1]
    steps = np.arange(t_n)[None]
    # Interior history gaps, then constant-velocity back-fill of agents first seen mid-history.
    _fill_interior(pose, valid, 0, cur + 1)
    first = np.where(valid.any(1), valid.argmax(1), t_n)
    late = np.flatnonzero((first > 0) & (first <= cur))
    if late.size:
        f = first[late]
        v = _start_velocity(pose, valid, vel, late, f, direction=1)
        _extrapolate(pose, valid, v, late, f, steps < f[:, None])
    if fill_future:
        sim = np.flatnonzero(valid[:, cur])
        p2, v2 = pose[sim], valid[sim]
        _fill_interior(p2, v2, cur, t_n)
        pose[sim], valid[sim] = p2, v2
        last = t_n - 1 - valid[:, ::-1].argmax(1)
        rows = sim[last[sim] < t_n - 1]
        if rows.size:
            src = last[rows]
            v = _start_velocity(pose, valid, vel, rows, src, direction=-1)
            _extrapolate(pose, valid, v, rows, src, steps > src[:, None])
    return CleanTracks(pose=pose, valid=valid, logged=logged, cls=agent_class(tr.type))
