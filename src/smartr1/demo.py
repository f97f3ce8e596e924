"""The main job, end to end on data it makes itself: generate -> render -> train (the `demo` recipe) ->
simulate -> evaluate -> viewer.

Every stage writes into one run directory and is skipped when its output is already there, so an
interrupted demo resumes where it stopped (training itself resumes from its last checkpoint). When a
training stage is trained again (its recipe changed), the rollouts, pictures and viewer made from the
previous models are set aside (`derived.stale-<time>/`) and made again from the new ones.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.rollouts import Rollouts
from smartr1.data.summary import summarize
from smartr1.data.sumo.generate import generate
from smartr1.data.sumo.plan import GenerateConfig, tiny_config
from smartr1.data.womd import read_scenarios
from smartr1.machine import describe_machine
from smartr1.metrics.profiles import kinematic_profiles
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.metrics.submission import SHARD_PREFIX, load_rollouts, write_rollout_shards
from smartr1.reports.view import write_view
from smartr1.rollout.policy import load_policy
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.training.pipeline import PIPELINE, Recipe, checkpoint_stamp, load_recipe, run_pipeline
from smartr1.viz import render_rollouts_gif, render_scenario_png
from smartr1.viz.profiles import render_profiles

COMPARED_POLICIES = ("smart", "constant-velocity", "logged-oracle")  # the model, then reference policies
SHARDS = f"{SHARD_PREFIX}-*"


@dataclass
class DemoConfig:
    out: Path = Path("runs/demo")
    train_scenarios: int = 600
    val_scenarios: int = 20
    seed: int = 0
    workers: int = 2
    recipe: str = "demo"  # the training schedule: a shipped recipe (configs/recipes/demo.yaml) or a file
    size: str | None = None  # None: the recipe's
    # optimizer steps per stage, None = the recipe's (0 skips a stage)
    max_steps: int | None = None  # pretraining
    sft_steps: int | None = None
    rft_steps: int | None = None
    sft2_steps: int | None = None
    batch_size: int | None = None  # scenarios per batch of the non-RFT stages; None = the recipe's
    rollouts: int = 32
    device: str = "cpu"
    render: int = 2
    top_k: int = DEFAULT_TOP_K
    tiny_worlds: bool = False  # small, quick SUMO worlds (smoke runs and tests)


def _mark(marker: Path, info: dict) -> None:
    atomic_write_bytes(marker, [json.dumps(info, indent=1, default=str).encode()])


def _derived_from(out: Path, records: dict[str, dict]) -> None:
    """Set aside what the previous models produced (rollouts, pictures, viewer) when any stage's
    checkpoint is another file than the one they were made from (`derived.json`: path, size, mtime)."""
    stamp = {name: checkpoint_stamp(rec["checkpoint"]) for name, rec in records.items()}
    marker = out / "derived.json"
    old = json.loads(marker.read_text()) if marker.exists() else None
    if old is not None and old != stamp:
        aside = out / f"derived.stale-{time.strftime('%Y%m%d-%H%M%S')}"
        made = [out / "rollouts" / "smart", *(out / "rollouts" / s for s in records), out / "view.html"]
        made += [
            *(out / "pictures").glob("*_smart.gif"),
            *(p for s in records for p in (out / "pictures").glob(f"*_{s}.png")),
        ]
        for path in (p for p in made if p.exists()):
            target = aside / path.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        print(f"demo: the models changed since their rollouts were made: kept them in {aside.name}")
    _mark(marker, stamp)


def _kept_rollouts(rec: dict, cfg: DemoConfig, num_scenarios: int) -> Path | None:
    """The shards of a stage's held-out scoring (`run_pipeline(keep_rollouts=...)`) when they are the
    draw the demo would simulate (same seed, top-k, rollouts and scenarios), else None."""
    kept = rec.get("held_out_rollouts")
    want = {"seed": cfg.seed, "top_k": cfg.top_k, "rollouts": cfg.rollouts, "scenarios": num_scenarios}
    if not kept or any(kept.get(k) != v for k, v in want.items()):
        return None
    path = Path(kept["dir"])
    return path if any(path.glob(SHARDS)) else None


def _first(ros: Rollouts, n: int) -> Rollouts:
    return Rollouts(ros.scenario_id, ros.object_id, ros.x[:n], ros.y[:n], ros.z[:n], ros.heading[:n])


def _quiet_lightning() -> None:
    """The demo shows its own stage headers and progress; Lightning's start-up tips add nothing there."""

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r"The number of training batches .* logging interval")
    warnings.filterwarnings(
        "ignore", message=r"You passed in a `val_dataloader` but have no `validation_step`"
    )


