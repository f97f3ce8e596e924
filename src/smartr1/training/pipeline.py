"""SMART-R1's training pipeline: pretrain -> CAT-K SFT -> RFT -> CAT-K SFT, described by a recipe.

A recipe (`Recipe`; YAML in `smartr1/configs/recipes/`, or a user's file) holds only what differs from
the stage configs: `shared` settings for every stage, `stages: {stage: settings}` for one stage,
`order` (the stages to run) and `size`; `base: NAME` layers it over another recipe. The demo's
schedule, cpu-long, womd-gpu and every ablation row are recipes.

`run_pipeline` trains each stage in its own directory from the previous stage's last checkpoint
(recorded as its parent); after it the held-out metric is computed and the stage is marked done
(`done.json`, written atomically). Rerunning skips finished stages and resumes an interrupted one from
its last checkpoint, so a killed run continues exactly where it stopped. Each stage directory records
the digest of the settings that led to it (`settings.json`); when the recipe or the parent checkpoint
changed since, the old directory is kept aside as `<stage>.stale-<time>` and the stage is trained
afresh, so an edited recipe never reuses (or resumes) a stage trained under another. With
`share_prefixes`, a stage's directory is named by the chain of stages and settings that led to it, so
recipes that begin alike (the ablation's rows) train their common stages once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.scenario import Scenario
from smartr1.metrics.submission import write_rollout_shards
from smartr1.rollout.evaluation import evaluate_policy
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.training.config import STAGES, TrainConfig, config_dir_default, load_config, merge_dicts
from smartr1.training.stages import run_stage

PIPELINE = ("pretrain", "sft", "rft", "sft2")
RECIPE_KEYS = {"base", "shared", "stages", "size", "order"}


@dataclass(frozen=True)
class Recipe:
    """A pipeline run: stages in `order`, `shared` overrides for each, `stages[name]` for one."""

    size: str | None = None  # None: the caller's (e.g. `smartr1 train pipeline --size`), else nano
    order: tuple[str, ...] = PIPELINE
    shared: dict = field(default_factory=dict)
    stages: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        unknown = sorted((set(self.order) | set(self.stages)) - set(STAGES))
        if unknown:
            raise ValueError(f"unknown pipeline stages {unknown}; known: {STAGES}")

    def over(self, shared: dict | None = None, stages: dict[str, dict] | None = None, **fields) -> Recipe:
        """This recipe with more overrides layered on top (later wins)."""
        merged = dict(self.stages)
        for s, ov in (stages or {}).items():
            merged[s] = merge_dicts(merged.get(s, {}), ov)
        return replace(self, shared=merge_dicts(self.shared, shared or {}), stages=merged, **fields)

    def overrides(self, stage: str) -> dict:
        """Everything the recipe sets for `stage` (shared first, the stage's own on top)."""
        return merge_dicts(self.shared, self.stages.get(stage, {}))

    def stage_config(self, stage: str, out: Path, parent: str | None) -> TrainConfig:
        ov = merge_dicts(self.overrides(stage), {"out": str(out)})
        if parent:
            ov["init_checkpoint"] = str(parent)
        return load_config(stage, self.size or "nano", overrides=ov)


def recipe_dir() -> Traversable:
    return config_dir_default() / "recipes"


def recipe_names() -> list[str]:
    """The shipped recipes, by name (ablation rows as `ablation/<row>`)."""
    names = []
    for p in recipe_dir().iterdir():
        if p.name.endswith(".yaml"):
            names.append(p.name.removesuffix(".yaml"))
        elif p.is_dir():
            names += [
                f"{p.name}/{q.name.removesuffix('.yaml')}" for q in p.iterdir() if q.name.endswith(".yaml")
            ]
    return sorted(names)


def recipe_file(name: str | Path) -> Path | Traversable:
    """A recipe file: a path that exists, or the name of a shipped recipe."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = recipe_dir().joinpath(*f"{name}.yaml".split("/"))
    if path.suffix == "" and shipped.is_file():
        return shipped
    raise ValueError(f"{name}: no such file, and not a shipped recipe ({', '.join(recipe_names())})")


def parse_recipe(spec: dict, where: str = "recipe", _seen: tuple[str, ...] = ()) -> Recipe:
    """A Recipe from a parsed YAML mapping (its `base` first, this one layered over it)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a recipe is a mapping, got {type(spec).__name__}")
    unknown = set(spec) - RECIPE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown pipeline keys {sorted(unknown)}; valid: {sorted(RECIPE_KEYS)}")
    base = Recipe()
    if spec.get("base"):
        if spec["base"] in _seen:
            raise ValueError(f"{where}: recipes extend each other in a circle: {(*_seen, spec['base'])}")
        base = load_recipe(spec["base"], (*_seen, spec["base"]))
    fields = {k: spec[k] for k in ("size",) if k in spec}
    if spec.get("order") is not None:
        fields["order"] = tuple(spec["order"])
    return base.over(spec.get("shared") or {}, spec.get("stages") or {}, **fields)


def load_recipe(name: str | Path, _seen: tuple[str, ...] = ()) -> Recipe:
    """A recipe from a file or a shipped name (`cpu-long`, `demo`, `ablation/sft+rft`, ...)."""
    f = recipe_file(name)
    try:
        spec = yaml.safe_load(f.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{f}: cannot read recipe ({e})") from e
    return parse_recipe(spec, str(f), _seen or (str(name),))


def stage_done(stage_dir: Path) -> dict | None:
    marker = Path(stage_dir) / "done.json"
    return json.loads(marker.read_text()) if marker.exists() else None


def chain_digests(recipe: Recipe) -> list[str]:
    """Per stage: a hash of the stages and settings that lead to it (its own included)."""
    out, chain = [], []
    for stage in recipe.order:
        chain.append([stage, recipe.overrides(stage), recipe.size or "nano"])
        out.append(hashlib.sha1(json.dumps(chain, sort_keys=True, default=str).encode()).hexdigest()[:8])
    return out


def chain_dirs(out: Path, recipe: Recipe) -> list[Path]:
    """Per stage: <out>/<stage>-<hash of the chain's settings so far>, so equal prefixes share."""
    return [out / f"{'__'.join(recipe.order[: i + 1])}-{d}" for i, d in enumerate(chain_digests(recipe))]


def checkpoint_stamp(path: str | Path) -> list:
    """[path, size, mtime] of a checkpoint: what was made from it is stale when its stage retrained in
    place (same path, new file); a name that is not a file (a reference policy) is its own stamp."""
    p = Path(path)
    if not p.is_file():
        return [str(path)]
    st = p.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def _stale(stage_dir: Path, settings: dict) -> str | None:
    """Why the stage directory was made under other settings (None: same, fresh, or unrecorded)."""
    f = stage_dir / "settings.json"
    if not f.exists():
        return None
    try:
        old = json.loads(f.read_text())
    except (OSError, ValueError):
        return "its settings.json is unreadable"
    what = {"digest": "the recipe", "parent": "the parent checkpoint"}
    changed = [what[k] for k in settings if old.get(k) != settings[k]]
    return " and ".join(changed) + " changed" if changed else None


def _set_aside(stage_dir: Path, why: str) -> None:
    """Keep a stage trained under other settings (never deleted) and start the stage afresh."""
    aside = stage_dir.with_name(f"{stage_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    stage_dir.rename(aside)
    print(f"pipeline: {stage_dir}: {why} since it was trained; kept as {aside.name}, training it again")


def run_pipeline(
    out: str | Path,
    recipe: Recipe,
    val: Sequence[Scenario] = (),
    rollouts: int = 32,
    seed: int = 0,
    device: str = "cpu",
    init_checkpoint: str | None = None,
    on_stage: Callable[[str, dict], None] | None = None,
    share_prefixes: bool = False,
    callbacks: Sequence = (),
    top_k: int = DEFAULT_TOP_K,
    keep_rollouts: Collection[str] = (),
) -> dict[str, dict]:
    """Run the recipe's stages in order; returns {stage: done record} (checkpoint, parent, seconds,
    held-out metrics when `val` is given). The first stage starts from `init_checkpoint` if given
    (required unless it is pretraining); `callbacks` are extra Lightning callbacks for every stage.
    The held-out rollouts of the stages in `keep_rollouts` are kept as shards in <stage>/held_out/
    (record `held_out_rollouts`), so that a caller showing them need not simulate them again."""
    out = Path(out)
    dirs = chain_dirs(out, recipe) if share_prefixes else [out / s for s in recipe.order]
    records: dict[str, dict] = {}
    parent = init_checkpoint
    for stage, stage_dir, digest in zip(recipe.order, dirs, chain_digests(recipe), strict=True):
        settings = {"digest": digest, "parent": parent}
        if why := _stale(stage_dir, settings):
            _set_aside(stage_dir, why)
        rec = stage_done(stage_dir)
        if rec is None:
            atomic_write_bytes(stage_dir / "settings.json", [json.dumps(settings, indent=1).encode()])
            cfg = recipe.stage_config(stage, stage_dir, parent)
            t0 = time.perf_counter()
            ckpt = run_stage(cfg, resume=True, callbacks=list(callbacks))
            seconds = time.perf_counter() - t0
            rec = {"stage": stage, "checkpoint": str(ckpt), "parent": parent, "train_seconds": seconds}
            if val:
                res, ros, sec = evaluate_policy(str(ckpt), val, rollouts, seed, device, top_k=top_k)
                rec.update(held_out={"dataset": res.dataset, "buckets": res.buckets}, eval_seconds=sec)
                if stage in keep_rollouts:
                    shards = stage_dir / "held_out"
                    write_rollout_shards(shards, ros.values())
                    rec["held_out_rollouts"] = {"dir": str(shards), "seed": seed, "top_k": top_k,
                                                "rollouts": rollouts, "scenarios": len(val)}  # fmt: skip
            atomic_write_bytes(stage_dir / "done.json", [json.dumps(rec, indent=1).encode()])
        records[stage] = rec
        if on_stage is not None:
            on_stage(stage, rec)
        parent = rec["checkpoint"]
    return records
