"""Kinematic profiles (simulated vs logged speed over the horizon) and the `report kinematics` verb."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from smartr1.cli.main import app
from smartr1.data.womd import write_scenarios
from smartr1.metrics.profiles import kinematic_profiles
from smartr1.metrics.submission import write_rollout_shards
from smartr1.rollout.reference import constant_velocity, logged_oracle, stationary
from smartr1.testing.tracks import synthetic_scenario


@pytest.fixture(scope="module")
def scenes():
    return [synthetic_scenario(seed=i, num_agents=9, scenario_id=f"s{i}") for i in range(3)]


def test_oracle_matches_the_log_and_stationary_stops(scenes):
    oracle = kinematic_profiles(scenes, {s.scenario_id: logged_oracle(s, 4) for s in scenes})
    still = kinematic_profiles(scenes, {s.scenario_id: stationary(s, 4) for s in scenes})
    for g in ("vehicle", "pedestrian", "cyclist"):
        assert oracle[g]["agents"] == still[g]["agents"] == 9  # 3 of each per scene
        for r in oracle[g]["per_second"]:
            assert r["sim_mean"] == pytest.approx(r["log_mean"], rel=1e-5)  # float32 rollouts
        # float32 rollout positions move the odd speed across a bin edge (synthetic speeds sit on the
        # class limits, which are bin edges), so the histograms agree up to a little mass
        diff = np.abs(np.subtract(oracle[g]["sim_speed_hist"], oracle[g]["log_speed_hist"])).sum()
        assert diff < 0.02
        # the stationary policy moves only in its first step (from the log's step 10, then frozen)
        assert all(r["sim_stopped"] >= 0.9 for r in still[g]["per_second"])


def test_constant_velocity_holds_the_current_speed(scenes):
    cv = kinematic_profiles(scenes, {s.scenario_id: constant_velocity(s, 2) for s in scenes})
    v = cv["vehicle"]["per_second"]
    want = []
    for s in scenes:
        t = s.tracks
        veh = t.type == 1
        want += list(np.hypot(t.x[veh, 10] - t.x[veh, 9], t.y[veh, 10] - t.y[veh, 9]) / 0.1)
    for r in v:
        assert r["sim_mean"] == pytest.approx(np.mean(want), rel=1e-4)


def test_report_kinematics_cli(tmp_path, scenes):
    shard = tmp_path / "val.tfrecord"
    write_scenarios(shard, scenes)
    write_rollout_shards(tmp_path / "cv", [constant_velocity(s, 2) for s in scenes])
    write_rollout_shards(tmp_path / "oracle", [logged_oracle(s, 2) for s in scenes])
    res = CliRunner().invoke(
        app, ["report", "kinematics", "-s", str(shard), "--submission", str(tmp_path / "cv"), "--submission",
              str(tmp_path / "oracle"), "--name", "cv", "--name", "oracle", "-o", str(tmp_path / "rep")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "rep" / "kinematics.json").read_text())
    assert set(data) == {"cv", "oracle"} and data["oracle"]["vehicle"]["agents"] == 9
    png = tmp_path / "rep" / "kinematics.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
