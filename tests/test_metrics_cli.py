"""`smartr1 evaluate` / `smartr1 validate` verbs, called as plain functions."""

from __future__ import annotations

import json

import pytest
import typer

from smartr1.cli.evaluate import evaluate_command
from smartr1.cli.validate import validate_command
from smartr1.metrics.aggregate import BUCKET_FIELDS, METRIC_FIELDS
from smartr1.metrics.submission import write_rollout_shards
from smartr1.rollout.reference import stationary
from tests.conftest import SHARED, WOSAC, scenario_file

GOLDEN = SHARED / "spec" / "golden"


def test_evaluate_writes_official_fields(tmp_path):
    out = tmp_path / "m.json"
    evaluate_command(
        [str(GOLDEN / "motion_data_one_scenario.tfrecord")], str(GOLDEN / "test_submission.binproto"), out
    )
    res = json.loads(out.read_text())
    per = res["scenarios"]["637f20cafde22ff8"]
    assert set(METRIC_FIELDS) <= set(per) and set(BUCKET_FIELDS) <= set(per)
    assert set(res["dataset"]) == set(METRIC_FIELDS) and set(res["buckets"]) == set(BUCKET_FIELDS)
    assert abs(res["dataset"]["metametric"] - 0.25824) < 1e-5
    assert res["dataset"]["simulated_collision_rate"] == 0.6875


def test_evaluate_two_scenarios_dataset_mean(tmp_path, real_scenarios):
    write_rollout_shards(tmp_path / "sub", [stationary(s) for s in real_scenarios.values()])
    out = tmp_path / "m.json"
    evaluate_command([str(WOSAC / "scenarios")], str(tmp_path / "sub"), out)
    res = json.loads(out.read_text())
    gold = {
        sid: json.loads((WOSAC / sid / "metrics_stationary.json").read_text())["metrics"]
        for sid in real_scenarios
    }
    for sid in real_scenarios:
        assert abs(res["scenarios"][sid]["metametric"] - gold[sid]["metametric"]) < 1e-5
    mean = sum(g["metametric"] for g in gold.values()) / 2
    assert abs(res["dataset"]["metametric"] - mean) < 1e-5


def test_validate_verb(tmp_path, real_scenarios):
    sid = "637f20cafde22ff8"
    write_rollout_shards(tmp_path / "ok", [stationary(real_scenarios[sid])])
    validate_command(str(tmp_path / "ok"), [str(scenario_file(sid))])  # no exception
    with pytest.raises(typer.Exit):  # the other scenario has no rollouts
        validate_command(str(tmp_path / "ok"), [str(WOSAC / "scenarios")])
