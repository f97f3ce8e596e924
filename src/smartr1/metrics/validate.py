"""Submission validation: the official sim-agents rules plus finite values.

Official rules (submission_specs / the leaderboard server): scenario_id set, exactly 32 joint scenes,
every trajectory 80 steps on center_x/y/z and heading, object ids equal to the sim agents (tracks
valid at step 10) with no duplicates, one ScenarioRollouts per test scenario. We also reject NaN/inf
(the official validator lets them through and they silently corrupt the scores).

Every check collects problems instead of stopping at the first, and `SubmissionError` lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_FUTURE_STEPS
from smartr1.metrics.config import NUM_ROLLOUTS

MAX_LISTED = 50
MAX_PER_SCENARIO = 20  # problems kept per ScenarioRollouts (the rest are counted)
_FIELDS = ("center_x", "center_y", "center_z", "heading")


class SubmissionError(DataError):
    """A submission that breaks the rules; `problems` holds every violation found."""

    def __init__(self, path, problems: list[str]):
        self.problems = list(problems)
        shown = self.problems[:MAX_LISTED]
        more = len(self.problems) - len(shown)
        text = f"invalid submission ({len(self.problems)} problem(s)):\n  - " + "\n  - ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(path, text)


def _ids_problems(where: str, ids: list[int], expected: set[int] | None) -> list[str]:
    out = []
    seen, dup = set(), set()
    for o in ids:
        (dup if o in seen else seen).add(o)
    if dup:
        out.append(f"{where}: duplicate object ids {sorted(dup)[:10]}")
    if expected is not None:
        missing, extra = expected - seen, seen - expected
        if missing:
            out.append(
                f"{where}: missing sim agents {sorted(missing)[:10]}" + (" ..." if len(missing) > 10 else "")
            )
        if extra:
            out.append(f"{where}: object ids that are not sim agents {sorted(extra)[:10]}")
    return out


def sim_agent_ids(scenario: Scenario) -> set[int]:
    return {int(i) for i in scenario.tracks.id[scenario.sim_agent_index()]}


def check_scenario_rollouts_proto(
    pb: sim_agents_pb2.ScenarioRollouts,
    scenario: Scenario | None = None,
    num_rollouts: int = NUM_ROLLOUTS,
    num_steps: int = NUM_FUTURE_STEPS,
    sim_agents: set[int] | frozenset[int] | None = None,
) -> list[str]:
    """Problems of one `ScenarioRollouts` message (scenario-dependent checks only with `scenario`, or
    with the scenario's `sim_agents` ids alone: a whole test split's ids fit in memory, its scenarios
    do not)."""
    sid = pb.scenario_id if pb.HasField("scenario_id") and pb.scenario_id else None
    name = f"scenario {sid!r}" if sid else "scenario <unset>"
    out: list[str] = []
    over = 0

    def add(problem: str) -> None:  # a broken scenario lists its first problems, then a count
        nonlocal over
        if len(out) < MAX_PER_SCENARIO:
            out.append(problem)
        else:
            over += 1

    if sid is None:
        add(f"{name}: scenario_id is not set")
    elif not isinstance(sid, str):  # upb returns bytes for a proto2 string that is not UTF-8
        add(f"{name}: scenario_id is not valid UTF-8 text")
    elif scenario is not None and sid != scenario.scenario_id:
        add(f"{name}: does not match scenario {scenario.scenario_id!r}")
    if len(pb.joint_scenes) != num_rollouts:
        add(f"{name}: {len(pb.joint_scenes)} joint scenes, expected exactly {num_rollouts}")
    expected = sim_agent_ids(scenario) if scenario is not None else sim_agents
    first_ids = None
    for r, scene in enumerate(pb.joint_scenes):
        where = f"{name}, joint scene {r}"
        ids = [int(t.object_id) for t in scene.simulated_trajectories]
        for p in _ids_problems(where, ids, expected):
            add(p)
        if expected is None:
            if first_ids is None:
                first_ids = set(ids)
            elif set(ids) != first_ids:
                add(f"{where}: object ids differ from joint scene 0")
        for t in scene.simulated_trajectories:
            for f in _FIELDS:
                n = len(getattr(t, f))
                if n != num_steps:
                    add(f"{where}, object {t.object_id}: {f} has {n} steps, expected {num_steps}")
            if not all(np.isfinite(np.asarray(getattr(t, f), np.float32)).all() for f in _FIELDS):
                add(f"{where}, object {t.object_id}: non-finite value (NaN or inf)")
    if over:
        out.append(f"{name}: ... and {over} more problem(s) in this scenario")
    return out


def check_rollouts(
    rollouts: Rollouts,
    scenario: Scenario | None = None,
    num_rollouts: int | None = NUM_ROLLOUTS,
    num_steps: int = NUM_FUTURE_STEPS,
) -> list[str]:
    """Problems of one `Rollouts` (array form)."""
    name = f"scenario {rollouts.scenario_id!r}" if rollouts.scenario_id else "scenario <unset>"
    out = []
    if not rollouts.scenario_id:
        out.append(f"{name}: scenario_id is not set")
    elif scenario is not None and rollouts.scenario_id != scenario.scenario_id:
        out.append(f"{name}: does not match scenario {scenario.scenario_id!r}")
    r, _, t = rollouts.x.shape
    if num_rollouts is not None and r != num_rollouts:
        out.append(f"{name}: {r} joint scenes, expected exactly {num_rollouts}")
    if t != num_steps:
        out.append(f"{name}: trajectories have {t} steps, expected {num_steps}")
    expected = sim_agent_ids(scenario) if scenario is not None else None
    out += _ids_problems(name, [int(i) for i in rollouts.object_id], expected)
    for f in ("x", "y", "z", "heading"):
        bad = ~np.isfinite(getattr(rollouts, f))
        if bad.any():
            rr, a, k = np.argwhere(bad)[0]
            out.append(
                f"{name}: {int(bad.sum())} non-finite {f} value(s), first at rollout {rr}, "
                f"object {int(rollouts.object_id[a])}, step {k}"
            )
    return out


def check_coverage(submitted: Iterable[str], scenarios: Iterable[str]) -> list[str]:
    """One ScenarioRollouts per scenario: none missing, none unexpected, none twice."""
    sub = list(submitted)
    want = set(scenarios)
    out = []
    dup = sorted({s for s in sub if sub.count(s) > 1})
    if dup:
        out.append(f"scenarios submitted more than once: {dup[:10]}")
    missing, extra = want - set(sub), set(sub) - want
    if missing:
        out.append(f"{len(missing)} scenario(s) without rollouts: {sorted(missing)[:10]}")
    if extra:
        out.append(f"{len(extra)} submitted scenario(s) not in the evaluation set: {sorted(extra)[:10]}")
    return out


def check_metadata(sub: sim_agents_pb2.SimAgentsChallengeSubmission) -> list[str]:
    """The leaderboard's required submission-level fields."""
    out = []
    if sub.submission_type != sim_agents_pb2.SimAgentsChallengeSubmission.SIM_AGENTS_SUBMISSION:
        out.append("submission_type must be SIM_AGENTS_SUBMISSION")
    for f in ("account_name", "unique_method_name", "num_model_parameters"):
        if not getattr(sub, f):
            out.append(f"{f} is required")
    for f in ("uses_lidar_data", "uses_camera_data", "uses_public_model_pretraining"):
        if not sub.HasField(f):
            out.append(f"{f} must be set (true or false)")
    if not sub.acknowledge_complies_with_closed_loop_requirement:
        out.append("acknowledge_complies_with_closed_loop_requirement must be true")
    return out


def validate_rollouts(
    rollouts_by_id: Mapping[str, Rollouts],
    scenarios: Iterable[Scenario],
    path=None,
    num_rollouts: int | None = NUM_ROLLOUTS,
    require_all: bool = True,
) -> None:
    """Raise `SubmissionError` listing every problem of the rollouts against their scenarios."""
    scenarios = list(scenarios)
    problems = []
    if require_all:
        problems += check_coverage(rollouts_by_id.keys(), [s.scenario_id for s in scenarios])
    for s in scenarios:
        ro = rollouts_by_id.get(s.scenario_id)
        if ro is not None:
            problems += check_rollouts(ro, s, num_rollouts=num_rollouts)
    if problems:
        raise SubmissionError(path, problems)
