"""One-line facts about a scenario, for `smartr1 inspect` and the demo's summary."""

from __future__ import annotations

import numpy as np

from smartr1.data.scenario import AgentType, MapKind, Scenario


def summarize(s: Scenario) -> dict:
    """The keys of `smartr1 inspect --json`; plain Python types only."""
    t = s.tracks
    valid_any = t.valid.any(axis=1)
    xs, ys = t.x[t.valid], t.y[t.valid]
    if len(s.map.points):
        xs = np.concatenate([xs, s.map.points[:, 0]])
        ys = np.concatenate([ys, s.map.points[:, 1]])
    extent = (
        {
            "x_min": float(xs.min()),
            "x_max": float(xs.max()),
            "y_min": float(ys.min()),
            "y_max": float(ys.max()),
        }
        if len(xs)
        else None
    )
    return {
        "scenario_id": s.scenario_id,
        "num_tracks": t.num_agents,
        "tracks_by_type": {
            a.name.lower(): int(np.sum(t.type == a)) for a in AgentType if np.any(t.type == a)
        },
        "num_valid_at_current": int(t.valid[:, s.current_step].sum()),
        "num_never_valid": int((~valid_any).sum()),
        "sdc_id": s.sdc_id,
        "tracks_to_predict": [int(t.id[i]) for i in s.tracks_to_predict],
        "objects_of_interest": [int(i) for i in s.objects_of_interest],
        "map_features_by_type": {
            k.name.lower(): int(np.sum(s.map.kind == k)) for k in MapKind if np.any(s.map.kind == k)
        },
        "num_signal_lanes": int(len(s.signals.signal_lane_ids())),
        "num_steps": int(len(s.timestamps)),
        "current_step": int(s.current_step),
        "extent_m": extent,
    }
