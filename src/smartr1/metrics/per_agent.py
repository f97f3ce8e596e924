"""Per-agent WOSAC diagnostics: which realism components each evaluated agent fails, and where.

The scenario metrics are means over (agent, step) entries; this module keeps the per-agent pieces
those means are built from, so that a low score can be traced to agents and rollouts:

- histogram components: the agent's summed log-likelihood over its scored steps and the step count
  (`weight`); the scenario likelihood is exp(sum of sums / sum of counts) over its agents;
- indicator components (collision, offroad, red light): one log-likelihood per agent, weight 1;
- ADE per rollout and agent; the scenario's minADE is the min over rollouts of the agent mean;
- per rollout, the first future step at which the agent collides, leaves the road or runs a red
  light (-1 when it never does); their means over (rollout, agent) are the scenario's rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import CURRENT_STEP
from smartr1.metrics import aggregate
from smartr1.metrics.config import FEATURES, MetricsConfig, load_config
from smartr1.metrics.features import Features, compute_features
from smartr1.metrics.inputs import build_batch, stack_rollouts

FIRST_FUTURE_STEP = CURRENT_STEP + 1  # the scenario step of `first_step` index 0
# Event name -> the per-step simulated indicator it is read from (the rates' masks: log validity).
EVENTS = {
    "collision": "collision_per_step",
    "offroad": "offroad_per_step",
    "red_light": "traffic_light_violation_per_step",
}


@dataclass
class AgentDiagnostics:
    """Per-agent diagnostics of one scenario; E = evaluated agents (metric order), R = rollouts.

    `log_likelihood[f]` [E] f64 is the agent's mean log-likelihood of component f over its `weight[f]`
    [E] scored entries (steps for histograms, 1 for indicators); NaN where the weight is 0 (e.g. TTC of
    a pedestrian). `first_step[event]` [R, E] int16 is the first future step index (0..79, scenario
    step 11 + i) of the event in each rollout, -1 when it does not happen.
    """

    scenario_id: str
    object_id: np.ndarray  # [E] int64
    object_type: np.ndarray  # [E] int64
    log_likelihood: dict[str, np.ndarray]  # component -> [E] f64
    weight: dict[str, np.ndarray]  # component -> [E] int64
    ade: np.ndarray  # [R, E] f64, metres
    first_step: dict[str, np.ndarray]  # event -> [R, E] int16
    scenario: dict[str, float]  # the scenario's `SimAgentMetrics` fields from the same features

    @property
    def likelihood(self) -> dict[str, np.ndarray]:
        """Component -> [E] per-agent likelihood exp(mean log-likelihood) (NaN where unscored)."""
        return {k: np.exp(v) for k, v in self.log_likelihood.items()}

    @property
    def min_ade(self) -> np.ndarray:
        """[E] the agent's smallest ADE over rollouts (m)."""
        return self.ade.min(axis=0)

    def worst_component(self) -> list[str | None]:
        """Per agent the component with the lowest likelihood (None when none is scored)."""
        lik = np.stack([self.likelihood[f] for f in FEATURES])  # [10, E]
        out: list[str | None] = []
        for e in range(lik.shape[1]):
            col = lik[:, e]
            out.append(None if np.isnan(col).all() else FEATURES[int(np.nanargmin(col))])
        return out

    def to_json(self) -> dict:
        """Plain JSON lists (NaN -> None): what `smartr1 evaluate --per-agent` writes per scenario."""

        def clean(a):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, np.float64)]

        lik = self.likelihood
        return {
            "object_id": self.object_id.tolist(),
            "object_type": self.object_type.tolist(),
            "likelihood": {f: clean(lik[f]) for f in FEATURES},
            "log_likelihood": {f: clean(self.log_likelihood[f]) for f in FEATURES},
            "weight": {f: self.weight[f].tolist() for f in FEATURES},
            "min_ade": clean(self.min_ade),
            "worst_component": self.worst_component(),
            "first_step": {k: v.T.tolist() for k, v in self.first_step.items()},  # [E][R]
        }


def _first_step(indicator: torch.Tensor) -> np.ndarray:
    """[..., T] bool -> [...] int16 index of the first True step, -1 where none."""
    any_ = indicator.any(-1)
    first = indicator.to(torch.int8).argmax(-1)
    return torch.where(any_, first, torch.full_like(first, -1)).cpu().numpy().astype(np.int16)


