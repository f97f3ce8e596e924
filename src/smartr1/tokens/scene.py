"""Tokenized scenes: one scenario's agent tokens and map segments, ready to batch.

`prepare_scene` checks and tokenizes a scenario once; `crop_map` drops map segments that no agent of
the scene can reach (SUMO maps carry thousands of junction-lane segments).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import Scenario
from smartr1.tokens.map import MapSegments, tokenize_map
from smartr1.tokens.tokenize import AgentTokens, tokenize_scenario
from smartr1.tokens.vocabulary import MotionVocab


class TokenizedScene(NamedTuple):
    """One scenario ready for batching (a tuple, so `collate` also takes plain tuples).

    `train_mask` [A] marks the agents that carry a training loss; the training data path sets it
    (`smartr1.training.loss_agents`), elsewhere it is None (no agent).
    """

    scenario_id: str
    agents: AgentTokens
    map: MapSegments
    train_mask: torch.Tensor | None = None


def crop_map(scene: TokenizedScene, radius: float) -> TokenizedScene:
    """Drop map segments farther than `radius` from every anchor pose of every agent.

    With radius = map-to-agent radius + map layers x map-map radius (plus a margin), no segment the
    model could attend to is dropped, so training on the cropped scene gives the same loss; SUMO maps
    carry thousands of junction-lane segments that no agent of a training scene can reach.
    """
    m = scene.map
    valid = scene.agents.pose_valid
    if m.num_segments == 0 or valid is None or not bool(valid.any()):
        return scene
    anchors = scene.agents.pose[..., :2][valid]  # [K, 2]
    seg = m.points  # [M, 11, 2]: keep a segment if any of its points is in reach
    # Exact, in two passes: a segment whose first point is in reach is kept and one whose bounding
    # circle around that point is out of reach is dropped (distances to [M, K] points); only the few
    # in between are checked point by point.
    first = seg[:, 0]  # [M, 2]
    spread = (seg - first[:, None]).norm(dim=-1).amax(1)  # [M]
    nearest = torch.cdist(first.double(), anchors.double()).amin(1).float()  # [M]
    keep = nearest <= radius
    unsure = torch.nonzero(~keep & (nearest <= radius + spread + 1e-3)).squeeze(1)
    r2 = radius * radius
    for chunk in unsure.split(512):
        d2 = ((seg[chunk][:, :, None, :] - anchors[None, None]) ** 2).sum(-1)  # [c, 11, K]
        keep[chunk] = (d2 <= r2).flatten(1).any(1)
    if bool(keep.all()):
        return scene
    cropped = MapSegments(
        points=m.points[keep],
        pose=m.pose[keep],
        kind=m.kind[keep],
        light=m.light[keep],
        feature_id=m.feature_id[keep],
    )
    return scene._replace(map=cropped)


def check_usable(scenario: Scenario, path=None, record=None) -> None:
    """DataError naming the scenario if it cannot be tokenized (no agents, none valid now, NaN)."""
    sid = scenario.scenario_id
    t = scenario.tracks
    if t.num_agents == 0:
        raise DataError(path, f"scenario {sid!r}: has no agents", record)
    if not np.asarray(t.valid)[:, scenario.current_step].any():
        raise DataError(path, f"scenario {sid!r}: no agent is valid at the current step", record)
    for name in ("x", "y", "z", "heading", "length", "width", "height"):
        bad = ~np.isfinite(np.asarray(getattr(t, name), np.float64)) & np.asarray(t.valid, bool)
        if bad.any():
            a, step = np.argwhere(bad)[0]
            raise DataError(
                path,
                f"scenario {sid!r}: non-finite {name} of track {int(t.id[a])} at step {int(step)}",
                record,
            )
    if len(scenario.map.points) and not np.isfinite(scenario.map.points).all():
        raise DataError(path, f"scenario {sid!r}: non-finite map points", record)


def prepare_scene(scenario: Scenario, vocab: MotionVocab, map_step: int | None = None) -> TokenizedScene:
    """Tokenize one scenario (agents and map; traffic lights at `map_step`, default the current step)."""
    check_usable(scenario)
    step = scenario.current_step if map_step is None else map_step
    return TokenizedScene(
        scenario.scenario_id, tokenize_scenario(scenario, vocab), tokenize_map(scenario, step)
    )
