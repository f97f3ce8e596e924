"""Tokenized scenes padded into one batch for the model.

Padding is always masked: padded agents have `agent_mask`, `sim_mask`, `train_mask`, `token_valid`
and `pose_valid` False and token -1; padded map segments have `map_mask` False. Agents keep their
scene's track order, so batch column a of scene b is track a of that scenario.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from smartr1.data.scenario import Scenario
from smartr1.tokens.map import MapSegments
from smartr1.tokens.scene import TokenizedScene, crop_map, prepare_scene
from smartr1.tokens.tokenize import AgentTokens
from smartr1.tokens.vocabulary import MotionVocab


@dataclass
class TokenBatch:
    """B scenarios padded to the same agent / map-segment counts. Positions stay in world coordinates
    (models use relative pose encodings only)."""

    scenario_id: list[str]
    agent_id: torch.Tensor  # [B, A] long (-1 padding)
    agent_mask: torch.Tensor  # [B, A] bool, real (non-padding) agents
    agent_class: torch.Tensor  # [B, A] long
    agent_size: torch.Tensor  # [B, A, 3]
    agent_z: torch.Tensor  # [B, A]
    token: torch.Tensor  # [B, A, 18] long (-1 where invalid)
    token_valid: torch.Tensor  # [B, A, 18] bool
    pose: torch.Tensor  # [B, A, 19, 3] tokenized anchor poses
    pose_valid: torch.Tensor  # [B, A, 19] bool, anchor pose exists
    sim_mask: torch.Tensor  # [B, A] bool, valid at step 10 (the WOSAC sim agents)
    logged: torch.Tensor  # [B, A, 19, 3] logged (flip-free) pose at anchors, zeros where not logged
    logged_valid: torch.Tensor  # [B, A, 19] bool
    train_mask: torch.Tensor  # [B, A] bool, agents that carry a training loss (see TokenizedScene)
    map_points: torch.Tensor  # [B, M, 11, 2]
    map_pose: torch.Tensor  # [B, M, 3]
    map_kind: torch.Tensor  # [B, M] long
    map_light: torch.Tensor  # [B, M] long
    map_mask: torch.Tensor  # [B, M] bool
    map_feature_id: torch.Tensor  # [B, M] long (-1 padding)

    @property
    def num_scenes(self) -> int:
        return len(self.scenario_id)

    def to(self, device) -> TokenBatch:
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device)
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )


def _pad(tensors: list[torch.Tensor], length: int, fill) -> torch.Tensor:
    """Stack [n_i, ...] tensors into [B, length, ...] filled with `fill`."""
    ref = tensors[0]
    out = torch.full((len(tensors), length, *ref.shape[1:]), fill, dtype=ref.dtype)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out


def collate(items: list) -> TokenBatch:
    """Pad scenes `(scenario_id, AgentTokens, MapSegments[, train_mask])` into one TokenBatch (>= 1 map slot)."""
    if not items:
        raise ValueError("collate needs at least one scene")
    ids = [it[0] for it in items]
    ag: list[AgentTokens] = [it[1] for it in items]
    mp: list[MapSegments] = [it[2] for it in items]
    loss = [
        it[3] if len(it) > 3 and it[3] is not None else torch.zeros(t.num_agents, dtype=torch.bool)
        for it, t in zip(items, ag, strict=True)
    ]
    a = max(t.num_agents for t in ag)
    m = max(1, max(s.num_segments for s in mp))

    def agents(name):
        return [getattr(t, name) for t in ag]

    def maps(name):
        return [getattr(s, name) for s in mp]

    n_a = torch.tensor([t.num_agents for t in ag])
    n_m = torch.tensor([s.num_segments for s in mp])
    return TokenBatch(
        scenario_id=ids,
        agent_id=_pad(agents("agent_id"), a, -1),
        agent_mask=torch.arange(a)[None] < n_a[:, None],
        agent_class=_pad(agents("agent_class"), a, 0),
        agent_size=_pad(agents("size"), a, 0.0),
        agent_z=_pad(agents("z"), a, 0.0),
        token=_pad(agents("token"), a, -1),
        token_valid=_pad(agents("valid"), a, False),
        pose=_pad(agents("pose"), a, 0.0),
        pose_valid=_pad(agents("pose_valid"), a, False),
        sim_mask=_pad(agents("sim_mask"), a, False),
        logged=_pad(agents("logged"), a, 0.0),
        logged_valid=_pad(agents("logged_valid"), a, False),
        train_mask=_pad(loss, a, False),
        map_points=_pad(maps("points"), m, 0.0),
        map_pose=_pad(maps("pose"), m, 0.0),
        map_kind=_pad(maps("kind"), m, 0),
        map_light=_pad(maps("light"), m, 0),
        map_mask=torch.arange(m)[None] < n_m[:, None],
        map_feature_id=_pad(maps("feature_id"), m, -1),
    )


def collate_cropped(items: list, radius: float) -> TokenBatch:
    """`collate` after `crop_map` of every scene (a top-level function, so DataLoader workers can pickle it)."""
    return collate([crop_map(TokenizedScene(*it), radius) for it in items])


def token_batch(scenarios: list[Scenario], vocab: MotionVocab) -> TokenBatch:
    """Tokenize and collate in memory (no cache)."""
    return collate([prepare_scene(s, vocab) for s in scenarios])
