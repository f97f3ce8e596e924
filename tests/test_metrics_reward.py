"""The RL reward and the library entry points agree with the full evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smartr1.metrics.reward import metametric_reward, metric_fields
from smartr1.metrics.scoring import ScenarioContext, evaluate_rollouts
from smartr1.rollout.reference import constant_velocity, logged_oracle
from tests.conftest import SCENARIO_IDS


@pytest.fixture(scope="module")
def setup(real_scenarios):
    scens = [real_scenarios[s] for s in SCENARIO_IDS]
    return scens, [constant_velocity(s) for s in scens]


def test_reward_matches_evaluation_in_a_padded_batch(setup):
    scens, ros = setup
    reward = metametric_reward(scens, ros)  # both scenarios in one padded batch
    result = evaluate_rollouts(scens, {r.scenario_id: r for r in ros}, batch_size=1)
    want = [result.scenarios[s.scenario_id]["metametric"] for s in scens]
    assert reward.shape == (2,)
    np.testing.assert_allclose(reward.numpy(), want, atol=1e-6)


def test_reward_with_context_tensor_groups_and_no_grad(setup):
    scens, ros = setup
    ctx = ScenarioContext.build(scens)
    future = ctx.align(ros).requires_grad_(True)
    with torch.no_grad():
        full = metametric_reward(ctx, future)
    grouped = metametric_reward(ctx, future, group_size=16)
    assert grouped.shape == (2, 2) and not grouped.requires_grad
    # constant velocity: all rollouts identical, so every group of 16 scores like the full 32 up to the
    # pseudocount normalisation; ADE-like fields are exactly equal.
    ade = metric_fields(ctx, future, group_size=8)["average_displacement_error"]
    np.testing.assert_allclose(
        ade.numpy(),
        metric_fields(ctx, future)["average_displacement_error"][:, None].expand(-1, 4).numpy(),
        rtol=1e-6,
    )
    assert torch.all((grouped - full[:, None]).abs() < 0.05)
    with pytest.raises(ValueError, match="must divide"):
        metametric_reward(ctx, future, group_size=5)


def test_better_rollouts_get_higher_reward(setup):
    scens, _ = setup
    oracle = metametric_reward(scens, [logged_oracle(s) for s in scens])
    cv = metametric_reward(scens, [constant_velocity(s) for s in scens])
    assert torch.all(oracle > cv)


def test_missing_scenario_is_an_error(setup):
    from smartr1.metrics.validate import SubmissionError

    scens, ros = setup
    with pytest.raises(SubmissionError, match="without rollouts"):
        evaluate_rollouts(scens, {ros[0].scenario_id: ros[0]})


def test_rollout_count_rules(setup):
    from smartr1.metrics import SubmissionError
    from smartr1.metrics import evaluate_rollouts as lazy_evaluate
    from smartr1.rollout.reference import stationary

    scens, _ = setup
    few = {s.scenario_id: stationary(s, num_rollouts=4) for s in scens}
    with pytest.raises(SubmissionError, match="4 joint scenes, expected exactly 32"):
        lazy_evaluate(scens, few, num_rollouts=32)
    # Any count is accepted by default, and scenarios with different counts are batched apart.
    few[scens[1].scenario_id] = stationary(scens[1], num_rollouts=8)
    res = lazy_evaluate(scens, few, batch_size=4)
    full = evaluate_rollouts(scens, {s.scenario_id: stationary(s) for s in scens})
    for s in scens:  # identical rollouts: ADE does not depend on how many there are
        a = res.scenarios[s.scenario_id]["average_displacement_error"]
        assert a == pytest.approx(full.scenarios[s.scenario_id]["average_displacement_error"], abs=1e-6)


def test_nonfinite_rollouts_get_nan_reward(setup):
    scens, ros = setup
    ctx = ScenarioContext.build(scens)
    future = ctx.align(ros)
    future[1, 20, 3, 7, 0] = float("nan")  # one coordinate of scenario 1, rollout 20
    plain = metametric_reward(ctx, future)
    assert torch.isfinite(plain[0]) and torch.isnan(plain[1])
    grouped = metametric_reward(ctx, future, group_size=16, nonfinite_value=-1.0)
    assert grouped[1, 1] == -1.0 and grouped[1, 0] > 0 and torch.all(grouped[0] > 0)


def test_leave_one_out_equals_a_direct_computation_on_31_rollouts(setup):
    """M(-i) from one shared feature pass equals scoring the 31 other rollouts directly; the 32-rollout
    path is untouched (checked against the official goldens in test_metrics_golden)."""
    from smartr1.metrics.reward import leave_one_out_fields

    scens, _ = setup
    ctx = ScenarioContext.build(scens)
    rng = np.random.default_rng(0)
    base = ctx.align([logged_oracle(s) for s in scens])
    noise = torch.from_numpy(rng.normal(0, 1, base.shape).astype(np.float32)) * torch.tensor(
        [0.5, 0.5, 0, 0.05]
    )
    noise = noise * torch.linspace(0, 2, 32)[None, :, None, None, None]  # rollouts of varying quality
    future = base + noise
    loo = leave_one_out_fields(ctx, future)
    assert loo["metametric"].shape == (2, 32)
    for i in (0, 7, 31):
        rest = torch.cat([future[:, :i], future[:, i + 1 :]], 1)
        direct = metric_fields(ctx, rest)
        for k in ("metametric", "linear_speed_likelihood", "collision_indication_likelihood",
                  "min_average_displacement_error"):  # fmt: skip
            torch.testing.assert_close(loo[k][:, i], direct[k], rtol=0, atol=0, msg=f"{k}, rollout {i}")
    # removing a noisier rollout helps the rest: the leave-one-out reward ranks rollouts by quality
    from smartr1.training.advantages import leave_one_out

    r = leave_one_out(loo["metametric"])
    assert torch.allclose(r.sum(-1), torch.zeros(2), atol=1e-5)
    assert (r[:, :4].mean(-1) > r[:, -4:].mean(-1)).all()
