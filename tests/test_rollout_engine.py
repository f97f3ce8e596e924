"""Closed-loop rollouts: determinism, KV cache == full recompute, output layout, bad input, policies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.model.smart import SMART, model_config
from smartr1.rollout.engine import rollout_batch
from smartr1.rollout.policy import load_policy
from smartr1.rollout.sampling import sample_top_k
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch

V = 32


def small_model(seed: int = 0) -> SMART:
    torch.manual_seed(seed)
    cfg = model_config("nano", vocab_size=V, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    return SMART(cfg, arc_vocab_poses(V)).eval()


def test_rollout_shapes_and_determinism_under_seed():
    m = small_model()
    b = random_scene_batch(2, 7, 30, m.vocab_poses, extent=30, seed=1)
    b.sim_mask[1, 5:] = False
    a = rollout_batch(m, b, num_rollouts=4, seed=11)
    c = rollout_batch(m, b, num_rollouts=4, seed=11)
    d = rollout_batch(m, b, num_rollouts=4, seed=12)
    assert a.token.shape == (2, 4, 7, 16) and a.pose.shape == (2, 4, 7, 80, 3)
    assert torch.equal(a.token, c.token) and torch.equal(a.pose, c.pose)
    assert not torch.equal(a.token, d.token)
    assert (a.token[1, :, 5:] == -1).all() and (a.token[0] >= 0).all()
    assert not torch.equal(a.token[0, 0], a.token[0, 1])  # rollouts differ from each other


def test_rollout_of_a_scenario_does_not_depend_on_its_batch_mates():
    m = small_model()
    b = random_scene_batch(2, 6, 30, m.vocab_poses, extent=30, seed=2)
    both = rollout_batch(m, b, num_rollouts=3, seed=5)
    one = dataclasses.replace(b, **{f.name: getattr(b, f.name)[:1] for f in dataclasses.fields(b)})
    alone = rollout_batch(m, one, num_rollouts=3, seed=5)
    assert torch.equal(both.token[:1], alone.token)


def test_kv_cached_rollout_matches_full_recompute():
    m = small_model()
    b = random_scene_batch(2, 8, 40, m.vocab_poses, extent=30, seed=3)
    b.sim_mask[0, 2] = False  # a non-simulated agent is dropped from the rollout
    out = rollout_batch(m, b, num_rollouts=3, seed=1, return_logits=True)
    sim = b.sim_mask & b.agent_mask
    for r in range(3):
        tok, tv, pose, pv = b.token.clone(), b.token_valid.clone(), b.pose.clone(), b.pose_valid.clone()
        tok[..., 2:] = out.token[:, r]
        tv[..., 2:] = sim[..., None]
        pv[..., 3:] = sim[..., None]
        pose[:, :, 3:] = out.pose[:, r, :, 4::5]  # anchors = every 5th step
        full = dataclasses.replace(b, token=tok, token_valid=tv, pose=pose, pose_valid=pv, agent_mask=sim)
        with torch.no_grad():
            logits, _ = m(full)
        ref = logits[:, :, 1:17][sim]  # slot k predicts token k + 1
        torch.testing.assert_close(out.logits[:, r][sim], ref, atol=1e-4, rtol=1e-4)


def test_rollout_poses_follow_the_vocabulary():
    m = small_model()
    b = random_scene_batch(1, 3, 10, m.vocab_poses, seed=4)
    out = rollout_batch(m, b, num_rollouts=2, seed=0)
    start = b.pose[0, :, 2]
    first = out.pose[0, 0, :, 4]  # end of the first future token
    tok = out.token[0, 0, :, 0]
    local = m.vocab_poses[b.agent_class[0], tok, -1]
    c, s = start[:, 2].cos(), start[:, 2].sin()
    want_x = start[:, 0] + c * local[:, 0] - s * local[:, 1]
    torch.testing.assert_close(first[:, 0], want_x)


def test_non_finite_current_pose_is_a_data_error():
    m = small_model()
    b = random_scene_batch(1, 3, 10, m.vocab_poses, seed=5)
    b.pose[0, 1, 2, 0] = float("nan")
    with pytest.raises(DataError, match="non-finite pose"):
        rollout_batch(m, b, num_rollouts=2)


def test_batch_with_no_sim_agents_gives_empty_futures():
    m = small_model()
    b = random_scene_batch(1, 3, 10, m.vocab_poses, seed=6)
    b.sim_mask[:] = False
    out = rollout_batch(m, b, num_rollouts=2)
    assert (out.token == -1).all()


def test_top_k_sampling():
    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0]])
    assert sample_top_k(logits, torch.tensor([0.3]), top_k=1).item() == 1
    picks = {sample_top_k(logits, torch.tensor([u]), top_k=2).item() for u in np.linspace(0.01, 0.99, 50)}
    assert picks == {1, 3}


def test_model_policy_on_scenarios(tmp_path):
    from smartr1.rollout.policy import ModelPolicy
    from smartr1.testing.tracks import synthetic_scenario
    from smartr1.tokens.vocabulary import MotionVocab

    m = small_model()
    vocab = MotionVocab.from_poses(m.vocab_poses)
    pol = ModelPolicy(m, vocab)
    scs = [
        synthetic_scenario(seed=1, num_agents=5, late_fraction=0.5),
        synthetic_scenario(seed=2, num_agents=1),
    ]
    ros = pol.rollout(scs, num_rollouts=4, seed=0)
    for ro, sc in zip(ros, scs, strict=True):
        ids = sc.tracks.id[sc.sim_agent_index()]
        assert list(ro.object_id) == list(ids)
        assert ro.x.shape == (4, len(ids), 80) and np.isfinite(ro.x).all()
        np.testing.assert_allclose(
            ro.z[:, :, 0], np.broadcast_to(sc.tracks.z[sc.sim_agent_index(), 10], (4, len(ids)))
        )
        # the first future step is close to the logged current position (within one token step)
        d = np.hypot(
            ro.x[:, :, 0] - sc.tracks.x[sc.sim_agent_index(), 10],
            ro.y[:, :, 0] - sc.tracks.y[sc.sim_agent_index(), 10],
        )
        assert d.max() < 3.0
    again = pol.rollout(scs[:1], num_rollouts=4, seed=0)[0]
    assert np.array_equal(again.x, ros[0].x)


def test_reference_policy_by_name(real_scenarios):
    sc = next(iter(real_scenarios.values()))
    pol = load_policy("stationary")
    (ro,) = pol.rollout([sc], num_rollouts=2, seed=0)
    assert ro.x.shape == (2, len(sc.sim_agent_index()), 80)
