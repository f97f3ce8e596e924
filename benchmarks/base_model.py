"""What makes the base model worth fine-tuning: each change trained and scored on the same data and seeds.

A variant is a training recipe (config overrides of a stage, a number of steps, a seed, optionally a parent
checkpoint); it is trained on generated scenarios (`--train`, by default 1,000 generated with seed 0) and
scored with 32 rollouts on the demo's 20 held-out generated scenarios (seed 10,000) and on the two real
WOMD scenarios in ../shared: meta-metric, minADE, bucket scores and the speed ratio of moving vehicles
(simulated / logged mean speed of vehicles above 3 m/s at t = 0) at every second of the horizon.
Results accumulate in benchmarks/results/base_model.json, one entry per variant name, so a rerun of one
variant replaces only its row; `--policy constant-velocity` scores a reference policy the same way.

    .venv/bin/python benchmarks/base_model.py --name geo-head --steps 400 \
        --over '{"model": {"geometric_head": true}}' [--stage sft --init CKPT] [--seed 1] [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import RESULTS, SHARED, machine, write_results

from smartr1.data.womd import read_scenarios
from smartr1.metrics.profiles import kinematic_profiles
from smartr1.rollout.evaluation import evaluate_policy
from smartr1.rollout.sampling import DEFAULT_TOP_K

REFERENCE = ("constant-velocity", "logged-oracle")


def ensure_data(work: Path, train_scenarios: int) -> tuple[Path, Path]:
    """Generated training (seed 0) and held-out (seed 10,000, the demo's) scenarios under `work`."""
    from smartr1.data.sumo.generate import generate

    train = "train" if train_scenarios == 1000 else f"train{train_scenarios}"
    for split, num, seed in ((train, train_scenarios, 0), ("val", 20, 10_000)):
        marker = work / "data" / f"{split}.done"
        if not marker.exists():
            generate(num, work / "data" / split, seed=seed, workers=2)
            marker.write_text("ok")
    return work / "data" / train, work / "data" / "val"


def score(policy: str, top_k: int, val: Path) -> dict:
    out = {}
    for label, scenarios in (
        ("generated", read_scenarios(val)),
        ("real", read_scenarios(SHARED / "data/wosac/scenarios")),
    ):
        scen = list(scenarios)
        opts = {} if policy in REFERENCE else {"top_k": top_k}
        res, ros, _ = evaluate_policy(policy, scen, 32, seed=0, **opts)
        prof = kinematic_profiles(scen, ros)["moving_vehicle"]
        out[label] = {
            "scenarios": len(scen),
            "metametric": res.dataset["metametric"],
            "min_ade": res.dataset["min_average_displacement_error"],
            **{k: res.buckets[k] for k in ("kinematic_metrics", "interactive_metrics", "map_based_metrics")},
            "speed_ratio": [round(p["ratio"], 3) for p in prof["per_second"]],
        }
    return out


def render(entries: dict) -> list[str]:
    lines = [
        "# The base model: each change, trained and scored on the same data",
        "",
        "Training data: 1,000 generated scenarios (seed 0); scored with 32 rollouts (seed 0) on the demo's 20 "
        "held-out generated scenarios (seed 10,000) and on the 2 real WOMD scenarios in ../shared. Speed "
        "ratio: simulated / logged mean speed of vehicles above 3 m/s at t = 0, seconds 1, 4 and 8 of the "
        "horizon, and the one farthest from 1. Reproduce a row with `benchmarks/base_model.py --name NAME "
        "--steps N --seed S --over 'JSON' [--stage S --init CKPT]` (the row's fields).",
        "",
        "| variant | stage, steps, seed | train min | gen meta | gen minADE | gen kin / inter / map | ratio 1 / 4 / 8 s | worst | real meta | real minADE | real ratio 1 / 8 s | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in entries.items():
        g, r = e["generated"], e["real"]
        ratio = g["speed_ratio"]
        worst = min(ratio, key=lambda x: -abs(x - 1.0))
        run = (
            f"{e.get('stage', '-')}, {e.get('steps', '-')}, {e.get('seed', '-')}"
            if "stage" in e
            else "reference"
        )
        minutes = f"{e['train_seconds'] / 60:.1f}" if e.get("train_seconds") else "-"
        lines.append(
            f"| {name} | {run} | {minutes} | {g['metametric']:.4f} | {g['min_ade']:.2f} | "
            f"{g['kinematic_metrics']:.3f} / {g['interactive_metrics']:.3f} / {g['map_based_metrics']:.3f} | "
            f"{ratio[0]:.2f} / {ratio[3]:.2f} / {ratio[7]:.2f} | {worst:.2f} | {r['metametric']:.4f} | "
            f"{r['min_ade']:.2f} | {r['speed_ratio'][0]:.2f} / {r['speed_ratio'][7]:.2f} | {e.get('note', '')} |"
        )
    lines += [
        "",
        "## Commands",
        "",
        "Each row, from the repository root (parents refer to earlier rows' checkpoints):",
        "",
    ]
    for name, e in entries.items():
        if "stage" not in e:
            cmd = f"--name {name} --policy {name}"
        else:
            cmd = f"--name {name} --stage {e['stage']} --steps {e['steps']} --seed {e['seed']}"
            if e.get("init"):
                cmd += f" --init {e['init']}"
            if e.get("train_scenarios", 1000) != 1000:
                cmd += f" --train-scenarios {e['train_scenarios']}"
            if e.get("over"):
                cmd += f" --over '{json.dumps(e['over'], sort_keys=True)}'"
        lines.append(f"- `benchmarks/base_model.py {cmd}`")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--policy", default=None, help="score a reference policy instead of training")
    ap.add_argument("--stage", default="pretrain")
    ap.add_argument("--init", default=None, help="parent checkpoint (fine-tuning stages)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--over", default="{}", help="config overrides as JSON")
    ap.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    ap.add_argument("--work", type=Path, default=Path("runs/base_model"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-scenarios", type=int, default=1000, help="generated training scenarios (seed 0)")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, val = ensure_data(args.work, args.train_scenarios)
    entry: dict = {"note": args.note}
    if args.policy:
        policy = args.policy
    else:
        from smartr1.training.config import load_config, merge_dicts
        from smartr1.training.stages import run_stage

        over = json.loads(args.over)
        base = {"out": str(args.work / args.name), "data": {"train": [str(train)]},
                "trainer": {"max_steps": args.steps, "seed": args.seed}}  # fmt: skip
        if args.init:
            base["init_checkpoint"] = args.init
        else:  # one vocabulary for every pretraining variant: differences come from the recipe
            vocab = args.work / "vocab.pt"
            if not vocab.exists():
                from smartr1.training.runner import resolve_vocab

                resolve_vocab(load_config("pretrain", "nano", overrides=base), args.work)
            base["data"]["vocab"] = str(vocab)
        cfg = load_config(args.stage, "nano", overrides=merge_dicts(base, over))
        t0 = time.perf_counter()
        policy = str(run_stage(cfg, resume=True))
        entry.update(stage=args.stage, steps=args.steps, seed=args.seed, over=over, init=args.init,
                     train_scenarios=args.train_scenarios, checkpoint=policy,
                     train_seconds=time.perf_counter() - t0)  # fmt: skip
    entry.update(score(policy, args.top_k, val), top_k=args.top_k)
    path = RESULTS / "base_model.json"
    data = json.loads(path.read_text()) if path.exists() else {"entries": {}}
    data["entries"][args.name] = entry
    data["machine"] = machine()
    write_results("base_model", data, render(data["entries"]))
    print("\n".join(render({args.name: entry})))


if __name__ == "__main__":
    main()
