"""The README's main job, end to end at toy size: generate -> render -> pretrain -> simulate -> evaluate."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from smartr1.data.womd import read_scenarios
from smartr1.demo import COMPARED_POLICIES, DemoConfig, run_demo
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.metrics.submission import load_rollouts
from smartr1.rollout.policy import load_policy

pytestmark = pytest.mark.sumo


def test_demo_end_to_end_and_resume(tmp_path):
    cfg = DemoConfig(
        out=tmp_path / "demo",
        train_scenarios=4,
        val_scenarios=2,
        max_steps=3,
        sft_steps=2,
        rft_steps=1,
        sft2_steps=1,
        batch_size=2,
        rollouts=2,
        workers=1,
        render=1,
        tiny_worlds=True,
    )
    report = run_demo(cfg)
    saved = json.loads((cfg.out / "report.json").read_text())
    assert set(saved["results"]) == set(COMPARED_POLICIES)
    # the report's numbers are those of the shards on disk, scored again here independently
    val = list(read_scenarios(cfg.out / "data" / "val"))
    for name in COMPARED_POLICIES:
        again = evaluate_rollouts(val, load_rollouts(cfg.out / "rollouts" / name)).dataset
        assert saved["results"][name]["dataset"] == again, name
    res = {k: v["dataset"] for k, v in saved["results"].items()}
    assert res["logged-oracle"]["min_average_displacement_error"] == 0.0
    # The oracle, scored in the same run, clears both policies by a wide margin; 3 training steps on
    # 4 tiny scenes put the model anywhere near constant velocity (above or below), but not on it.
    smart, cv = res["smart"]["metametric"], res["constant-velocity"]["metametric"]
    assert res["logged-oracle"]["metametric"] > max(smart, cv) + 0.2
    assert smart != cv
    assert report["pictures"] and all(Path(p).exists() for p in report["pictures"])
    assert (cfg.out / "pictures" / "kinematics.png").exists() and "moving_vehicle" in saved["kinematics"][
        "smart"
    ]
    assert (cfg.out / "report.md").read_text().startswith("# smartr1 demo report")
    view = (cfg.out / "view.html").read_text()  # pretrain against the final model, self-contained
    assert saved["view"] == str(cfg.out / "view.html") and '"pretrain"' in view and '"final"' in view
    assert "<script src=" not in view
    # every stage of the pipeline ran from its parent and was scored on the held-out set
    assert list(saved["stages"]) == ["pretrain", "sft", "rft", "sft2"]
    for stage in ("sft", "rft", "sft2"):
        done = json.loads((cfg.out / stage / "done.json").read_text())
        assert (
            Path(done["parent"]).parent.parent.name == {"sft": "pretrain", "rft": "sft", "sft2": "rft"}[stage]
        )
    assert saved["checkpoint"] == json.loads((cfg.out / "sft2" / "done.json").read_text())["checkpoint"]
    smart = saved["results"]["smart"]
    assert saved["stages"]["sft2"]["held_out"] == {**smart["buckets"], **smart["dataset"]}
    # The final model's shards are the rollouts of its held-out scoring, reused: the same draw as
    # simulating the checkpoint again with the demo's seed and top-k.
    assert any((cfg.out / "sft2" / "held_out").glob("submission.binproto-*"))
    policy = load_policy(saved["checkpoint"], top_k=cfg.top_k)
    disk = load_rollouts(cfg.out / "rollouts" / "smart")
    for ros in policy.rollout(val, num_rollouts=cfg.rollouts, seed=cfg.seed):
        np.testing.assert_array_equal(ros.x, disk[ros.scenario_id].x)
        np.testing.assert_array_equal(ros.heading, disk[ros.scenario_id].heading)
    # A second run finds every stage done and gives the same numbers.
    again = run_demo(cfg)
    assert again["results"] == report["results"]
    assert again["checkpoint"] == report["checkpoint"]
    # An edited schedule retrains the stage it changes (the old one kept aside) and makes the rollouts,
    # scores and viewer again from the new final model, not from the old shards.
    pretrain = (cfg.out / "pretrain" / "done.json").read_text()
    edited = run_demo(replace(cfg, sft2_steps=2))
    assert (cfg.out / "pretrain" / "done.json").read_text() == pretrain
    assert torch.load(edited["checkpoint"], weights_only=False)["global_step"] == 2
    assert len(list(cfg.out.glob("sft2.stale-*"))) == 1
    (aside,) = cfg.out.glob("derived.stale-*")
    assert (
        any((aside / "rollouts" / "smart").glob("submission.binproto-*")) and (aside / "view.html").exists()
    )
    smart = edited["results"]["smart"]
    assert edited["stages"]["sft2"]["held_out"] == {**smart["buckets"], **smart["dataset"]}


def test_demo_schedule_is_the_demo_recipe_with_only_the_given_overrides(tmp_path):
    """DemoConfig holds no step counts of its own: unset, the shipped `demo` recipe decides; a 0 skips."""
    from smartr1.demo import demo_recipe
    from smartr1.training.pipeline import load_recipe

    shipped = load_recipe("demo")
    plain = demo_recipe(DemoConfig(), tmp_path)
    assert plain.order == shipped.order
    for s in shipped.order:
        assert (
            plain.stage_config(s, tmp_path, None).trainer.max_steps
            == shipped.stage_config(s, tmp_path, None).trainer.max_steps
        )
    assert plain.stage_config("sft", tmp_path, None).optim.label_smoothing == 0.1
    short = demo_recipe(DemoConfig(max_steps=3, rft_steps=0, batch_size=2), tmp_path)
    assert short.order == ("pretrain", "sft", "sft2")
    assert short.stage_config("pretrain", tmp_path, None).trainer.max_steps == 3
    assert short.stage_config("sft", tmp_path, None).data.batch_size == 2
    assert (
        short.stage_config("sft", tmp_path, None).trainer.max_steps
        == shipped.stage_config("sft", tmp_path, None).trainer.max_steps
    )
