"""Where a rollout starts: the logged step-10 pose or the tokenized one (where the history tokens end).

The metric takes finite differences across the logged step 10 and the simulated step 11, so a start
a few cm off the log shows up as a speed / acceleration spike in the first steps. This rolls out the
same checkpoint from both starts (same scenarios, same sampling seeds) and compares the kinematic
likelihoods and the meta-metric, with paired per-scenario differences and their standard error.

    .venv/bin/python benchmarks/bench_rollout_start.py [--checkpoint runs/demo/pretrain/checkpoints/last.ckpt]
        [--scenarios runs/demo/data/val] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import ROOT, machine, write_results

from smartr1.data.womd import read_scenarios
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.rollout.policy import load_policy

FIELDS = (
    "metametric",
    "linear_speed_likelihood",
    "linear_acceleration_likelihood",
    "angular_speed_likelihood",
    "angular_acceleration_likelihood",
    "min_average_displacement_error",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(ROOT / "runs/demo/pretrain/checkpoints/last.ckpt"))
    ap.add_argument("--scenarios", nargs="+", default=[str(ROOT / "runs/demo/data/val")])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--name", default="rollout_start")
    args = ap.parse_args()
    torch.set_num_threads(1)
    scen = list(read_scenarios(args.scenarios))
    per: dict[str, dict[int, dict]] = {}
    t0 = time.perf_counter()
    for start in ("tokenized", "logged"):
        pol = load_policy(args.checkpoint, start=start)
        per[start] = {}
        for seed in args.seeds:
            ros = {r.scenario_id: r for r in pol.rollout(scen, num_rollouts=32, seed=seed)}
            per[start][seed] = evaluate_rollouts(scen, ros, threads=1).scenarios
        print(f"{start}: done", flush=True)
    rows = {}
    for f in FIELDS:
        a = np.array([[per["tokenized"][s][sid][f] for sid in per["tokenized"][s]] for s in args.seeds])
        b = np.array([[per["logged"][s][sid][f] for sid in per["logged"][s]] for s in args.seeds])
        d = (b - a).mean(0)  # per scenario, averaged over seeds: paired
        rows[f] = {"tokenized": float(a.mean()), "logged": float(b.mean()), "diff": float(d.mean()),
                   "diff_se": float(d.std(ddof=1) / np.sqrt(len(d))), "logged_better_share": float((d > 0).mean())}  # fmt: skip
    result = {"machine": machine(), "checkpoint": args.checkpoint, "scenarios": len(scen), "seeds": args.seeds,
              "seconds": time.perf_counter() - t0, "fields": rows}  # fmt: skip
    lines = [
        "# Rollout start: logged step-10 pose vs tokenized pose",
        "",
        f"{len(scen)} scenarios x 32 rollouts x seeds {args.seeds}, checkpoint `{args.checkpoint}`; "
        "difference = logged - tokenized per scenario (mean over seeds), mean +- standard error over scenarios.",
        "",
        "| field | tokenized start | logged start | difference | +- s.e. | scenarios where logged is higher |",
        "|---|---|---|---|---|---|",
    ]
    for f, r in rows.items():
        lines.append(f"| {f} | {r['tokenized']:.4f} | {r['logged']:.4f} | {r['diff']:+.4f} | {r['diff_se']:.4f} "
                     f"| {r['logged_better_share']:.0%} |")  # fmt: skip
    write_results(args.name, result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
