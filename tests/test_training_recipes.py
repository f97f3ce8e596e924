"""The shipped pipeline recipes resolve into valid stage configs, and `--config NAME` finds them."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml

from smartr1.cli.train import _pipeline_file
from smartr1.training.config import config_dir_default, load_config, merge_dicts
from smartr1.training.pipeline import PIPELINE

RECIPES = sorted(p.name.removesuffix(".yaml") for p in (config_dir_default() / "recipes").iterdir())


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_for_every_stage(name):
    spec = yaml.safe_load(_pipeline_file(Path(name)).read_text())
    assert set(spec) <= {"shared", "stages", "size", "order"}
    for stage in spec.get("order", PIPELINE):
        over = merge_dicts(spec.get("shared") or {}, spec["stages"].get(stage, {}))
        cfg = load_config(stage, spec["size"], overrides=over)
        assert cfg.trainer.max_steps == spec["stages"][stage]["trainer"]["max_steps"]


def test_recipe_names_and_files(tmp_path):
    assert {"cpu-long", "womd-gpu"} <= set(RECIPES)
    own = tmp_path / "cpu-long"  # a user's file wins over a recipe of the same name
    own.write_text("size: nano\n")
    assert _pipeline_file(own) == own
    with pytest.raises(typer.BadParameter, match="cpu-long, womd-gpu"):
        _pipeline_file(tmp_path / "no-such-recipe")
