"""The ablation command end to end at smoke size (the CI variant): every row trained, scored on
generated and real scenarios, stored, and aggregated with paired comparisons; a rerun resumes."""

from __future__ import annotations

import json

import pytest

from smartr1.cli.report import quick_config
from smartr1.reports.ablation import CONTROLLED, Ablation, AblationConfig, recipes
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
    rft_rows = [n for n, r in recipes(cfg).items() if list(r.order) == ["sft", "rft"]]
    assert len([n for n in runs if n.startswith("sft__rft-")]) == len(rft_rows)  # +sft reuses its RFT
    assert {f"{r}:control" for r in CONTROLLED if r in cfg.rows} <= set(report["generated"]["rows"])
    assert report["generated"]["pairs"]["sft+rft:agent vs sft+rft:agent:control"]["relative"].keys() == {
        "simulated_collision_rate", "min_ade"}  # fmt: skip
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "abl" / "results").rglob("*.json")}
    again = Ablation(cfg).run()  # everything is done: nothing is recomputed
    assert again == report
    assert Ablation(cfg).report() == report  # the table alone, from what is stored
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


def test_ablation_rows_controls_and_seeds():
    from smartr1.reports.ablation import DEFAULT_ROWS, EXTRA_ROWS, row_seeds

    cfg = AblationConfig(seeds=(0, 1, 2), rule_seeds=(0,), rows=(*DEFAULT_ROWS, *EXTRA_ROWS))
    rows = recipes(cfg)
    for r in CONTROLLED:  # the control is its row with the advantage negated, nothing else
        assert rows[f"{r}:control"].overrides("rft")["rft"]["negate_advantage"] is True
        assert not rows[r].overrides("rft").get("rft", {}).get("negate_advantage", False)
    agent = rows["sft+rft:agent"].overrides("rft")["rft"]
    assert agent["rule"] == "agent" and agent["loss_agents"] == "evaluated"
    assert "rule" not in rows["sft+rft:mpo-published"].overrides("rft").get("rft", {})  # as published
    # the opt-in lr 1e-3 row is the main row at another learning rate, with a control of its own
    assert (
        rows["sft+rft:agent-lr1e-3"].overrides("rft")["rft"] == rows["sft+rft:agent"].overrides("rft")["rft"]
    )
    assert "sft+rft:agent-lr1e-3:control" not in recipes(AblationConfig())  # opt-in: not in the default rows
    assert row_seeds(cfg, "sft+rft:agent:control") == (0, 1, 2) and row_seeds(cfg, "sft+rft:loo") == (0,)
    with pytest.raises(ValueError, match="unknown ablation rows"):
        recipes(AblationConfig(rows=("sft", "sft+ppo")))


def test_a_stored_result_is_reused_only_for_the_same_policy(tmp_path):
    from smartr1.testing.tracks import synthetic_scenario

    sets = {"generated": [synthetic_scenario(seed=1, num_agents=4, scenario_id="g1")]}
    abl = Ablation(AblationConfig(out=tmp_path, rollouts=2))
    first = abl.evaluate("row", 0, "constant-velocity", sets, {})["generated"]
    path = tmp_path / "results" / "generated" / "row" / "seed0.json"
    stamp = path.stat().st_mtime_ns
    assert abl.evaluate("row", 0, "constant-velocity", sets, {})["generated"] == first
    assert path.stat().st_mtime_ns == stamp  # the same policy: not scored again
    # the row's recipe changed (another checkpoint): scored again, not the stale result
    assert abl.evaluate("row", 0, "logged-oracle", sets, {})["generated"]["policy"] == "logged-oracle"
    assert json.loads(path.read_text())["policy"] == "logged-oracle"
