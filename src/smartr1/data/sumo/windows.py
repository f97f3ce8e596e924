"""Cut WOMD-like 91-step scenarios out of a recorded world.

A window is 10 history steps + the current step + 80 future steps around one self-driving car (a
passenger car present for the whole window). Agents count only while within `agent_radius` of the
SDC (as a real vehicle's sensors would see them); the map is cropped around the SDC's current
position. Every choice is drawn from the caller's generator, so a world cuts the same way every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smartr1.data.scenario import AgentType, Scenario, SignalStates, Tracks
from smartr1.data.sumo.convert import signal_state
from smartr1.data.sumo.map_extract import WorldMap, crop_map
from smartr1.data.sumo.record import AgentLog, WorldLog
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS, STEP_SECONDS


@dataclass(frozen=True)
class WindowConfig:
    agent_radius: float = 60.0  # m, agents are observed only this close to the SDC
    map_radius: float = 150.0  # m, map crop around the SDC's current position
    max_agents: int = 128
    border: float = 60.0  # m, the SDC keeps this far from the network's bounding box at the current step
    max_predict: int = 8
    min_predict: int = 1  # a window needs at least this many tracks to predict
    min_predict_motion: float = 2.0  # m, a track to predict moves at least this far
    sdc_min_motion: float = 5.0  # m, prefer SDCs that move at least this far in the window


def sdc_candidates(log: WorldLog, wmap: WorldMap, start: int, cfg: WindowConfig) -> list[AgentLog]:
    """Passenger cars present (and teleport-free) for all 91 steps from `start`, away from the border."""
    xmin, ymin, xmax, ymax = wmap.bounds
    cur = start + CURRENT_STEP
    out = []
    for a in log.agents:
        if a.vclass != "passenger" or a.start > start or a.stop < start + NUM_STEPS:
            continue
        x, y = a.x[cur - a.start], a.y[cur - a.start]
        b = min(cfg.border, 0.25 * min(xmax - xmin, ymax - ymin))  # small test nets keep a core
        if xmin + b <= x <= xmax - b and ymin + b <= y <= ymax - b:
            out.append(a)
    return out


def moved(a: AgentLog, start: int) -> float:
    """Largest distance from the window's first position (m)."""
    i = start - a.start
    x, y = a.x[i : i + NUM_STEPS], a.y[i : i + NUM_STEPS]
    return float(np.hypot(x - x[0], y - y[0]).max())


def sdc_order(
    cands: list[AgentLog], start: int, recent: set[int], rng: np.random.Generator, min_motion: float = 5.0
) -> list[AgentLog]:
    """Candidates in the order they are tried as SDC: moving cars not used recently first, shuffled."""
    groups: list[list[AgentLog]] = [[], [], [], []]
    for a in cands:
        groups[2 * (a.key in recent) + (moved(a, start) < min_motion)].append(a)
    out = []
    for g in groups:
        out += [g[int(k)] for k in rng.permutation(len(g))]
    return out


def far_from(a: AgentLog, others: list[AgentLog], step: int, spread: float) -> bool:
    """Whether `a` is at least `spread` m from every agent in `others` at recorded `step`."""
    p = np.array([a.x[step - a.start], a.y[step - a.start]])
    return all(np.hypot(*(p - [b.x[step - b.start], b.y[step - b.start]])) >= spread for b in others)


def _dense(agents: list[AgentLog], start: int) -> dict[str, np.ndarray]:
    """[A, 91] arrays of the agents over the window (zeros where absent)."""
    n = len(agents)
    out = {k: np.zeros((n, NUM_STEPS), np.float64) for k in ("x", "y", "heading", "vx", "vy")}
    out["present"] = np.zeros((n, NUM_STEPS), bool)
    for i, a in enumerate(agents):
        lo, hi = max(start, a.start), min(start + NUM_STEPS, a.stop)
        src = slice(lo - a.start, hi - a.start)
        dst = slice(lo - start, hi - start)
        out["x"][i, dst] = a.x[src]
        out["y"][i, dst] = a.y[src]
        out["heading"][i, dst] = a.heading[src]
        out["vx"][i, dst] = a.vx[src]
        out["vy"][i, dst] = a.vy[src]
        out["present"][i, dst] = True
    return out


def choose_tracks_to_predict(tracks: Tracks, sdc: int, cfg: WindowConfig, dist_now: np.ndarray) -> np.ndarray:
    """Like WOMD: fully valid tracks that move, up to 8, with room for pedestrians and cyclists first."""
    full = tracks.valid.all(axis=1)
    dx = tracks.x - tracks.x[:, :1]
    dy = tracks.y - tracks.y[:, :1]
    travel = np.where(tracks.valid, np.hypot(dx, dy), 0.0).max(axis=1)
    ok = full & (travel > cfg.min_predict_motion)
    ok[sdc] = False
    cand = np.flatnonzero(ok)
    cand = cand[np.argsort(dist_now[cand], kind="stable")]
    chosen: list[int] = []
    for t in (AgentType.PEDESTRIAN, AgentType.CYCLIST):
        chosen += [int(i) for i in cand if tracks.type[i] == t][:2]
    chosen += [int(i) for i in cand if int(i) not in chosen]
    return np.array(sorted(chosen[: cfg.max_predict]), np.int64)


