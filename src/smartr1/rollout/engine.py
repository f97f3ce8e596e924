"""Batched closed-loop rollouts: R futures of every simulated agent of B scenarios in one pass.

`rollout_batch` runs a `RolloutSession` over the 16 future slots with a token chooser (top-k
sampling by default) and scatters the result back to the batch's own agent columns. `to_rollouts`
turns one scenario of the output into official-format `Rollouts` (NumPy, for files);
`smartr1.rollout.metric_order` hands the same numbers to the metric as tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import FUTURE_SLOTS, NUM_FUTURE_STEPS, STEPS_PER_TOKEN
from smartr1.model.smart import SMART
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.rollout.session import (
    DEFAULT_START,
    Chooser,
    RolloutScene,
    RolloutSession,
    RolloutState,
    TopKSampler,
)
from smartr1.tokens.batch import TokenBatch


@dataclass
class RolloutOutput:
    """Closed-loop futures of a batch, in the batch's agent columns (= track order of each scenario).
    Agents that are not simulated have token -1 and zero poses."""

    token: torch.Tensor  # [B, R, A, 16] long, tokens of slots 2..17
    pose: torch.Tensor  # [B, R, A, 80, 3] (x, y, heading) at steps 11..90
    sim_mask: torch.Tensor  # [B, A] bool, the simulated agents
    logits: torch.Tensor | None = None  # [B, R, A, 16, V], the logits each future token was chosen from


def finish(state: RolloutState, batch: TokenBatch, logits: list[torch.Tensor] | None = None) -> RolloutOutput:
    """A completed rollout state as a `RolloutOutput` in `batch`'s own columns."""
    sc = state.scene
    b, a_full = batch.agents.mask.shape
    r, a = sc.num_rollouts, sc.batch.agents.mask.shape[1]
    token = torch.stack(state.tokens, dim=-1).view(b, r, a, FUTURE_SLOTS)
    pose = torch.cat(state.poses, dim=2).view(b, r, a, FUTURE_SLOTS * STEPS_PER_TOKEN, 3)
    lg = torch.stack(logits, dim=2).view(b, r, a, FUTURE_SLOTS, -1) if logits else None
    bi, ki = torch.nonzero(sc.cols >= 0, as_tuple=True)
    ci = sc.cols[bi, ki]

    def scatter(t, fill):
        out = torch.full((b, r, a_full, *t.shape[3:]), fill, dtype=t.dtype, device=t.device)
        out[bi, :, ci] = t[bi, :, ki]
        return out

    return RolloutOutput(
        token=scatter(token, -1),
        pose=scatter(pose, 0.0),
        sim_mask=batch.agents.mask & batch.agents.sim_mask,
        logits=scatter(lg, 0.0) if lg is not None else None,
    )


def closed_loop(
    model: SMART,
    batch: TokenBatch,
    num_rollouts: int,
    chooser: Callable[[RolloutScene], Chooser] | None = None,
    start: str = DEFAULT_START,
    keep_logits: bool = False,
    **sampler,
) -> tuple[RolloutState, list[torch.Tensor] | None]:
    """The one closed-loop loop every caller shares (simulation, CAT-K, RFT): the model in eval mode (no
    dropout, no temporal-edge drop) and without gradients, reset, step to the end, its mode restored.

    `chooser` builds the token chooser from the reset scene (default: `TopKSampler(scene, **sampler)`);
    returns the completed state and, with `keep_logits`, the logits of every step."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            session = RolloutSession(model, num_rollouts, start)
            state = session.reset(batch)
            choose = chooser(state.scene) if chooser else TopKSampler(state.scene, **sampler)
            seen = [] if keep_logits else None
            while not state.done:
                state, logits = session.step(state, choose)
                if seen is not None:
                    seen.append(logits)
        return state, seen
    finally:
        model.train(was_training)


def run_rollout(
    model: SMART,
    batch: TokenBatch,
    num_rollouts: int,
    choose: Chooser | None = None,
    return_logits: bool = False,
    start: str = DEFAULT_START,
    **sampler,
) -> RolloutOutput:
    """`closed_loop` with a fixed chooser (default: top-k sampling), in the batch's own columns."""
    chooser = (lambda _scene: choose) if choose is not None else None
    state, seen = closed_loop(model, batch, num_rollouts, chooser, start, return_logits, **sampler)
    return finish(state, batch, seen)


def rollout_batch(
    model: SMART,
    batch: TokenBatch,
    num_rollouts: int = 32,
    seed: int = 0,
    top_k: int = DEFAULT_TOP_K,
    temperature: float = 1.0,
    return_logits: bool = False,
    start: str = DEFAULT_START,
) -> RolloutOutput:
    """Simulate the agents valid at the current step for 16 token slots (8 s), R rollouts per scenario,
    sampling among the top-k tokens (reproducible per scenario for a seed), from the `start` pose."""
    return run_rollout(
        model,
        batch,
        num_rollouts,
        return_logits=return_logits,
        start=start,
        seed=seed,
        top_k=top_k,
        temperature=temperature,
    )


def empty_rollouts(scenario: Scenario, num_rollouts: int) -> Rollouts:
    z = np.zeros((num_rollouts, 0, NUM_FUTURE_STEPS), np.float32)
    return Rollouts(scenario.scenario_id, np.zeros(0, np.int64), z, z, z, z)


def sim_columns(scenario: Scenario, batch: TokenBatch, b: int) -> torch.Tensor:
    """Batch columns of the scenario's sim agents in track order; DataError if one is missing."""
    ids = scenario.tracks.id[scenario.sim_agent_index()].astype(np.int64)
    col_of = {int(i): c for c, i in enumerate(batch.agents.id[b].tolist())}
    sim = (batch.agents.mask[b] & batch.agents.sim_mask[b]).cpu()
    missing = [int(i) for i in ids if int(i) not in col_of or not bool(sim[col_of[int(i)]])]
    if missing:
        raise DataError(
            None, f"scenario {scenario.scenario_id!r}: sim agents {missing[:5]} missing from the batch"
        )
    return torch.tensor([col_of[int(i)] for i in ids], dtype=torch.long)


def to_rollouts(scenario: Scenario, batch: TokenBatch, b: int, out: RolloutOutput) -> Rollouts:
    """Row b of a rollout output as `Rollouts` of the scenario's sim agents, in track order."""
    cols = sim_columns(scenario, batch, b)
    ids = scenario.tracks.id[scenario.sim_agent_index()].astype(np.int64)
    p = out.pose[b][:, cols].float().cpu().numpy()  # [R, A, 80, 3]
    z = batch.agents.z[b, cols].float().cpu().numpy()
    zz = np.broadcast_to(z[None, :, None], p.shape[:3]).copy()
    return Rollouts(scenario.scenario_id, ids, p[..., 0], p[..., 1], zz, p[..., 2])