def demo_recipe(cfg: DemoConfig, out: Path) -> Recipe:
    """The demo's training recipe with this run's data, device and command-line overrides on top; stages
    with 0 steps are left out."""
    recipe = load_recipe(cfg.recipe)
    steps = dict(zip(PIPELINE, (cfg.max_steps, cfg.sft_steps, cfg.rft_steps, cfg.sft2_steps), strict=True))
    per_stage: dict[str, dict] = {s: {"trainer": {"max_steps": n}} for s, n in steps.items() if n is not None}
    if cfg.batch_size is not None:
        for s in ("pretrain", "sft", "sft2"):  # RFT's batch is one scenario x R rollouts (rft.yaml)
            per_stage.setdefault(s, {})["data"] = {"batch_size": cfg.batch_size}
    # the reward scores as many rollouts as the demo evaluates (the recipe's gradient rollouts, at most)
    grad = recipe.stage_config("rft", out / "rft", None).rft.grad_rollouts
    per_stage.setdefault("rft", {})["rft"] = {
        "num_rollouts": cfg.rollouts,
        "grad_rollouts": min(grad, cfg.rollouts),
    }
    shared = {
        "data": {"train": [str(out / "data" / "train")], "cache_dir": str(out / "cache")},
        "trainer": {"accelerator": "gpu" if cfg.device.startswith("cuda") else "cpu"},
    }
    recipe = recipe.over(shared, per_stage, **({"size": cfg.size} if cfg.size else {}))
    kept = tuple(s for s in recipe.order if recipe.stage_config(s, out / s, None).trainer.max_steps > 0)
    return recipe.over(order=kept)


