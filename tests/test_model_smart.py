"""SMART model: shapes, masks, strict causality, parameter counts, large scenes, bad values."""

from __future__ import annotations

import pytest
import torch

from smartr1.model.attention import neighbours_within
from smartr1.model.smart import SMART, model_config
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch

V = 32


def small_model(seed: int = 0, **kw) -> SMART:
    torch.manual_seed(seed)
    cfg = model_config(
        "nano", vocab_size=V, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1, **kw
    )
    return SMART(cfg, arc_vocab_poses(V)).eval()


def test_forward_shapes_and_masks():
    m = small_model()
    b = random_scene_batch(2, 6, 20, m.vocab_poses, extent=30, seed=1)
    b.agents.mask[1, 4:] = False  # padding agents
    logits, valid = m(b)
    assert logits.shape == (2, 6, 18, V)
    assert valid.shape == (2, 6, 18)
    assert not valid[1, 4:].any()
    assert torch.isfinite(logits).all()
    # scenes in a batch do not see each other: moving scene 1 changes its logits, not scene 0's
    b.agents.pose[1, :, :, :2] += 7.0
    b.map.points[1] += 7.0
    b.map.pose[1, :, :2] += 7.0
    b.agents.pose[1, :, :, 2] += 0.3  # and turned, so that the relative poses differ
    moved, _ = m(b)
    torch.testing.assert_close(moved[0], logits[0])
    assert (moved[1][valid[1]] - logits[1][valid[1]]).abs().max() > 1e-4


def test_padding_agents_do_not_change_real_logits():
    m = small_model()
    b = random_scene_batch(1, 5, 20, m.vocab_poses, extent=20, seed=2)
    moved = b.agents.pose.clone()
    moved[0, 4, :, :2] = b.agents.pose[0, 0, :, :2] + 2.0  # agent 4 right next to agent 0
    real = b.agents.mask.clone()
    padded = real.clone()
    padded[0, 4] = False

    def run(pose, mask):
        return m(b.with_agents(pose=pose, mask=mask))[0][0, :4]

    assert (run(b.agents.pose, real) - run(moved, real)).abs().max() > 1e-4  # a real agent's position matters
    torch.testing.assert_close(run(b.agents.pose, padded), run(moved, padded))  # a padded one's does not


def test_future_token_cannot_change_earlier_logits():
    m = small_model()
    b = random_scene_batch(2, 6, 30, m.vocab_poses, extent=25, seed=3)
    ref, _ = m(b)
    k = 9
    tok, pose = b.agents.token.clone(), b.agents.pose.clone()
    tok[..., k] = (tok[..., k] + 7) % V
    pose[:, :, k + 1 :, :2] += 3.0  # the changed token moves everything after it
    out, _ = m(b.with_agents(token=tok, pose=pose))
    torch.testing.assert_close(out[:, :, :k], ref[:, :, :k])
    assert (out[:, :, k:] - ref[:, :, k:]).abs().max() > 1e-4


@pytest.mark.parametrize("size,target", [("nano", 1.0e6), ("mini", 3.0e6), ("tiny", 7.0e6)])
def test_named_config_parameter_counts_near_targets(size, target):
    n = SMART(model_config(size, vocab_size=2048)).num_parameters()["total"]
    assert 0.75 * target <= n <= 1.25 * target, f"{size}: {n} parameters"


def test_neighbour_search_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    q = torch.rand(2, 50, 2, generator=g) * 40
    k = torch.rand(2, 70, 2, generator=g) * 40
    km = torch.rand(2, 70, generator=g) > 0.2
    idx, ok = neighbours_within(q, k, km, radius=8.0, k=5)
    d = torch.cdist(q, k)
    for bi in range(2):
        for qi in range(50):
            cand = torch.nonzero(km[bi] & (d[bi, qi] <= 8.0)).flatten()
            want = set(cand[torch.argsort(d[bi, qi, cand])][:5].tolist())
            assert set(idx[bi, qi][ok[bi, qi]].tolist()) == want


def test_large_scene_runs_with_bounded_chunks(monkeypatch):
    import smartr1.model.attention as att

    m = small_model()
    b = random_scene_batch(1, 260, 300, m.vocab_poses, extent=200, seed=4)
    with torch.no_grad():
        whole, _ = m(b)
        monkeypatch.setattr(att, "MAX_DISTANCE_ENTRIES", 4096)  # force many chunks
        logits, valid = m(b)
    assert logits.shape == (1, 260, 18, V) and torch.isfinite(logits[valid]).all()
    torch.testing.assert_close(logits[valid], whole[valid])  # chunking changes nothing


def test_nan_in_invalid_entries_stays_contained():
    m = small_model()
    b = random_scene_batch(1, 5, 20, m.vocab_poses, extent=20, seed=5)
    b.agents.token_valid[0, 2, :] = False
    b.agents.pose_valid[0, 2, :] = False
    b.agents.pose[0, 2] = float("nan")
    b.map.mask[0, 3] = False
    b.map.points[0, 3] = float("nan")
    b.map.pose[0, 3] = float("nan")
    logits, valid = m(b)
    assert not valid[0, 2].any()
    assert torch.isfinite(logits).all()
    # what the NaN stands in for does not matter: zeros there give the same logits everywhere
    b.agents.pose[0, 2] = 0.0
    b.map.points[0, 3] = 0.0
    b.map.pose[0, 3] = 0.0
    clean, _ = m(b)
    torch.testing.assert_close(logits, clean)


def test_single_agent_and_empty_map():
    m = small_model()
    b = random_scene_batch(1, 1, 1, m.vocab_poses, seed=6)
    b.map.mask[:] = False
    logits, valid = m(b)
    assert logits.shape == (1, 1, 18, V) and torch.isfinite(logits).all()
    b.map.points.add_(3.0)  # a masked map is no map: moving it changes nothing
    b.map.pose[..., :2] += 3.0
    torch.testing.assert_close(m(b)[0], logits)
