"""TokenBatch collation (padding fully masked), the token cache (hit / invalidation) and bad input."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import MapFeatures
from smartr1.data.womd import write_scenarios
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.batch import TokenBatch, collate, token_batch
from smartr1.tokens.scene import prepare_scene
from smartr1.tokens.vocab_build import build_vocab
from smartr1.training.cache import TokenizedDataset


@pytest.fixture(scope="module")
def vocab():
    return build_vocab([synthetic_scenario(i, 12) for i in range(4)], size=48)


def _tensors(batch: TokenBatch) -> dict[str, torch.Tensor]:
    return {f"{part}.{f.name}": getattr(getattr(batch, part), f.name)
            for part in ("agents", "map") for f in dataclasses.fields(getattr(batch, part))}  # fmt: skip


def test_padding_is_fully_masked(vocab):
    big = synthetic_scenario(2, 9)
    small = dataclasses.replace(synthetic_scenario(1, 3), map=MapFeatures.empty())  # no map at all
    b = token_batch([small, big], vocab)
    assert (
        b.agents.id.shape == (2, 9)
        and b.agents.token.shape == (2, 9, 18)
        and b.agents.pose.shape == (2, 9, 19, 3)
    )
    assert b.agents.mask.tolist() == [[True] * 3 + [False] * 6, [True] * 9]
    pad = ~b.agents.mask
    assert (b.agents.id[pad] == -1).all() and (b.agents.token[pad] == -1).all()
    for name in ("token_valid", "sim_mask", "train_mask", "pose_valid"):
        assert not getattr(b.agents, name)[pad].any(), name
    assert (b.agents.pose[pad] == 0).all() and (b.agents.size[pad] == 0).all()
    # the empty map still has one (masked) slot so attention never sees an empty key set
    assert b.map.points.shape[1] == b.map.mask[1].sum() and not b.map.mask[0].any()
    assert (b.map.feature_id[0] == -1).all()
    # real agents: ids in track order, tokens valid where the slot is
    assert b.agents.id[1].tolist() == big.tracks.id.tolist()
    assert ((b.agents.token >= 0) == b.agents.token_valid).all()
    assert (
        b.agents.sim_mask[1].all() and not b.agents.train_mask.any()
    )  # loss agents come from the training data path


def test_collate_matches_per_scene_tensors(vocab):
    scenes = [prepare_scene(synthetic_scenario(i, 4 + i), vocab) for i in range(3)]
    b = collate(scenes)
    for i, sc in enumerate(scenes):
        n, m = sc.agents.num_agents, sc.map.num_segments
        assert torch.equal(b.agents.token[i, :n], sc.agents.token)
        assert torch.equal(b.agents.pose[i, :n], sc.agents.pose)
        assert torch.equal(b.map.points[i, :m], sc.map.points)
        assert torch.equal(b.map.light[i, :m], sc.map.light)
    moved = b.to("meta")  # a device every machine has, unlike a GPU
    assert isinstance(moved, TokenBatch) and moved.scenario_id == b.scenario_id
    assert len(_tensors(moved)) == 19
    for name, t in _tensors(moved).items():
        assert t.device.type == "meta", name


def test_cache_hit_and_invalidation(tmp_path, vocab):
    shard = tmp_path / "a.tfrecord"
    write_scenarios(shard, [synthetic_scenario(i, 5) for i in range(3)])
    cache = tmp_path / "cache"
    ds = TokenizedDataset([shard], vocab, cache_dir=cache)
    assert len(ds) == 3 and ds.stats["misses"] == 1 and ds.stats["hits"] == 0
    first = collate([ds[i] for i in range(3)])
    ds2 = TokenizedDataset([str(shard)], vocab, cache_dir=cache)
    assert ds2.stats == {**ds2.stats, "hits": 1, "misses": 0}
    again = collate([ds2[i] for i in range(3)])
    assert first.scenario_id == again.scenario_id
    for name, x in _tensors(first).items():
        assert torch.equal(x, _tensors(again)[name]), name
    # the cache carries the loss agents: the role agents (SDC 0, tracks_to_predict 1, 2) among them
    assert first.agents.train_mask[:, :3].all()
    # cached tokens equal fresh tokenization
    fresh = token_batch([synthetic_scenario(i, 5) for i in range(3)], vocab)
    assert torch.equal(fresh.agents.token, first.agents.token) and torch.equal(
        fresh.map.points, first.map.points
    )
    # a different vocabulary or preprocessing config misses
    other = build_vocab([synthetic_scenario(9, 12)], size=48)
    assert TokenizedDataset([shard], other, cache_dir=cache).stats["misses"] == 1
    assert TokenizedDataset([shard], vocab, cache_dir=cache, map_step=11).stats["misses"] == 1
    # a rewritten shard misses too
    write_scenarios(shard, [synthetic_scenario(7, 5)])
    os.utime(shard, ns=(0, 10**18))
    ds3 = TokenizedDataset([shard], vocab, cache_dir=cache)
    assert ds3.stats["misses"] == 1 and len(ds3) == 1 and ds3[0].scenario_id == "synthetic-7"
    # no temporary files left behind by the atomic writes
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_damaged_cache_is_rebuilt(tmp_path, vocab):
    shard = tmp_path / "a.tfrecord"
    write_scenarios(shard, [synthetic_scenario(1, 4)])
    ds = TokenizedDataset([shard], vocab, cache_dir=tmp_path / "c")
    pt = next((tmp_path / "c").glob("*.pt"))
    pt.write_bytes(b"garbage")
    ds = TokenizedDataset([shard], vocab, cache_dir=tmp_path / "c")
    assert ds[0].scenario_id == "synthetic-1"


def test_bad_input(tmp_path, vocab):
    nan = synthetic_scenario(3, 4, scenario_id="nan-scene")
    nan.tracks.y[2, 40] = np.inf
    with pytest.raises(DataError, match="nan-scene.*non-finite y of track 102 at step 40"):
        token_batch([nan], vocab)
    empty = synthetic_scenario(3, 0, scenario_id="no-agents")
    with pytest.raises(DataError, match="no-agents.*has no agents"):
        prepare_scene(empty, vocab)
    idle = synthetic_scenario(3, 2, scenario_id="nobody-now")
    idle.tracks.valid[:, 10] = False
    with pytest.raises(DataError, match="nobody-now.*current step"):
        prepare_scene(idle, vocab)
    # in a shard: the error names the file and record; skip_bad drops the scene
    shard = tmp_path / "bad.tfrecord"
    write_scenarios(shard, [synthetic_scenario(1, 3), nan])
    with pytest.raises(DataError, match=r"bad\.tfrecord, record 1: scenario 'nan-scene'"):
        TokenizedDataset([shard], vocab, cache_dir=tmp_path / "c")
    ds = TokenizedDataset([shard], vocab, cache_dir=tmp_path / "c", skip_bad=True)
    assert len(ds) == 1 and ds.stats["bad_records"] == 1
    with pytest.raises(ValueError):
        collate([])
