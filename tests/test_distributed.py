"""Per-shard jobs on a local Ray instance (2 CPUs) give exactly the single-process results, write
per-shard results atomically, and a rerun skips what is done."""

from __future__ import annotations

import io

import pytest
import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.womd import write_scenarios
from smartr1.distributed.datasets import evaluate_dataset, prepare_dataset, simulate_dataset
from smartr1.distributed.options import SimulateOptions
from smartr1.metrics.submission import write_rollout_shards
from smartr1.model.checkpoint import smartr1_meta
from smartr1.model.smart import SMART, model_config
from smartr1.rollout.reference import constant_velocity
from smartr1.testing.batches import arc_vocab_poses
from smartr1.testing.tracks import synthetic_scenario
from smartr1.tokens.vocabulary import MotionVocab


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield "auto"  # the instance started here
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    scs = [synthetic_scenario(seed=i, num_agents=5 + i, scenario_id=f"s{i}") for i in range(6)]
    for k in range(3):
        write_scenarios(d / "scen" / f"shard{k}.tfrecord", scs[2 * k : 2 * k + 2])
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=32, hidden=32, heads=2, head_dim=8, agent_layers=1, map_layers=1)
    m = SMART(cfg, arc_vocab_poses(32))
    buf = io.BytesIO()
    torch.save({"smartr1": smartr1_meta(m, "pretrain"), "state_dict": m.state_dict()}, buf)
    atomic_write_bytes(d / "model.pt", [buf.getvalue()])
    MotionVocab.from_poses(m.vocab_poses).save(d / "vocab.pt")
    write_rollout_shards(d / "cv", [constant_velocity(s) for s in scs], scenarios_per_shard=4)
    return d


def test_evaluate_with_ray_equals_single_process(data, ray_local, tmp_path):
    one = evaluate_dataset(data / "scen", data / "cv", tmp_path / "a")
    many = evaluate_dataset(data / "scen", data / "cv", tmp_path / "b", ray_address=ray_local)
    assert one == many and one.num_scenarios == 6 and 0 < one.dataset["metametric"] < 1
    assert one.to_json() == many.to_json()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        f"shard{k}.tfrecord.result.pt" for k in range(3)
    ]
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "b").iterdir()}
    again = evaluate_dataset(data / "scen", data / "cv", tmp_path / "b", ray_address=ray_local)
    assert again == many and all(p.stat().st_mtime_ns == t for p, t in stamp.items())  # nothing recomputed


def test_simulate_with_ray_equals_single_process(data, ray_local, tmp_path):
    opts = SimulateOptions(num_rollouts=4)
    a = simulate_dataset(data / "scen", str(data / "model.pt"), tmp_path / "a", options=opts)
    b = simulate_dataset(
        data / "scen", str(data / "model.pt"), tmp_path / "b", ray_address=ray_local, options=opts
    )
    assert (
        [p.name for p in a]
        == [p.name for p in b]
        == [f"submission.binproto-0000{k}-of-00003" for k in range(3)]
    )
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_prepare_with_ray_fills_the_cache(data, ray_local, tmp_path):
    res = prepare_dataset(data / "scen", data / "vocab.pt", tmp_path / "cache", ray_address=ray_local)
    assert [r["scenarios"] for r in res] == [2, 2, 2]
    from smartr1.training.cache import TokenizedDataset

    ds = TokenizedDataset(data / "scen", MotionVocab.load(data / "vocab.pt"), cache_dir=tmp_path / "cache")
    assert ds.stats["hits"] == 3 and ds.stats["misses"] == 0 and len(ds) == 6
