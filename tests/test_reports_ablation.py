"""The ablation command end to end at smoke size (the CI variant): every row trained, scored on
generated and real scenarios, stored, and aggregated with paired comparisons; a rerun resumes."""

from __future__ import annotations

import json

import pytest

from smartr1.cli.report import quick_config
from smartr1.reports.ablation import Ablation, AblationConfig, recipes
from smartr1.reports.ablation_table import paired
from tests.conftest import WOSAC

pytestmark = pytest.mark.sumo


def test_quick_ablation_runs_every_row_and_resumes(tmp_path):
    cfg = quick_config(AblationConfig(out=tmp_path / "abl", real=[str(WOSAC / "scenarios")]))
    report = Ablation(cfg).run()
    rows = set(recipes(cfg)) | {"constant-velocity", "logged-oracle"}
    for set_name in ("generated", "real"):
        assert set(report[set_name]["rows"]) == rows, set_name
    gen = report["generated"]["rows"]
    assert gen["logged-oracle"]["min_ade"]["mean"] == 0.0
    assert (
        gen["logged-oracle"]["realism_meta_metric"]["mean"]
        > gen["constant-velocity"]["realism_meta_metric"]["mean"]
    )
    assert (tmp_path / "abl" / "ablation.md").read_text().startswith("# Ablation")
    assert (tmp_path / "abl" / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    # the chains share their prefixes: one SFT run per seed serves every row that starts with it
    runs = [p.name for p in (tmp_path / "abl" / "runs").iterdir()]
    assert len([n for n in runs if n.startswith("sft-")]) == 1  # one seed: one SFT
    assert len([n for n in runs if n.startswith("sft__rft-")]) == 1 + 3 + len(cfg.alphas) + len(cfg.betas)
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "abl" / "results").rglob("*.json")}
    again = Ablation(cfg).run()  # everything is done: nothing is recomputed
    assert again == report
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())
    saved = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert saved["generated"]["rows"].keys() == report["generated"]["rows"].keys()


def test_paired_comparison_uses_common_scenarios_and_seeds():
    def rec(vals):
        return {"scenarios": {f"s{i}": {"metametric": v} for i, v in enumerate(vals)}}

    a = {0: rec([0.6, 0.7, 0.8]), 1: rec([0.61, 0.71, 0.81])}
    b = {0: rec([0.5, 0.6, 0.7]), 1: rec([0.5, 0.6, 0.72]), 2: rec([0.0, 0.0, 0.0])}
    assert paired(a, b)["verdict"] == "too few scenarios"  # 3 < MIN_SCENARIOS: no verdict by default
    p = paired(a, b, min_scenarios=2)
    assert p["seeds"] == [0, 1] and p["scenarios"] == 3
    assert p["mean"] == pytest.approx((0.1 + 0.31 / 3) / 2, abs=1e-9) and p["verdict"] == "a > b"
    flat = paired(a, a, min_scenarios=2)
    assert flat["mean"] == 0 and flat["verdict"] == "within noise"
