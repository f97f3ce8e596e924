"""Submission protos: round trips, shards, packaging, loading every accepted form, and validation."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest

from smartr1.data.protos import sim_agents_pb2
from smartr1.data.rollouts import Rollouts
from smartr1.metrics.submission import (
    load_rollouts,
    package_submission,
    rollouts_from_proto,
    rollouts_to_proto,
    write_rollout_shards,
)
from smartr1.metrics.validate import (
    SubmissionError,
    check_metadata,
    check_scenario_rollouts_proto,
    validate_rollouts,
)
from smartr1.rollout.reference import constant_velocity, stationary
from tests.conftest import SCENARIO_IDS, SHARED

META = dict(account_name="me@example.com", unique_method_name="smartr1-test", num_model_parameters="7M")


def same(a: Rollouts, b: Rollouts) -> bool:
    return (
        a.scenario_id == b.scenario_id
        and np.array_equal(a.object_id, b.object_id)
        and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("x", "y", "z", "heading"))
    )


@pytest.fixture(scope="module")
def subs(real_scenarios):
    return {sid: constant_velocity(real_scenarios[sid]) for sid in SCENARIO_IDS}


def test_proto_round_trip(subs):
    ro = subs[SCENARIO_IDS[0]]
    pb = rollouts_to_proto(ro)
    assert len(pb.joint_scenes) == 32 and len(pb.joint_scenes[0].simulated_trajectories) == ro.num_agents
    assert same(rollouts_from_proto(sim_agents_pb2.ScenarioRollouts.FromString(pb.SerializeToString())), ro)


def test_from_proto_realigns_shuffled_scenes(subs):
    ro = subs[SCENARIO_IDS[0]]
    pb = rollouts_to_proto(ro)
    trajs = list(pb.joint_scenes[3].simulated_trajectories)
    del pb.joint_scenes[3].simulated_trajectories[:]
    pb.joint_scenes[3].simulated_trajectories.extend(trajs[::-1])
    assert same(rollouts_from_proto(pb), ro)


def test_shards_package_and_load_every_form(tmp_path, subs, real_scenarios):
    shards = write_rollout_shards(tmp_path / "shards", subs.values(), scenarios_per_shard=1)
    assert [p.name for p in shards] == [
        "submission.binproto-00000-of-00002",
        "submission.binproto-00001-of-00002",
    ]
    assert not list((tmp_path / "shards").glob(".*"))  # no temporary left behind
    for form in (tmp_path / "shards", str(tmp_path / "shards" / "submission.binproto-*")):
        loaded = load_rollouts(form)
        assert set(loaded) == set(subs) and all(same(loaded[k], subs[k]) for k in subs)
    tar = package_submission(
        tmp_path / "shards", tmp_path / "sub.tar.gz", scenarios=real_scenarios.values(), **META
    )
    with tarfile.open(tar) as t:
        names = sorted(t.getnames())
        assert names == [p.name for p in shards]
        first = sim_agents_pb2.SimAgentsChallengeSubmission.FromString(t.extractfile(names[0]).read())
    assert check_metadata(first) == []
    assert (
        first.account_name == META["account_name"] and first.acknowledge_complies_with_closed_loop_requirement
    )
    loaded = load_rollouts(tar)
    assert all(same(loaded[k], subs[k]) for k in subs)
    # A bare ScenarioRollouts binproto.
    one = tmp_path / "one.binproto"
    one.write_bytes(rollouts_to_proto(subs[SCENARIO_IDS[1]]).SerializeToString())
    assert same(load_rollouts(one)[SCENARIO_IDS[1]], subs[SCENARIO_IDS[1]])


def test_rewriting_shards_replaces_old_ones(tmp_path, subs):
    write_rollout_shards(tmp_path, subs.values(), scenarios_per_shard=1)
    write_rollout_shards(tmp_path, subs.values(), scenarios_per_shard=8)
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["submission.binproto-00000-of-00001"]


def test_golden_binproto_loads(real_scenarios):
    loaded = load_rollouts(SHARED / "spec" / "golden" / "test_submission.binproto")
    ro = loaded["637f20cafde22ff8"]
    assert ro.x.shape == (32, 50, 80)
    validate_rollouts(loaded, [real_scenarios["637f20cafde22ff8"]])  # no error


def test_package_refuses_missing_metadata(tmp_path, subs):
    write_rollout_shards(tmp_path / "s", subs.values())
    with pytest.raises(SubmissionError) as e:
        package_submission(
            tmp_path / "s", tmp_path / "x.tar.gz", account_name="", unique_method_name="m", num_model_parameters="",
            acknowledge_complies_with_closed_loop_requirement=False,
        )  # fmt: skip
    msg = str(e.value)
    for needle in ("account_name", "num_model_parameters", "acknowledge_complies"):
        assert needle in msg
    assert not (tmp_path / "x.tar.gz").exists()


# ------------------------------------------------------------------------------ validation
@pytest.fixture
def good(real_scenarios):
    scen = real_scenarios["637f20cafde22ff8"]
    return scen, rollouts_to_proto(stationary(scen))


def test_valid_proto_has_no_problem(good):
    scen, pb = good
    assert check_scenario_rollouts_proto(pb, scen) == []


def problems_after(good, edit) -> list[str]:
    scen, pb = good
    edit(pb)
    return check_scenario_rollouts_proto(pb, scen)


def test_catches_unset_scenario_id(good):
    assert any(
        "scenario_id is not set" in p for p in problems_after(good, lambda pb: pb.ClearField("scenario_id"))
    )


def test_catches_wrong_number_of_joint_scenes(good):
    assert any("31 joint scenes" in p for p in problems_after(good, lambda pb: pb.joint_scenes.pop()))


def test_catches_wrong_step_count(good):
    def edit(pb):
        pb.joint_scenes[2].simulated_trajectories[5].center_y.append(1.0)

    assert any("center_y has 81 steps" in p for p in problems_after(good, edit))


def test_catches_missing_extra_and_duplicate_agents(good):
    def edit(pb):
        trajs = pb.joint_scenes[0].simulated_trajectories
        missing = trajs[0].object_id
        trajs[0].object_id = 999999  # not a sim agent, and the original agent is now missing
        trajs[2].object_id = trajs[1].object_id  # duplicate
        return missing

    probs = problems_after(good, edit)
    assert any("not sim agents [999999]" in p for p in probs)
    assert any("missing sim agents" in p for p in probs)
    assert any("duplicate object ids" in p for p in probs)


def test_catches_non_finite(good):
    def edit(pb):
        pb.joint_scenes[7].simulated_trajectories[3].heading[10] = float("nan")

    assert any("non-finite" in p for p in problems_after(good, edit))


def test_bad_submission_lists_every_problem(tmp_path, real_scenarios, subs):
    ro = subs["637f20cafde22ff8"]
    bad = Rollouts(
        ro.scenario_id, ro.object_id[1:], ro.x[:30, 1:], ro.y[:30, 1:], ro.z[:30, 1:], ro.heading[:30, 1:]
    )
    bad.x[0, 0, 0] = np.inf
    with pytest.raises(SubmissionError) as e:
        validate_rollouts({bad.scenario_id: bad}, real_scenarios.values())
    msg = str(e.value)
    assert "30 joint scenes" in msg and "missing sim agents" in msg and "non-finite x" in msg
    assert "without rollouts" in msg and "ee519cf571686d19" in msg  # coverage
    assert len(e.value.problems) == 4


def test_load_reports_structural_problems(tmp_path, subs):
    pb = rollouts_to_proto(subs["637f20cafde22ff8"])
    pb.joint_scenes[1].simulated_trajectories[0].center_x.pop()
    pb.joint_scenes[4].simulated_trajectories[1].object_id = 5
    path = tmp_path / "bad.binproto"
    path.write_bytes(pb.SerializeToString())
    with pytest.raises(SubmissionError) as e:
        load_rollouts(path)
    assert "79 steps" in str(e.value) and "differ from joint scene 0" in str(e.value)


def test_load_rejects_garbage(tmp_path):
    from smartr1.data.errors import DataError

    p = tmp_path / "junk.binproto"
    p.write_bytes(b"\xff\xff\xff not a proto")
    with pytest.raises(DataError):
        load_rollouts(p)
    with pytest.raises(DataError):
        load_rollouts(tmp_path / "missing")


def test_package_validates_against_scenarios(tmp_path, subs, real_scenarios):
    sid = "637f20cafde22ff8"
    write_rollout_shards(tmp_path / "s", [subs[sid]])
    with pytest.raises(SubmissionError, match="without rollouts") as e:
        package_submission(tmp_path / "s", tmp_path / "x.tar.gz", scenarios=real_scenarios.values(), **META)
    assert "ee519cf571686d19" in str(e.value)
    assert not (tmp_path / "x.tar.gz").exists() and not list(tmp_path.glob(".x.tar.gz*"))
