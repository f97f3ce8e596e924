"""Submission files as the server reads them: the payloads of a file, directory, glob or tarball, each
parsed as a `SimAgentsChallengeSubmission` or one bare `ScenarioRollouts`; shard names; metadata fields.

Shared by reading (`submission`), checking and packaging (`packaging`) and the per-shard jobs.
"""

from __future__ import annotations

import glob as _glob
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from google.protobuf.message import DecodeError

from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.tfrecord import masked_crc32c
from smartr1.data.womd import wire_type_clashes

SHARD_PREFIX = "submission.binproto"
Submission = sim_agents_pb2.SimAgentsChallengeSubmission


def shard_name(index: int, total: int, prefix: str = SHARD_PREFIX) -> str:
    return f"{prefix}-{index:05d}-of-{total:05d}"


def submission_metadata(**meta) -> dict:
    """The given `SimAgentsChallengeSubmission` metadata fields, None dropped; an unknown name is a ValueError."""
    keys = {f.name for f in Submission.DESCRIPTOR.fields} - {"scenario_rollouts", "submission_type"}
    unknown = set(meta) - keys
    if unknown:
        raise ValueError(f"unknown submission metadata field(s) {sorted(unknown)}; known: {sorted(keys)}")
    return {k: v for k, v in meta.items() if v is not None}


def parse_rollouts(payload: bytes, path) -> Sequence[sim_agents_pb2.ScenarioRollouts]:
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


def iter_payloads(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """(source, bytes) of every file under `path` (file, directory, glob) or member of a tarball, in order."""
    p = str(path)
    if any(c in p for c in "*?["):
        files = sorted(f for f in _glob.glob(p) if Path(f).is_file())
        if not files:
            raise DataError(p, "glob pattern matches no file")
        for f in files:
            yield from iter_payloads(f)
        return
    q = Path(p)
    if q.is_dir():
        files = sorted(f for f in q.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataError(q, "directory holds no shard")
        for f in files:
            yield from iter_payloads(f)
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
