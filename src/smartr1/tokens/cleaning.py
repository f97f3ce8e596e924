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

FLIP_THRESHOLD = 1.5  # rad between consecutive valid steps: below this, a heading change is a turn
NEAR_PI = 2.5  # rad: a jump this large may be a 180-degree flip of the estimated heading
REVERT_TOL = 0.5  # rad: how close to the old heading a reverting heading comes back
GLITCH_STEPS = 10  # a large jump that reverts within 1 s is a glitch (held)
FLIP_STEPS = 30  # a near-pi jump that reverts within 3 s is a flip (undone)
MOVING_SPEED = 0.3  # m/s: above this, the direction of motion tells a flip from a turn
MOTION_TOL = 0.6  # rad: a heading this close to the direction of motion points along it


@dataclass
class CleanTracks:
    """Tracks as float64 arrays with flips removed and (optionally) gaps filled."""

    pose: np.ndarray  # [A, T, 3] float64 (x, y, heading)
    valid: np.ndarray  # [A, T] bool, after filling
    logged: np.ndarray  # [A, T] bool, the original validity
    cls: np.ndarray  # [A] int64


def _reverts(h: np.ndarray, valid: np.ndarray, prev: np.ndarray, steps: int) -> np.ndarray:
    """[A, T]: some valid step in (t, t + steps] has a heading within REVERT_TOL of `prev` [A, T]."""
    out = np.zeros(h.shape, bool)
    for k in range(1, steps + 1):
        later, ok = np.roll(h, -k, axis=1), np.roll(valid, -k, axis=1)
        ok[:, h.shape[1] - k :] = False
        out |= ok & (np.abs(wrap_angle(later - prev)) < REVERT_TOL)
    return out


def _agreement(h: np.ndarray, xy: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each heading [A, T] points along the agent's motion over the step before or after it
    (the agent moving faster than MOVING_SPEED there), and whether it points against it."""
    step = np.diff(xy, axis=1)  # [A, T-1, 2]
    ok = valid[:, 1:] & valid[:, :-1] & (np.hypot(step[..., 0], step[..., 1]) > MOVING_SPEED * STEP_SECONDS)
    direction = np.arctan2(step[..., 1], step[..., 0])
    a_n, t_n = h.shape
    agree, oppose = np.zeros((a_n, t_n), bool), np.zeros((a_n, t_n), bool)
    for sl_h, sl_d in ((slice(1, None), slice(None)), (slice(None, -1), slice(None))):  # before, after
        off = np.abs(wrap_angle(h[:, sl_h] - direction[:, sl_d]))
        agree[:, sl_h] |= ok[:, sl_d] & (off < MOTION_TOL)
        oppose[:, sl_h] |= ok[:, sl_d] & (off > np.pi - MOTION_TOL)
    return agree, oppose & ~agree


def remove_flips(heading: np.ndarray, valid: np.ndarray, xy: np.ndarray | None = None) -> np.ndarray:
    """Headings [A, T] with estimation flips and glitches removed, real turns kept.

    A change of more than FLIP_THRESHOLD from the last good heading is a turn when the new heading
    points along the agent's motion (positions `xy` [A, T, 2]). Otherwise it is an error if it looks
    like one: a jump near pi that points against the motion, or that comes back within 3 s, is a flip
    and is undone (+pi) until the heading is good again; any other large jump that comes back within
    1 s is a glitch and the last good heading is held. Anything else is a turn.
    """
    h = np.array(heading, np.float64, copy=True)
    a_n, t_n = h.shape
    # raw heading at the previous valid step, the reference a reverting heading comes back to
    prev = np.zeros_like(h)
    last_raw = h[:, 0].copy()
    for t in range(1, t_n):
        prev[:, t] = last_raw
        last_raw = np.where(valid[:, t], h[:, t], last_raw)
    glitch = _reverts(h, valid, prev, GLITCH_STEPS)
    flip_back = _reverts(h, valid, prev, FLIP_STEPS)
    if xy is None:
        agree = oppose = np.zeros(h.shape, bool)
    else:
        agree, oppose = _agreement(h, np.asarray(xy, np.float64), valid)
    out = h.copy()
    last, seen = h[:, 0].copy(), valid[:, 0].copy()
    unflip = np.zeros(a_n, bool)  # inside a flip: the raw heading is off by pi
    hold = np.zeros(a_n, bool)  # inside a glitch: the raw heading is wrong
    for t in range(1, t_n):
        v, raw = valid[:, t], h[:, t]
        jump = np.abs(wrap_angle(raw - last))
        good = v & ((jump <= FLIP_THRESHOLD) | agree[:, t])  # the raw heading is right (again)
        unflip &= ~good
        hold &= ~good
        new = seen & v & ~good & ~unflip & ~hold
        start_flip = new & (jump > NEAR_PI) & (flip_back[:, t] | oppose[:, t])
        hold |= new & ~start_flip & glitch[:, t]
        unflip |= start_flip
        cur = np.where(unflip, wrap_angle(raw + np.pi), np.where(hold, last, raw))
        out[:, t] = np.where(v, cur, raw)
        last = np.where(v, cur, last)
        seen |= v
    return out


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
    pose[..., 2] = remove_flips(pose[..., 2], logged, pose[..., :2])
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
