"""The tensor path from rollouts into the metric equals the official-format (NumPy) path exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.metrics.reward import metametric_reward
from smartr1.metrics.scoring import ScenarioContext
from smartr1.model.smart import SMART, model_config
from smartr1.rollout.engine import rollout_batch, to_rollouts
from smartr1.rollout.metric_order import metric_future
from smartr1.testing.batches import arc_vocab_poses
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.batch import token_batch
from smartr1.tokens.vocabulary import MotionVocab


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=32, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    model = SMART(cfg, arc_vocab_poses(32)).eval()
    scs = [synthetic_scenario(seed=i, num_agents=6 + 3 * i, scenario_id=f"s{i}") for i in range(3)]
    scs[1].tracks.valid[4, :11] = False  # an agent that is not simulated (not valid now)
    # evaluated objects that are not the first tracks: the metric reorders them
    scs[1:] = [dataclasses.replace(sc, tracks_to_predict=np.array([5, 3], np.int64)) for sc in scs[1:]]
    vocab = MotionVocab.from_poses(model.vocab_poses)
    batch = token_batch(scs, vocab)
    out = rollout_batch(model, batch, num_rollouts=8, seed=1)
    return scs, batch, out


def test_tensor_path_equals_numpy_path(setup):
    scs, batch, out = setup
    ctx = ScenarioContext.build(scs)
    # the metric reorders objects (evaluated ones first): the map must undo track order
    assert ctx.batch.track_index[2, :4].tolist() == [0, 3, 5, 1]
    via_numpy = ctx.align([to_rollouts(sc, batch, b, out) for b, sc in enumerate(scs)])
    via_tensor = metric_future(out, batch, ctx.batch)
    assert via_tensor.dtype == torch.float32 and torch.equal(via_tensor, via_numpy)
    r_np = metametric_reward(ctx, via_numpy)
    r_t = metametric_reward(ctx, via_tensor)
    assert r_t.shape == (3,) and torch.equal(r_t, r_np) and torch.isfinite(r_t).all()


def test_a_mismatched_metric_batch_is_refused(setup):
    scs, batch, out = setup
    with pytest.raises(ValueError, match="different scenarios"):
        metric_future(out, batch, ScenarioContext.build(scs[::-1]).batch)
    other = ScenarioContext.build(scs).batch
    other.object_id = other.object_id.clone()
    other.object_id[0, 0] = 999
    with pytest.raises(DataError, match="metric object 999"):
        metric_future(out, batch, other)


def test_track_index_names_the_metric_objects(setup):
    scs = setup[0]
    ctx = ScenarioContext.build(scs)
    for s, sc in enumerate(scs):
        n = int(ctx.batch.agent_mask[s].sum())
        idx = ctx.batch.track_index[s, :n].numpy()
        np.testing.assert_array_equal(sc.tracks.id[idx], ctx.batch.object_id[s, :n].numpy())
        assert (ctx.batch.track_index[s, n:] == -1).all()
