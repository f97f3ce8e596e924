"""Closed-loop rollouts, checked against independent computations: the sampled tokens against a
re-implementation of seeded top-k sampling from the returned logits, the poses against chaining the
vocabulary in float64 NumPy, the logits against a full (uncached) forward pass, the stepped session
against a plain reference loop; plus layout, batching independence, bad input and policies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.model.smart import SMART, batch_nodes, model_config
from smartr1.rollout.engine import rollout_batch
from smartr1.rollout.policy import ModelPolicy, load_policy
from smartr1.rollout.sampling import sample_top_k, scenario_seed
from smartr1.testing.batches import arc_vocab_poses, pad_agents, random_scene_batch
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.vocabulary import MotionVocab

V = 32


def small_model(seed: int = 0) -> SMART:
    torch.manual_seed(seed)
    cfg = model_config("nano", vocab_size=V, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    return SMART(cfg, arc_vocab_poses(V)).eval()


def _np_top_k(logits: np.ndarray, u: float, k: int) -> int:
    """Inverse-CDF sampling among the k largest logits (float32 softmax), written from scratch."""
    order = np.argsort(-logits, kind="stable")[:k]
    v = logits[order].astype(np.float32)
    p = np.exp(v - v.max()).astype(np.float32)
    cdf = np.cumsum(p / p.sum(dtype=np.float32), dtype=np.float32)
    return int(order[min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), k - 1)])


def test_tokens_are_seeded_top_k_samples_of_the_returned_logits():
    m = small_model()
    b = random_scene_batch(2, 7, 30, m.vocab_poses, extent=30, seed=1)
    b.agents.sim_mask[1, 5:] = False
    r, k, seed = 4, 5, 11
    out = rollout_batch(m, b, num_rollouts=r, seed=seed, top_k=k, return_logits=True)
    assert out.token.shape == (2, r, 7, 16) and out.pose.shape == (2, r, 7, 80, 3)
    assert (out.token[1, :, 5:] == -1).all() and (out.pose[1, :, 5:] == 0).all()
    for s in range(2):
        cols = torch.nonzero(b.agents.sim_mask[s]).flatten().tolist()
        g = torch.Generator().manual_seed(scenario_seed(seed, b.scenario_id[s]))
        for slot in range(16):
            u = torch.rand(r, len(cols), generator=g).numpy()
            for ri in range(r):
                for j, a in enumerate(cols):
                    lg = out.logits[s, ri, a, slot].numpy()
                    assert int(out.token[s, ri, a, slot]) == _np_top_k(lg, float(u[ri, j]), k), (
                        s,
                        ri,
                        a,
                        slot,
                    )
    assert not torch.equal(out.token[0, 0], out.token[0, 1])  # rollouts differ from each other
    again = rollout_batch(m, b, num_rollouts=r, seed=seed, top_k=k)
    assert torch.equal(again.token, out.token) and torch.equal(again.pose, out.pose)


@pytest.mark.parametrize("start", ["logged", "tokenized"])
def test_poses_chain_the_vocabulary_from_the_start_pose(start):
    """The future starts at the logged step-10 pose (or, optionally, the tokenized one)."""
    m = small_model()
    b = random_scene_batch(2, 5, 20, m.vocab_poses, extent=40, seed=4)
    assert (b.agents.logged[:, :, 2] - b.agents.pose[:, :, 2]).abs().max() > 0.01  # the two starts differ
    out = rollout_batch(m, b, num_rollouts=3, seed=2, start=start)
    vocab = m.vocab_poses.double().numpy()
    for s in range(2):
        for a in range(5):
            cls = int(b.agents.cls[s, a])
            for ri in range(3):
                now = (
                    b.agents.logged[:, :, 2] if start == "logged" else b.agents.pose[:, :, 2]
                )  # anchor 2 = step 10
                x, y, h = now[s, a].double().tolist()
                want = []
                for slot in range(16):
                    for lx, ly, lh in vocab[cls, int(out.token[s, ri, a, slot])]:
                        want.append(
                            (x + np.cos(h) * lx - np.sin(h) * ly, y + np.sin(h) * lx + np.cos(h) * ly, h + lh)
                        )
                    x, y, h = want[-1]
                want = np.array(want)
                got = out.pose[s, ri, a].double().numpy()
                np.testing.assert_allclose(got[:, :2], want[:, :2], atol=2e-3)
                dh = (got[:, 2] - want[:, 2] + np.pi) % (2 * np.pi) - np.pi
                np.testing.assert_allclose(dh, 0.0, atol=1e-4)
    if start == "logged":  # the default (measured better: benchmarks/results/rollout_start.md)
        assert torch.equal(rollout_batch(m, b, num_rollouts=3, seed=2).pose, out.pose)


def test_kv_cached_rollout_matches_full_recompute():
    m = small_model()
    b = random_scene_batch(2, 8, 40, m.vocab_poses, extent=30, seed=3)
    b.agents.sim_mask[0, 2] = False  # a non-simulated agent is dropped from the rollout
    out = rollout_batch(m, b, num_rollouts=3, seed=1, return_logits=True, start="tokenized")
    sim = b.agents.sim_mask & b.agents.mask
    for r in range(3):
        tok, tv, pose, pv = (
            b.agents.token.clone(),
            b.agents.token_valid.clone(),
            b.agents.pose.clone(),
            b.agents.pose_valid.clone(),
        )
        tok[..., 2:] = out.token[:, r]
        tv[..., 2:] = sim[..., None]
        pv[..., 3:] = sim[..., None]
        pose[:, :, 3:] = out.pose[:, r, :, 4::5]  # anchors = every 5th step
        full = b.with_agents(token=tok, token_valid=tv, pose=pose, pose_valid=pv, mask=sim)
        with torch.no_grad():
            logits, _ = m(full)
        ref = logits[:, :, 1:17][sim]  # slot k predicts token k + 1
        torch.testing.assert_close(out.logits[:, r][sim], ref, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def _reference_rollout(model, batch, r, seed, top_k, start):
    """The closed loop written out plainly (no session, no compaction): the stepped session must give
    exactly this, bit for bit."""
    from smartr1.rollout.sampling import draw_uniforms, scenario_generators

    b, a = batch.agents.mask.shape
    sim = batch.agents.mask & batch.agents.sim_mask
    token_in, node_pose, node_valid = batch_nodes(batch, sim)
    node_valid[..., 1] = sim
    ctx, table = model.encode_map(batch), model.token_table()
    cache = model.empty_cache(b, a, sim.device)
    cls, size = batch.agents.cls, batch.agents.size
    for k in range(2):
        logits, cache = model.step(
            ctx, cache, table, token_in[..., k], node_pose[..., k, :], node_valid[..., k], cls, size
        )
    row = torch.arange(b).repeat_interleave(r)
    cache, logits = cache.repeat_interleave(r), logits.repeat_interleave(r, 0)
    pose = (batch.agents.logged[:, :, 2] if start == "logged" else node_pose[:, :, 1])[row]
    sim_r = sim[row]
    gens = scenario_generators(seed, list(batch.scenario_id))
    toks = []
    for k in range(16):
        tok = sample_top_k(logits, draw_uniforms(gens, sim, r).reshape(b * r, a), top_k)
        tok = torch.where(sim_r, tok, torch.full_like(tok, -1))
        pose = model.token_poses(pose, tok, cls[row])[:, :, -1]
        toks.append(tok)
        if k < 15:
            logits, cache = model.step(ctx, cache, table, tok, pose, sim_r, cls[row], size[row], row)
    return torch.stack(toks, -1).view(b, r, a, 16)


@pytest.mark.parametrize("start", ["logged", "tokenized"])
def test_stepped_session_equals_the_plain_loop(start):
    m = small_model()
    b = random_scene_batch(2, 9, 30, m.vocab_poses, extent=30, seed=7)
    b.agents.sim_mask[0, :3] = False  # compaction moves the sim agents; results must not notice
    got = rollout_batch(m, b, 4, seed=3, top_k=5, start=start).token
    assert torch.equal(got, _reference_rollout(m, b, 4, 3, 5, start))


def test_rollout_of_a_scenario_does_not_depend_on_its_batch_mates():
    m = small_model()
    b = random_scene_batch(3, 6, 30, m.vocab_poses, extent=30, seed=2)
    pad_agents(b, 2, 4)  # padding in one scene
    both = rollout_batch(m, b, num_rollouts=3, seed=5)
    for s in range(3):
        one = b.select(slice(s, s + 1))
        alone = rollout_batch(m, one, num_rollouts=3, seed=5)
        assert torch.equal(both.token[s : s + 1], alone.token)
        torch.testing.assert_close(both.pose[s : s + 1], alone.pose, atol=1e-5, rtol=0)


def test_non_finite_current_pose_is_a_data_error():
    m = small_model()
    b = random_scene_batch(1, 3, 10, m.vocab_poses, seed=5)
    b.agents.pose[0, 1, 2, 0] = float("nan")
    with pytest.raises(DataError, match="agent 1 has a non-finite pose"):
        rollout_batch(m, b, num_rollouts=2)


def test_batch_with_no_sim_agents_gives_empty_futures():
    m = small_model()
    b = random_scene_batch(1, 3, 10, m.vocab_poses, seed=6)
    b.agents.sim_mask[:] = False
    out = rollout_batch(m, b, num_rollouts=2)
    assert (out.token == -1).all() and (out.pose == 0).all()


def test_top_k_sampling():
    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0]])
    assert sample_top_k(logits, torch.tensor([0.3]), top_k=1).item() == 1
    picks = {sample_top_k(logits, torch.tensor([u]), top_k=2).item() for u in np.linspace(0.01, 0.99, 50)}
    assert picks == {1, 3}
    # P(token 1) = 1 / (1 + e^-1) among the top 2: the CDF boundary sits there
    p1 = 1 / (1 + np.exp(-1.0))
    assert sample_top_k(logits, torch.tensor([p1 - 1e-4]), top_k=2).item() == 1
    assert sample_top_k(logits, torch.tensor([p1 + 1e-4]), top_k=2).item() == 3


def test_model_policy_batches_scenarios_without_changing_them():
    m = small_model()
    vocab = MotionVocab.from_poses(m.vocab_poses)
    scs = [
        synthetic_scenario(seed=1, num_agents=5, late_fraction=0.5),
        synthetic_scenario(seed=2, num_agents=1),
        synthetic_scenario(seed=3, num_agents=8),
    ]
    batched = ModelPolicy(m, vocab, scenarios_per_batch=3).rollout(scs, num_rollouts=4, seed=0)
    single = ModelPolicy(m, vocab, scenarios_per_batch=1).rollout(scs, num_rollouts=4, seed=0)
    for ro, one, sc in zip(batched, single, scs, strict=True):
        idx = sc.sim_agent_index()
        assert list(ro.object_id) == list(sc.tracks.id[idx])
        np.testing.assert_array_equal(ro.x, one.x)
        np.testing.assert_array_equal(ro.heading, one.heading)
        np.testing.assert_array_equal(ro.z, np.broadcast_to(sc.tracks.z[idx, 10][None, :, None], ro.z.shape))


def test_reference_policy_by_name(real_scenarios):
    sc = next(iter(real_scenarios.values()))
    (ro,) = load_policy("Stationary").rollout([sc], num_rollouts=2, seed=0)
    now = sc.tracks.x[sc.sim_agent_index(), 10].astype(np.float32)
    np.testing.assert_array_equal(ro.x, np.broadcast_to(now[None, :, None], ro.x.shape))


def test_replayed_logits_equal_the_sampling_logits():
    from smartr1.rollout.session import RolloutSession, TopKSampler, replay_logits

    m = small_model()
    b = random_scene_batch(2, 6, 30, m.vocab_poses, extent=30, seed=8)
    b.agents.sim_mask[1, 4:] = False
    session = RolloutSession(m, num_rollouts=3)
    with torch.no_grad():
        state = session.reset(b)
        choose = TopKSampler(state.scene, seed=1)
        seen = []
        while not state.done:
            state, logits = session.step(state, choose)
            seen.append(logits)
    sim = state.scene.sim
    replay = replay_logits(m, state)  # with gradients: the RFT path
    assert replay.requires_grad
    sampled = torch.stack(seen, 2)
    torch.testing.assert_close(replay.detach()[sim], sampled[sim], atol=1e-4, rtol=1e-4)
    rows = torch.tensor([4, 1])
    sub = replay_logits(m, state, rows)
    torch.testing.assert_close(sub.detach(), replay.detach()[rows], atol=1e-5, rtol=1e-5)
