"""Random but self-consistent inputs for tests and benchmarks (no data files needed).

Vocabularies are arcs at several speeds and curvatures; scenes are agents scattered over a square,
each driving a random token sequence from a random start pose, next to a grid of lane segments.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from smartr1.data.geometry import to_world
from smartr1.data.timeline import NUM_SLOTS
from smartr1.tokens.batch import AgentBatch, MapBatch, TokenBatch


def arc_vocab_poses(vocab_size: int, num_classes: int = 3, seed: int = 0) -> torch.Tensor:
    """[C, V, 5, 3] local-frame poses of constant speed / yaw-rate motions; token 0 = stay put."""
    g = torch.Generator().manual_seed(seed)
    top = torch.tensor([15.0, 2.5, 8.0])[:num_classes]  # m/s per class
    speed = torch.rand(num_classes, vocab_size, generator=g) * top[:, None]
    yaw = (torch.rand(num_classes, vocab_size, generator=g) - 0.5) * 1.2  # rad/s
    speed[:, 0], yaw[:, 0] = 0.0, 0.0
    t = torch.arange(1, 6, dtype=torch.float32) * 0.1
    h = yaw[..., None] * t
    # integrate heading-dependent velocity exactly for a circular arc (straight when yaw ~ 0)
    safe = torch.where(yaw.abs() < 1e-4, torch.full_like(yaw, 1e-4), yaw)[..., None]
    x = torch.where(yaw.abs()[..., None] < 1e-4, speed[..., None] * t, speed[..., None] * torch.sin(h) / safe)
    y = torch.where(
        yaw.abs()[..., None] < 1e-4, torch.zeros_like(h), speed[..., None] * (1 - torch.cos(h)) / safe
    )
    return torch.stack([x, y, h], dim=-1)


def random_scene_batch(
    batch: int = 2,
    agents: int = 16,
    map_segments: int = 64,
    vocab_poses: torch.Tensor | None = None,
    vocab_size: int = 64,
    extent: float = 60.0,
    seed: int = 0,
    drop_history: float = 0.1,
):
    """A batch of B random scenes with A agents and M lane segments each (all real, no padding except a
    few invalid history slots)."""
    g = torch.Generator().manual_seed(seed)
    if vocab_poses is None:
        vocab_poses = arc_vocab_poses(vocab_size, seed=seed)
    c, v = vocab_poses.shape[:2]
    b, a, m, s = batch, agents, map_segments, NUM_SLOTS
    cls = torch.randint(0, c, (b, a), generator=g)
    token = torch.randint(0, v, (b, a, s), generator=g)
    start = torch.cat(
        [
            (torch.rand(b, a, 2, generator=g) - 0.5) * extent,
            (torch.rand(b, a, 1, generator=g) - 0.5) * 2 * math.pi,
        ],
        -1,
    )
    poses = [start]
    for k in range(s):
        local = vocab_poses[cls, token[..., k]]  # [B, A, 5, 3]
        poses.append(to_world(local, poses[-1][..., None, :])[..., -1, :])
    pose = torch.stack(poses, dim=2)  # [B, A, 19, 3]
    valid = torch.ones(b, a, s, dtype=torch.bool)
    late = torch.rand(b, a, generator=g) < drop_history  # agents first seen at step 5
    valid[..., 0] &= ~late
    token = torch.where(valid, token, torch.full_like(token, -1))
    # map: a grid of lane segments 5 m long, random headings
    mp = torch.cat(
        [
            (torch.rand(b, m, 2, generator=g) - 0.5) * extent,
            (torch.rand(b, m, 1, generator=g) - 0.5) * 2 * math.pi,
        ],
        -1,
    )
    along = torch.linspace(0, 5, 11)
    pts = (
        mp[..., None, :2]
        + along[:, None] * torch.stack([mp[..., 2].cos(), mp[..., 2].sin()], -1)[..., None, :]
    )
    kind = torch.randint(0, 4, (b, m), generator=g)
    light = torch.randint(0, 5, (b, m), generator=g)
    # the logged poses: a few cm and mrad off the tokenized anchors, as in real data
    logged = pose + torch.randn(b, a, s + 1, 3, generator=g) * torch.tensor([0.05, 0.05, 0.01])
    agents = AgentBatch(
        id=torch.arange(a).expand(b, a).clone(),
        mask=torch.ones(b, a, dtype=torch.bool),
        cls=cls,
        size=torch.tensor([4.5, 2.0, 1.6]).expand(b, a, 3).clone(),
        z=torch.zeros(b, a),
        token=token,
        token_valid=valid,
        pose=pose,
        pose_valid=torch.cat([valid[..., :1], valid], dim=-1),
        sim_mask=torch.ones(b, a, dtype=torch.bool),
        logged=logged,
        logged_valid=torch.cat([valid[..., :1], valid], dim=-1),
        train_mask=torch.ones(b, a, dtype=torch.bool),
    )
    lanes = MapBatch(
        points=pts,
        pose=mp,
        kind=kind,
        light=light,
        mask=torch.ones(b, m, dtype=torch.bool),
        feature_id=torch.arange(m).expand(b, m).clone(),
    )
    return TokenBatch([f"synthetic-{seed}-{i}" for i in range(b)], agents, lanes).validate()


def pad_agents(batch: TokenBatch, scene: int, first: int) -> TokenBatch:
    """Make agent columns `first:` of `scene` padding, in place and as `collate` pads: masks False,
    id and token -1, everything else 0."""
    for f in dataclasses.fields(batch.agents):
        t = getattr(batch.agents, f.name)
        t[scene, first:] = -1 if f.name in ("id", "token") else 0
    return batch
