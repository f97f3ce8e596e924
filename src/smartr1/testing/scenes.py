"""Small hand-made scenes for tests and benchmarks (numbers you can check on paper)."""

from __future__ import annotations

import numpy as np

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import AgentType, LaneType, MapFeatures, MapKind, Scenario, SignalStates, Tracks
from smartr1.data.timeline import NUM_STEPS


def _steps(v, a: int) -> np.ndarray:
    arr = np.asarray(v, np.float64)
    if arr.ndim == 0:
        arr = np.full((a, NUM_STEPS), float(arr))
    elif arr.ndim == 1:
        arr = np.repeat(arr[:, None], NUM_STEPS, axis=1)
    return arr


def make_scenario(
    x,
    y,
    heading=0.0,
    *,
    length=4.0,
    width=2.0,
    height=1.5,
    z=0.0,
    valid=True,
    types=None,
    ids=None,
    sdc: int = 0,
    predict=(),
    road_edges=(),
    lanes=(),
    signals=None,
    scenario_id: str = "toy",
) -> Scenario:
    """A scenario from per-agent [A, 91] (or [A] constant) arrays.

    road_edges: list of [n, 2|3] polylines (road on their left); lanes: list of (id, [n, 2|3]) surface
    street lanes; signals: {step: [(lane_id, state, (x, y)), ...]} or a list applied at every step.
    """
    x = np.atleast_2d(np.asarray(x, np.float64))
    a = x.shape[0]
    tr = Tracks.empty(a, NUM_STEPS)
    tr.id[:] = np.arange(100, 100 + a) if ids is None else ids
    tr.type[:] = int(AgentType.VEHICLE) if types is None else types
    tr.x[:] = _steps(x, a)
    tr.y[:] = _steps(y, a)
    tr.z[:] = _steps(z, a)
    tr.heading[:] = _steps(heading, a)
    tr.length[:] = _steps(length, a)
    tr.width[:] = _steps(width, a)
    tr.height[:] = _steps(height, a)
    tr.valid[:] = np.broadcast_to(
        np.asarray(valid, bool).reshape(-1, 1) if np.ndim(valid) == 1 else valid, (a, NUM_STEPS)
    )
    rows = []
    for i, pts in enumerate(road_edges):
        rows.append({"id": 1000 + i, "kind": MapKind.ROAD_EDGE, "subtype": 1, "points": pts})
    for lid, pts in lanes:
        rows.append({"id": lid, "kind": MapKind.LANE, "subtype": int(LaneType.SURFACE_STREET), "points": pts})
    per_step = {}
    if signals is not None:
        per_step = signals if isinstance(signals, dict) else {t: signals for t in range(NUM_STEPS)}
    slots = max((len(v) for v in per_step.values()), default=0)
    sig = SignalStates(
        lane_id=np.zeros((NUM_STEPS, slots), np.int64),
        state=np.zeros((NUM_STEPS, slots), np.int8),
        stop_point=np.zeros((NUM_STEPS, slots, 3), np.float64),
        valid=np.zeros((NUM_STEPS, slots), bool),
    )
    for t, entries in per_step.items():
        for k, (lid, state, pt) in enumerate(entries):
            sig.lane_id[t, k], sig.state[t, k], sig.valid[t, k] = lid, int(state), True
            sig.stop_point[t, k, : len(pt)] = pt
    return Scenario(
        scenario_id=scenario_id,
        timestamps=np.arange(NUM_STEPS) * 0.1,
        tracks=tr,
        map=MapFeatures.from_polylines(rows),
        signals=sig,
        sdc_track_index=sdc,
        tracks_to_predict=np.asarray(predict, np.int64),
        tracks_to_predict_difficulty=np.zeros(len(predict), np.int8),
        objects_of_interest=np.zeros(0, np.int64),
    )


def busy_scene(num_agents: int = 256, num_eval: int = 8, seed: int = 0, scenario_id: str = "synthetic"):
    """A dense synthetic scene: agents driving along parallel straight lanes of a 16-lane road grid,
    road edges on both sides of every lane pair, one red light. Returns (Scenario, logged-noisy Rollouts)."""
    rng = np.random.default_rng(seed)
    lanes_n = 16
    lane = rng.integers(0, lanes_n, num_agents)
    start = rng.uniform(0, 600, num_agents)
    speed = rng.uniform(3, 15, num_agents)
    t = np.arange(NUM_STEPS) * 0.1
    x = start[:, None] + speed[:, None] * t[None]
    y = lane[:, None] * 4.0 + rng.normal(0, 0.2, (num_agents, 1))
    y = np.repeat(y, NUM_STEPS, axis=1)
    edges = []
    for k in range(0, lanes_n, 2):
        xs = np.linspace(-50, 800, 200)
        edges.append(np.stack([xs, np.full_like(xs, k * 4.0 - 2.0)], 1))
        edges.append(np.stack([xs[::-1], np.full_like(xs, k * 4.0 + 6.0)], 1))
    lanes = [
        (500 + k, np.stack([np.linspace(-50, 800, 120), np.full(120, k * 4.0)], 1)) for k in range(lanes_n)
    ]
    signals = [(500, 4, (300.0, 0.0))]
    scen = make_scenario(
        x, y, 0.0, length=4.5, width=2.0, road_edges=edges, lanes=lanes, signals=signals,
        sdc=0, predict=list(range(1, num_eval)), scenario_id=scenario_id,
    )  # fmt: skip
    fut = slice(11, None)
    r = 32
    noise = rng.normal(0, 0.3, (3, r, num_agents, 80))
    ro = Rollouts(
        scenario_id,
        scen.tracks.id,
        (x[None, :, fut] + noise[0]).astype(np.float32),
        (y[None, :, fut] + noise[1]).astype(np.float32),
        np.zeros((r, num_agents, 80), np.float32),
        (noise[2] * 0.05).astype(np.float32),
    )
    return scen, ro
