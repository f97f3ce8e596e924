"""Tokenized scenes padded into one batch for the model: `batch.agents` and `batch.map`.

Padding is always masked: padded agents have `agents.mask`, `sim_mask`, `train_mask`, `token_valid`,
`pose_valid` and `logged_valid` False and token -1; padded map segments have `map.mask` False. Agents
keep their scene's track order, so agent column a of scene b is track a of that scenario. `collate`
checks all of this (`TokenBatch.validate`) on every batch it builds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from smartr1.data.scenario import Scenario
from smartr1.data.shapes import shape_problem
from smartr1.tokens.map import MapSegments
from smartr1.tokens.scene import TokenizedScene, crop_map, prepare_scene
from smartr1.tokens.tokenize import AgentTokens
from smartr1.tokens.vocabulary import MotionVocab


def _apply(part, fn):
    """`part` with `fn` applied to every tensor field."""
    return dataclasses.replace(part, **{f.name: fn(getattr(part, f.name)) for f in dataclasses.fields(part)})


@dataclass(frozen=True)
class AgentBatch:
    """The agents of B scenes, padded to A columns.

    id            [B, A]         long   WOMD track id (-1 padding)
    mask          [B, A]         bool   real (non-padding) agents
    cls           [B, A]         long   agent class (the vocabulary's row)
    size          [B, A, 3]      float  length, width, height at the current step
    z             [B, A]         float  z at the current step
    token         [B, A, 18]     long   token per slot (-1 where invalid)
    token_valid   [B, A, 18]     bool   the slot has a token
    pose          [B, A, 19, 3]  float  tokenized (x, y, heading) at the anchors
    pose_valid    [B, A, 19]     bool   the anchor pose exists
    sim_mask      [B, A]         bool   valid at step 10 (the WOSAC sim agents)
    logged        [B, A, 19, 3]  float  logged (flip-free) pose at the anchors, zeros where not logged
    logged_valid  [B, A, 19]     bool   the log is valid at the anchor
    train_mask    [B, A]         bool   agents that carry a training loss (see TokenizedScene)
    """

    id: torch.Tensor
    mask: torch.Tensor
    cls: torch.Tensor
    size: torch.Tensor
    z: torch.Tensor
    token: torch.Tensor
    token_valid: torch.Tensor
    pose: torch.Tensor
    pose_valid: torch.Tensor
    sim_mask: torch.Tensor
    logged: torch.Tensor
    logged_valid: torch.Tensor
    train_mask: torch.Tensor

    def to(self, device) -> AgentBatch:
        return _apply(self, lambda t: t.to(device))


@dataclass(frozen=True)
class MapBatch:
    """The map segments of B scenes, padded to M segments.

    points      [B, M, 11, 2]  float  absolute xy
    pose        [B, M, 3]      float  x, y, heading of the first point / first direction
    kind        [B, M]         long   SegmentKind
    light       [B, M]         long   LightState at the current step
    mask        [B, M]         bool   real (non-padding) segments
    feature_id  [B, M]         long   id of the source map feature (-1 padding)
    """

    points: torch.Tensor
    pose: torch.Tensor
    kind: torch.Tensor
    light: torch.Tensor
    mask: torch.Tensor
    feature_id: torch.Tensor

    def to(self, device) -> MapBatch:
        return _apply(self, lambda t: t.to(device))


_PADDED_FALSE = ("sim_mask", "train_mask", "token_valid", "pose_valid", "logged_valid")


@dataclass(frozen=True)
class TokenBatch:
    """B scenarios padded to the same agent / map-segment counts. Positions stay in world coordinates
    (models use relative pose encodings only).

    scenario_id  list[str]   B names
    agents       AgentBatch  [B, A, ...]
    map          MapBatch    [B, M, ...]
    """

    scenario_id: list[str]
    agents: AgentBatch
    map: MapBatch

    @property
    def num_scenes(self) -> int:
        return len(self.scenario_id)

    def to(self, device) -> TokenBatch:
        return TokenBatch(self.scenario_id, self.agents.to(device), self.map.to(device))

    def select(self, rows: slice | list[int]) -> TokenBatch:
        """The batch of scenes `rows` (a slice or a list of indices); the padding stays as it is."""
        if isinstance(rows, slice):
            ids, idx = self.scenario_id[rows], rows
        else:
            ids, idx = [self.scenario_id[i] for i in rows], torch.tensor(rows, device=self.agents.mask.device)
        return TokenBatch(ids, _apply(self.agents, lambda t: t[idx]), _apply(self.map, lambda t: t[idx]))

    def with_agents(self, **changes: torch.Tensor) -> TokenBatch:
        """A copy with some agent fields replaced (`batch.with_agents(pose=p)`)."""
        return dataclasses.replace(self, agents=dataclasses.replace(self.agents, **changes))

    def with_map(self, **changes: torch.Tensor) -> TokenBatch:
        """A copy with some map fields replaced."""
        return dataclasses.replace(self, map=dataclasses.replace(self.map, **changes))

    def validate(self) -> TokenBatch:
        """The batch itself, or a ValueError naming the first field whose shape or dtype differs from
        the docstrings, or a padded agent that is not masked as the module docstring says."""
        sizes = {"B": len(self.scenario_id)}
        problem = shape_problem(self.agents, "TokenBatch.agents", sizes) or shape_problem(
            self.map, "TokenBatch.map", sizes
        )
        if problem:
            raise ValueError(problem)
        ag = self.agents
        pad = ~ag.mask
        set_at = {"token": ag.token != -1} | {k: getattr(ag, k) for k in _PADDED_FALSE}
        per_agent = {k: v.reshape(*v.shape[:2], -1).any(-1) for k, v in set_at.items()}  # [B, A] each
        if not bool((torch.stack(list(per_agent.values())).any(0) & pad).any()):  # one sync when all is well
            return self
        for name, used in per_agent.items():
            bad = used & pad
            if bad.any():
                b, a = (int(v) for v in torch.nonzero(bad)[0])
                want = "-1" if name == "token" else "False"
                raise ValueError(
                    f"TokenBatch.agents.{name}: expected {want} at padded agents (agents.mask False), "
                    f"not at scene {b}, column {a}"
                )
        return self


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
    agent_batch = AgentBatch(
        id=_pad(agents("agent_id"), a, -1),
        mask=torch.arange(a)[None] < n_a[:, None],
        cls=_pad(agents("agent_class"), a, 0),
        size=_pad(agents("size"), a, 0.0),
        z=_pad(agents("z"), a, 0.0),
        token=_pad(agents("token"), a, -1),
        token_valid=_pad(agents("valid"), a, False),
        pose=_pad(agents("pose"), a, 0.0),
        pose_valid=_pad(agents("pose_valid"), a, False),
        sim_mask=_pad(agents("sim_mask"), a, False),
        logged=_pad(agents("logged"), a, 0.0),
        logged_valid=_pad(agents("logged_valid"), a, False),
        train_mask=_pad(loss, a, False),
    )
    map_batch = MapBatch(
        points=_pad(maps("points"), m, 0.0),
        pose=_pad(maps("pose"), m, 0.0),
        kind=_pad(maps("kind"), m, 0),
        light=_pad(maps("light"), m, 0),
        mask=torch.arange(m)[None] < n_m[:, None],
        feature_id=_pad(maps("feature_id"), m, -1),
    )
    return TokenBatch(ids, agent_batch, map_batch).validate()


def collate_cropped(items: list, radius: float) -> TokenBatch:
    """`collate` after `crop_map` of every scene (a top-level function, so DataLoader workers can pickle it)."""
    return collate([crop_map(TokenizedScene(*it), radius) for it in items])


def token_batch(scenarios: list[Scenario], vocab: MotionVocab) -> TokenBatch:
    """Tokenize and collate in memory (no cache)."""
    return collate([prepare_scene(s, vocab) for s in scenarios])
