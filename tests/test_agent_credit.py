"""Per-agent leave-one-out credit (`metrics.agent_credit`) against a direct computation: each agent's
meta score without rollout i from the per-agent diagnostics of the 31 remaining rollouts, on the two
real scenes and the golden logged-noisy submission (32 rollouts)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from smartr1.data.rollouts import Rollouts
from smartr1.metrics.agent_credit import (
    AgentCredit,
    advantage,
    agent_credit,
    credit_context,
    evaluate_all_agents,
    speed_shortfall,
)
from smartr1.metrics.config import FEATURES, load_config
from smartr1.metrics.per_agent import scenario_diagnostics
from tests.conftest import SCENARIO_IDS, WOSAC, golden_rollouts

SCORE_TOL = 1e-12  # m_j(-i): f64 from the same f32 per-step log-likelihoods (measured: bit-identical)
LOO_TOL = 1e-8  # r_ij ~ 1e-2, returned as f32 (measured: 4e-10)
ADE_TOL = 1e-5  # metres, against the official package's ADE fields (f32 features, as the golden tests)


def _drop(ro: Rollouts, i: int) -> Rollouts:
    keep = [k for k in range(ro.num_rollouts) if k != i]
    return Rollouts(ro.scenario_id, ro.object_id, ro.x[keep], ro.y[keep], ro.z[keep], ro.heading[keep])


def _direct_scores(diag) -> np.ndarray:
    """[E] m_j from per-agent diagnostics: weights of the scored components, renormalised."""
    cfg = load_config("2025")
    total = np.zeros(len(diag.object_id))
    weight = np.zeros(len(diag.object_id))
    for f in FEATURES:
        scored = diag.weight[f] > 0
        w = np.where(scored, cfg.weight(f), 0.0)
        total += w * np.where(scored, np.exp(np.nan_to_num(diag.log_likelihood[f])), 0.0)
        weight += w
    return total / weight


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_credit_matches_a_direct_leave_one_out(real_scenarios, sid):
    scene, ro = real_scenarios[sid], golden_rollouts(sid, "logged_noisy")
    ctx = credit_context([scene])
    credit = agent_credit(ctx, ctx.align([ro]))
    e, r = ctx.batch.num_eval, ro.num_rollouts
    direct = np.zeros((r, e))
    for i in range(r):  # the plain loop: score the 31 remaining rollouts
        diag = scenario_diagnostics(scene, _drop(ro, i))
        assert (diag.object_id == ctx.batch.object_id[0, :e].numpy()).all()
        direct[i] = _direct_scores(diag)
    score = credit.score[0, :, :e].numpy()
    np.testing.assert_allclose(score, direct, rtol=0, atol=SCORE_TOL)
    np.testing.assert_allclose(credit.loo[0, :, :e].numpy(), direct.mean(0) - direct, rtol=0, atol=LOO_TOL)
    assert (credit.loo[0, :, e:] == 0).all() and (credit.score[0, :, e:] == 0).all()
    assert credit.evaluated[0].tolist() == [True] * e + [False] * (credit.loo.shape[2] - e)
    # per-agent ADE: its means are the official ADE and minADE of this submission
    gold = json.loads((WOSAC / sid / "metrics_logged_noisy.json").read_text())["metrics"]
    per_rollout = credit.ade[0, :, :e].double().mean(-1)
    assert abs(per_rollout.mean().item() - gold["average_displacement_error"]) <= ADE_TOL
    assert abs(per_rollout.min().item() - gold["min_average_displacement_error"]) <= ADE_TOL
    assert (credit.ade[0, :, e:] == 0).all()


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_events_are_the_per_agent_first_steps(real_scenarios, sid):
    scene = real_scenarios[sid]
    for kind in ("logged_noisy", "constant_velocity"):
        ro = golden_rollouts(sid, kind)
        ctx = credit_context([scene])
        credit = agent_credit(ctx, ctx.align([ro]))
        diag = scenario_diagnostics(scene, ro)
        e = ctx.batch.num_eval
        for name, first in diag.first_step.items():
            assert np.array_equal(credit.events[name][0, :, :e].numpy(), first >= 0), (kind, name)
            assert not credit.events[name][0, :, e:].any()


def test_a_batch_of_scenes_gives_each_scene_its_own_credit(real_scenarios):
    scenes = [real_scenarios[s] for s in SCENARIO_IDS]
    ros = [golden_rollouts(s, "logged_noisy") for s in SCENARIO_IDS]
    ctx = credit_context(scenes)
    both = agent_credit(ctx, ctx.align(ros))
    for k, (scene, ro) in enumerate(zip(scenes, ros, strict=True)):
        one_ctx = credit_context([scene])
        one = agent_credit(one_ctx, one_ctx.align([ro]))
        n = one.loo.shape[2]
        torch.testing.assert_close(both.score[k, :, :n], one.score[0], rtol=0, atol=SCORE_TOL)
        assert (both.score[k, :, n:] == 0).all() and not both.evaluated[k, n:].any()


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_all_agents_evaluated_is_the_sim_agents(real_scenarios, sid):
    scene = real_scenarios[sid]
    sim_ids = set(scene.tracks.id[scene.sim_agent_index()].tolist())
    official = credit_context([scene])
    assert official.batch.num_eval == len(scene.eval_agent_ids())
    ctx = credit_context([scene], evaluate="all")
    assert set(ctx.batch.object_id[0].tolist()) == sim_ids
    assert ctx.batch.num_eval == len(sim_ids) and ctx.batch.eval_mask.all()
    assert set(evaluate_all_agents(scene).eval_agent_ids().tolist()) == sim_ids
    assert scene.validate() is scene and evaluate_all_agents(scene).validate() is not None
    credit = agent_credit(ctx, ctx.align([golden_rollouts(sid, "logged_noisy")]))
    assert credit.evaluated.all()
    assert torch.isfinite(credit.loo).all()
    torch.testing.assert_close(
        credit.loo.double().mean(1), torch.zeros_like(credit.loo[:, 0]).double(), atol=1e-7, rtol=0
    )


def test_a_worse_rollout_gets_less_credit(real_scenarios):
    """Each evaluated agent shifted 5 m sideways in rollout 0: that rollout's credit for that agent falls
    below its unshifted credit and below the median of the other rollouts. (Not always below their
    minimum: in the noisy log some rollouts already leave the road for that agent, and a shifted rollout
    that leaves the road too ties with them to 2e-5.)"""
    for sid in SCENARIO_IDS:
        ro = golden_rollouts(sid, "logged_noisy")
        ctx = credit_context([real_scenarios[sid]])
        base = agent_credit(ctx, ctx.align([ro])).loo[0]
        for j in range(ctx.batch.num_eval):
            a = int(np.flatnonzero(ro.object_id == int(ctx.batch.object_id[0, j]))[0])
            x, y, h = ro.x.copy(), ro.y.copy(), ro.heading[0, a]
            x[0, a] -= 5.0 * np.sin(h)
            y[0, a] += 5.0 * np.cos(h)
            worse = Rollouts(sid, ro.object_id, x, y, ro.z, ro.heading)
            loo = agent_credit(ctx, ctx.align([worse])).loo[0, :, j]
            assert loo[0] < base[0, j] and loo[0] < loo[1:].median(), (sid, j, loo[0].item())
            assert loo[0] < 0


def test_advantage_adds_events_against_their_rollout_mean():
    loo = torch.tensor([[[0.01, 0.0], [-0.01, 0.0], [0.0, 0.0], [0.0, 0.0]]])  # [S=1, R=4, N=2]
    collided = torch.tensor([[[True, False], [False, False], [False, False], [False, False]]])
    none = torch.zeros_like(collided)
    credit = AgentCredit(
        score=torch.zeros_like(loo, dtype=torch.float64),
        loo=loo,
        events={"collision": collided, "offroad": none, "red_light": none},
        ade=torch.zeros_like(loo),
        slowdown=torch.zeros_like(loo),
        evaluated=torch.tensor([[True, False]]),
    )
    torch.testing.assert_close(advantage(credit, 0.0), loo)
    adv = credit.advantage(0.2)
    want = loo[..., 0] + 0.2 * (0.25 - collided[..., 0].float())
    torch.testing.assert_close(adv[..., 0], want)
    assert adv[0, 0, 0] < 0 < adv[0, 1, 0]  # the rollout that collides, where it usually does not
    assert (adv[..., 1] == 0).all()  # not evaluated


def test_advantage_adds_displacement_against_its_rollout_mean():
    loo = torch.zeros(1, 4, 2)
    ade = torch.tensor([[[1.0, 9.0], [3.0, 9.0], [2.0, 9.0], [6.0, 9.0]]])  # agent 0's mean is 3 m
    none = torch.zeros(1, 4, 2, dtype=torch.bool)
    credit = AgentCredit(
        score=torch.zeros_like(loo, dtype=torch.float64),
        loo=loo,
        events={"collision": none, "offroad": none, "red_light": none},
        ade=ade,
        slowdown=torch.zeros_like(loo),
        evaluated=torch.tensor([[True, False]]),
    )
    torch.testing.assert_close(credit.advantage(0.5, 0.0), loo)  # no events, no ADE weight: nothing
    adv = credit.advantage(0.0, 0.01)
    torch.testing.assert_close(adv[0, :, 0], torch.tensor([0.02, 0.0, 0.01, -0.03]))
    assert (adv[..., 1] == 0).all()  # not evaluated


def test_speed_shortfall_counts_only_slower_masked_steps():
    log = torch.tensor([[[10.0, 10.0, 10.0, float("nan")], [5.0, 5.0, 5.0, 5.0]]])  # [S=1, E=2, T=4]
    sim = torch.tensor([[[[4.0, 12.0, 7.0, 0.0], [5.0, 5.0, 5.0, 5.0]]]])  # [S=1, R=1, E=2, T=4]
    mask = torch.tensor([[[True, True, False, True], [False, False, False, False]]])
    # agent 0: steps 0 and 1 count (step 2 unmasked, step 3 no logged speed): (6 + 0) / 2; agent 1: none
    torch.testing.assert_close(speed_shortfall(log, sim, mask), torch.tensor([[[3.0, 0.0]]]))


def test_a_frozen_rollout_gets_the_largest_slowdown_and_less_credit_with_slow_weight(real_scenarios):
    """Rollout 0 of the noisy log with every agent held where it stands: it falls short of the logged
    speed by about the logged mean speed of each moving agent, more than any other rollout, and the
    slow_weight term lowers its advantage by slow_weight x (its slowdown - the rollout mean)."""
    sid = SCENARIO_IDS[0]
    ro = golden_rollouts(sid, "logged_noisy")
    x, y = ro.x.copy(), ro.y.copy()
    x[0] = x[0, :, :1]
    y[0] = y[0, :, :1]
    ctx = credit_context([real_scenarios[sid]])
    credit = agent_credit(ctx, ctx.align([Rollouts(sid, ro.object_id, x, y, ro.z, ro.heading)]))
    e = ctx.batch.num_eval
    slow = credit.slowdown[0, :, :e]
    log_speed = ctx.log.linear_speed[0, 0, :e]
    mask = ctx.masks.speed[0, :e] & log_speed.isfinite()
    mean_speed = torch.where(mask, log_speed, torch.zeros_like(log_speed)).sum(-1) / mask.sum(-1)
    moving = mean_speed > 2.0
    assert moving.any()
    assert (slow[0, moving] > slow[1:, moving].max(0).values).all()
    assert (slow[0, moving] > 0.8 * mean_speed[moving]).all() and (slow[0] <= mean_speed + 1e-4).all()
    gap = credit.advantage(0.0, 0.0, 0.01) - credit.advantage()
    want = 0.01 * (credit.slowdown.mean(1, keepdim=True) - credit.slowdown)
    torch.testing.assert_close(gap, want)


def test_bad_arguments_are_refused(real_scenarios):
    scene = real_scenarios[SCENARIO_IDS[0]]
    with pytest.raises(ValueError, match="evaluate"):
        credit_context([scene], evaluate="everyone")
    ctx = credit_context([scene])
    with pytest.raises(ValueError, match="at least 2 rollouts"):
        agent_credit(ctx, ctx.align([golden_rollouts(scene.scenario_id, "logged_noisy")])[:, :1])
