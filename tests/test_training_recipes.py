"""The shipped pipeline recipes resolve into valid stage configs, `--config NAME` finds them, recipes
layer (`base:`) and hold only what differs, and ablation rows that begin alike share their stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartr1.training.config import load_config
from smartr1.training.pipeline import (
    PIPELINE,
    Recipe,
    chain_dirs,
    load_recipe,
    parse_recipe,
    recipe_file,
    recipe_names,
)

RECIPES = recipe_names()


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_for_every_stage(name):
    recipe = load_recipe(name)
    for stage in recipe.order:
        cfg = recipe.stage_config(stage, Path("unused"), "parent.ckpt")
        steps = recipe.overrides(stage).get("trainer", {}).get("max_steps")
        assert cfg.trainer.max_steps == (steps or load_config(stage, recipe.size or "nano").trainer.max_steps)


def test_recipe_names_and_files(tmp_path):
    assert {"cpu-long", "womd-gpu", "demo", "ablation", "ablation/sft+rft"} <= set(RECIPES)
    own = tmp_path / "cpu-long"  # a user's file wins over a recipe of the same name
    own.write_text("size: nano\n")
    assert recipe_file(own) == own
    with pytest.raises(ValueError, match="cpu-long, demo"):
        recipe_file(tmp_path / "no-such-recipe")


def test_recipes_layer_and_reject_unknown_keys(tmp_path):
    demo = load_recipe("demo")
    assert demo.order == PIPELINE and demo.stages["sft"]["optim"]["label_smoothing"] == 0.1
    row = load_recipe("ablation/rft-grpo")  # base: ablation, plus its own rule
    assert row.order == ("sft", "rft") and row.stages["rft"] == {
        "trainer": {"max_steps": 40},
        "rft": {"rule": "grpo"},
    }
    with pytest.raises(ValueError, match="unknown pipeline keys"):
        parse_recipe({"stage": {}})
    with pytest.raises(ValueError, match="unknown pipeline stages"):
        Recipe(order=("pretrain", "rl"))
    with pytest.raises(ValueError, match="unknown RFT rule"):
        load_recipe("ablation/sft+rft").over(stages={"rft": {"rft": {"rule": "ppo"}}}).stage_config(
            "rft", tmp_path, "p.ckpt"
        )
    for bad, match in (({"interpolate": 1.5}, "interpolate"), ({"kl": "k2"}, "rft.kl")):
        with pytest.raises(ValueError, match=match):
            load_recipe("ablation/sft+rft").over(stages={"rft": {"rft": bad}}).stage_config(
                "rft", tmp_path, "p.ckpt"
            )
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(ValueError, match="circle"):
        load_recipe(loop)


def test_chain_dirs_share_equal_prefixes_only(tmp_path):
    mpo, grpo, sft = (load_recipe(f"ablation/{n}") for n in ("sft+rft", "rft-grpo", "sft"))
    a, b, c = chain_dirs(tmp_path, mpo), chain_dirs(tmp_path, grpo), chain_dirs(tmp_path, sft)
    assert a[0] == b[0] == c[0] and a[1] != b[1]  # one SFT for all three; two different RFTs
    other_seed = chain_dirs(tmp_path, mpo.over({"trainer": {"seed": 1}}))
    assert other_seed[0] != a[0]


def test_the_demo_fine_tunes_with_the_ablations_per_agent_row(tmp_path):
    """The demo's RFT is the ablation's winning row (rule, credit, beta, lr, warm-up), only shorter;
    the lr 1e-3 row differs from it by its learning rate alone."""
    demo, row, old = (
        load_recipe(n).stage_config("rft", tmp_path, "p.ckpt")
        for n in ("demo", "ablation/rft-agent", "ablation/rft-agent-lr1e-3")
    )
    assert demo.rft == row.rft and demo.rft.rule == "agent"
    assert (demo.optim.lr, demo.optim.warmup_steps) == (row.optim.lr, row.optim.warmup_steps) == (1e-4, 5)
    assert old.rft == row.rft and old.optim.lr == 1e-3
    assert old.data.batch_size == row.data.batch_size == demo.data.batch_size == 2
