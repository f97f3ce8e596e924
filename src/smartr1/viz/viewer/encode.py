"""Compact, quantized scene data for the browser viewer.

Positions are stored in centimetres relative to the scene centre and headings in milliradians
(wrapped to [-pi, pi)), so each decoded value is off by at most 0.5 cm or 0.5 mrad from the input
(taken exactly, in float64); `POSITION_ERROR_M` and `HEADING_ERROR_RAD` are the bounds the tests hold.
Trajectories are delta-coded twice along time (smooth motion has near-zero second differences),
map polylines once, and each blob is zlib-compressed and base64-encoded; the page decodes it with
the browser's own `DecompressionStream`, so nothing is fetched and no library is needed.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field

import numpy as np

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import MapKind, Scenario

CM = 100.0  # stored units per metre
MRAD = 1000.0  # stored units per radian
POSITION_ERROR_M = 0.5 / CM + 1e-6  # rounding to whole units, plus float64 slack
HEADING_ERROR_RAD = 0.5 / MRAD + 1e-6


@dataclass
class ViewRun:
    """One model's rollouts of one scenario with its metric results (plain values from the CLI).

    `metrics` holds the scenario's `SimAgentMetrics` fields; `agents` the per-agent diagnostics as
    JSON (`AgentDiagnostics.to_json()`: lists over the E evaluated agents, events [E][R]).
    """

    rollouts: Rollouts  # [R, A, 80] sim agents
    metrics: dict[str, float]
    agents: dict


@dataclass
class ViewScene:
    """One scenario and its runs (one per model, in the order of the labels)."""

    scenario: Scenario
    source: str  # the file it was read from (shown in the page)
    runs: list[ViewRun] = field(default_factory=list)


def _b64(arrays: list[np.ndarray]) -> tuple[str, list[list]]:
    """Concatenate little-endian arrays, deflate, base64; return the text and [dtype, length] parts."""
    parts = [[a.dtype.str.lstrip("<|="), int(a.size)] for a in arrays]
    raw = b"".join(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes() for a in arrays)
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii"), parts


def _unb64(text: str, parts: list[list]) -> list[np.ndarray]:
    raw = zlib.decompress(base64.b64decode(text))
    out, pos = [], 0
    for dtype, n in parts:
        dt = np.dtype(dtype).newbyteorder("<")
        out.append(np.frombuffer(raw, dt, count=n, offset=pos).astype(np.dtype(dtype)))
        pos += n * dt.itemsize
    return out


def _small(a: np.ndarray) -> np.ndarray:
    """int16 when every value fits (most deltas do), else int32."""
    return a.astype(np.int16) if a.size == 0 or np.abs(a).max() < 32767 else a.astype(np.int32)


def quantize_xy(v: np.ndarray, centre: float) -> np.ndarray:
    return np.round((np.asarray(v, np.float64) - centre) * CM).astype(np.int64)


def quantize_heading(h: np.ndarray) -> np.ndarray:
    wrapped = (np.asarray(h, np.float64) + np.pi) % (2 * np.pi) - np.pi
    return np.round(wrapped * MRAD).astype(np.int64)


def delta2(a: np.ndarray) -> np.ndarray:
    """Along the last axis: [a0, a1 - a0, then second differences a_i - 2 a_(i-1) + a_(i-2)]."""
    d = np.diff(a, axis=-1)
    return np.concatenate([a[..., :1], d[..., :1], np.diff(d, axis=-1)], axis=-1)


def undelta2(d: np.ndarray) -> np.ndarray:
    """Inverse of `delta2`."""
    vel = np.cumsum(d[..., 1:], axis=-1)
    return np.concatenate([d[..., :1], d[..., :1] + np.cumsum(vel, axis=-1)], axis=-1)


def scene_centre(scenario: Scenario) -> tuple[float, float]:
    """The SDC's position at the current step, rounded to metres (the origin of stored positions)."""
    t, i, c = scenario.tracks, scenario.sdc_track_index, scenario.current_step
    return float(np.round(t.x[i, c])), float(np.round(t.y[i, c]))


