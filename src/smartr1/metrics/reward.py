"""WOSAC meta-metric as a reward for RL fine-tuning.

`metametric_reward` scores each scenario's rollouts (optionally split into groups of rollouts, each
scored as if it were a submission of that many rollouts). Nothing here needs gradients; everything
runs under `torch.no_grad` and detaches its inputs, so it is safe to call from a training step.
Reuse a `ScenarioContext` across calls on the same scenarios to skip the log features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.metrics import aggregate
from smartr1.metrics.config import MetricsConfig, load_config
from smartr1.metrics.features import Features
from smartr1.metrics.scoring import ScenarioContext


def _group_features(f: Features, groups: int) -> Features:
    """[S, R, ...] -> [S * groups, R / groups, ...] (scenario-major)."""

    def split(t: torch.Tensor) -> torch.Tensor:
        s, r = t.shape[:2]
        return t.reshape(s * groups, r // groups, *t.shape[2:])

    return Features(**{k: split(v) for k, v in f.__dict__.items()})


def _repeat_features(f: Features, times: int) -> Features:
    return Features(**{k: v.repeat_interleave(times, dim=0) for k, v in f.__dict__.items()})


def _leave_one_out_features(f: Features) -> Features:
    """[S, R, ...] -> [S * R, R - 1, ...]: row s * R + i holds scenario s's rollouts without rollout i.

    A rollout's features depend on that rollout only (each is one joint scene), so these are exactly
    the features a direct computation on the R - 1 rollouts would give.
    """
    r = next(iter(f.__dict__.values())).shape[1]
    keep = torch.tensor([[j for j in range(r) if j != i] for i in range(r)])  # [R, R - 1]

    def drop(t: torch.Tensor) -> torch.Tensor:
        out = t[:, keep.to(t.device)]  # [S, R, R - 1, ...]
        return out.reshape(t.shape[0] * r, r - 1, *t.shape[2:])

    return Features(**{k: drop(v) for k, v in f.__dict__.items()})


def leave_one_out_fields(
    context: ScenarioContext, future: torch.Tensor, config: MetricsConfig | str = "2025"
) -> dict[str, torch.Tensor]:
    """Every metric field of each scenario without each of its R rollouts: tensors [S, R].

    One feature pass serves all R leave-one-out metrics; the likelihood estimators then see R - 1
    samples per object (the official estimator requires 32, ours accepts any count).
    """
    cfg = load_config(config)
    with torch.no_grad():
        future = future.detach().to(device=context.batch.device, dtype=torch.float32)
        s, r = future.shape[:2]
        if r < 2:
            raise ValueError(f"leave-one-out needs at least 2 rollouts, got {r}")
        sim = _leave_one_out_features(context.features(future))
        out = aggregate.scenario_metrics(context.masks.repeat(r), _repeat_features(context.log, r), sim, cfg)
        return {k: v.reshape(s, r) for k, v in out.items()}


def metric_fields(
    context: ScenarioContext,
    future: torch.Tensor,
    config: MetricsConfig | str = "2025",
    group_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Every metric field for aligned futures [S, R, N, 80, 4]: tensors [S] or [S, R / group_size]."""
    cfg = load_config(config)
    with torch.no_grad():
        future = future.detach().to(device=context.batch.device, dtype=torch.float32)
        s, r = future.shape[:2]
        sim = context.features(future)
        if group_size is None or group_size == r:
            return aggregate.scenario_metrics(context.masks, context.log, sim, cfg)
        if group_size <= 0 or r % group_size:
            raise ValueError(f"group_size {group_size} must divide the {r} rollouts")
        g = r // group_size
        out = aggregate.scenario_metrics(
            context.masks.repeat(g), _repeat_features(context.log, g), _group_features(sim, g), cfg
        )
        return {k: v.reshape(s, g) for k, v in out.items()}


def metametric_reward(
    scenarios: Sequence[Scenario] | ScenarioContext,
    rollouts: Sequence[Rollouts] | torch.Tensor,
    config: MetricsConfig | str = "2025",
    device: str | torch.device | None = None,
    group_size: int | None = None,
    field: str = "metametric",
    nonfinite_value: float = float("nan"),
) -> torch.Tensor:
    """Meta-metric per scenario, tensor [S] (or [S, R / group_size] with `group_size`).

    `scenarios` is a list of Scenario or a prebuilt `ScenarioContext` (faster when scenarios repeat);
    `rollouts` is one `Rollouts` per scenario (same order, any object order), or a float tensor
    [S, R, N, 80, 4] of (x, y, z, heading) already aligned to `context.object_ids(s)`.
    `field` picks any other metric field instead (e.g. "min_average_displacement_error").
    Rollout groups holding a NaN/inf coordinate get `nonfinite_value` (NaN by default) instead of the
    meaningless number the official code would produce for them.
    """
    if isinstance(scenarios, ScenarioContext):
        ctx = scenarios
    else:
        ctx = ScenarioContext.build(list(scenarios), device or "cpu")
    future = rollouts if isinstance(rollouts, torch.Tensor) else ctx.align(list(rollouts))
    out = metric_fields(ctx, future, config, group_size)[field]
    with torch.no_grad():
        s, r = future.shape[:2]
        bad = ~torch.isfinite(future.detach()).reshape(s, r, -1).all(-1)  # [S, R]
        bad = bad.any(-1) if out.ndim == 1 else bad.reshape(s, out.shape[1], -1).any(-1)
        return torch.where(bad.to(out.device), torch.full_like(out, nonfinite_value), out)
