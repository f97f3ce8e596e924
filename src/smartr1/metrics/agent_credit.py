"""Dense per-agent credit: how much each rollout raises each agent's own realism, for RL fine-tuning.

The meta-metric is a weighted mean of likelihoods that are means over (agent, step) entries, so one
scalar per scenario hides which agent in which rollout helped. Here each evaluated agent j gets its
own meta score m_j(set), the config's weights applied to its own component likelihoods (the per-agent
pieces of `per_agent.agent_log_likelihoods`), and each rollout i its leave-one-out credit
r_ij = mean_k m_j(-k) - m_j(-i), the rule of `training.advantages.leave_one_out` per agent. Event
indicators (collided, left the road, ran a red light) per agent and rollout come from the features
the rates use.

Leave-one-out histograms are the full histogram minus one rollout's bin counts: one feature pass and
one count per rollout serve all R sets, with exactly the counts a direct computation on the R - 1
remaining rollouts would see. Nothing needs gradients; everything runs under `torch.no_grad`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from smartr1.data.scenario import Scenario
from smartr1.metrics import aggregate, estimators
from smartr1.metrics.config import BERNOULLI_FEATURES, FEATURES, FeatureConfig, MetricsConfig, load_config
from smartr1.metrics.per_agent import agent_log_likelihoods, event_steps
from smartr1.metrics.scoring import ScenarioContext

EVALUATE = ("official", "all")


@dataclass
class AgentCredit:
    """Per-agent leave-one-out credit of S scenarios x R rollouts x N objects (the metric's object order,
    `MetricBatch.track_index` maps to scenario tracks; padded and non-evaluated objects hold 0 / False).

    `score[s, i, j]` f64 is m_j(-i), agent j's meta score from the rollouts without rollout i;
    `loo[s, i, j]` f32 = mean_k score[s, k, j] - score[s, i, j] (positive: rollout i helped agent j);
    `events[name][s, i, j]` bool: agent j collided / left the road / ran a red light in rollout i at any
    scored step; `ade[s, i, j]` f32: agent j's average displacement from its log in rollout i (metres,
    the minADE feature); `slowdown[s, i, j]` f32: how much slower than its log agent j drove in rollout i,
    the mean over its speed-scored steps of max(0, logged - simulated speed) (m/s; driving faster counts
    0); `evaluated[s, j]` bool: which objects are scored.
    """

    score: torch.Tensor
    loo: torch.Tensor
    events: dict[str, torch.Tensor]
    ade: torch.Tensor
    slowdown: torch.Tensor
    evaluated: torch.Tensor

    def advantage(
        self, event_weight: float = 0.0, ade_weight: float = 0.0, slow_weight: float = 0.0
    ) -> torch.Tensor:
        """[S, R, N] f32: `loo` + event_weight * sum over events of (rollout mean - indicator)
        + ade_weight * (rollout mean - ade) + slow_weight * (rollout mean - slowdown), so a rollout in
        which an agent collides while it usually does not, strays further from its log, or drives slower
        below its logged speed than its other rollouts, gets a negative advantage."""
        return advantage(self, event_weight, ade_weight, slow_weight)


def _against_mean(x: torch.Tensor) -> torch.Tensor:
    """[S, R, N] -> rollout mean - x: positive where a rollout is below the agent's usual value."""
    x = x.to(torch.float32)
    return x.mean(1, keepdim=True) - x


def advantage(
    credit: AgentCredit, event_weight: float = 0.0, ade_weight: float = 0.0, slow_weight: float = 0.0
) -> torch.Tensor:
    """Per-agent advantage [S, R, N] f32 (see `AgentCredit.advantage`); 0 for non-evaluated objects."""
    out = credit.loo.clone()
    if event_weight:
        for ind in credit.events.values():
            out += np.float32(event_weight) * _against_mean(ind)
    if ade_weight:
        out += np.float32(ade_weight) * _against_mean(credit.ade)
    if slow_weight:
        out += np.float32(slow_weight) * _against_mean(credit.slowdown)
    return torch.where(credit.evaluated[:, None], out, torch.zeros_like(out))


