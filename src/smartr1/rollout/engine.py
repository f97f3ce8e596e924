"""Batched closed-loop rollouts of the SMART model, and the policy interface used by `simulate`.

All R rollouts of a scenario run in one batched pass (rollouts folded into the batch axis, row
b * R + r). The map is encoded once per scenario and every decoder layer's map keys / values are
shared by its rollouts; the two history slots are decoded once per scenario and then repeated; each
0.5 s step decodes only the newest slot against cached keys / values of the agent's past slots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import NUM_FUTURE_STEPS, Scenario
from smartr1.model.smart import SMART, batch_nodes
from smartr1.rollout.sampling import draw_uniforms, sample_top_k, scenario_generators

HISTORY_SLOTS = 2
FUTURE_SLOTS = 16
STEPS_PER_TOKEN = 5


@runtime_checkable
class Policy(Protocol):
    """Anything that turns scenarios into rollouts: the model, or a reference policy."""

    def rollout(
        self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0
    ) -> list[Rollouts]: ...


@dataclass
class RolloutOutput:
    """Closed-loop futures of a batch. Agents that are not simulated have token -1 and zero poses."""

    token: torch.Tensor  # [B, R, A, 16] long, tokens of slots 2..17
    pose: torch.Tensor  # [B, R, A, 80, 3] (x, y, heading) at steps 11..90
    sim_mask: torch.Tensor  # [B, A] bool, the simulated agents
    logits: torch.Tensor | None = None  # [B, R, A, 16, V], the logits each future token was sampled from


def check_batch(batch) -> torch.Tensor:
    """The simulated agents [B, A]; raises DataError when one of them has no usable current pose."""
    sim = batch.agent_mask & batch.sim_mask
    cur = batch.pose[:, :, HISTORY_SLOTS]
    bad = sim & ~torch.isfinite(cur).all(-1)
    if bad.any():
        b, a = (int(v) for v in torch.nonzero(bad)[0])
        raise DataError(
            None,
            f"scenario {batch.scenario_id[b]!r}: agent {int(batch.agent_id[b, a])} has a non-finite pose "
            "at the current step",
        )
    return sim


@torch.no_grad()
def rollout_batch(
    model: SMART,
    batch,
    num_rollouts: int = 32,
    seed: int = 0,
    top_k: int = 5,
    temperature: float = 1.0,
    return_logits: bool = False,
) -> RolloutOutput:
    """Simulate the agents valid at the current step for 16 token slots (8 s), R rollouts per scenario."""
    was_training = model.training
    model.eval()
    try:
        return _rollout(model, batch, num_rollouts, seed, top_k, temperature, return_logits)
    finally:
        model.train(was_training)


def _compact(batch, sim: torch.Tensor):
    """The batch restricted to its simulated agents (other agents would only be masked work), and the
    original column of every kept column ([B, A'], -1 for padding)."""
    b, a = sim.shape
    n = sim.sum(1)
    width = max(1, int(n.max()) if b else 1)
    order = torch.argsort((~sim).to(torch.int8), dim=1, stable=True)[:, :width]  # sim agents first, in order
    keep = torch.arange(width, device=sim.device)[None] < n[:, None]
    cols = torch.where(keep, order, torch.full_like(order, -1))
    fields = {}
    for name in ("agent_id", "agent_mask", "agent_class", "agent_size", "agent_z", "token", "token_valid", "pose",
                 "sim_mask", "train_mask", "pose_valid"):  # fmt: skip
        t = getattr(batch, name, None)
        if t is None:
            continue
        idx = order.view(b, width, *([1] * (t.dim() - 2))).expand(b, width, *t.shape[2:])
        g = torch.gather(t, 1, idx)
        if g.dtype == torch.bool:
            g = g & keep.view(b, width, *([1] * (t.dim() - 2)))
        fields[name] = g
    return dataclasses.replace(batch, **fields), cols


def _rollout(model, batch, r, seed, top_k, temperature, return_logits) -> RolloutOutput:
    b, a_full = batch.agent_mask.shape
    sim_full = check_batch(batch)
    batch, cols = _compact(batch, sim_full)
    b, a = batch.agent_mask.shape
    dev = batch.agent_mask.device
    sim = batch.agent_mask & batch.sim_mask
    token_in, node_pose, node_valid = batch_nodes(batch, sim)
    node_valid[..., 1] = sim  # the current pose (anchor 2) is known for every simulated agent
    cls, size = batch.agent_class, batch.agent_size
    ctx = model.encode_map(batch)
    table = model.token_table()
    cache = model.empty_cache(b, a, dev)
    for k in range(HISTORY_SLOTS):
        logits, cache = model.step(
            ctx, cache, table, token_in[..., k], node_pose[..., k, :], node_valid[..., k], cls, size
        )
    # fold rollouts into the batch
    row = torch.arange(b, device=dev).repeat_interleave(r)
    cache = cache.repeat_interleave(r)
    logits = logits.repeat_interleave(r, 0)  # [B*R, A, V]
    cls_r, size_r, sim_r = cls[row], size[row], sim[row]
    pose = node_pose[:, :, 1][row]  # [B*R, A, 3]
    gens = scenario_generators(seed, list(batch.scenario_id))
    tokens, poses, all_logits = [], [], []
    for k in range(HISTORY_SLOTS, HISTORY_SLOTS + FUTURE_SLOTS):
        u = draw_uniforms(gens, sim, r).reshape(b * r, a)
        tok = sample_top_k(logits, u, top_k, temperature)
        tok = torch.where(sim_r, tok, torch.full_like(tok, -1))
        if return_logits:
            all_logits.append(logits)
        steps = model.token_poses(pose, tok, cls_r)  # [B*R, A, 5, 3]
        steps = torch.where(sim_r[..., None, None], steps, torch.zeros_like(steps))
        tokens.append(tok)
        poses.append(steps)
        pose = steps[:, :, -1]
        if k < HISTORY_SLOTS + FUTURE_SLOTS - 1:
            logits, cache = model.step(ctx, cache, table, tok, pose, sim_r, cls_r, size_r, row)
    token = torch.stack(tokens, dim=-1).view(b, r, a, FUTURE_SLOTS)
    pose_out = torch.cat(poses, dim=2).view(b, r, a, FUTURE_SLOTS * STEPS_PER_TOKEN, 3)
    lg = torch.stack(all_logits, dim=2).view(b, r, a, FUTURE_SLOTS, -1) if return_logits else None
    # back to the batch's own agent columns
    kept = cols >= 0
    bi, ki = torch.nonzero(kept, as_tuple=True)
    ci = cols[bi, ki]

    def scatter(t, fill):
        out = torch.full((b, r, a_full, *t.shape[3:]), fill, dtype=t.dtype, device=t.device)
        out[bi, :, ci] = t[bi, :, ki]
        return out

    return RolloutOutput(
        token=scatter(token, -1),
        pose=scatter(pose_out, 0.0),
        sim_mask=sim_full,
        logits=scatter(lg, 0.0) if lg is not None else None,
    )


def empty_rollouts(scenario: Scenario, num_rollouts: int) -> Rollouts:
    z = np.zeros((num_rollouts, 0, NUM_FUTURE_STEPS), np.float32)
    return Rollouts(scenario.scenario_id, np.zeros(0, np.int64), z, z, z, z)


def to_rollouts(scenario: Scenario, batch, b: int, out: RolloutOutput) -> Rollouts:
    """Row b of a rollout output as `Rollouts` of the scenario's sim agents, in track order."""
    tr = scenario.tracks
    ids = tr.id[scenario.sim_agent_index()].astype(np.int64)
    col_of = {int(i): c for c, i in enumerate(batch.agent_id[b].tolist())}
    sim = out.sim_mask[b].cpu()
    missing = [int(i) for i in ids if int(i) not in col_of or not bool(sim[col_of[int(i)]])]
    if missing:
        raise DataError(
            None, f"scenario {scenario.scenario_id!r}: sim agents {missing[:5]} missing from the batch"
        )
    cols = torch.tensor([col_of[int(i)] for i in ids], dtype=torch.long)
    p = out.pose[b][:, cols].float().cpu().numpy()  # [R, A, 80, 3]
    z = batch.agent_z[b, cols].float().cpu().numpy()
    zz = np.broadcast_to(z[None, :, None], p.shape[:3]).copy()
    return Rollouts(scenario.scenario_id, ids, p[..., 0], p[..., 1], zz, p[..., 2])


class ModelPolicy:
    """The SMART model as a `Policy`: tokenizes the history, rolls out, detokenizes to 10 Hz."""

    def __init__(
        self,
        model: SMART,
        vocab,
        device: str | torch.device = "cpu",
        top_k: int = 5,
        temperature: float = 1.0,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        self.top_k = top_k
        self.temperature = temperature

    def rollout(self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0) -> list[Rollouts]:
        from smartr1.data.batch import scene_batch_from_scenarios

        results = []
        for sc in scenarios:
            if len(sc.sim_agent_index()) == 0:
                results.append(empty_rollouts(sc, num_rollouts))
                continue
            batch = scene_batch_from_scenarios([sc], self.vocab).to(self.device)
            out = rollout_batch(self.model, batch, num_rollouts, seed, self.top_k, self.temperature)
            results.append(to_rollouts(sc, batch, 0, out))
        return results


REFERENCE_NAMES = ("constant-velocity", "logged-oracle", "stationary")


class FunctionPolicy:
    """Adapts a per-scenario function `fn(scenario, num_rollouts) -> Rollouts` (the reference policies)."""

    def __init__(self, fn, name: str = ""):
        self.fn = fn
        self.name = name

    def rollout(self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0) -> list[Rollouts]:
        return [self.fn(sc, num_rollouts) for sc in scenarios]


def load_policy(
    checkpoint_or_name: str | Path, device: str = "cpu", top_k: int = 5, temperature: float = 1.0
) -> Policy:
    """A policy from a checkpoint path (Lightning .ckpt or exported model) or a reference policy name
    (`constant-velocity`, `logged-oracle`, `stationary`)."""
    name = str(checkpoint_or_name)
    key = name.strip().lower().replace("_", "-")
    if key in REFERENCE_NAMES:
        from smartr1.rollout.reference import reference_policy

        return FunctionPolicy(reference_policy(key), key)
    from smartr1.training.checkpoint import load_model

    model, vocab = load_model(name, map_location=device)
    return ModelPolicy(model, vocab, device=device, top_k=top_k, temperature=temperature)