def _hold_invalid(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Invalid steps take the last valid value (the first valid one before it), so deltas stay small."""
    out = v.copy()
    for a in range(v.shape[0]):
        idx = np.flatnonzero(valid[a])
        if len(idx) == 0:
            out[a] = 0
            continue
        keep = np.maximum.accumulate(np.where(valid[a], np.arange(v.shape[1]), -1))
        out[a] = v[a, np.where(keep < 0, idx[0], keep)]
    return out


def encode_map(scenario: Scenario, centre: tuple[float, float]) -> dict:
    """Map polylines (all kinds) and signals; lanes keep their ids so signals can tint them."""
    m = scenario.map
    counts = (m.offsets[1:] - m.offsets[:-1]).astype(np.int32)
    qx = quantize_xy(m.points[:, 0], centre[0])
    qy = quantize_xy(m.points[:, 1], centre[1])
    starts = m.offsets[:-1][counts > 0]
    dx, dy = np.diff(qx, prepend=0), np.diff(qy, prepend=0)
    dx[starts], dy[starts] = qx[starts], qy[starts]  # each polyline starts absolute
    sig = scenario.signals
    lanes = np.unique(sig.lane_id[sig.valid]) if sig.valid.size else np.zeros(0, np.int64)
    states = np.zeros((len(lanes), sig.num_steps), np.uint8)  # 255 = no state at that step
    states[:] = 255
    stop = np.zeros((len(lanes), 2), np.int64)
    for k, lane in enumerate(lanes):
        t, s = np.nonzero(sig.valid & (sig.lane_id == lane))
        states[k, t] = sig.state[t, s]
        stop[k] = (
            quantize_xy(sig.stop_point[t[0], s[0], 0], centre[0]),
            quantize_xy(sig.stop_point[t[0], s[0], 1], centre[1]),
        )
    text, parts = _b64(
        [
            m.kind.astype(np.int8),
            m.subtype.astype(np.int8),
            counts,
            m.id.astype(np.int32),
            _small(dx),
            _small(dy),
            lanes.astype(np.int32),
            stop.astype(np.int32).reshape(-1),
            states.reshape(-1),
        ]
    )
    return {"data": text, "parts": parts, "signals": int(len(lanes)), "steps": int(sig.num_steps)}


def sim_agents(scenario: Scenario) -> np.ndarray:
    """Track indices of the sim agents (valid at the current step), in track order."""
    return scenario.sim_agent_index()


def encode_log(scenario: Scenario, centre: tuple[float, float]) -> dict:
    """Logged poses of the sim agents over all steps: [N, 91] cm / mrad, second-difference coded."""
    idx = sim_agents(scenario)
    t = scenario.tracks
    valid = t.valid[idx]
    x = _hold_invalid(quantize_xy(t.x[idx], centre[0]), valid)
    y = _hold_invalid(quantize_xy(t.y[idx], centre[1]), valid)
    h = _hold_invalid(quantize_heading(t.heading[idx]), valid)
    c = scenario.current_step
    text, parts = _b64(
        [
            _small(delta2(x)),
            _small(delta2(y)),
            _small(np.diff(h, axis=-1, prepend=0)),
            valid.astype(np.uint8),
        ]
    )
    return {
        "data": text,
        "parts": parts,
        "id": t.id[idx].tolist(),
        "type": t.type[idx].astype(int).tolist(),
        "length": np.round(t.length[idx, c] * CM).astype(int).tolist(),
        "width": np.round(t.width[idx, c] * CM).astype(int).tolist(),
    }


def encode_rollouts(scenario: Scenario, rollouts: Rollouts, centre: tuple[float, float]) -> dict:
    """Rollouts [R, N, 80] in the sim-agent order of `encode_log`, each trajectory continuing from the
    agent's logged pose at the current step (so the second differences stay small at the seam)."""
    idx = sim_agents(scenario)
    ids = scenario.tracks.id[idx]
    pos = {int(o): i for i, o in enumerate(rollouts.object_id.tolist())}
    order = np.array([pos[int(o)] for o in ids], np.int64)
    c = scenario.current_step
    t = scenario.tracks

    def seq(v: np.ndarray, start: np.ndarray, q) -> np.ndarray:
        fut = q(v[:, order])  # [R, N, 80]
        first = np.broadcast_to(q(start)[None, :, None], (*fut.shape[:2], 1))
        return np.concatenate([first, fut], axis=-1)  # [R, N, 81]

    x = seq(rollouts.x, t.x[idx, c], lambda v: quantize_xy(v, centre[0]))
    y = seq(rollouts.y, t.y[idx, c], lambda v: quantize_xy(v, centre[1]))
    h = seq(rollouts.heading, t.heading[idx, c], quantize_heading)
    text, parts = _b64([_small(delta2(x)[..., 1:]), _small(delta2(y)[..., 1:]), _small(np.diff(h, axis=-1))])
    return {"data": text, "parts": parts, "rollouts": int(rollouts.num_rollouts)}


def decode_log(blob: dict, num_agents: int, num_steps: int) -> dict[str, np.ndarray]:
    """The Python mirror of the page's decoder (for tests): metres / radians relative to the centre."""
    dx, dy, dh, valid = _unb64(blob["data"], blob["parts"])
    shape = (num_agents, num_steps)
    x = undelta2(dx.astype(np.int64).reshape(shape)) / CM
    y = undelta2(dy.astype(np.int64).reshape(shape)) / CM
    h = np.cumsum(dh.astype(np.int64).reshape(shape), axis=-1) / MRAD
    return {"x": x, "y": y, "heading": h, "valid": valid.reshape(shape).astype(bool)}


def decode_rollouts(blob: dict, start: dict[str, np.ndarray], current: int) -> dict[str, np.ndarray]:
    """[R, N, 80] metres / radians; `start` is `decode_log`'s output (the seam at the current step)."""
    dx, dy, dh = _unb64(blob["data"], blob["parts"])
    r, n = blob["rollouts"], start["x"].shape[0]
    out = {}
    for name, d in (("x", dx), ("y", dy)):
        s = np.round(start[name][:, current] * CM).astype(np.int64)
        first = np.broadcast_to(s[None, :, None], (r, n, 1))  # the seam: the logged current pose
        full = np.concatenate([first, d.astype(np.int64).reshape(r, n, -1)], axis=-1)
        out[name] = undelta2(full)[..., 1:] / CM
    h0 = np.round(start["heading"][:, current] * MRAD).astype(np.int64)
    out["heading"] = (h0[None, :, None] + np.cumsum(dh.astype(np.int64).reshape(r, n, -1), axis=-1)) / MRAD
    return out


def decode_map(blob: dict) -> dict[str, np.ndarray]:
    """Map arrays back in metres (kind, subtype, counts, ids, x, y, signal lanes, stops, states)."""
    kind, sub, counts, ids, dx, dy, lanes, stop, states = _unb64(blob["data"], blob["parts"])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    xs, ys = dx.astype(np.int64), dy.astype(np.int64)
    x, y = np.zeros_like(xs), np.zeros_like(ys)
    for s, c in zip(starts, counts, strict=True):
        x[s : s + c] = np.cumsum(xs[s : s + c])
        y[s : s + c] = np.cumsum(ys[s : s + c])
    return {
        "kind": kind,
        "subtype": sub,
        "counts": counts,
        "id": ids,
        "x": x / CM,
        "y": y / CM,
        "signal_lane": lanes,
        "stop": stop.reshape(-1, 2) / CM,
        "state": states.reshape(len(lanes), blob["steps"]),
    }


MAP_KINDS = {k.name.lower(): int(k) for k in MapKind}
