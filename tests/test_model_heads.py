"""The output side of SMART: the geometric head and the continuation prior."""

from __future__ import annotations

import math

import pytest
import torch

from smartr1.model.smart import SMART, model_config
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch

V = 32


def model(**kw) -> SMART:
    torch.manual_seed(0)
    cfg = model_config(
        "nano", vocab_size=V, hidden=32, heads=2, head_dim=8, agent_layers=1, map_layers=1, **kw
    )
    return SMART(cfg, arc_vocab_poses(V)).eval()


def _silence_id_layer(m: SMART) -> None:
    """Zero the per-id output layer: what is left of the logits comes from token geometry."""
    with torch.no_grad():
        m.head[-1].weight.zero_()
        m.head[-1].bias.zero_()


def test_geometric_head_scores_tokens_by_their_geometry():
    # tokens 5 and 9 of the vehicle class get the same motion: with the per-id layer silenced their
    # logits agree for every vehicle node, while tokens of different motions differ
    m = model(geometric_head=True, motion_prior=False)
    _silence_id_layer(m)
    with torch.no_grad():
        m.vocab_poses[0, 9] = m.vocab_poses[0, 5]
    b = random_scene_batch(2, 5, 20, m.vocab_poses, extent=25, seed=4)
    b.agents.cls.zero_()
    logits, valid = m(b)
    sel = logits[valid]
    torch.testing.assert_close(sel[:, 5], sel[:, 9])
    assert (sel[:, 5] - sel[:, 6]).abs().max() > 1e-4


def test_without_the_geometric_head_ids_are_learned_one_by_one():
    m = model(geometric_head=False, motion_prior=False)
    with torch.no_grad():
        m.vocab_poses[0, 9] = m.vocab_poses[0, 5]
    b = random_scene_batch(1, 4, 20, m.vocab_poses, extent=25, seed=4)
    logits, valid = m(b)
    assert (logits[valid][:, 5] - logits[valid][:, 9]).abs().max() > 1e-4


def test_continuation_distance_is_the_end_box_corner_distance():
    m = model(motion_prior=True)
    with torch.no_grad():
        m.vocab_poses.zero_()
        m.vocab_poses[0, 1, -1] = torch.tensor([5.0, 0.0, 0.0])  # 5 m straight ahead
        m.vocab_poses[0, 2, -1] = torch.tensor([4.0, 0.0, 0.0])  # 4 m straight ahead
        m.vocab_poses[0, 3, -1] = torch.tensor([0.0, 0.0, math.pi])  # turned around on the spot
    d = m.continuation_distance()
    assert d.shape == (3, V, V)
    torch.testing.assert_close(d, d.transpose(1, 2))
    assert d.diagonal(dim1=1, dim2=2).abs().max() == 0
    assert d[0, 1, 2].item() == pytest.approx(1.0, abs=1e-6)  # a shift moves every corner by 1 m
    # a half turn of the 4.8 x 2.0 vehicle box moves each corner to the opposite one
    assert d[0, 0, 3].item() == pytest.approx(math.hypot(4.8, 2.0), abs=1e-5)
    with torch.no_grad():  # the cache follows the vocabulary
        m.vocab_poses[0, 2, -1, 0] = 3.0
    assert m.continuation_distance()[0, 1, 2].item() == pytest.approx(2.0, abs=1e-6)


def test_prior_alone_continues_the_last_token():
    m = model(geometric_head=False, motion_prior=True)
    _silence_id_layer(m)
    b = random_scene_batch(2, 5, 20, m.vocab_poses, extent=25, seed=5)
    b.agents.token_valid[:, 0, 5] = False  # agent 0's token 5 is unknown: node 5 has a pose but no last token
    logits, valid = m(b)
    token_in = torch.where(b.agents.token_valid & valid, b.agents.token, torch.full_like(b.agents.token, -1))
    known = valid & (token_in >= 0)
    # every node with a known last token prefers repeating it, by one logit per metre off (initial scale)
    assert torch.equal(logits[known].argmax(-1), token_in[known])
    d = m.continuation_distance()[b.agents.cls[..., None].expand_as(token_in)[known], token_in[known]]
    assert torch.nn.functional.softplus(m.prior_scale).tolist() == pytest.approx([1.0] * 3, abs=1e-6)
    torch.testing.assert_close(logits[known], -d, atol=1e-5, rtol=0)
    unknown = valid & (token_in < 0)
    assert unknown.any() and logits[unknown].abs().max() == 0  # no last token, no prior


def test_named_sizes_use_both_and_old_checkpoints_load_without():
    for size in ("nano", "mini", "tiny"):
        cfg = model_config(size)
        assert cfg.geometric_head and cfg.motion_prior
    from smartr1.model.config import ModelConfig

    assert not ModelConfig.from_dict({}).geometric_head  # configs saved before the options existed
    assert not ModelConfig.from_dict({}).motion_prior
