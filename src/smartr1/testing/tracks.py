"""Small synthetic scenarios with smooth tracks and a toy map, for tests and benchmarks of tokenizers.

Tracks are integrated at 10 Hz from slowly varying speed and yaw rate (per class limits), so a good
vocabulary should reproduce them closely. Nothing here tries to look like real traffic.
"""

from __future__ import annotations

import numpy as np

from smartr1.data.scenario import AgentType, MapFeatures, MapKind, Scenario, SignalState, SignalStates, Tracks
from smartr1.data.timeline import NUM_STEPS

_CLASS_SPEC = {  # type: (length, width, max speed m/s, max yaw rate rad/s, max lateral accel m/s^2)
    AgentType.VEHICLE: (4.6, 1.9, 20.0, 0.6, 3.0),
    AgentType.PEDESTRIAN: (0.8, 0.8, 2.0, 0.8, 2.0),
    AgentType.CYCLIST: (1.8, 0.8, 8.0, 0.6, 2.5),
}


def smooth_track(rng: np.random.Generator, kind: AgentType, steps: int = NUM_STEPS) -> np.ndarray:
    """[steps, 5] (x, y, heading, vx, vy) of one smooth track starting near the origin."""
    _, _, vmax, wmax, latmax = _CLASS_SPEC[kind]
    t = np.arange(steps) * 0.1
    v0 = rng.uniform(0.0, vmax)
    dv = rng.uniform(-0.3, 0.3) * vmax
    speed = np.clip(v0 + dv * np.sin(2 * np.pi * t / rng.uniform(6, 20) + rng.uniform(0, 6)), 0, vmax)
    w_amp = min(wmax, latmax / max(float(speed.max()), 1.0))  # keep lateral acceleration plausible
    yaw = w_amp * rng.uniform(-1, 1) * np.sin(2 * np.pi * t / rng.uniform(4, 12) + rng.uniform(0, 6))
    h = rng.uniform(-np.pi, np.pi) + np.concatenate([[0.0], np.cumsum(yaw[:-1] * 0.1)])
    vx, vy = speed * np.cos(h), speed * np.sin(h)
    x = rng.uniform(-60, 60) + np.concatenate([[0.0], np.cumsum(vx[:-1] * 0.1)])
    y = rng.uniform(-60, 60) + np.concatenate([[0.0], np.cumsum(vy[:-1] * 0.1)])
    h = (h + np.pi) % (2 * np.pi) - np.pi
    return np.stack([x, y, h, vx, vy], -1)


def toy_map() -> MapFeatures:
    """Three parallel 60 m lanes (ids 1-3, 0.5 m sampling), two road edges, a road line with a 4 m gap,
    a crosswalk (4 m x 12 m) and a stop sign."""
    xs = np.arange(0.0, 60.01, 0.5)
    rows = []
    for i, y in enumerate((-3.5, 0.0, 3.5)):
        rows.append({"id": i + 1, "kind": MapKind.LANE, "points": np.stack([xs, np.full_like(xs, y)], -1)})
    for fid, y in ((10, -5.5), (11, 5.5)):
        rows.append({"id": fid, "kind": MapKind.ROAD_EDGE, "points": np.stack([xs, np.full_like(xs, y)], -1)})
    gap = np.concatenate([np.arange(0.0, 20.01, 0.5), np.arange(24.0, 40.01, 0.5)])
    rows.append({"id": 20, "kind": MapKind.ROAD_LINE, "points": np.stack([gap, np.full_like(gap, 1.75)], -1)})
    rows.append({"id": 30, "kind": MapKind.CROSSWALK, "points": [[62, -6], [66, -6], [66, 6], [62, 6]]})
    rows.append({"id": 40, "kind": MapKind.STOP_SIGN, "points": [[61, 4]], "stop_sign_lanes": [3]})
    return MapFeatures.from_polylines(rows)


def toy_signals(stop_lane: int = 2, step: int = 10) -> SignalStates:
    """Lane `stop_lane` shows STOP at `step` and GO elsewhere; lane 3 is UNKNOWN throughout."""
    sig = SignalStates(
        lane_id=np.tile(np.array([[stop_lane, 3]], np.int64), (NUM_STEPS, 1)),
        state=np.tile(np.array([[SignalState.GO, SignalState.UNKNOWN]], np.int8), (NUM_STEPS, 1)),
        stop_point=np.zeros((NUM_STEPS, 2, 3)),
        valid=np.ones((NUM_STEPS, 2), bool),
    )
    sig.state[step, 0] = SignalState.STOP
    return sig


def synthetic_scenario(
    seed: int = 0,
    num_agents: int = 12,
    types: tuple[AgentType, ...] = (AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST),
    late_fraction: float = 0.0,
    scenario_id: str | None = None,
) -> Scenario:
    """A scenario of smooth tracks; a `late_fraction` of agents first appears at a random step 1..9."""
    rng = np.random.default_rng(seed)
    tr = Tracks.empty(num_agents, NUM_STEPS)
    for a in range(num_agents):
        kind = types[a % len(types)]
        track = smooth_track(rng, kind)
        length, width = _CLASS_SPEC[kind][:2]
        tr.id[a] = 100 + a
        tr.type[a] = int(kind)
        tr.x[a], tr.y[a], tr.heading[a] = track[:, 0], track[:, 1], track[:, 2]
        tr.velocity_x[a], tr.velocity_y[a] = track[:, 3], track[:, 4]
        tr.z[a] = 1.0
        tr.length[a], tr.width[a], tr.height[a] = length, width, 1.5
        tr.valid[a] = True
        if a > 0 and rng.random() < late_fraction:
            tr.valid[a, : int(rng.integers(1, 10))] = False
    return Scenario(
        scenario_id=scenario_id or f"synthetic-{seed}",
        timestamps=np.arange(NUM_STEPS) * 0.1,
        tracks=tr,
        map=toy_map(),
        signals=toy_signals(),
        sdc_track_index=0,
        tracks_to_predict=np.array([1, 2], np.int64)[: max(0, num_agents - 1)],
        tracks_to_predict_difficulty=np.zeros(min(2, max(0, num_agents - 1)), np.int8),
        objects_of_interest=np.zeros(0, np.int64),
    )
