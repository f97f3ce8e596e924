"""`smartr1 package` / `package_submission`: the archive is written only when every rule of the
challenge server holds, and a refusal lists every problem at once (the server's "unknown error"
names none)."""

from __future__ import annotations

import dataclasses
import tarfile

import numpy as np
import pytest
from typer.testing import CliRunner

from smartr1.cli.main import app
from smartr1.data.errors import DataError
from smartr1.data.womd import write_scenarios
from smartr1.metrics.submission import package_submission, write_rollout_shards
from smartr1.metrics.validate import SubmissionError
from smartr1.rollout.reference import constant_velocity
from tests.fuzz.harness import small_scenario

META = {"account_name": "me@example.com", "unique_method_name": "test", "num_model_parameters": "1"}


@pytest.fixture(scope="module")
def scene(real_scenarios):
    return small_scenario(real_scenarios["637f20cafde22ff8"])


def _package(tmp_path, scene, rollouts, name="sub"):
    shards = tmp_path / f"{name}-shards"
    write_rollout_shards(shards, rollouts)
    out = tmp_path / f"{name}.tar.gz"
    return out, lambda: package_submission(shards, out, scenarios=[scene], **META)


def _problems(tmp_path, scene, rollouts) -> list[str]:
    out, run = _package(tmp_path, scene, rollouts, "bad")
    with pytest.raises(SubmissionError) as e:
        run()
    assert not out.exists()  # nothing written
    assert not list(tmp_path.glob(".bad.tar.gz*"))  # nor a temp file left behind
    return e.value.problems


def test_valid_submission_is_packaged(tmp_path, scene):
    out, run = _package(tmp_path, scene, [constant_velocity(scene)])
    run()
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert names and all(n.startswith("submission.binproto") for n in names)
    res = CliRunner().invoke(app, ["validate", str(out)])
    assert res.exit_code == 0, res.output


def test_every_fault_is_listed_and_nothing_written(tmp_path, scene):
    ro = constant_velocity(scene)
    three = dataclasses.replace(ro, x=ro.x[:3], y=ro.y[:3], z=ro.z[:3], heading=ro.heading[:3])
    assert any("3 joint scenes, expected exactly 32" in p for p in _problems(tmp_path, scene, [three]))
    nan = dataclasses.replace(ro, x=ro.x.copy())
    nan.x[0, 0, 5] = np.nan
    missing = dataclasses.replace(ro, object_id=ro.object_id[1:], x=ro.x[:, 1:], y=ro.y[:, 1:],
                                  z=ro.z[:, 1:], heading=ro.heading[:, 1:])  # fmt: skip
    assert any(str(int(ro.object_id[0])) in p for p in _problems(tmp_path, scene, [missing]))
    short = dataclasses.replace(
        ro, x=ro.x[..., :79], y=ro.y[..., :79], z=ro.z[..., :79], heading=ro.heading[..., :79]
    )
    assert any("79" in p or "80" in p for p in _problems(tmp_path, scene, [short]))
    # two faults in one submission: both reported
    both = _problems(tmp_path, scene, [dataclasses.replace(nan, x=nan.x[:3], y=ro.y[:3], z=ro.z[:3],
                                                           heading=ro.heading[:3])])  # fmt: skip
    assert any("3 joint scenes" in p for p in both) and any("non-finite" in p for p in both), both
    other = dataclasses.replace(ro, scenario_id="not-in-the-split")
    assert any("not-in-the-split" in p for p in _problems(tmp_path, scene, [ro, other]))


def test_corrupt_archive_is_refused(tmp_path, scene):
    out, run = _package(tmp_path, scene, [constant_velocity(scene)])
    run()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(DataError):
        package_submission(cut, tmp_path / "again.tar.gz", scenarios=[scene], **META)
    assert not (tmp_path / "again.tar.gz").exists()


def test_cli_package_lists_every_problem(tmp_path, scene):
    scen = tmp_path / "scen.tfrecord"
    write_scenarios(scen, [scene])
    ro = constant_velocity(scene)
    bad = dataclasses.replace(ro, x=ro.x[:3].copy(), y=ro.y[:3], z=ro.z[:3], heading=ro.heading[:3])
    bad.x[0, 0, 0] = np.inf
    write_rollout_shards(tmp_path / "shards", [bad])
    out = tmp_path / "out.tar.gz"
    args = ["package", str(tmp_path / "shards"), "--scenarios", str(scen), "-o", str(out),
            "--account-name", "me@example.com", "--method-name", "t", "--num-params", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and not out.exists()
    assert res.output.count("✗") >= 2, res.output
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "shards"), "--scenarios", str(scen)])
    assert res.exit_code == 1 and res.output.count("✗") >= 2, res.output