def cut_scenario(
    log: WorldLog, wmap: WorldMap, start: int, sdc: AgentLog, scenario_id: str, cfg: WindowConfig
) -> Scenario:
    """The scenario of the window starting at recorded step `start` around `sdc`."""
    stop = start + NUM_STEPS
    agents = [a for a in log.agents if a.start < stop and a.stop > start]
    d = _dense(agents, start)
    si = next(i for i, a in enumerate(agents) if a.key == sdc.key)
    dist = np.hypot(d["x"] - d["x"][si], d["y"] - d["y"][si])
    valid = d["present"] & (dist <= cfg.agent_radius)
    near = np.where(valid, dist, np.inf).min(axis=1)
    keep = np.flatnonzero(valid.any(axis=1))
    keep = keep[np.argsort(near[keep], kind="stable")][: cfg.max_agents]  # the SDC (distance 0) first
    keep = np.sort(keep)  # track order = order of appearance in the world
    sdc_index = int(np.flatnonzero(keep == si)[0])
    sel = [agents[i] for i in keep]

    def per_step(values):
        return np.repeat(np.asarray(values, np.float32)[:, None], NUM_STEPS, axis=1)

    v = valid[keep]
    tracks = Tracks(
        id=np.array([a.key for a in sel], np.int64),
        type=np.array([int(a.type) for a in sel], np.int8),
        x=np.where(v, d["x"][keep], 0.0),
        y=np.where(v, d["y"][keep], 0.0),
        z=np.zeros((len(sel), NUM_STEPS), np.float64),
        heading=np.where(v, d["heading"][keep], 0.0).astype(np.float32),
        velocity_x=np.where(v, d["vx"][keep], 0.0).astype(np.float32),
        velocity_y=np.where(v, d["vy"][keep], 0.0).astype(np.float32),
        length=np.where(v, per_step([a.length for a in sel]), 0.0).astype(np.float32),
        width=np.where(v, per_step([a.width for a in sel]), 0.0).astype(np.float32),
        height=np.where(v, per_step([a.height for a in sel]), 0.0).astype(np.float32),
        valid=v,
    )
    cur = CURRENT_STEP
    centre = (tracks.x[sdc_index, cur], tracks.y[sdc_index, cur])
    dist_now = np.where(v[:, cur], dist[keep, cur], np.inf)
    predict = choose_tracks_to_predict(tracks, sdc_index, cfg, dist_now)

    # Objects of interest: the predicted agent that comes closest to the SDC, if it interacts at all.
    interest = np.zeros(0, np.int64)
    if len(predict):
        closest = dist[keep][predict].min(axis=1)
        j = int(np.argmin(closest))
        if closest[j] < 15.0:
            interest = np.array(sorted([int(tracks.id[sdc_index]), int(tracks.id[predict[j]])]), np.int64)

    m = crop_map(wmap.features, centre, cfg.map_radius)
    signals = _signals(log, wmap, start, m)
    return Scenario(
        scenario_id=scenario_id,
        timestamps=np.arange(NUM_STEPS, dtype=np.float64) * STEP_SECONDS,
        tracks=tracks,
        map=m,
        signals=signals,
        sdc_track_index=sdc_index,
        tracks_to_predict=predict,
        tracks_to_predict_difficulty=np.ones(len(predict), np.int8),
        objects_of_interest=interest,
    )


def _signals(log: WorldLog, wmap: WorldMap, start: int, m) -> SignalStates:
    """Per-step states of the signalled junction lanes that are in the cropped map."""
    s = wmap.signals
    lanes = set(int(i) for i in m.id)
    rows = np.array([i for i in range(len(s.lane_id)) if int(s.lane_id[i]) in lanes], np.int64)
    if len(rows):
        rows = rows[np.argsort(s.lane_id[rows], kind="stable")]
    n = len(rows)
    state = np.zeros((NUM_STEPS, n), np.int8)
    for t in range(NUM_STEPS):
        strings = log.tls_states[start + t]
        for j, r in enumerate(rows):
            chars = strings[int(s.tls[r])]
            link = int(s.link[r])
            state[t, j] = int(signal_state(chars[link] if link < len(chars) else "O", bool(s.arrow[r])))
    return SignalStates(
        lane_id=np.repeat(s.lane_id[rows][None, :], NUM_STEPS, axis=0),
        state=state,
        stop_point=np.repeat(s.stop_point[rows][None, :, :], NUM_STEPS, axis=0),
        valid=np.ones((NUM_STEPS, n), bool),
    )
