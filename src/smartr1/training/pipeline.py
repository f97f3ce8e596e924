"""SMART-R1's training pipeline in one call: pretrain -> CAT-K SFT -> RFT -> CAT-K SFT.

Each stage trains in its own directory `<out>/<stage>/` from the previous stage's last checkpoint
(recorded as its parent), with its own small config (`smartr1/configs/<stage>.yaml`) plus the
pipeline's shared settings and per-stage overrides; after it the held-out metric is computed and the
stage is marked done (`<out>/<stage>/done.json`, written atomically). Rerunning the pipeline skips
finished stages and resumes an interrupted one from its last checkpoint, so a killed run continues
exactly where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.scenario import Scenario
from smartr1.rollout.evaluation import evaluate_policy
from smartr1.training.config import load_config, merge_dicts
from smartr1.training.pretrain import train_pretrain
from smartr1.training.rft import train_rft
from smartr1.training.sft import train_sft

PIPELINE = ("pretrain", "sft", "rft", "sft2")
TRAIN = {"pretrain": train_pretrain, "sft": train_sft, "rft": train_rft, "sft2": train_sft}


def stage_done(out: Path, stage: str) -> dict | None:
    marker = Path(out) / stage / "done.json"
    return json.loads(marker.read_text()) if marker.exists() else None


def run_pipeline(
    out: str | Path,
    shared: dict,
    per_stage: dict[str, dict] | None = None,
    stages: Sequence[str] = PIPELINE,
    size: str = "nano",
    val: Sequence[Scenario] = (),
    rollouts: int = 32,
    seed: int = 0,
    device: str = "cpu",
    init_checkpoint: str | None = None,
    on_stage: Callable[[str, dict], None] | None = None,
) -> dict[str, dict]:
    """Run `stages` in order; returns {stage: done record} (checkpoint, parent, seconds, held-out metrics).

    `shared` overrides every stage's config (data, trainer, ...), `per_stage[stage]` one stage's; the
    first stage starts from `init_checkpoint` if given (required unless it is pretraining).
    """
    out = Path(out)
    per_stage = per_stage or {}
    unknown = set(stages) - set(TRAIN)
    if unknown:
        raise ValueError(f"unknown pipeline stages {sorted(unknown)}; known: {PIPELINE}")
    records: dict[str, dict] = {}
    parent = init_checkpoint
    for stage in stages:
        rec = stage_done(out, stage)
        if rec is None:
            overrides = merge_dicts(merge_dicts(shared, per_stage.get(stage, {})), {"out": str(out / stage)})
            if parent:
                overrides["init_checkpoint"] = str(parent)
            cfg = load_config(stage, size, overrides=overrides)
            t0 = time.perf_counter()
            ckpt = TRAIN[stage](cfg, resume=True)
            seconds = time.perf_counter() - t0
            rec = {"stage": stage, "checkpoint": str(ckpt), "parent": parent, "train_seconds": seconds}
            if val:
                res, _, sec = evaluate_policy(str(ckpt), val, rollouts, seed, device)
                rec.update(held_out={"dataset": res["dataset"], "buckets": res["buckets"]}, eval_seconds=sec)
            atomic_write_bytes(out / stage / "done.json", [json.dumps(rec, indent=1).encode()])
        records[stage] = rec
        if on_stage is not None:
            on_stage(stage, rec)
        parent = rec["checkpoint"]
    return records
