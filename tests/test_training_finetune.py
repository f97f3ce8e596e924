"""Closed-loop SFT and RFT stages on tiny synthetic data: they train, checkpoint, record their parent,
and the pipeline resumes a killed run to the same result as an uninterrupted one."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from smartr1.data.womd import write_scenarios
from smartr1.testing.tracks import synthetic_scenario
from smartr1.training.config import load_config
from smartr1.training.rft import interpolate_to_reference
from smartr1.training.stages import run_stage

SMALL = {"vocab_size": 32, "hidden": 32, "heads": 2, "head_dim": 8, "agent_layers": 1, "map_layers": 1}


def _data(tmp_path: Path, n: int = 4) -> Path:
    f = tmp_path / "train.tfrecord"
    write_scenarios(f, [synthetic_scenario(seed=i, num_agents=6, scenario_id=f"s{i}") for i in range(n)])
    return f


def _cfg(tmp_path, data, stage, out, steps, init=None, **extra):
    ov = {"out": str(tmp_path / out), "data": {"train": [str(data)], "cache_dir": str(tmp_path / "cache"),
          "batch_size": 2}, "trainer": {"max_steps": steps, "checkpoint_every_n_steps": 1, "log_every_n_steps": 1},
          **extra}  # fmt: skip
    if init:
        ov["init_checkpoint"] = str(init)
    else:
        ov["model"] = SMALL
    return load_config(stage, "nano", overrides=ov)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):

    tmp = tmp_path_factory.mktemp("ft")
    data = _data(tmp)
    return tmp, data, run_stage(_cfg(tmp, data, "pretrain", "pt", 2))


def _meta(ckpt):
    return torch.load(ckpt, weights_only=False)


def test_sft_trains_from_its_parent_with_frozen_map_encoder(pretrained):
    tmp, data, parent = pretrained
    ckpt = run_stage(_cfg(tmp, data, "sft", "sft", 2, parent, sft={"top_k": 4}))
    c, p = _meta(ckpt), _meta(parent)
    assert c["smartr1"]["stage"] == "sft" and c["smartr1"]["parent"] == str(parent) and c["global_step"] == 2
    sd, psd = c["state_dict"], p["state_dict"]
    frozen = [k for k in sd if k.startswith(("model.map_encoder.", "model.token_mlp.", "model.class_emb."))]
    assert frozen and all(torch.equal(sd[k], psd[k]) for k in frozen)
    moved = [k for k in sd if k.startswith("model.decoder.") and not torch.equal(sd[k], psd[k])]
    assert moved  # the decoder did learn


@pytest.mark.parametrize("rule", ["mpo", "grpo", "reinforce", "loo", "agent"])
def test_rft_rules_train_and_keep_the_reference_frozen(pretrained, rule):
    tmp, data, parent = pretrained
    rft = {"rule": rule, "num_rollouts": 4, "grad_rollouts": 2, "groups": 2, "calibration_scenarios": 2}
    ckpt = run_stage(_cfg(tmp, data, "rft", f"rft_{rule}", 2, parent, rft=rft))
    c, p = _meta(ckpt), _meta(parent)
    assert c["smartr1"]["stage"] == "rft" and c["global_step"] == 2
    ref = {k[len("reference.") :]: v for k, v in c["state_dict"].items() if k.startswith("reference.")}
    assert all(torch.equal(v, p["state_dict"]["model." + k]) for k, v in ref.items())
    assert any(
        not torch.equal(c["state_dict"]["model." + k], v) for k, v in ref.items() if v.is_floating_point()
    )
    alpha = json.loads((tmp / f"rft_{rule}" / "alpha.json").read_text())
    if rule == "mpo":  # calibrated on the starting model; the other rules have no target to calibrate
        assert alpha["alpha"] == pytest.approx(alpha["mean_reward"] - 0.01) and 0 < alpha["mean_reward"] < 1
    else:
        assert "mean_reward" not in alpha and "not calibrated" in alpha["source"]
    from smartr1.model.checkpoint import load_model

    model, _ = load_model(ckpt)  # the exported policy has no reference weights in it
    assert not any(k.startswith("reference.") for k in model.state_dict())


def test_rft_options_scene_baseline_evaluated_agents_target_kl_and_validation(pretrained):
    """The issue-21 options run together: per-scene baseline, gradient on evaluated agents only, an
    adaptive beta, all-agent per-agent credit, and a validation step scoring held-out scenes."""
    tmp, data, parent = pretrained
    rft = {"num_rollouts": 4, "grad_rollouts": 4, "calibration_scenarios": 2, "baseline": "scene",
           "loss_agents": "evaluated", "target_kl": 1e-3, "negate_advantage": True}  # fmt: skip
    cfg = _cfg(tmp, data, "rft", "rft_opts", 3, parent, rft=rft)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, val=[str(data)]),
                              trainer=dataclasses.replace(cfg.trainer, val_every_n_steps=3))  # fmt: skip
    ckpt = torch.load(run_stage(cfg), weights_only=False)
    assert ckpt["global_step"] == 3 and ckpt["rft_beta"] != 0.04  # the KL target moved beta
    assert sum(ckpt["rft_scene_means"]["counts"].values()) == 3 * 2  # batch of 2 scenes, 3 steps
    events = list((tmp / "rft_opts" / "tb").rglob("events.out.tfevents*"))
    tags = set()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for e in events:
        acc = EventAccumulator(str(e))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"val/metametric", "train/beta", "train/reward_vs_scene_mean"} <= tags
    agent = {
        "rule": "agent",
        "num_rollouts": 4,
        "grad_rollouts": 2,
        "credit_agents": "all",
        "ade_weight": 0.002,
        "entropy_weight": 0.01,
        "bc_weight": 0.5,
        "kl": "exact",
        "interpolate": 0.5,
    }
    ckpt = run_stage(_cfg(tmp, data, "rft", "rft_agent_all", 1, parent, rft=agent))
    assert ckpt.name == "interpolated.ckpt"  # the stage's result: halfway back to its start
    result = torch.load(ckpt, weights_only=False)
    assert result["global_step"] == 1 and result["rft_interpolate"] == 0.5
    acc = EventAccumulator(str(next((tmp / "rft_agent_all" / "tb").rglob("events.out.tfevents*"))))
    acc.Reload()
    (bc,) = acc.Scalars("train/bc")  # the anchor's cross-entropy on the logged tokens, one step
    assert 0 < bc.value < 20
    # the trained policy moved back towards its frozen reference (weight-space interpolation)
    sd = torch.load(ckpt.parent / "last.ckpt", weights_only=False)["state_dict"]
    pairs = [(k, "reference." + k.removeprefix("model.")) for k in sd if k.startswith("model.")]
    moved = [(k, r) for k, r in pairs if sd[k].is_floating_point() and not torch.equal(sd[k], sd[r])]
    assert moved  # one RFT step moved some weights
    half, start = interpolate_to_reference(sd, 0.5), interpolate_to_reference(sd, 0.0)
    for k, r in moved:
        torch.testing.assert_close(half[k], (sd[k] + sd[r]) / 2)
    assert all(torch.equal(start[k], sd[r]) for k, r in pairs)
    assert all(half[k] is sd[k] for k in sd if not k.startswith("model."))
    assert all(torch.equal(result["state_dict"][k], half[k]) for k in half)
    with pytest.raises(KeyError, match="no reference"):
        interpolate_to_reference({k: v for k, v in sd.items() if not k.startswith("reference.")}, 0.5)


PIPELINE_SCRIPT = """
import json, os, signal, sys
import lightning as L
from smartr1.training.pipeline import Recipe, run_pipeline
out, data, cache, small, kill = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]

