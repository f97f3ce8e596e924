"""How far the per-agent RFT rule may move: the k3 KL weight beta on held-out scenes (issue 21).

The learning check shows the rule raising its own reward on its training scenes (beta 0, +0.089); what
that costs on held-out scenes is this sweep: the ablation's `sft+rft:agent` row (fixed setting, 40 RFT
steps of 2 scenes x 32 rollouts, lr 1e-3) with several betas, each from the same pretrained base and
the same SFT recipe and seed, scored with 32 rollouts on the ablation's 100 held-out generated scenes
and the 13 real WOMD scenes, paired against the SFT row.

    .venv/bin/python benchmarks/rft_beta_sweep.py --ablation runs/ablation --work runs/rft_beta_sweep \\
        --base runs/demo/pretrain/checkpoints/last.ckpt --beta 0 --beta 0.003 --beta 0.01
    .venv/bin/python benchmarks/rft_beta_sweep.py --summarise runs/probe_b0 runs/probe_b0.003 ...

Each beta gets its own ablation directory (<work>/beta<b>, resumable) reading the data the ablation
at --ablation generated; --summarise only tabulates existing directories. Writes
benchmarks/results/rft_beta_sweep.{md,json}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import SHARED, machine, write_results

from smartr1.reports.ablation import Ablation, AblationConfig
from smartr1.reports.ablation_table import paired

REAL = [
    str(SHARED / "data" / "wosac" / "scenarios"),
    str(SHARED / "data" / "real_womd" / "womd_valid_demo.tfrecord"),
]
ROW, SFT = "sft_rft_agent", "sft"
COLUMNS = (
    ("realism_meta_metric", "meta-metric", 4),
    ("kinematic_metrics", "kinematic", 3),
    ("min_ade", "minADE m", 2),
    ("simulated_collision_rate", "collision", 3),
    ("simulated_offroad_rate", "offroad", 3),
)


def run(ablation: Path, work: Path, base: str, beta: float) -> Path:
    out = work / f"beta{beta:g}"
    data = ablation / "data"
    cfg = AblationConfig(out=out, base=base, train=[str(data / "train")], val=[str(data / "val")], real=REAL,
                         seeds=(0,), rule_seeds=(0,), rows=("sft", "sft+rft:agent"), controls=False,
                         rft={"beta": beta})  # fmt: skip
    Ablation(cfg).run()
    return out


def _load(d: Path, set_name: str, row: str) -> dict:
    rec = json.loads((d / "results" / set_name / row / "seed0.json").read_text())
    return {0: rec}


def summarise(dirs: list[Path]) -> list[dict]:
    out = []
    for d in dirs:
        entry = {"dir": str(d), "sets": {}}
        for set_name in ("generated", "real"):
            a, b = _load(d, set_name, ROW), _load(d, set_name, SFT)
            entry["sets"][set_name] = {
                "rft": {k: a[0]["buckets"][k] for k, _, _ in COLUMNS},
                "sft": {k: b[0]["buckets"][k] for k, _, _ in COLUMNS},
                "pair": paired(a, b, min_scenarios=10),
            }
        out.append(entry)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ablation", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--work", type=Path, default=Path("runs/rft_beta_sweep"))
    ap.add_argument("--base", default="runs/demo/pretrain/checkpoints/last.ckpt")
    ap.add_argument("--beta", type=float, action="append", default=[])
    ap.add_argument("--summarise", type=Path, nargs="*", default=None)
    ap.add_argument("--label", action="append", default=[], help="beta of each --summarise dir, in order")
    ap.add_argument("--note", default="", help="a paragraph on how the summarised directories were made")
    args = ap.parse_args()
    if args.summarise:
        dirs, betas = args.summarise, [float(b) for b in args.label]
    else:
        dirs = [run(args.ablation, args.work, args.base, b) for b in args.beta]
        betas = list(args.beta)
    entries = summarise(dirs)
    for e, b in zip(entries, betas, strict=True):
        e["beta"] = b
    m = machine()
    lines = [
        "# RFT beta sweep: the per-agent rule on held-out scenes",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['device']}. The ablation's "
        "`sft+rft:agent` row (`recipes/ablation/rft-agent.yaml`: 40 RFT steps of 2 scenes x 32 rollouts, "
        "gradient through 8 rollouts of each on the evaluated agents, lr 1e-3 after a 5-step warm-up) "
        "with the k3 KL weight beta below, from the ablation's pretrained base and CAT-K SFT (60 steps, "
        "seed 0); one training seed; 32 rollouts on 100 held-out generated and 13 real WOMD scenes. "
        "Difference: RFT - SFT, mean +- standard error over scenes.",
        "",
    ]
    for set_name in ("generated", "real"):
        lines += [f"## {set_name}", "", "| beta | " + " | ".join(c for _, c, _ in COLUMNS)
                  + " | meta-metric vs SFT | collision vs SFT | minADE vs SFT |",
                  "|---|" + "---|" * (len(COLUMNS) + 3)]  # fmt: skip
        sft = entries[0]["sets"][set_name]["sft"]
        lines.append("| SFT | " + " | ".join(f"{sft[k]:.{p}f}" for k, _, p in COLUMNS) + " | | | |")
        for e in entries:
            s = e["sets"][set_name]
            p = s["pair"]
            rel = {k: s["rft"][k] / s["sft"][k] - 1 for k in ("simulated_collision_rate", "min_ade")}
            lines.append(
                f"| {e['beta']:g} | " + " | ".join(f"{s['rft'][k]:.{p_}f}" for k, _, p_ in COLUMNS)
                + f" | {p['mean']:+.4f} +- {p['se']:.4f} | {rel['simulated_collision_rate']:+.0%} "
                f"| {rel['min_ade']:+.0%} |"
            )  # fmt: skip
        lines.append("")
    if args.note:
        lines += [args.note, ""]
    write_results("rft_beta_sweep", {"machine": m, "entries": entries}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
