"""The learning-check sweep of issue 21: several `smartr1 report learning-check` runs side by side.

Each argument is a learning-check run directory (`rft.json`, and `control.json` where its control ran);
for every scored step the table gives the paired change of the meta-metric since step 0 (mean +-
standard error over rollout seeds), the collision and offroad changes, the control's change at the same
step, and the k3 KL. The runs themselves are the commands in each row's `command` (their settings are
read back from the run's stage config). Writes benchmarks/results/learning_check_sweep.{md,json}.

    .venv/bin/python benchmarks/learning_check_sweep.py runs/lc_mpo runs/lc_agent runs/lc_agent_1e-3 ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from common import machine, write_results

from smartr1.reports.learning_check import paired_change

KEYS = ("metametric", "simulated_collision_rate", "simulated_offroad_rate")


def summarize(run: Path) -> dict:
    points = json.loads((run / "rft.json").read_text())["points"]
    control = (
        json.loads((run / "control.json").read_text())["points"] if (run / "control.json").exists() else None
    )
    cfg = yaml.safe_load((run / "rft" / "config.yaml").read_text())
    rft, optim = cfg["rft"], cfg["optim"]
    curves = {k: paired_change(points, k) for k in KEYS}
    ctrl = {k: {c["step"]: c for c in paired_change(control, k)} for k in KEYS} if control else {}
    rows = []
    for i, pt in enumerate(points):
        step = pt["step"]
        c = ctrl.get("metametric", {}).get(step)
        rows.append({
            "step": step,
            **{k: curves[k][i] for k in KEYS},
            "control": c,
            "kl": pt["train"].get("train/kl"),
        })  # fmt: skip
    seeds = len(points[0]["scores"]["metametric"])
    return {
        "run": str(run),
        "rule": rft["rule"],
        "lr": optim["lr"],
        "warmup": optim["warmup_steps"],
        "steps": cfg["trainer"]["max_steps"],
        "seed": cfg["trainer"]["seed"],
        "scenes": len(points[0]["scores"]["metametric"][0]),
        "eval_seeds": seeds,
        "loss_agents": rft["loss_agents"],
        "baseline": rft["baseline"],
        "grad_rollouts": rft["grad_rollouts"],
        "beta": rft["beta"],
        "rows": rows,
    }


def _pm(c: dict | None) -> str:
    return f"{c['mean']:+.4f} +- {c['se']:.4f}" if c else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    runs = [summarize(r) for r in args.runs]
    m = machine()
    where = f"{m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['device']}"
    lines = [
        "# RFT learning-check sweep",
        "",
        f"Machine: {where}. Start: `smartr1-nano-sumo` as shipped at commit 31cc5a3 (before this RFT stage; `git show 31cc5a3:src/smartr1/model/released/smartr1-nano-sumo.pt`); the first 3 scenes of `runs/demo/data/train`, "
        "every update uses all 3; 32 rollouts per scene for the reward; scored with the rollout seeds "
        "10000+ (32 rollouts each), each (scene, seed) against itself at step 0. Cells: change since step "
        "0, mean +- standard error over rollout seeds (meta-metric; collision and offroad rates). "
        "Control: the same run with the advantage negated, at the same step.",
        "",
        "| rule | lr | beta | steps | train seed | eval seeds | step | meta-metric | control | collision "
        "| offroad | k3 KL |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        for row in r["rows"][1:]:
            kl = f"{row['kl']:.4f}" if row["kl"] is not None else "-"
            lines.append(
                f"| {r['rule']} | {r['lr']:g} | {r['beta']:g} | {r['steps']} | {r['seed']} | {r['eval_seeds']} | {row['step']} "
                f"| {_pm(row['metametric'])} | {_pm(row['control'])} | {_pm(row['simulated_collision_rate'])} "
                f"| {_pm(row['simulated_offroad_rate'])} | {kl} |"
            )
    write_results("learning_check_sweep", {"machine": m, "runs": runs}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
