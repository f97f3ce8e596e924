"""WOSAC 2025 sim-agents realism metrics in batched PyTorch, matching the official package.

Entry points (imported lazily): `evaluate_rollouts` (score a submission into a `MetricsReport`),
`metametric_reward` and `ScenarioContext` (fast repeated scoring for RL), `load_rollouts` /
`write_rollout_shards` / `package_submission` (official submission files), `validate_rollouts`
(official rules + finiteness).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "evaluate_rollouts": "smartr1.metrics.scoring",
    "MetricsReport": "smartr1.metrics.report",
    "score_scenarios": "smartr1.metrics.scoring",
    "ScenarioContext": "smartr1.metrics.scoring",
    "metametric_reward": "smartr1.metrics.reward",
    "load_rollouts": "smartr1.metrics.submission",
    "write_rollout_shards": "smartr1.metrics.submission",
    "package_submission": "smartr1.metrics.submission",
    "validate_rollouts": "smartr1.metrics.validate",
    "SubmissionError": "smartr1.metrics.validate",
    "load_config": "smartr1.metrics.config",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'smartr1.metrics' has no attribute {name!r}")