def leave_one_out_loglik(log: torch.Tensor, sim: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Log-likelihood of the log under each object's histogram without each rollout.

    log: [S, E, T]; sim: [S, R, E, T] -> [S, R, E, T], entry i from the other R - 1 rollouts' R - 1 x T
    samples (counts are exact small integers in f32, so they equal a direct count).
    """
    b = cfg.num_bins
    per_rollout = torch.nn.functional.one_hot(estimators.bin_index(sim, cfg), b).to(torch.float32).sum(-2)
    counts = per_rollout.sum(1, keepdim=True) - per_rollout  # [S, R, E, B]
    logp = estimators.smoothed_log_probs(counts, cfg)
    idx = estimators.bin_index(log, cfg)[:, None].expand(-1, sim.shape[1], -1, -1)
    return logp.gather(-1, idx)


def agent_scores(
    mean: dict[str, torch.Tensor], count: dict[str, torch.Tensor], config: MetricsConfig
) -> torch.Tensor:
    """Per-agent meta score [...] f64 from per-agent mean log-likelihoods and entry counts [...].

    m_j = sum_f w_f exp(mean_f) / sum_f w_f over the components f the agent has scored entries of
    (count > 0). Unscored components (TTC of a pedestrian, speeds of an agent valid at one future step)
    drop out and the remaining weights are renormalised to sum to 1, so an agent's score stays on the
    meta-metric's 0..1 scale; with the official weights (sum 1) and all components scored it is the
    plain weighted sum. An agent with no weighted component scores 0.
    """
    total = torch.zeros_like(mean[FEATURES[0]])
    weight = torch.zeros_like(total)
    for name in FEATURES:
        scored = count[name] > 0
        w = torch.where(scored, torch.full_like(total, config.weight(name)), torch.zeros_like(total))
        total = total + w * torch.where(scored, mean[name].exp(), torch.zeros_like(total))
        weight = weight + w
    return torch.where(weight > 0, total / weight.clamp(min=1e-12), torch.zeros_like(total))


def _pad(values: torch.Tensor, n: int, fill) -> torch.Tensor:
    """[..., E] -> [..., N]: evaluated objects are the first E of the metric order."""
    pad = torch.full(
        (*values.shape[:-1], n - values.shape[-1]), fill, dtype=values.dtype, device=values.device
    )
    return torch.cat([values, pad], dim=-1)


def agent_credit(
    context: ScenarioContext, future: torch.Tensor, config: MetricsConfig | str = "2025"
) -> AgentCredit:
    """Per-agent leave-one-out credit and event indicators for aligned futures [S, R, N, 80, 4]
    (`context.align`), all in the metric's object order. One feature pass serves all R leave-one-out
    sets; a rollout holding NaN gives meaningless numbers, as in `leave_one_out_fields`."""
    cfg = load_config(config)
    with torch.no_grad():
        future = future.detach().to(device=context.batch.device, dtype=torch.float32)
        s, r, n = future.shape[:3]
        if r < 2:
            raise ValueError(f"leave-one-out credit needs at least 2 rollouts, got {r}")
        masks, log = context.masks, context.log
        sim = context.features(future)
        full = aggregate.log_likelihoods(log, sim, masks, cfg)  # the indicators under the metric's masks
        per_step = {
            name: leave_one_out_loglik(getattr(log, name)[:, 0], getattr(sim, name), cfg.features[name])
            for name in aggregate.step_masks(masks)
        }
        per_object = {
            name: leave_one_out_loglik(
                full.log_indication[name].to(torch.float32)[..., None],
                full.sim_indication[name].to(torch.float32)[..., None],
                cfg.features[name],
            )[..., 0]
            for name in BERNOULLI_FEATURES
        }
        flat = aggregate.LogLikelihoods(
            {k: v.flatten(0, 1) for k, v in per_step.items()},
            {k: v.flatten(0, 1) for k, v in per_object.items()},
            {},
            {},
        )
        mean, count = agent_log_likelihoods(flat, masks.repeat(r))  # rows s * R + i
        score = agent_scores(mean, count, cfg).reshape(s, r, -1)  # [S, R, E]
        evaluated = masks.eval[:, None]
        score = torch.where(evaluated, score, torch.zeros_like(score))
        loo = (score.mean(1, keepdim=True) - score).to(torch.float32)
        events = {k: _pad(v.any(-1) & evaluated, n, False) for k, v in event_steps(sim, masks).items()}
        ade = sim.average_displacement_error.to(torch.float32)
        ade = torch.where(evaluated & ade.isfinite(), ade, torch.zeros_like(ade))
        slowdown = speed_shortfall(log.linear_speed[:, 0], sim.linear_speed, masks.speed)
        return AgentCredit(
            score=_pad(score, n, 0.0),
            loo=_pad(loo, n, 0.0),
            events=events,
            ade=_pad(ade, n, 0.0),
            slowdown=_pad(torch.where(evaluated, slowdown, torch.zeros_like(slowdown)), n, 0.0),
            evaluated=_pad(masks.eval, n, False),
        )


def speed_shortfall(log: torch.Tensor, sim: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[S, R, E] f32: per rollout and object, the mean over the masked steps of max(0, log - sim) speed;
    log [S, E, T], sim [S, R, E, T], mask [S, E, T] bool (0 where an object has no masked step)."""
    m = mask[:, None] & sim.isfinite() & log[:, None].isfinite()
    gap = torch.where(m, (log[:, None] - sim).clamp(min=0), torch.zeros_like(sim))
    return (gap.sum(-1) / m.sum(-1).clamp(min=1)).to(torch.float32)


def evaluate_all_agents(scenario: Scenario) -> Scenario:
    """The scenario with every sim agent (valid at the current step) to predict: a training choice that
    rewards all simulated agents, not only the 2-9 WOSAC scores. Never use it for evaluation."""
    sim = scenario.sim_agent_index().astype(np.int64)
    return replace(scenario, tracks_to_predict=sim, tracks_to_predict_difficulty=np.zeros(len(sim), np.int8))


def credit_context(
    scenarios: Sequence[Scenario], device: str | torch.device = "cpu", evaluate: str = "official"
) -> ScenarioContext:
    """A `ScenarioContext` for credit: `evaluate="official"` scores the WOSAC agents (the default, as
    evaluation), `"all"` every sim agent (`evaluate_all_agents`; the object order changes with it)."""
    if evaluate not in EVALUATE:
        raise ValueError(f"evaluate must be one of {EVALUATE}, got {evaluate!r}")
    scenes = list(scenarios) if evaluate == "official" else [evaluate_all_agents(x) for x in scenarios]
    return ScenarioContext.build(scenes, device)
