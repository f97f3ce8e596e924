"""Why the base model stalls, and what fixes it: each variant (a checkpoint and a sampling setting)
scored on the same held-out scenarios with the same seed, next to constant velocity.

Columns: meta-metric, minADE, and the mean speed of vehicles moving > 3 m/s at t = 0 relative to the
log at seconds 1, 4 and 8 of the horizon (1.00 = the logged speed; the issue's bar is 0.8-1.2 at every
second). Results accumulate in benchmarks/results/stalling.json (one entry per variant name), so
variants measured at different times (after retraining) stay in one table.

    .venv/bin/python benchmarks/stalling.py --name base-topk5 --checkpoint CKPT --scenarios DIR \
        [--top-k 5] [--temperature 1.0] [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import RESULTS, machine, write_results

from smartr1.data.womd import read_scenarios
from smartr1.metrics.profiles import kinematic_profiles
from smartr1.rollout.evaluation import evaluate_policy


def render(entries: dict) -> list[str]:
    lines = [
        "# The stalling base model: variants",
        "",
        "Each row: one checkpoint and sampling setting on the held-out scenarios named in its row, 32 rollouts, "
        "seed 0. Speed ratio = simulated / logged mean speed of vehicles moving > 3 m/s at t = 0.",
        "",
        "| variant | scenarios | meta-metric | minADE (m) | kinematic | speed ratio 1 s | 4 s | 8 s | worst second | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in entries.items():
        r = e["speed_ratio"]
        worst = min(r, key=lambda x: -abs(x - 1.0))
        lines.append(
            f"| {name} | {e['scenarios_label']} | {e['metametric']:.4f} | {e['min_ade']:.3f} | {e['kinematic']:.4f} "
            f"| {r[0]:.2f} | {r[3]:.2f} | {r[7]:.2f} | {worst:.2f} | {e.get('note', '')} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--checkpoint", required=True, help="checkpoint path or a reference policy name")
    ap.add_argument("--scenarios", nargs="+", required=True)
    ap.add_argument("--label", default=None, help="short name of the scenario set for the table")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--start", default="logged")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    scen = list(read_scenarios(args.scenarios))
    t0 = time.perf_counter()
    opts = {} if args.checkpoint in ("constant-velocity", "logged-oracle", "stationary") else {
        "top_k": args.top_k, "temperature": args.temperature, "start": args.start}  # fmt: skip
    res, ros, sec = evaluate_policy(args.checkpoint, scen, 32, seed=args.seed, **opts)
    prof = kinematic_profiles(scen, ros)["moving_vehicle"]
    entry = {
        "checkpoint": args.checkpoint, "scenarios": args.scenarios, "scenarios_label": args.label or str(len(scen)),
        "top_k": args.top_k, "temperature": args.temperature, "start": args.start, "seed": args.seed,
        "metametric": res.dataset["metametric"], "min_ade": res.dataset["min_average_displacement_error"],
        "kinematic": res.buckets["kinematic_metrics"], "buckets": res.buckets,
        "speed_ratio": [p["ratio"] for p in prof["per_second"]], "moving_vehicles": prof["agents"],
        "seconds": time.perf_counter() - t0, "note": args.note,
    }  # fmt: skip
    path = RESULTS / "stalling.json"
    data = json.loads(path.read_text()) if path.exists() else {"entries": {}}
    data["entries"][args.name] = entry
    data["machine"] = machine()
    write_results("stalling", data, render(data["entries"]))
    print("\n".join(render(data["entries"])))


if __name__ == "__main__":
    main()
