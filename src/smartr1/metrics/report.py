"""The WOSAC report of a dataset: one type, built in one place, for the single-process path
(`scoring.evaluate_rollouts`) and the sharded one (`distributed.datasets.evaluate_dataset`), so both
give equal reports and write the same JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from smartr1.metrics import aggregate
from smartr1.metrics.config import MetricsConfig, load_config


@dataclass(frozen=True)
class MetricsReport:
    """Realism metrics of the scored scenarios of a dataset (official field names).

    config: the metric config's name ("2025" or "2024").
    scenarios: {scenario id: `METRIC_FIELDS` then `BUCKET_FIELDS` -> float}, in scoring order.
    dataset: `METRIC_FIELDS` -> unweighted f32 mean over `scenarios` (each scenario counts once).
    buckets: `BUCKET_FIELDS` -> the leaderboard buckets of `dataset`.
    unscorable: {scenario id: reason} of scenarios the metric cannot score, left out of the means
    (found by the sharded path; empty when the caller chose the scenarios).
    The mappings are plain dicts (they pickle and compare as such); treat them as read-only.
    """

    config: str
    scenarios: Mapping[str, Mapping[str, float]]
    dataset: Mapping[str, float]
    buckets: Mapping[str, float]
    unscorable: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        per_scenario: Mapping[str, Mapping[str, float]],
        config: MetricsConfig | str = "2025",
        unscorable: Mapping[str, str] | None = None,
    ) -> MetricsReport:
        """The report of per-scenario metrics ({id: at least `METRIC_FIELDS`}, e.g. `to_records`' or a
        shard's `scenarios`); each scenario's buckets are (re)computed from its own fields."""
        cfg = load_config(config)
        scenarios = {sid: {**vals, **aggregate.buckets(vals, cfg)} for sid, vals in per_scenario.items()}
        means = aggregate.dataset_mean(scenarios)
        return cls(cfg.name, scenarios, means, aggregate.buckets(means, cfg), dict(unscorable or {}))

    @property
    def num_scenarios(self) -> int:
        """Scenarios scored (and averaged); unscorable ones are not counted."""
        return len(self.scenarios)

    def to_dict(self) -> dict:
        """The JSON-ready form, in the key order `smartr1 evaluate` writes."""
        return {
            "config": self.config,
            "num_scenarios": self.num_scenarios,
            "scenarios": {sid: dict(vals) for sid, vals in self.scenarios.items()},
            "dataset": dict(self.dataset),
            "buckets": dict(self.buckets),
            "unscorable": dict(self.unscorable),
        }

    def to_json(self, **extra) -> str:
        """`to_dict()` followed by `extra` entries (e.g. the submission's name), indented by 1."""
        return json.dumps({**self.to_dict(), **extra}, indent=1)
