"""Advantage rules of reinforcement fine-tuning: how a realism reward becomes a learning signal.

Each is a small pure function; `RULES` names them with the reward each needs, and `rft.py` picks one
by name (a new rule is one function and one entry there). Rewards are WOSAC meta-metrics.
- MPO (SMART-R1): a fixed target alpha instead of a learned or group baseline.
- GRPO: normalised within a group of G independent rollout sets of the same scenario.
- REINFORCE: a running mean of past rewards as the baseline.
- Leave-one-out (RLFTSim's MLOO): one reward per rollout from the same 32 rollouts.
- Per agent (ours, beyond the paper): each agent's tokens in each rollout get that agent's own
  leave-one-out credit plus its collision / offroad / red-light events against its rollout mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


def mpo(reward: torch.Tensor, alpha: float) -> torch.Tensor:
    """A = r - alpha, per scenario [S]."""
    return reward - alpha


def grpo(reward: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """A = (r - mean) / std over the G draws of each scenario: rewards [S, G] -> [S, G]."""
    mean = reward.mean(-1, keepdim=True)
    std = reward.std(-1, keepdim=True, unbiased=False)
    return (reward - mean) / (std + eps)


@dataclass
class RunningMean:
    """An exponential running mean, the REINFORCE baseline (state that checkpoints with the module)."""

    decay: float = 0.9
    value: float | None = None

    def update(self, x: float) -> None:
        self.value = x if self.value is None else self.decay * self.value + (1 - self.decay) * x


def reinforce(reward: torch.Tensor, baseline: RunningMean) -> torch.Tensor:
    """A = r - b with b the running mean of earlier rewards (the first batch uses its own mean);
    the baseline is updated after use, so a reward never baselines itself."""
    b = float(reward.mean()) if baseline.value is None else baseline.value
    adv = reward - b
    baseline.update(float(reward.mean()))
    return adv


def leave_one_out(loo_metric: torch.Tensor) -> torch.Tensor:
    """r_i = mean_j M(-j) - M(-i): loo_metric [S, R] holds M(-i), the meta-metric of the rollouts
    without rollout i. A rollout whose removal lowers the metric helped it: positive reward."""
    return loo_metric.mean(-1, keepdim=True) - loo_metric


@dataclass
class SceneMeans:
    """Each scene's mean of its earlier rewards: a baseline that measures the rollouts, not the scene
    (scene offsets of +-0.03 swamp a 32-rollout reward's seed-to-seed spread of 0.005-0.012)."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def get(self, scene: str) -> float | None:
        n = self.counts.get(scene, 0)
        return self.sums[scene] / n if n else None

    def add(self, scene: str, reward: float) -> None:
        self.sums[scene] = self.sums.get(scene, 0.0) + reward
        self.counts[scene] = self.counts.get(scene, 0) + 1


def scene_baselined(reward: torch.Tensor, rule_advantage: torch.Tensor, scenes: list[str], means: SceneMeans):
    """A = r - (the scene's mean of its earlier rewards) per scene, rewards [S, 1]; a scene seen for the
    first time keeps the rule's advantage. The means are updated after use (a reward never baselines
    itself)."""
    out = rule_advantage.clone()
    for i, sid in enumerate(scenes):
        b = means.get(sid)
        if b is not None:
            out[i] = reward[i] - b
    for i, sid in enumerate(scenes):
        means.add(sid, float(reward[i].mean()))
    return out


@dataclass
class RuleState:
    """What a rule may use besides the rewards: MPO's fixed target, REINFORCE's running baseline."""

    alpha: float
    baseline: RunningMean


@dataclass(frozen=True)
class Rule:
    """An advantage rule. `reward`: what it scores per scenario, "set" (one meta-metric of all R
    rollouts, [S, 1]), "groups" (one per group of R independent rollouts, [S, G]) or "leave_one_out"
    (the meta-metric without each rollout, [S, R]) or "agent" (each agent's leave-one-out credit and
    events in each rollout, [S, R, A'], `metrics.agent_credit`); `advantage`: rewards -> advantages of
    that shape; `uses_alpha`: whether it needs MPO's target (else `alpha: auto` is not calibrated)."""

    reward: str
    advantage: Callable[[torch.Tensor, RuleState], torch.Tensor]
    uses_alpha: bool = False


def _mpo(reward: torch.Tensor, state: RuleState) -> torch.Tensor:
    return mpo(reward, state.alpha)


def _grpo(reward: torch.Tensor, state: RuleState) -> torch.Tensor:
    return grpo(reward)


def _reinforce(reward: torch.Tensor, state: RuleState) -> torch.Tensor:
    return reinforce(reward, state.baseline)


def _leave_one_out(reward: torch.Tensor, state: RuleState) -> torch.Tensor:
    return leave_one_out(reward)


def _per_agent(reward: torch.Tensor, state: RuleState) -> torch.Tensor:
    return reward  # the per-agent credit is already an advantage (`metrics.agent_credit`)


# module-level functions, not lambdas: a stage module holding its rule must pickle (DDP spawn)
RULES: dict[str, Rule] = {
    "mpo": Rule("set", _mpo, uses_alpha=True),
    "grpo": Rule("groups", _grpo),
    "reinforce": Rule("set", _reinforce),
    "loo": Rule("leave_one_out", _leave_one_out),
    "agent": Rule("agent", _per_agent),
}
