"""Whole-dataset commands built from per-shard jobs: evaluate a submission, simulate a dataset, fill
the token cache. The same code path runs with and without Ray, and the dataset aggregate is reduced
from the per-shard results in shard order, so both give the same numbers exactly."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2
from smartr1.data.womd import expand_paths
from smartr1.distributed.jobs import evaluate_shard, prepare_shard, simulate_shard
from smartr1.distributed.options import EvaluateOptions, SimulateOptions
from smartr1.distributed.runner import run_shards
from smartr1.metrics.binproto import iter_payloads, parse_rollouts, shard_name
from smartr1.metrics.report import MetricsReport
from smartr1.metrics.validate import SubmissionError
from smartr1.model.released import resolve_checkpoint
from smartr1.tokens.vocabulary import MotionVocab


def inputs_key(*inputs) -> str:
    """A short hash of the inputs: files (paths, directories, globs: with their sizes and mtimes) and any
    other values (options, as the dict of their fields; policy names). Per-shard results made from other
    inputs are never reused."""
    h = hashlib.sha256()
    for item in inputs:
        if is_dataclass(item) and not isinstance(item, type):
            item = asdict(item)
        items = item if isinstance(item, list | tuple) else [item]
        if items and all(isinstance(x, str | Path) for x in items):
            try:
                files = expand_paths(items)
            except DataError:  # not files: a policy name, say
                files = []
            for f in files:
                st = f.stat()
                h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
            if files:
                continue
        h.update(json.dumps(item, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def _source_file(src: str) -> str:
    """The readable file behind a payload source ("archive.tar.gz:member" -> the archive)."""
    head, sep, _ = str(src).rpartition(":")
    if sep and head.endswith((".tar.gz", ".tgz", ".tar")) and Path(head).is_file():
        return head
    return str(src)


def index_submission(submission) -> dict[str, str]:
    """scenario id -> the submission file (or archive) that holds its rollouts."""
    index: dict[str, str] = {}
    dup = []
    for src, payload in iter_payloads(submission):
        file = _source_file(src)
        for pb in parse_rollouts(payload, src):
            if pb.scenario_id in index:
                dup.append(pb.scenario_id)
            index[pb.scenario_id] = file
    if dup:
        raise SubmissionError(submission, [f"scenarios submitted more than once: {sorted(set(dup))[:10]}"])
    return index


def evaluate_dataset(
    scenarios, submission, results_dir, ray_address=None, console=None, options: EvaluateOptions | None = None
) -> MetricsReport:
    """`evaluate_rollouts`' report for a dataset, computed shard by shard; scenarios the metric cannot
    score are listed in its `unscorable` ({id: reason}) and left out of the means."""
    options = EvaluateOptions() if options is None else options
    shards = expand_paths(scenarios)
    if not shards:
        raise DataError(None, f"no scenario files match {scenarios}")
    index = index_submission(submission)
    results = run_shards(evaluate_shard, shards, results_dir, (index, options), ray_address,
                         description="evaluating", console=console)  # fmt: skip
    missing = [m for r in results for m in r["missing"]]
    unscorable = {sid: why for r in results for sid, why in r.get("unscorable", {}).items()}
    seen = {i for r in results for i in r["order"]} | set(unscorable)
    problems = [p for r in results for p in r.get("problems", [])]
    if missing:
        problems.append(f"{len(missing)} scenario(s) without rollouts: {missing[:10]}")
    extra = sorted(set(index) - seen)
    if extra:
        problems.append(f"{len(extra)} submitted scenario(s) not in the evaluation set: {extra[:10]}")
    if problems:
        raise SubmissionError(submission, problems)
    per = {sid: r["scenarios"][sid] for r in results for sid in r["order"]}
    if not per:
        raise DataError(None, f"no scenario can be scored; unscorable: {sorted(unscorable)[:10]}")
    return MetricsReport.build(per, options.config, unscorable)


def simulate_dataset(
    scenarios,
    checkpoint: str,
    out_dir,
    ray_address=None,
    console=None,
    results_key: str = "",
    options: SimulateOptions | None = None,
) -> list[Path]:
    """Rollouts of every scenario shard, one official submission shard per input shard. Per-shard results
    are kept in `<out_dir>/.shards-<results_key>/` (a rerun with the same inputs skips finished shards)."""
    shards = expand_paths(scenarios)
    if not shards:
        raise DataError(None, f"no scenario files match {scenarios}")
    path = resolve_checkpoint(checkpoint)  # a shipped checkpoint's name travels as its bytes too
    model = path.read_bytes() if path.is_file() else checkpoint  # a reference policy name travels as is
    args = (model, SimulateOptions() if options is None else options, str(checkpoint))  # errors name it
    out_dir = Path(out_dir)
    results = run_shards(simulate_shard, shards, out_dir / f".shards-{results_key}", args, ray_address,
                         description="simulating", console=console)  # fmt: skip
    written = []
    stale = set(out_dir.glob("submission.binproto-*-of-*"))
    for i, r in enumerate(results):
        msg = sim_agents_pb2.SimAgentsChallengeSubmission()
        for blob in r["rollouts"]:
            msg.scenario_rollouts.append(sim_agents_pb2.ScenarioRollouts.FromString(blob))
        p = out_dir / shard_name(i, len(results))
        atomic_write_bytes(p, [msg.SerializeToString()])
        written.append(p)
    for old in stale - set(written):  # shards of an earlier, differently split run
        old.unlink()
    return written


def prepare_dataset(
    files, vocab_path, cache_dir, ray_address=None, console=None, skip_bad=False
) -> list[dict]:
    """Fill the token cache for every shard; returns one {scenarios, bad_records, cache} per shard."""
    shards = expand_paths(files)
    if not shards:
        raise DataError(None, f"no scenario files match {files}")
    vocab = _read_vocab(Path(vocab_path))
    options = {"cache_dir": str(cache_dir), "skip_bad": skip_bad, "vocab_path": str(vocab_path)}
    return run_shards(prepare_shard, shards, Path(cache_dir) / ".prepare", (vocab, options), ray_address,
                      description="tokenizing", console=console)  # fmt: skip


def _read_vocab(path: Path) -> bytes:
    """The vocabulary file's bytes (what the shard jobs get), checked once here: a missing, unreadable
    or bad file is a `DataError` naming it, before any job starts."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read the motion vocabulary ({e.strerror or e})") from e
    try:
        MotionVocab.load(io.BytesIO(data))
    except DataError as e:
        raise DataError(path, e.problem, e.record) from e
    return data
