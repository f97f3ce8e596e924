"""Score rollouts of many scenarios: per-scenario `SimAgentMetrics`, dataset means and buckets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.threads import torch_threads
from smartr1.metrics import aggregate
from smartr1.metrics.config import MetricsConfig, load_config
from smartr1.metrics.features import Features, compute_features
from smartr1.metrics.inputs import MetricBatch, build_batch, stack_rollouts
from smartr1.metrics.report import MetricsReport
from smartr1.metrics.validate import SubmissionError, check_coverage, validate_rollouts


@dataclass
class ScenarioContext:
    """Everything about a fixed list of scenarios that does not depend on the rollouts (log features,
    map tensors, masks). Build once and reuse it to score many rollout sets (e.g. as an RL reward)."""

    batch: MetricBatch
    log: Features
    masks: aggregate.Masks

    @classmethod
    def build(cls, scenarios: Sequence[Scenario], device: str | torch.device = "cpu") -> ScenarioContext:
        with torch.no_grad():
            batch = build_batch(list(scenarios), device)
            return cls(batch, compute_features(batch), aggregate.scoring_masks(batch))

    @property
    def scenario_ids(self) -> list[str]:
        return self.batch.scenario_ids

    def object_ids(self, s: int) -> torch.Tensor:
        """Object ids of scenario s in the order `score_tensor` expects (eval objects first)."""
        n = int(self.batch.agent_mask[s].sum())
        return self.batch.object_id[s, :n]

    def align(self, rollouts: Sequence[Rollouts]) -> torch.Tensor:
        """[S, R, N, 80, 4] float32 futures of `rollouts` (one per scenario, same order)."""
        return stack_rollouts(self.batch.logs, list(rollouts), self.batch.device)

    def features(self, future: torch.Tensor) -> Features:
        with torch.no_grad():
            return compute_features(self.batch, future)

    def metrics(self, future: torch.Tensor, config: MetricsConfig | str = "2025") -> dict[str, torch.Tensor]:
        """All metric fields per scenario, [S] tensors, for aligned futures [S, R, N, 80, 4]."""
        with torch.no_grad():
            return aggregate.scenario_metrics(self.masks, self.log, self.features(future), config)


def _batches(scenarios: list[Scenario], rollouts: Mapping[str, Rollouts], size: int) -> Iterable[list]:
    """Consecutive scenarios, up to `size` at a time, sharing one rollout count (a batch needs one R)."""
    chunk: list[Scenario] = []
    for s in scenarios:
        r = rollouts[s.scenario_id].num_rollouts
        if chunk and (len(chunk) >= size or rollouts[chunk[0].scenario_id].num_rollouts != r):
            yield chunk
            chunk = []
        chunk.append(s)
    if chunk:
        yield chunk


def score_scenarios(
    scenarios: Sequence[Scenario],
    rollouts: Sequence[Rollouts],
    config: MetricsConfig | str = "2025",
    device: str | torch.device = "cpu",
) -> dict[str, dict[str, float]]:
    """{scenario_id: metrics} for rollouts given in the same order as the scenarios (one batch)."""
    ctx = ScenarioContext.build(scenarios, device)
    m = ctx.metrics(ctx.align(rollouts), config)
    return aggregate.to_records(ctx.scenario_ids, m)


def evaluate_rollouts(
    scenarios: Iterable[Scenario],
    rollouts_by_id: Mapping[str, Rollouts],
    device: str | torch.device = "cpu",
    config: MetricsConfig | str = "2025",
    batch_size: int = 4,
    validate: bool = True,
    progress=None,
    threads: int | None = None,
    num_rollouts: int | None = None,
) -> MetricsReport:
    """Score a submission against scenarios.

    Returns the `MetricsReport` of the scenarios (all of them scored). With `validate`, the official
    rules plus finiteness are checked first and every problem is reported in one `SubmissionError`;
    otherwise every scenario must still have rollouts. `num_rollouts=32` enforces the official count;
    None accepts any count (the likelihood estimators then use that many samples). `progress(n_done)`
    is called after each batch if given. `threads` sets torch's intra-op threads for the duration of
    the call.
    """
    cfg = load_config(config)
    scenarios = list(scenarios)
    if not scenarios:
        raise DataError(None, "no scenario to evaluate")
    if validate:
        validate_rollouts(rollouts_by_id, scenarios, num_rollouts=num_rollouts)
    else:
        missing = check_coverage(rollouts_by_id.keys(), [s.scenario_id for s in scenarios])
        missing = [p for p in missing if "without rollouts" in p]
        if missing:
            raise SubmissionError(None, missing)
    per: dict[str, dict[str, float]] = {}
    with torch_threads(threads):
        for chunk in _batches(scenarios, rollouts_by_id, max(1, batch_size)):
            per.update(score_scenarios(chunk, [rollouts_by_id[s.scenario_id] for s in chunk], cfg, device))
            if progress is not None:
                progress(len(per))
    return MetricsReport.build(per, cfg)
