"""Scenarios padded into one batch of torch tensors, with masks, for training and batched metrics.

`S` = scenarios, `A` = the largest agent count, `T` = steps, `F` = the largest map-feature count,
`P` = the largest point count of one feature, `L` = the largest signal-slot count. Padding is
always False in the masks and zero in the values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import Scenario


@dataclass
class ScenarioBatch:
    scenario_id: list[str]
    agent_id: torch.Tensor  # [S, A] long, -1 on padding
    agent_type: torch.Tensor  # [S, A] long
    agent_mask: torch.Tensor  # [S, A] bool, a real track
    xyz: torch.Tensor  # [S, A, T, 3] float64, box centre (float64 as on disk)
    heading: torch.Tensor  # [S, A, T] float32
    velocity: torch.Tensor  # [S, A, T, 2] float32
    size: torch.Tensor  # [S, A, T, 3] float32, length, width, height
    valid: torch.Tensor  # [S, A, T] bool
    sdc_index: torch.Tensor  # [S] long
    predict_mask: torch.Tensor  # [S, A] bool, tracks_to_predict
    map_id: torch.Tensor  # [S, F] long
    map_kind: torch.Tensor  # [S, F] long, MapKind
    map_subtype: torch.Tensor  # [S, F] long
    map_points: torch.Tensor  # [S, F, P, 3] float64
    map_point_mask: torch.Tensor  # [S, F, P] bool
    map_mask: torch.Tensor  # [S, F] bool
    signal_lane: torch.Tensor  # [S, T, L] long
    signal_state: torch.Tensor  # [S, T, L] long
    signal_stop: torch.Tensor  # [S, T, L, 3] float64
    signal_mask: torch.Tensor  # [S, T, L] bool

    def to(self, device: torch.device | str) -> ScenarioBatch:
        return ScenarioBatch(
            **{
                f.name: (v.to(device) if isinstance(v, torch.Tensor) else v)
                for f in fields(self)
                for v in [getattr(self, f.name)]
            }
        )


def _pad(arrays: list[np.ndarray], fill=0, dtype=None) -> torch.Tensor:
    shape = [len(arrays)] + [max(a.shape[d] for a in arrays) if arrays else 0 for d in range(arrays[0].ndim)]
    out = np.full(shape, fill, dtype=dtype or arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[(i,) + tuple(slice(0, n) for n in a.shape)] = a
    return torch.from_numpy(out)


def collate_scenarios(scenarios: list[Scenario]) -> ScenarioBatch:
    """Pad scenarios of different sizes into one batch; all must have the same number of steps."""
    if not scenarios:
        raise DataError(None, "cannot batch an empty list of scenarios")
    steps = {len(s.timestamps) for s in scenarios}
    if len(steps) != 1:
        raise DataError(None, f"scenarios have different step counts {sorted(steps)}; cannot batch")
    tr = [s.tracks for s in scenarios]
    maps = [s.map for s in scenarios]
    # Ragged map features -> [F, P, 3] per scenario.
    map_pts, map_pm = [], []
    for m in maps:
        n = np.diff(m.offsets)
        pmax = int(n.max()) if len(n) else 0
        pts = np.zeros((m.num_features, pmax, 3), np.float64)
        pm = np.zeros((m.num_features, pmax), bool)
        for f in range(m.num_features):
            pts[f, : n[f]] = m.polyline(f)
            pm[f, : n[f]] = True
        map_pts.append(pts)
        map_pm.append(pm)
    predict = []
    for s in scenarios:
        mask = np.zeros(s.tracks.num_agents, bool)
        mask[s.tracks_to_predict] = True
        predict.append(mask)
    return ScenarioBatch(
        scenario_id=[s.scenario_id for s in scenarios],
        agent_id=_pad([t.id for t in tr], fill=-1),
        agent_type=_pad([t.type.astype(np.int64) for t in tr]),
        agent_mask=_pad([np.ones(t.num_agents, bool) for t in tr]),
        xyz=_pad([np.stack([t.x, t.y, t.z], -1) for t in tr]),
        heading=_pad([t.heading for t in tr]),
        velocity=_pad([np.stack([t.velocity_x, t.velocity_y], -1) for t in tr]),
        size=_pad([np.stack([t.length, t.width, t.height], -1) for t in tr]),
        valid=_pad([t.valid for t in tr]),
        sdc_index=torch.tensor([s.sdc_track_index for s in scenarios], dtype=torch.long),
        predict_mask=_pad(predict),
        map_id=_pad([m.id for m in maps], fill=-1),
        map_kind=_pad([m.kind.astype(np.int64) for m in maps]),
        map_subtype=_pad([m.subtype.astype(np.int64) for m in maps]),
        map_points=_pad(map_pts),
        map_point_mask=_pad(map_pm),
        map_mask=_pad([np.ones(m.num_features, bool) for m in maps]),
        signal_lane=_pad([s.signals.lane_id for s in scenarios]),
        signal_state=_pad([s.signals.state.astype(np.int64) for s in scenarios]),
        signal_stop=_pad([s.signals.stop_point for s in scenarios]),
        signal_mask=_pad([s.signals.valid for s in scenarios]),
    )
