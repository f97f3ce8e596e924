"""Which agents carry a training loss: role agents plus the nearest others with enough valid future."""

from __future__ import annotations

import numpy as np
import torch

from smartr1.testing.scenes import make_scenario as _make
from smartr1.training.loss_agents import TRAIN_MAX_NEARBY, train_agents


def make_scenario(x, y, **kw):
    """Agents standing still at (x, y) [A]."""
    return _make(np.repeat(np.asarray(x)[:, None], 91, 1), np.repeat(np.asarray(y)[:, None], 91, 1), **kw)


def test_role_agents_plus_nearest_within_radius():
    # SDC at the origin; 40 agents at 5, 10, ... 200 m along x, in a shuffled track order.
    rng = np.random.default_rng(0)
    dist = 5.0 * np.arange(1, 41)
    order = rng.permutation(40)
    x = np.concatenate([[0.0], dist[order]])
    scen = make_scenario(x, np.zeros(41), predict=[int(np.flatnonzero(order == 39)[0]) + 1])  # 200 m away
    a = scen.tracks.num_agents
    sim = torch.ones(a, dtype=torch.bool)
    valid = torch.ones(a, 18, dtype=torch.bool)
    valid[1 + int(np.flatnonzero(order == 0)[0]), 2:] = False  # the nearest other agent has no future
    got = train_agents(scen, sim, valid)
    # independent expectation: SDC, the predicted (far) agent, then the 32 nearest among 10..100 m
    near = [1 + int(np.flatnonzero(order == k)[0]) for k in range(1, 20)]  # 10, 15, ..., 100 m
    want = {0, 1 + int(np.flatnonzero(order == 39)[0]), *near}
    assert set(torch.nonzero(got).flatten().tolist()) == want
    assert len(near) < TRAIN_MAX_NEARBY  # the radius binds here, not the count


def test_count_cap_and_sim_agents_only():
    x = np.concatenate([[0.0], 1.0 + np.arange(40)])  # all within 41 m
    scen = make_scenario(x, np.zeros(41))
    sim = torch.ones(41, dtype=torch.bool)
    sim[1] = False  # the nearest is not a sim agent
    got = train_agents(scen, sim, torch.ones(41, 18, dtype=torch.bool))
    assert torch.nonzero(got).flatten().tolist() == [0, *range(2, 2 + TRAIN_MAX_NEARBY)]


def test_data_module_loss_agents_rule(tmp_path):
    """`data.loss_agents`: "smart" keeps the cached role-and-nearby mask, "all" trains every agent; both
    batch the same scenes in the same order, and an unknown rule is refused."""
    import pytest

    from smartr1.data.womd import write_scenarios
    from smartr1.testing.tracks import synthetic_scenario
    from smartr1.tokens.vocab_build import constant_vocab
    from smartr1.training.config import DataConfig
    from smartr1.training.datamodule import SceneDataModule

    x = np.concatenate([[0.0], 5.0 * np.arange(1, 41)])  # 40 standing agents up to 200 m from the SDC
    scenes = [make_scenario(x, np.zeros(41), scenario_id="far"), synthetic_scenario(seed=0, num_agents=6)]
    f = tmp_path / "train.tfrecord"
    write_scenarios(f, scenes)
    batches = {}
    for rule in ("smart", "all"):
        cfg = DataConfig(train=[str(f)], cache_dir=str(tmp_path / "cache"), batch_size=2, loss_agents=rule)
        dm = SceneDataModule(cfg, constant_vocab(16), seed=0)
        dm.setup()
        batches[rule] = next(iter(dm.train_dataloader()))
    smart, every = batches["smart"], batches["all"]
    assert smart.scenario_id == every.scenario_id
    assert torch.equal(every.agents.train_mask, every.agents.mask)
    assert bool((smart.agents.train_mask <= smart.agents.mask).all())
    far = smart.scenario_id.index("far")
    assert int(smart.agents.train_mask[far].sum()) == 1 + 20  # the SDC + the 20 agents at 5..100 m
    with pytest.raises(ValueError, match="loss_agents"):
        DataConfig(loss_agents="some")
