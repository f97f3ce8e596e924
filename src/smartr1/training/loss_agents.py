"""Which agents carry a training loss: a training decision, not a property of the tokens.

SMART trains on the role agents plus nearby agents with enough valid future; every agent is context.
"""

from __future__ import annotations

import numpy as np
import torch

from smartr1.data.scenario import Scenario
from smartr1.data.timeline import HISTORY_SLOTS

TRAIN_RADIUS = 100.0  # m around the SDC
TRAIN_MAX_NEARBY = 32
TRAIN_MIN_FUTURE_SLOTS = 8


def train_agents(scenario: Scenario, sim: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Role agents (SDC, tracks_to_predict, objects of interest) that are sim agents, plus up to 32 other
    sim agents within 100 m of the SDC with at least 8 valid future slots, nearest first."""
    tr = scenario.tracks
    a = tr.num_agents
    role = np.zeros(a, bool)
    role[scenario.sdc_track_index] = True
    role[np.asarray(scenario.tracks_to_predict, np.int64)] = True
    role |= np.isin(tr.id, np.asarray(scenario.objects_of_interest, np.int64))
    role_t = torch.from_numpy(role) & sim
    cur = scenario.current_step
    sdc = scenario.sdc_track_index
    dist = torch.from_numpy(np.hypot(tr.x[:, cur] - tr.x[sdc, cur], tr.y[:, cur] - tr.y[sdc, cur]))
    enough = valid[:, HISTORY_SLOTS:].sum(1) >= TRAIN_MIN_FUTURE_SLOTS
    cand = sim & ~role_t & enough & (dist <= TRAIN_RADIUS)
    idx = torch.nonzero(cand).flatten()
    idx = idx[torch.argsort(dist[idx], stable=True)][:TRAIN_MAX_NEARBY]
    out = role_t.clone()
    out[idx] = True
    return out
