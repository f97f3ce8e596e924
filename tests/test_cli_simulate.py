"""`smartr1 simulate`: batched scenarios give the same shards as one at a time; reference policies."""

from __future__ import annotations

import io

import numpy as np
import torch
from typer.testing import CliRunner

from smartr1.cli.main import app
from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.womd import write_scenarios
from smartr1.metrics.submission import load_rollouts
from smartr1.model.checkpoint import smartr1_meta
from smartr1.model.smart import SMART, model_config
from smartr1.testing.batches import arc_vocab_poses
from smartr1.testing.tracks import synthetic_scenario


def _exported_model(path):
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=32, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1)
    m = SMART(cfg, arc_vocab_poses(32))
    buf = io.BytesIO()
    torch.save({"smartr1": smartr1_meta(m, "pretrain"), "state_dict": m.state_dict()}, buf)
    atomic_write_bytes(path, [buf.getvalue()])
    return path


def test_simulate_batches_scenarios_without_changing_the_output(tmp_path):
    shard = tmp_path / "val"
    scs = [synthetic_scenario(seed=i, num_agents=4 + 2 * i, scenario_id=f"s{i}") for i in range(5)]
    write_scenarios(shard / "a.tfrecord", scs[:3])
    write_scenarios(shard / "b.tfrecord", scs[3:])
    ckpt = _exported_model(tmp_path / "model.pt")
    runner = CliRunner()
    outs = {}
    for bs in (1, 3):
        out = tmp_path / f"bs{bs}"
        res = runner.invoke(
            app, ["simulate", "--checkpoint", str(ckpt), "-s", str(shard), "-o", str(out), "--rollouts", "4",
                  "--batch-size", str(bs)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "2 scenario shard(s)" in res.output
        outs[bs] = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert [p.name for p in outs[1]] == [p.name for p in outs[3]] and len(outs[1]) == 2  # one per input
    for a, b in zip(outs[1], outs[3], strict=True):
        assert a.read_bytes() == b.read_bytes()
    ros = load_rollouts(tmp_path / "bs3")
    assert sorted(ros) == [f"s{i}" for i in range(5)]
    for sc in scs:
        ro = ros[sc.scenario_id]
        assert ro.x.shape == (4, sc.tracks.num_agents, 80) and np.isfinite(ro.x).all()


def test_simulate_reference_policy_and_bad_input(tmp_path):
    shard = tmp_path / "val.tfrecord"
    write_scenarios(shard, [synthetic_scenario(seed=1, num_agents=3)])
    runner = CliRunner()
    res = runner.invoke(
        app, ["simulate", "--checkpoint", "constant-velocity", "-s", str(shard), "-o", str(tmp_path / "cv")]
    )
    assert res.exit_code == 0, res.output
    assert load_rollouts(tmp_path / "cv")["synthetic-1"].num_rollouts == 32
    res = runner.invoke(
        app,
        [
            "simulate",
            "--checkpoint",
            "constant-velocity",
            "-s",
            str(tmp_path / "none*"),
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert isinstance(res.exception, DataError) and "none*: glob pattern matches no file" in str(
        res.exception
    )


def test_cli_start_default_is_the_library_default():
    import inspect

    from smartr1.cli.simulate import simulate_command
    from smartr1.rollout.session import DEFAULT_START

    assert inspect.signature(simulate_command).parameters["start"].default == DEFAULT_START
