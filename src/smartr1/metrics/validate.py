"""Submission validation: the official sim-agents rules plus finite values.

Official rules (submission_specs / the leaderboard server): scenario_id set, exactly 32 joint scenes,
every trajectory 80 steps on center_x/y/z and heading, object ids equal to the sim agents (tracks
valid at step 10) with no duplicates, one ScenarioRollouts per test scenario. We also reject NaN/inf
(the official validator lets them through and they silently corrupt the scores).

Every check collects problems instead of stopping at the first, and `SubmissionError` lists them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from operator import attrgetter

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_FUTURE_STEPS
from smartr1.metrics.config import NUM_ROLLOUTS

MAX_LISTED = 50
MAX_PER_SCENARIO = 20  # problems listed per ScenarioRollouts; its check stops at the next one
MAX_PROBLEMS = 1000  # problems collected over a submission; later ScenarioRollouts are counted, not checked
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


def _ids_problems(where: str, ids, expected: set[int] | frozenset[int] | None, unique=None) -> list[str]:
    """Duplicate ids, and with `expected`, missing and extra ones. Array-based: a scene of 10^6 ids
    costs a few arrays of 8 MB, not sets of Python ints."""
    ids = np.asarray(ids, np.int64).reshape(-1)
    unique = np.unique(ids) if unique is None else unique
    out = []
    if len(unique) != len(ids):
        s = np.sort(ids)
        dup = np.unique(s[1:][s[1:] == s[:-1]])
        out.append(f"{where}: duplicate object ids {dup[:10].tolist()}")
    if expected is not None:
        want = _sorted_ids(expected)
        missing = np.setdiff1d(want, unique, assume_unique=True)
        extra = np.setdiff1d(unique, want, assume_unique=True)
        if len(missing):
            out.append(
                f"{where}: missing sim agents {missing[:10].tolist()}" + (" ..." if len(missing) > 10 else "")
            )
        if len(extra):
            out.append(f"{where}: object ids that are not sim agents {extra[:10].tolist()}")
    return out


def _sorted_ids(ids) -> np.ndarray:
    return np.array(sorted(int(i) for i in ids), np.int64)


class _Full(Exception):
    """A problem list is full: stop checking."""


_NO_IDS = np.zeros(0, np.int64)
_object_id = attrgetter("object_id")


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
    do not).

    Bounded: once `MAX_PER_SCENARIO` problems are listed the walk stops, and a last line says where
    (a message of 10^6 empty joint scenes or trajectories is judged from its first ones, not walked).
    """
    sid = pb.scenario_id if pb.HasField("scenario_id") and pb.scenario_id else None
    name = f"scenario {sid!r}" if sid else "scenario <unset>"
    out: list[str] = []

    def add(problem: str) -> None:
        if len(out) == MAX_PER_SCENARIO:
            raise _Full
        out.append(problem)

    scenes = pb.joint_scenes
    r = 0
    try:
        if sid is None:
            add(f"{name}: scenario_id is not set")
        elif not isinstance(sid, str):  # upb returns bytes for a proto2 string that is not UTF-8
            add(f"{name}: scenario_id is not valid UTF-8 text")
        elif scenario is not None and sid != scenario.scenario_id:
            add(f"{name}: does not match scenario {scenario.scenario_id!r}")
        if len(scenes) != num_rollouts:
            add(f"{name}: {len(scenes)} joint scenes, expected exactly {num_rollouts}")
        expected = sim_agent_ids(scenario) if scenario is not None else sim_agents
        # The ids every joint scene must hold, sorted (without a scenario: joint scene 0's).
        want = None if expected is None else _sorted_ids(expected)
        for r, scene in enumerate(scenes):
            trajs = scene.simulated_trajectories
            if trajs:
                ids = np.fromiter(map(_object_id, trajs), np.int64, count=len(trajs))
                unique = np.unique(ids)
            else:  # nothing allocated for an empty scene: 10^6 of them take seconds, not minutes
                ids = unique = _NO_IDS
            if want is None:
                want = unique
            if len(unique) != len(ids) or (unique is not want and not np.array_equal(unique, want)):
                where = f"{name}, joint scene {r}"
                for p in _ids_problems(where, ids, expected, unique):
                    add(p)
                if expected is None and not np.array_equal(unique, want):
                    add(f"{where}: object ids differ from joint scene 0")
            for t in trajs if len(ids) else ():
                lens = [len(getattr(t, f)) for f in _FIELDS]
                if lens.count(num_steps) != len(_FIELDS):
                    where = f"{name}, joint scene {r}, object {t.object_id}"
                    for f, n in zip(_FIELDS, lens, strict=True):
                        if n != num_steps:
                            add(f"{where}: {f} has {n} steps, expected {num_steps}")
                if not all(np.isfinite(np.asarray(getattr(t, f), np.float32)).all() for f in _FIELDS):
                    add(f"{name}, joint scene {r}, object {t.object_id}: non-finite value (NaN or inf)")
    except _Full:
        out.append(
            f"{name}: more problems not listed (checking stopped at joint scene {r} of {len(scenes)}, "
            f"after {MAX_PER_SCENARIO} problems)"
        )
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
    counts = Counter(submitted)  # one pass: a million entries must not cost a million list scans
    want = set(scenarios)
    out = []
    dup = sorted(s for s, n in counts.items() if n > 1)
    if dup:
        out.append(f"scenarios submitted more than once: {dup[:10]}")
    missing, extra = want - counts.keys(), counts.keys() - want
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
