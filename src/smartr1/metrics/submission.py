"""Rollouts <-> official sim-agents submission protos, shards and the packaged `.tar.gz`.

On disk a set of rollouts is a list of shards named like the official tutorial,
`submission.binproto-00000-of-00004`, each a `SimAgentsChallengeSubmission` holding many
`ScenarioRollouts`. `package_submission` stamps the required metadata on every shard and tars them;
`load_rollouts` reads any of: one `ScenarioRollouts` binproto, one `SimAgentsChallengeSubmission`
binproto, a directory or glob of shards, or a packaged `.tar.gz`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from smartr1.data.atomic import temp_path, write_synced
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.rollouts import Rollouts
from smartr1.metrics import packaging
from smartr1.metrics.binproto import (
    SHARD_PREFIX,
    Submission,
    iter_payloads,
    parse_rollouts,
    shard_name,
    submission_metadata,
)
from smartr1.metrics.validate import (
    MAX_PROBLEMS,
    SubmissionError,
    check_scenario_rollouts_proto,
)

_FIELDS = ("center_x", "center_y", "center_z", "heading")


# --------------------------------------------------------------------------------- one scenario
def rollouts_to_proto(rollouts: Rollouts) -> sim_agents_pb2.ScenarioRollouts:
    """One `ScenarioRollouts` with a joint scene per rollout (float32 values, object ids as given)."""
    msg = sim_agents_pb2.ScenarioRollouts(scenario_id=rollouts.scenario_id)
    ids = [int(i) for i in rollouts.object_id]
    cols = [getattr(rollouts, k) for k in ("x", "y", "z", "heading")]
    for r in range(rollouts.num_rollouts):
        scene = msg.joint_scenes.add()
        for a, oid in enumerate(ids):
            scene.simulated_trajectories.add(
                object_id=oid,
                center_x=cols[0][r, a].tolist(),
                center_y=cols[1][r, a].tolist(),
                center_z=cols[2][r, a].tolist(),
                heading=cols[3][r, a].tolist(),
            )
    return msg


def rollouts_from_proto(pb: sim_agents_pb2.ScenarioRollouts, path=None) -> Rollouts:
    """Arrays from a `ScenarioRollouts`; every joint scene is re-aligned to the object order of the first.

    Structural problems (ragged trajectories, differing or repeated ids, no joint scene) raise a
    `SubmissionError` listing all of them.
    """
    problems = check_scenario_rollouts_proto(pb, scenario=None, num_rollouts=len(pb.joint_scenes) or 1)
    if not pb.joint_scenes:
        problems.append(f"scenario {pb.scenario_id!r}: no joint scene")
    if problems:
        raise SubmissionError(path, problems)
    first = pb.joint_scenes[0].simulated_trajectories
    ids = np.array([t.object_id for t in first], np.int64)
    steps = len(first[0].center_x) if len(first) else 0
    r, a = len(pb.joint_scenes), len(ids)
    data = np.zeros((4, r, a, steps), np.float32)
    col = {int(o): i for i, o in enumerate(ids.tolist())}
    for ri, scene in enumerate(pb.joint_scenes if a else ()):  # no agent: nothing to fill
        for t in scene.simulated_trajectories:
            ai = col[int(t.object_id)]
            for f, name in enumerate(_FIELDS):
                data[f, ri, ai] = np.asarray(getattr(t, name), np.float32)
    return Rollouts(pb.scenario_id, ids, data[0], data[1], data[2], data[3])


def iter_scenario_rollouts(path: str | Path) -> Iterator[tuple[str, sim_agents_pb2.ScenarioRollouts]]:
    """(source, ScenarioRollouts) for every scenario found under `path` (file, dir, glob or tarball)."""
    for src, payload in iter_payloads(path):
        for pb in parse_rollouts(payload, src):
            yield src, pb


def load_rollouts(path: str | Path) -> dict[str, Rollouts]:
    """{scenario_id: Rollouts} from a binproto, a directory or glob of shards, or a packaged tarball.

    A scenario present twice, or a structurally broken one, raises `SubmissionError` listing every
    problem found across the whole input.
    """
    out: dict[str, Rollouts] = {}
    problems: list[str] = []
    unchecked = 0
    for src, pb in iter_scenario_rollouts(path):
        if len(problems) >= MAX_PROBLEMS:  # enough to fix first: count the rest, cheaply
            unchecked += 1
            continue
        try:
            ro = rollouts_from_proto(pb, src)
        except SubmissionError as e:
            problems += [f"{src}: {p}" for p in e.problems]
            continue
        if ro.scenario_id in out:
            problems.append(f"{src}: scenario {ro.scenario_id!r} appears more than once")
            continue
        out[ro.scenario_id] = ro
    if unchecked:
        problems.append(
            f"{path}: more problems not listed: {unchecked} more scenario rollouts were not checked "
            f"after the first {MAX_PROBLEMS} problems"
        )
    if problems:
        raise SubmissionError(path, problems)
    return out


# ------------------------------------------------------------------------------------- writing
def write_rollout_shards(
    out_dir: str | Path,
    rollouts: Iterable[Rollouts],
    scenarios_per_shard: int = 64,
    prefix: str = SHARD_PREFIX,
    **metadata,
) -> list[Path]:
    """Write rollouts as `SimAgentsChallengeSubmission` shards `<prefix>-0000i-of-0000n` in `out_dir`.

    Shards are written to hidden temporary names and renamed once all are complete, so a crash
    never leaves a partially written shard under a final name. Old shards with the same prefix are
    replaced (stale ones removed after the rename).
    Returns the shard paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = submission_metadata(**metadata)
    tmp: list[Path] = []
    try:
        msg = Submission(**meta)

        def flush():
            name = temp_path(out_dir / prefix)
            tmp.append(name)
            write_synced(name, [msg.SerializeToString()])

        for ro in rollouts:
            msg.scenario_rollouts.append(rollouts_to_proto(ro))
            if len(msg.scenario_rollouts) >= scenarios_per_shard:
                flush()
                msg = Submission(**meta)
        if len(msg.scenario_rollouts) or not tmp:
            flush()
        final = [out_dir / shard_name(i, len(tmp), prefix) for i in range(len(tmp))]
        stale = set(out_dir.glob(f"{prefix}-*-of-*")) - set(final)
        for src, dst in zip(tmp, final, strict=True):
            os.replace(src, dst)
        for old in stale:  # shards of an earlier, differently split write
            old.unlink()
        return final
    except BaseException:
        for t in tmp:
            t.unlink(missing_ok=True)
        raise


def package_submission(shard_dir: str | Path, tar_path: str | Path, *, scenarios=None, **metadata) -> Path:
    """Stamp the metadata on every shard and write the `.tar.gz`, refusing (`SubmissionError`, every
    problem listed, nothing written) when any rule fails; see `smartr1.metrics.packaging`."""
    metadata.setdefault("uses_lidar_data", False)
    metadata.setdefault("uses_camera_data", False)
    metadata.setdefault("uses_public_model_pretraining", False)
    metadata.setdefault("acknowledge_complies_with_closed_loop_requirement", True)
    return packaging.package_submission(shard_dir, tar_path, scenarios=scenarios, **metadata)
