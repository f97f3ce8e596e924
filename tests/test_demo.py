"""The README's main job, end to end at toy size: generate -> render -> pretrain -> simulate -> evaluate."""

import json
from pathlib import Path

import pytest

from smartr1.demo import COMPARED_POLICIES, DemoConfig, run_demo

pytestmark = pytest.mark.sumo


def test_demo_end_to_end_and_resume(tmp_path):
    cfg = DemoConfig(
        out=tmp_path / "demo",
        train_scenarios=4,
        val_scenarios=2,
        max_steps=3,
        batch_size=2,
        rollouts=2,
        workers=1,
        render=1,
        tiny_worlds=True,
    )
    report = run_demo(cfg)
    saved = json.loads((cfg.out / "report.json").read_text())
    assert set(saved["results"]) == set(COMPARED_POLICIES)
    for name in COMPARED_POLICIES:
        assert 0.0 < saved["results"][name]["dataset"]["metametric"] <= 1.0
    oracle = saved["results"]["logged-oracle"]["dataset"]
    assert oracle["min_average_displacement_error"] == 0.0
    assert oracle["metametric"] > saved["results"]["constant-velocity"]["dataset"]["metametric"]
    assert report["pictures"] and all(Path(p).exists() for p in report["pictures"])
    assert (cfg.out / "report.md").read_text().startswith("# smartr1 demo report")
    # A second run finds every stage done and gives the same numbers.
    again = run_demo(cfg)
    assert again["results"] == report["results"]
    assert again["checkpoint"] == report["checkpoint"]
