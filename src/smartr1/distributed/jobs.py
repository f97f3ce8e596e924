"""The per-shard jobs: score a shard's scenarios, simulate them, or tokenize them into the cache.

Each is a plain function of a shard path and picklable arguments, so it runs in this process or as a
Ray task unchanged (see `runner.run_shards`). Models travel as checkpoint bytes, not paths, so workers
on other machines need no copy of the checkpoint file.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from pathlib import Path

from smartr1.data.errors import DataError
from smartr1.data.threads import torch_threads
from smartr1.data.womd import read_scenarios
from smartr1.distributed.options import EvaluateOptions, SimulateOptions
from smartr1.metrics.scorable import unscorable_reason
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.metrics.submission import iter_scenario_rollouts, rollouts_from_proto, rollouts_to_proto
from smartr1.metrics.validate import check_rollouts
from smartr1.rollout.policy import load_policy
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.cache import TokenizedDataset


def evaluate_shard(shard, sources: Mapping[str, str], options: EvaluateOptions) -> dict:
    """WOSAC metrics of one scenario shard: {"order": [scored ids], "scenarios": {id: fields}, "missing":
    [...], "unscorable": {id: reason}, "problems": [...]}.

    `sources` maps scenario id -> the submission file holding its rollouts (only those are read).
    Scenarios the metric cannot score (no road edge) are named, not scored; their rollouts must still
    follow the submission rules ("problems").
    """
    scen = list(read_scenarios(shard))
    ids = {s.scenario_id for s in scen}
    ros = {}
    for src in sorted({sources[i] for i in ids if i in sources}):
        for where, pb in iter_scenario_rollouts(src):
            if pb.scenario_id in ids:
                ros[pb.scenario_id] = rollouts_from_proto(pb, where)
    unscorable = {s.scenario_id: why for s in scen if (why := unscorable_reason(s)) is not None}
    scored = [s for s in scen if s.scenario_id not in unscorable]
    out = {"order": [s.scenario_id for s in scored], "scenarios": {}, "missing": sorted(ids - set(ros)),
           "unscorable": unscorable, "problems": []}  # fmt: skip
    if out["missing"]:
        return out
    for s in scen:
        if s.scenario_id in unscorable:
            out["problems"] += check_rollouts(ros[s.scenario_id], s, options.num_rollouts)
    if scored:
        out["scenarios"] = evaluate_rollouts(
            scored, {s.scenario_id: ros[s.scenario_id] for s in scored}, device=options.device,
            config=options.config, batch_size=options.batch_size, threads=1, num_rollouts=options.num_rollouts,
        ).scenarios  # fmt: skip
    return out


def _policy(checkpoint: bytes | str, options: SimulateOptions, name: str):
    kw = options.policy_options()
    if isinstance(checkpoint, bytes):  # a model checkpoint's content
        with tempfile.NamedTemporaryFile(suffix=".pt") as f:
            f.write(checkpoint)
            f.flush()
            try:
                return load_policy(f.name, **kw)
            except DataError as e:  # name the user's file, not the copy
                raise DataError(name, e.problem.replace(f.name, str(name)), e.record) from e
    return load_policy(checkpoint, **kw)


def simulate_shard(
    shard, checkpoint: bytes | str, options: SimulateOptions, checkpoint_name: str = "<checkpoint>"
) -> dict:
    """Rollouts of one scenario shard as serialized `ScenarioRollouts` messages, in shard order.
    `checkpoint_name` is what errors call the checkpoint (the user's file, not the bytes it travels as)."""
    policy = _policy(checkpoint, options, checkpoint_name)
    out = []
    with torch_threads(options.threads):
        scen = list(read_scenarios(shard, skip_bad=options.skip_bad))
        for ro in policy.rollout(scen, num_rollouts=options.num_rollouts, seed=options.seed):
            out.append(rollouts_to_proto(ro).SerializeToString())
    return {"order": [s.scenario_id for s in scen], "rollouts": out}


def prepare_shard(shard, vocab: bytes, options: Mapping) -> dict:
    """Tokenize one shard into the token cache (a shared directory on a cluster)."""
    name = options.get("vocab_path", "<vocabulary>")  # the user's file, not the bytes it travels as
    try:
        v = MotionVocab.load(io.BytesIO(vocab))
    except DataError as e:
        raise DataError(name, e.problem, e.record) from e
    ds = TokenizedDataset(
        [Path(shard)], v, cache_dir=options.get("cache_dir"), skip_bad=options.get("skip_bad", False)
    )
    return {"scenarios": len(ds), "bad_records": ds.stats["bad_records"], "cache": str(ds._paths[0])}
