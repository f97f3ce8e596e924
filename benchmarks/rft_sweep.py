"""How far the per-agent RFT rule may move, on held-out scenes: its `rft` settings swept (issue 21).

The learning check shows the rule raising its own reward on its training scenes (beta 0, +0.089); what
that costs on held-out scenes is this sweep: the ablation's `sft+rft:agent` row (fixed setting, 40 RFT
steps of 2 scenes x 32 rollouts, lr 1e-3) with several `rft` overrides (the k3 KL weight beta, the
credit's displacement weight ade_weight, ...), each from the same pretrained base and the same SFT
recipe and seed, scored with 32 rollouts on the ablation's 100 held-out generated scenes and the 13
real WOMD scenes, paired against the SFT row.

    .venv/bin/python benchmarks/rft_sweep.py --ablation runs/ablation --work runs/rft_sweep \\
        --base runs/demo/pretrain/checkpoints/last.ckpt --name rft_beta_sweep \\
        --variant beta=0 --variant beta=0.003 --variant beta=0.01
    .venv/bin/python benchmarks/rft_sweep.py --name rft_ade_sweep --variant beta=0.003,ade_weight=0.002
    .venv/bin/python benchmarks/rft_sweep.py --summarise runs/probe_b0 ... --label beta=0 ...

Each variant gets its own ablation directory (<work>/<variant>, resumable) reading the data the
ablation at --ablation generated; --summarise only tabulates existing directories. Writes
benchmarks/results/<name>.{md,json}.
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


def parse_variant(text: str) -> dict[str, float]:
    """`beta=0.003,ade_weight=0.002` -> {"beta": 0.003, "ade_weight": 0.002} (`rft` overrides)."""
    out = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: expected key=value[,key=value], got {part!r}")
        out[key.strip()] = float(value)
    return out


def label(variant: dict[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in variant.items())


def run(ablation: Path, work: Path, base: str, variant: dict[str, float]) -> Path:
    out = work / label(variant).replace(",", "_").replace("=", "")
    data = ablation / "data"
    cfg = AblationConfig(out=out, base=base, train=[str(data / "train")], val=[str(data / "val")], real=REAL,
                         seeds=(0,), rule_seeds=(0,), rows=("sft", "sft+rft:agent"), controls=False,
                         rft=variant)  # fmt: skip
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
    ap.add_argument("--work", type=Path, default=Path("runs/rft_sweep"))
    ap.add_argument("--base", default="runs/demo/pretrain/checkpoints/last.ckpt")
    ap.add_argument("--name", default="rft_sweep", help="results file name under benchmarks/results")
    ap.add_argument(
        "--variant", action="append", default=[], help="rft overrides, e.g. beta=0.003,ade_weight=0"
    )
    ap.add_argument("--summarise", type=Path, nargs="*", default=None)
    ap.add_argument(
        "--label", action="append", default=[], help="the variant of each --summarise dir, in order"
    )
    ap.add_argument("--note", default="", help="a paragraph on how the summarised directories were made")
    args = ap.parse_args()
    if args.summarise:
        dirs, variants = args.summarise, [parse_variant(v) for v in args.label]
    else:
        variants = [parse_variant(v) for v in args.variant]
        dirs = [run(args.ablation, args.work, args.base, v) for v in variants]
    entries = summarise(dirs)
    for e, v in zip(entries, variants, strict=True):
        e["variant"] = v
    m = machine()
    lines = [
        "# RFT sweep: the per-agent rule on held-out scenes",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['device']}. The ablation's "
        "`sft+rft:agent` row (`recipes/ablation/rft-agent.yaml`: 40 RFT steps of 2 scenes x 32 rollouts, "
        "gradient through 8 rollouts of each on the evaluated agents, lr 1e-3 after a 5-step warm-up) "
        "with the `rft` settings below, from the ablation's pretrained base and CAT-K SFT (60 steps, "
        "seed 0); one training seed; 32 rollouts on 100 held-out generated and 13 real WOMD scenes. "
        "Difference: RFT - SFT, mean +- standard error over scenes.",
        "",
    ]
    for set_name in ("generated", "real"):
        lines += [f"## {set_name}", "", "| rft | " + " | ".join(c for _, c, _ in COLUMNS)
                  + " | meta-metric vs SFT | collision vs SFT | minADE vs SFT |",
                  "|---|" + "---|" * (len(COLUMNS) + 3)]  # fmt: skip
        sft = entries[0]["sets"][set_name]["sft"]
        lines.append("| SFT | " + " | ".join(f"{sft[k]:.{p}f}" for k, _, p in COLUMNS) + " | | | |")
        for e in entries:
            s = e["sets"][set_name]
            p = s["pair"]
            rel = {k: s["rft"][k] / s["sft"][k] - 1 for k in ("simulated_collision_rate", "min_ade")}
            lines.append(
                f"| {label(e['variant'])} | " + " | ".join(f"{s['rft'][k]:.{p_}f}" for k, _, p_ in COLUMNS)
                + f" | {p['mean']:+.4f} +- {p['se']:.4f} | {rel['simulated_collision_rate']:+.0%} "
                f"| {rel['min_ade']:+.0%} |"
            )  # fmt: skip
        lines.append("")
    if args.note:
        lines += [args.note, ""]
    write_results(args.name, {"machine": m, "entries": entries}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
