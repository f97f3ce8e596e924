"""The policy interface `simulate`, the demo and the evaluation use: scenarios in, `Rollouts` out.

A policy is the SMART model (a checkpoint) or one of the reference policies, looked up by one name
(`load_policy`). The model policy tokenizes several scenarios into one batch and rolls them out in one
pass; a scenario's rollouts do not depend on which scenarios share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.model.checkpoint import load_model
from smartr1.model.smart import SMART
from smartr1.rollout.engine import empty_rollouts, rollout_batch, to_rollouts
from smartr1.rollout.reference import REFERENCE_POLICIES, RolloutFn, policy_key
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.rollout.session import DEFAULT_START
from smartr1.tokens.batch import token_batch
from smartr1.tokens.vocabulary import MotionVocab

POLICY_NAMES = tuple(REFERENCE_POLICIES)  # every policy that needs no checkpoint


@runtime_checkable
class Policy(Protocol):
    """Anything that turns scenarios into rollouts: the model, or a reference policy."""

    def rollout(
        self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0
    ) -> list[Rollouts]: ...


class ModelPolicy:
    """The SMART model as a `Policy`: tokenizes the history, rolls out, detokenizes to 10 Hz.

    `scenarios_per_batch` scenarios share one batched pass (their map encodings and decoder steps).
    The default is 1: on CPU a padded batch of several scenes is slower than one scene at a time
    (benchmarks/results/model.md), and a scene's rollouts then never depend on its batch mates (with
    mates, float rounding in the batched matmuls can tip a near-tied top-k draw). On a GPU, try 4-16.
    """

    def __init__(
        self,
        model: SMART,
        vocab: MotionVocab,
        device: str | torch.device = "cpu",
        top_k: int = DEFAULT_TOP_K,
        temperature: float = 1.0,
        scenarios_per_batch: int = 1,
        start: str = DEFAULT_START,
    ):
        self.device = torch.device(device)
        self.start = start
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        self.top_k = top_k
        self.temperature = temperature
        self.scenarios_per_batch = max(1, scenarios_per_batch)

    def rollout(self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0) -> list[Rollouts]:
        results: dict[int, Rollouts] = {}
        todo = []
        for i, sc in enumerate(scenarios):
            if len(sc.sim_agent_index()) == 0:
                results[i] = empty_rollouts(sc, num_rollouts)
            else:
                todo.append(i)
        for start in range(0, len(todo), self.scenarios_per_batch):
            chunk = todo[start : start + self.scenarios_per_batch]
            batch = token_batch([scenarios[i] for i in chunk], self.vocab).to(self.device)
            out = rollout_batch(
                self.model, batch, num_rollouts, seed, self.top_k, self.temperature, start=self.start
            )
            for b, i in enumerate(chunk):
                results[i] = to_rollouts(scenarios[i], batch, b, out)
        return [results[i] for i in range(len(scenarios))]


class FunctionPolicy:
    """Adapts a per-scenario function `fn(scenario, num_rollouts) -> Rollouts` (the reference policies)."""

    def __init__(self, fn: RolloutFn, name: str = ""):
        self.fn = fn
        self.name = name

    def rollout(self, scenarios: Sequence[Scenario], num_rollouts: int = 32, seed: int = 0) -> list[Rollouts]:
        return [self.fn(sc, num_rollouts) for sc in scenarios]


def load_policy(
    checkpoint_or_name: str | Path,
    device: str = "cpu",
    top_k: int = DEFAULT_TOP_K,
    temperature: float = 1.0,
    scenarios_per_batch: int = 1,
    start: str = DEFAULT_START,
) -> Policy:
    """A policy from a checkpoint path (Lightning .ckpt or exported model) or a name of `POLICY_NAMES`."""
    key = policy_key(checkpoint_or_name)
    if key in REFERENCE_POLICIES:
        return FunctionPolicy(REFERENCE_POLICIES[key], key)
    model, vocab = load_model(checkpoint_or_name, map_location=device)
    return ModelPolicy(model, vocab, device, top_k, temperature, scenarios_per_batch, start)