def agent_log_likelihoods(
    ll: aggregate.LogLikelihoods, masks: aggregate.Masks
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Component -> each agent's mean log-likelihood [S, E] f64 over its scored entries (NaN where it
    has none) and that entry count [S, E]: the per-agent pieces of the scenario means, in one place so
    that diagnostics and per-agent credit cannot disagree on them."""
    steps = aggregate.step_masks(masks)
    mean, count = {}, {}
    for name in FEATURES:
        if name in steps:
            m = steps[name]  # [S, E, 80]
            v = ll.per_step[name].double()
            total = torch.where(m, v, torch.zeros_like(v)).sum(-1)
            n = m.sum(-1)
        else:
            total = ll.per_object[name].double()
            n = masks.eval.long()
        mean[name] = torch.where(n > 0, total / n.clamp(min=1), torch.full_like(total, float("nan")))
        count[name] = n
    return mean, count


def event_steps(sim: Features, masks: aggregate.Masks) -> dict[str, torch.Tensor]:
    """Event -> [S, R, E, 80] bool: the steps at which each agent collides, leaves the road or runs a red
    light, under the rates' mask (log validity; red lights not restricted to vehicles, as the rate)."""
    return {event: getattr(sim, attr) & masks.valid[:, None] for event, attr in EVENTS.items()}


def scenario_diagnostics(
    scenario: Scenario,
    rollouts: Rollouts,
    config: MetricsConfig | str = "2025",
    device: str | torch.device = "cpu",
) -> AgentDiagnostics:
    """Per-agent diagnostics of one scenario's rollouts (the scenario must be scorable)."""
    config = load_config(config)
    with torch.no_grad():
        batch = build_batch([scenario], device)
        masks = aggregate.scoring_masks(batch)
        log = compute_features(batch)
        sim = compute_features(batch, stack_rollouts(batch.logs, [rollouts], device))
        ll = aggregate.log_likelihoods(log, sim, masks, config)
        scen = aggregate.to_records(batch.scenario_ids, aggregate.scenario_metrics(masks, log, sim, config))[
            scenario.scenario_id
        ]
        mean, count = agent_log_likelihoods(ll, masks)
        log_lik = {name: v[0].cpu().numpy() for name, v in mean.items()}
        weight = {name: v[0].cpu().numpy().astype(np.int64) for name, v in count.items()}
        first = {event: _first_step(steps[0]) for event, steps in event_steps(sim, masks).items()}
        e = batch.num_eval
        return AgentDiagnostics(
            scenario_id=scenario.scenario_id,
            object_id=batch.object_id[0, :e].cpu().numpy(),
            object_type=batch.logs[0].object_type[:e].astype(np.int64),
            log_likelihood=log_lik,
            weight=weight,
            ade=sim.average_displacement_error[0].double().cpu().numpy(),
            first_step=first,
            scenario=scen,
        )


def per_agent_diagnostics(
    scenarios: Sequence[Scenario],
    rollouts_by_id: Mapping[str, Rollouts],
    config: MetricsConfig | str = "2025",
    device: str | torch.device = "cpu",
) -> dict[str, AgentDiagnostics]:
    """{scenario_id: diagnostics} for every scenario (each must have rollouts and be scorable)."""
    return {
        s.scenario_id: scenario_diagnostics(s, rollouts_by_id[s.scenario_id], config, device)
        for s in scenarios
    }


def scenario_from_agents(diag: AgentDiagnostics, config: MetricsConfig | str = "2025") -> dict[str, float]:
    """The scenario's likelihoods, meta-metric, ADE, minADE and rates recomputed from the per-agent
    values alone: the check that the per-agent export is the decomposition of the scenario metric."""
    config = load_config(config)
    out: dict[str, float] = {}
    meta = 0.0
    for f in FEATURES:
        w = diag.weight[f].astype(np.float64)
        ll = np.nan_to_num(diag.log_likelihood[f]) * w
        out[f"{f}_likelihood"] = float(np.exp(ll.sum() / w.sum()))
        meta += config.weight(f) * out[f"{f}_likelihood"]
    out["metametric"] = meta
    out["average_displacement_error"] = float(diag.ade.mean())
    out["min_average_displacement_error"] = float(diag.ade.mean(axis=1).min())
    out["simulated_collision_rate"] = float((diag.first_step["collision"] >= 0).mean())
    out["simulated_offroad_rate"] = float((diag.first_step["offroad"] >= 0).mean())
    out["simulated_traffic_light_violation_rate"] = float((diag.first_step["red_light"] >= 0).mean())
    return out
