"""Rollouts <-> official sim-agents submission protos, shards and the packaged `.tar.gz`.

On disk a set of rollouts is a list of shards named like the official tutorial,
`submission.binproto-00000-of-00004`, each a `SimAgentsChallengeSubmission` holding many
`ScenarioRollouts`. `package_submission` stamps the required metadata on every shard and tars them;
`load_rollouts` reads any of: one `ScenarioRollouts` binproto, one `SimAgentsChallengeSubmission`
binproto, a directory or glob of shards, or a packaged `.tar.gz`.
"""

from __future__ import annotations

import glob as _glob
import os
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError

from smartr1.data.atomic import temp_path, write_synced
from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.rollouts import Rollouts
from smartr1.data.tfrecord import masked_crc32c
from smartr1.data.womd import wire_type_clashes
from smartr1.metrics.validate import (
    MAX_PROBLEMS,
    SubmissionError,
    check_scenario_rollouts_proto,
)

SHARD_PREFIX = "submission.binproto"
_FIELDS = ("center_x", "center_y", "center_z", "heading")
Submission = sim_agents_pb2.SimAgentsChallengeSubmission


def shard_name(index: int, total: int, prefix: str = SHARD_PREFIX) -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}"


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


# ------------------------------------------------------------------------------------- parsing
def _parse(payload: bytes, path) -> Sequence[sim_agents_pb2.ScenarioRollouts]:
    """The ScenarioRollouts of a binproto that is either a SimAgentsChallengeSubmission or one ScenarioRollouts."""
    return parse_binproto(payload, path)[1]


def parse_binproto(
    payload: bytes, path
) -> tuple[Submission | None, Sequence[sim_agents_pb2.ScenarioRollouts]]:
    """(the SimAgentsChallengeSubmission or None for a bare ScenarioRollouts, its ScenarioRollouts).

    Bytes of another message (a Scenario, a TFRecord file) parse as either type more often than not;
    known fields arriving with the wrong wire type give them away.
    """
    if _is_tfrecord(payload):
        raise DataError(path, "a TFRecord file (scenarios?), not a submission binproto")
    try:
        sub = Submission.FromString(payload)
        if not wire_type_clashes(sub) and (len(sub.scenario_rollouts) or sub.HasField("submission_type")):
            return sub, sub.scenario_rollouts  # the repeated field itself: no list of 10^6 wrappers
    except DecodeError:
        pass  # field 1 of a ScenarioRollouts is a string, which rarely parses as a message
    try:
        one = sim_agents_pb2.ScenarioRollouts.FromString(payload)
    except DecodeError as e:
        raise DataError(
            path, f"neither a SimAgentsChallengeSubmission nor a ScenarioRollouts proto ({e})"
        ) from e
    clash = wire_type_clashes(one)
    if clash:
        raise DataError(
            path,
            f"neither a SimAgentsChallengeSubmission nor a ScenarioRollouts proto (field(s) {clash} "
            "have the wrong wire type)",
        )
    if not one.joint_scenes and not one.scenario_id:
        raise DataError(path, "empty or unrecognised binproto (no scenario rollouts)")
    return None, [one]


def _is_tfrecord(payload: bytes) -> bool:
    return len(payload) >= 12 and masked_crc32c(payload[:8]) == int.from_bytes(payload[8:12], "little")


def _iter_payloads(path: str | Path) -> Iterator[tuple[str, bytes]]:
    p = str(path)
    if any(c in p for c in "*?["):
        files = sorted(f for f in _glob.glob(p) if Path(f).is_file())
        if not files:
            raise DataError(p, "glob pattern matches no file")
        for f in files:
            yield from _iter_payloads(f)
        return
    q = Path(p)
    if q.is_dir():
        files = sorted(f for f in q.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataError(q, "directory holds no shard")
        for f in files:
            yield from _iter_payloads(f)
        return
    if not q.is_file():
        raise DataError(q, "no such file or directory")
    if q.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(q, "r:*") as tar:
                members = [
                    m for m in tar.getmembers() if m.isfile() and not Path(m.name).name.startswith(".")
                ]
                if not members:
                    raise DataError(q, "archive holds no shard")
                for m in sorted(members, key=lambda m: m.name):
                    f = tar.extractfile(m)
                    yield f"{q}:{m.name}", f.read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:  # gzip errors are not TarErrors
            raise DataError(q, f"not a readable tar archive ({type(e).__name__}: {e})") from e
        return
    try:
        data = q.read_bytes()
    except OSError as e:
        raise DataError(q, f"cannot read: {e.strerror}") from e
    yield str(q), data


def iter_scenario_rollouts(path: str | Path) -> Iterator[tuple[str, sim_agents_pb2.ScenarioRollouts]]:
    """(source, ScenarioRollouts) for every scenario found under `path` (file, dir, glob or tarball)."""
    for src, payload in _iter_payloads(path):
        for pb in _parse(payload, src):
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
def _metadata(**meta) -> dict:
    keys = {f.name for f in Submission.DESCRIPTOR.fields} - {"scenario_rollouts", "submission_type"}
    unknown = set(meta) - keys
    if unknown:
        raise ValueError(f"unknown submission metadata field(s) {sorted(unknown)}; known: {sorted(keys)}")
    return {k: v for k, v in meta.items() if v is not None}


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
    meta = _metadata(**metadata)
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
    from smartr1.metrics.packaging import package_submission as package

    metadata.setdefault("uses_lidar_data", False)
    metadata.setdefault("uses_camera_data", False)
    metadata.setdefault("uses_public_model_pretraining", False)
    metadata.setdefault("acknowledge_complies_with_closed_loop_requirement", True)
    return package(shard_dir, tar_path, scenarios=scenarios, **metadata)