def run_demo(cfg: DemoConfig, console=None) -> dict:
    """Run every stage; returns the report (also written to <out>/report.json and report.md)."""

    console = console or Console()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    def stage(name: str):
        console.rule(f"[bold]{name}")
        return time.perf_counter()

    # 1. data ---------------------------------------------------------------------------------

    gen_cfg = tiny_config() if cfg.tiny_worlds else GenerateConfig()

    for split, num, seed in (
        ("train", cfg.train_scenarios, cfg.seed),
        ("val", cfg.val_scenarios, cfg.seed + 10_000),
    ):
        t0 = stage(f"generate {num} {split} scenarios with SUMO")
        marker = out / "data" / f"{split}.done.json"
        if marker.exists():
            console.print(f"already there: {out / 'data' / split}")
        else:
            summary = generate(
                num, out / "data" / split, seed=seed, workers=cfg.workers, cfg=gen_cfg, console=console
            )
            _mark(marker, {"num": num, "seed": seed, "scenarios_per_s": summary.scenarios_per_s})
            console.print(
                f"{num} scenarios in {summary.seconds:.1f} s ({summary.scenarios_per_s:.2f} scenarios/s)"
            )
        seconds[f"generate_{split}"] = time.perf_counter() - t0

    val = list(read_scenarios(out / "data" / "val"))
    infos = [summarize(s) for s in val]
    console.print(
        f"held-out set: {len(val)} scenarios, "
        f"{sum(i['num_valid_at_current'] for i in infos) / len(infos):.1f} agents valid at step 10 on average, "
        f"{sum(i['num_tracks'] for i in infos) / len(infos):.1f} tracks, "
        f"{sum(i['num_signal_lanes'] for i in infos) / len(infos):.1f} signal lanes"
    )

    # 2. pictures ------------------------------------------------------------------------------
    t0 = stage("render")

    pictures = []
    for s in val[: cfg.render]:
        path = out / "pictures" / f"{s.scenario_id}.png"
        if not path.exists():
            render_scenario_png(s, path)
        pictures.append(str(path))
    if val and cfg.render:
        gif = out / "pictures" / f"{val[0].scenario_id}_logged.gif"
        if not gif.exists():
            render_rollouts_gif(val[0], None, gif, stride=2)
        pictures.append(str(gif))
    console.print("\n".join(pictures))
    seconds["render"] = time.perf_counter() - t0

    # 3. training: pretrain -> CAT-K SFT -> RFT (MPO) -> CAT-K SFT, each stage scored on the held-out set
    _quiet_lightning()
    recipe = demo_recipe(cfg, out)
    stages = recipe.order

    def on_stage(name: str, rec: dict) -> None:
        seconds[f"train_{name}"] = rec["train_seconds"]
        seconds[f"score_{name}"] = sum(rec.get("eval_seconds", {}).values())
        held = rec.get("held_out", {}).get("dataset", {})
        console.print(
            f"{name}: {rec['train_seconds'] / 60:.1f} min, held-out meta-metric "
            f"{held.get('metametric', float('nan')):.4f}, minADE {held.get('min_average_displacement_error', float('nan')):.3f} m"
        )

    steps = {s: recipe.stage_config(s, out / s, None).trainer.max_steps for s in stages}
    stage(f"train SMART-{recipe.size or 'nano'}: " + " -> ".join(f"{s} ({steps[s]} steps)" for s in stages))
    records = run_pipeline(
        out, recipe, val=val, rollouts=cfg.rollouts, seed=cfg.seed, device=cfg.device, on_stage=on_stage,
        top_k=cfg.top_k, keep_rollouts={stages[0], stages[-1]},
    )  # fmt: skip
    ckpt = Path(records[stages[-1]]["checkpoint"])
    _derived_from(out, records)

    # 4. simulate + evaluate -------------------------------------------------------------------

    results, loaded = {}, {}
    for name in COMPARED_POLICIES:
        t0 = stage(f"simulate {cfg.rollouts} rollouts x {len(val)} held-out scenarios: {name}")
        shard_dir = out / "rollouts" / name
        kept = _kept_rollouts(records[stages[-1]], cfg, len(val)) if name == "smart" else None
        if not any(shard_dir.glob(SHARDS)) and kept is not None:  # scored after training: the same draw
            write_rollout_shards(shard_dir, load_rollouts(kept).values())  # all shards or none
        if not any(shard_dir.glob(SHARDS)):
            policy = load_policy(str(ckpt) if name == "smart" else name, device=cfg.device, top_k=cfg.top_k)
            ros = policy.rollout(val, num_rollouts=cfg.rollouts, seed=cfg.seed)
            write_rollout_shards(shard_dir, ros)
        seconds[f"simulate_{name}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # Score what is on disk: the shards are the product, so the demo checks them, not the in-memory copy.
        loaded[name] = load_rollouts(shard_dir)
        results[name] = evaluate_rollouts(val, loaded[name], device=cfg.device)
        seconds[f"evaluate_{name}"] = time.perf_counter() - t0

    profiles = {
        name: kinematic_profiles(val, loaded[name]) for name in COMPARED_POLICIES if name != "logged-oracle"
    }
    pictures.append(
        str(render_profiles(profiles, out / "pictures" / "kinematics.png", f"{len(val)} held-out scenarios"))
    )
    if val and cfg.render:
        gif = out / "pictures" / f"{val[0].scenario_id}_smart.gif"
        if not gif.exists():
            render_rollouts_gif(val[0], loaded["smart"][val[0].scenario_id], gif, stride=2, other_rollouts=4)
        pictures.append(str(gif))

    if val and cfg.render and len(stages) > 1:  # rollouts of one scene before and after fine-tuning
        for name in (stages[0], stages[-1]):
            path = out / "pictures" / f"{val[0].scenario_id}_{name}.png"
            if not path.exists():
                kept = _kept_rollouts(records[name], cfg, len(val))
                if kept is not None:
                    ros = _first(load_rollouts(kept)[val[0].scenario_id], 8)
                else:
                    policy = load_policy(records[name]["checkpoint"], device=cfg.device, top_k=cfg.top_k)
                    ros = policy.rollout(val[:1], num_rollouts=8, seed=cfg.seed)[0]
                render_scenario_png(val[0], path, rollouts=ros)
            pictures.append(str(path))

    # 5. the browser viewer: the first trained stage against the final model, per-agent diagnostics
    t0 = stage("viewer: " + (f"{stages[0]} against the final model" if len(stages) > 1 else "the model"))
    view = out / "view.html"
    if val and not view.exists():
        runs, labels = [out / "rollouts" / "smart"], ["final"]
        if len(stages) > 1:
            first = _kept_rollouts(records[stages[0]], cfg, len(val)) or out / "rollouts" / stages[0]
            if not any(first.glob(SHARDS)):
                policy = load_policy(records[stages[0]]["checkpoint"], device=cfg.device, top_k=cfg.top_k)
                write_rollout_shards(first, policy.rollout(val, num_rollouts=cfg.rollouts, seed=cfg.seed))
            runs, labels = [first, *runs], [stages[0], *labels]
        write_view(out / "data" / "val", runs, labels, view, device=cfg.device)
    seconds["view"] = time.perf_counter() - t0
    console.print(f"viewer: {view} (open it in a browser)")

    report = {
        "config": {k: str(v) for k, v in asdict(cfg).items()},
        "machine": describe_machine(cfg.device),
        "checkpoint": str(ckpt),
        "view": str(view),
        "pictures": pictures,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "stages": {
            k: {"train_seconds": r["train_seconds"], "held_out": _flat(r.get("held_out", {}))}
            for k, r in records.items()
        },
        "results": {k: {"dataset": v.dataset, "buckets": v.buckets} for k, v in results.items()},
        "kinematics": {k: {g: p[g].get("per_second", []) for g in p} for k, p in profiles.items()},
    }
    _write_report(out, report)
    _print_table(console, report)
    return report


FIELDS = (
    ("metametric", "realism meta-metric"),
    ("kinematic_metrics", "kinematic"),
    ("interactive_metrics", "interactive"),
    ("map_based_metrics", "map-based"),
    ("min_average_displacement_error", "minADE (m)"),
    ("simulated_collision_rate", "collision rate"),
    ("simulated_offroad_rate", "offroad rate"),
)


def _flat(res: dict) -> dict:
    """One mapping of a result's dataset means and its buckets (kinematic, interactive, map-based)."""
    return {**res.get("buckets", {}), **res.get("dataset", {})}


def _value(res: dict, key: str) -> float:
    return res["dataset"].get(key, res["buckets"].get(key, float("nan")))


def _write_report(out: Path, report: dict) -> None:
    atomic_write_bytes(out / "report.json", [json.dumps(report, indent=1).encode()])
    res = report["results"]
    lines = [
        "# smartr1 demo report",
        "",
        f"Machine: {report['machine']['processor']}, {report['machine']['cpu_count']} cores, torch {report['machine']['torch']}.",
        f"Checkpoint: `{report['checkpoint']}`.",
        "",
        "| metric | " + " | ".join(res) + " |",
        "|---|" + "---|" * len(res),
    ]
    for key, label in FIELDS:
        lines.append(f"| {label} | " + " | ".join(f"{_value(r, key):.4f}" for r in res.values()) + " |")
    lines += [
        "",
        "Mean speed of vehicles moving > 3 m/s at t=0, simulated / logged (m/s), per second of the horizon:",
        "",
    ]
    lines += ["| policy | " + " | ".join(f"{k} s" for k in range(1, 9)) + " |", "|---|" + "---|" * 8]
    for name, groups in report.get("kinematics", {}).items():
        row = groups.get("moving_vehicle", [])
        if row:
            lines.append(
                f"| {name} | " + " | ".join(f"{r['sim_mean']:.1f} / {r['log_mean']:.1f}" for r in row) + " |"
            )
    lines += ["", "Held-out realism after each training stage:", ""]
    lines += ["| stage | train min | " + " | ".join(label for _, label in FIELDS) + " |"]
    lines += ["|---|---|" + "---|" * len(FIELDS)]
    for name, st in report.get("stages", {}).items():
        vals = " | ".join(f"{st['held_out'].get(k, float('nan')):.4f}" for k, _ in FIELDS)
        lines.append(f"| {name} | {st['train_seconds'] / 60:.1f} | {vals} |")
    lines += ["", "Seconds per stage: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()), ""]
    atomic_write_bytes(out / "report.md", ["\n".join(lines).encode()])


def _print_table(console, report: dict) -> None:

    res = report["results"]
    table = Table(title="WOSAC 2025 realism on held-out generated scenarios")
    table.add_column("metric")
    for name in res:
        table.add_column(name, justify="right")
    for key, label in FIELDS:
        table.add_row(label, *(f"{_value(r, key):.4f}" for r in res.values()))
    console.print(table)
    stages = Table(title="held-out realism after each training stage")
    for col in ("stage", "train min", "meta-metric", "minADE (m)"):
        stages.add_column(col, justify="right")
    for name, st in report.get("stages", {}).items():
        h = st["held_out"]
        stages.add_row(
            name,
            f"{st['train_seconds'] / 60:.1f}",
            f"{h.get('metametric', float('nan')):.4f}",
            f"{h.get('min_average_displacement_error', float('nan')):.3f}",
        )
    console.print(stages)
    total = sum(report["seconds"].values())
    console.print(f"total {total / 60:.1f} min; report: {Path(report['config']['out']) / 'report.md'}")