class KillInRft(L.Callback):
    # SIGKILL at the start of RFT's third step: its step-2 checkpoint is on disk, the stage is not done
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if kill == "kill" and module.cfg.stage == "rft" and trainer.global_step == 2:
            os.kill(os.getpid(), signal.SIGKILL)

shared = {"data": {"train": [data], "cache_dir": cache, "batch_size": 2},
          "trainer": {"checkpoint_every_n_steps": 1, "log_every_n_steps": 1}}
per = {"pretrain": {"model": small, "trainer": {"max_steps": 4}},
       "sft": {"trainer": {"max_steps": 3}, "sft": {"top_k": 4}},
       "rft": {"trainer": {"max_steps": 3}, "rft": {"num_rollouts": 4, "grad_rollouts": 2, "calibration_scenarios": 2}},
       "sft2": {"trainer": {"max_steps": 2}, "sft": {"top_k": 4}}}
run_pipeline(out, Recipe(shared=shared, stages=per), callbacks=[KillInRft()])
"""


def _run_pipeline(out, data, cache, kill: bool = False) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-c", PIPELINE_SCRIPT, str(out), str(data), str(cache), json.dumps(SMALL),
            "kill" if kill else "run"]  # fmt: skip
    p = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    return p.returncode


def test_pipeline_resumes_after_sigkill_to_the_uninterrupted_result(tmp_path):
    data = _data(tmp_path, 3)
    assert _run_pipeline(tmp_path / "whole", data, tmp_path / "cache") == 0
    assert _run_pipeline(tmp_path / "killed", data, tmp_path / "cache", kill=True) == -signal.SIGKILL
    killed = tmp_path / "killed"
    assert (killed / "sft" / "done.json").exists() and not (killed / "rft" / "done.json").exists()
    assert torch.load(killed / "rft" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
    assert _run_pipeline(tmp_path / "killed", data, tmp_path / "cache") == 0
    for stage in ("pretrain", "sft", "rft", "sft2"):
        a = json.loads((tmp_path / "whole" / stage / "done.json").read_text())
        b = json.loads((tmp_path / "killed" / stage / "done.json").read_text())
        sa, sb = _meta(a["checkpoint"])["state_dict"], _meta(b["checkpoint"])["state_dict"]
        assert all(torch.equal(sa[k], sb[k]) for k in sa), stage
        if stage != "pretrain":
            assert (
                Path(b["parent"]).parent.parent.name
                == {"sft": "pretrain", "rft": "sft", "sft2": "rft"}[stage]
            )
    leftovers = [p for p in (tmp_path / "killed").rglob("*") if ".tmp" in p.name]
    assert not leftovers


def test_pipeline_retrains_a_stage_whose_recipe_changed_and_keeps_the_old_one(tmp_path):
    from smartr1.training.pipeline import Recipe, run_pipeline

    data = _data(tmp_path, 2)
    shared = {"data": {"train": [str(data)], "cache_dir": str(tmp_path / "cache"), "batch_size": 2}}
    per = {"pretrain": {"model": SMALL, "trainer": {"max_steps": 1}},
           "sft": {"trainer": {"max_steps": 1}, "sft": {"top_k": 4}}}  # fmt: skip
    order = ("pretrain", "sft")
    first = run_pipeline(tmp_path / "run", Recipe(shared=shared, stages=per, order=order))
    assert run_pipeline(tmp_path / "run", Recipe(shared=shared, stages=per, order=order)) == first  # skipped
    per["sft"]["trainer"]["max_steps"] = 2  # a recipe edit after the run
    second = run_pipeline(tmp_path / "run", Recipe(shared=shared, stages=per, order=order))
    assert second["pretrain"] == first["pretrain"]  # unchanged: not trained again
    assert _meta(second["sft"]["checkpoint"])["global_step"] == 2
    aside = list((tmp_path / "run").glob("sft.stale-*"))
    assert len(aside) == 1 and _meta(aside[0] / "checkpoints" / "last.ckpt")["global_step"] == 1
