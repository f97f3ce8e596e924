"""Held-out evaluation of a policy: simulate 32 rollouts per scenario and score them with WOSAC."""

from __future__ import annotations

import time
from collections.abc import Sequence

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.metrics.report import MetricsReport
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.rollout.policy import Policy, load_policy


def evaluate_policy(
    policy: Policy | str,
    scenarios: Sequence[Scenario],
    num_rollouts: int = 32,
    seed: int = 0,
    device: str = "cpu",
    **policy_options,
) -> tuple[MetricsReport, dict[str, Rollouts], dict[str, float]]:
    """(WOSAC report as `evaluate_rollouts` returns it, the rollouts by scenario id, seconds spent
    simulating and scoring). `policy` is a Policy, a checkpoint path or a reference policy name."""
    if not isinstance(policy, Policy):
        policy = load_policy(policy, device=device, **policy_options)
    t0 = time.perf_counter()
    ros = {r.scenario_id: r for r in policy.rollout(list(scenarios), num_rollouts=num_rollouts, seed=seed)}
    t1 = time.perf_counter()
    result = evaluate_rollouts(scenarios, ros, device=device, num_rollouts=num_rollouts, threads=1)
    return result, ros, {"simulate": t1 - t0, "evaluate": time.perf_counter() - t1}
