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
    .venv/bin/python benchmarks/rft_sweep.py --ablation runs/ablation2 --in-place --name rft_speed_sweep \
        --variant kl=exact --variant lr=0.0003 --variant slow_weight=0.003 --variant interpolate=0.5

Variant keys: `rft` settings (numbers, or words such as kl=exact); with --in-place also `steps` (RFT's
step count), `lr` / `warmup_steps` (its optimiser) and `interpolate` (score the trained model moved
back towards its SFT start by that weight, as `rft.interpolate` does).
Variants apply on top of the recipe as it is now (lr 1e-4 since rft_lr_sweep); the sweeps before it ran
at lr 1e-3, so add `lr=0.001` to a variant to reproduce them (with --in-place a stored row whose
model changed is scored again and its result replaced).

Each variant gets its own ablation directory (<work>/<variant>, resumable) reading the data the
ablation at --ablation generated; --summarise only tabulates existing directories. Writes
benchmarks/results/<name>.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from common import SHARED, machine, write_results

from smartr1.data.womd import read_scenarios
from smartr1.reports.ablation import Ablation, AblationConfig, _safe, recipes
from smartr1.reports.ablation_table import paired
from smartr1.training.rft import write_interpolated

REAL = [
    str(SHARED / "data" / "wosac" / "scenarios"),
    str(SHARED / "data" / "real_womd" / "womd_valid_demo.tfrecord"),
]
SFT = "sft"
OPTIM = ("lr", "warmup_steps")  # variant keys that set RFT's optimiser, not its `rft` section
COLUMNS = (
    ("realism_meta_metric", "meta-metric", 4),
    ("kinematic_metrics", "kinematic", 3),
    ("min_ade", "minADE m", 2),
    ("simulated_collision_rate", "collision", 3),
    ("simulated_offroad_rate", "offroad", 3),
)


def parse_variant(text: str) -> dict[str, float | str]:
    """`beta=0.003,kl=exact` -> {"beta": 0.003, "kl": "exact"} (`rft` overrides; numbers as floats)."""
    out = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: expected key=value[,key=value], got {part!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def label(variant: dict[str, float | str]) -> str:
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in variant.items())


def run(ablation: Path, work: Path, base: str, variant: dict[str, float]) -> Path:
    out = work / label(variant).replace(",", "_").replace("=", "")
    data = ablation / "data"
    cfg = AblationConfig(out=out, base=base, train=[str(data / "train")], val=[str(data / "val")], real=REAL,
                         seeds=(0,), rule_seeds=(0,), rows=("sft", "sft+rft:agent"), controls=False,
                         rft=variant)  # fmt: skip
    Ablation(cfg).run()
    return out


def run_in_place(ablation: Path, base: str, variant: dict[str, float], seeds: tuple[int, ...]) -> str:
    """The variant inside the ablation's own directory: its SFT stages (same recipe and seeds) are
    reused, RFT trains in a directory of its own, results go to results/<set>/sweep_<variant>/.
    `interpolate=w`: score the trained RFT model moved back towards its SFT start
    (`rft.interpolate_to_reference`), written beside its checkpoint."""
    data = ablation / "data"
    interp = variant.get("interpolate")
    variant_trained = {k: v for k, v in variant.items() if k != "interpolate"}
    # steps: RFT's step count; lr / warmup_steps: its optimiser; the rest: `rft` settings
    optim = {k: int(v) if k == "warmup_steps" else v for k, v in variant_trained.items() if k in OPTIM}
    rft = {k: v for k, v in variant_trained.items() if k != "steps" and k not in OPTIM}
    steps = variant_trained.get("steps")
    cfg = AblationConfig(out=ablation, base=base, train=[str(data / "train")], val=[str(data / "val")], real=REAL,
                         seeds=seeds, rft=rft, rft_optim=optim, rft_steps=None if steps is None else int(steps))  # fmt: skip
    ab = Ablation(cfg)
    sets = {"generated": list(read_scenarios(cfg.val)), "real": list(read_scenarios(REAL))}
    recipe = recipes(dataclasses.replace(cfg, rows=("sft+rft:agent",), controls=False))
    row = "sweep:" + label(variant)
    for seed in seeds:
        ckpt, secs = ab.row(recipe["sft+rft:agent"], cfg.train, seed, base)
        if interp is not None:
            ckpt = interpolated(Path(ckpt), interp)
        ab.evaluate(row, seed, ckpt, sets, {"train_seconds": secs})
    return row


def interpolated(ckpt: Path, weight: float) -> str:
    """<ckpt dir>/interpolated-<weight>.ckpt: the RFT checkpoint moved back towards its reference."""
    out = ckpt.parent / f"interpolated-{weight:g}.ckpt"
    return str(out if out.exists() else write_interpolated(ckpt, weight, out))


def _load(d: Path, set_name: str, row: str, seeds: tuple[int, ...] = (0,)) -> dict:
    return {s: json.loads((d / "results" / set_name / row / f"seed{s}.json").read_text()) for s in seeds}


def _mean_buckets(recs: dict[int, dict]) -> dict[str, float]:
    return {k: sum(r["buckets"][k] for r in recs.values()) / len(recs) for k, _, _ in COLUMNS}


def summarise(items: list[tuple[Path, str]], seeds: tuple[int, ...] = (0,)) -> list[dict]:
    """(ablation directory, row) -> the row against the directory's SFT row, paired over scenes."""
    out = []
    for d, row in items:
        entry = {"dir": str(d), "row": row, "seeds": list(seeds), "sets": {}}
        for set_name in ("generated", "real"):
            a, b = _load(d, set_name, _safe(row), seeds), _load(d, set_name, SFT, seeds)
            entry["sets"][set_name] = {
                "rft": _mean_buckets(a),
                "sft": _mean_buckets(b),
                "pair": paired(a, b, min_scenarios=10),
                "relative_per_seed": {s: _relative(a[s]["buckets"], b[s]["buckets"]) for s in seeds},
            }
        out.append(entry)
    return out


def _relative(rft: dict, sft: dict) -> dict[str, float]:
    """RFT's collision rate and minADE relative to SFT's (rft / sft - 1)."""
    return {k: rft[k] / sft[k] - 1 for k in ("simulated_collision_rate", "min_ade")}


def _cell(pooled: float, seeds: dict, key: str) -> str:
    """'+18% (+11, +15, +28)': the pooled relative change, and each seed's when there are several."""
    each = f" ({', '.join(f'{100 * v[key]:+.0f}' for v in seeds.values())})" if len(seeds) > 1 else ""
    return f"{pooled:+.0%}{each}"


def per_seed(pair: dict) -> str:
    """' (a, b, c)': each training seed's meta-metric difference, when there are several."""
    values = pair["per_seed"]
    return f" ({', '.join(f'{v:+.3f}' for v in values)})" if len(values) > 1 else ""


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
        "--in-place", action="store_true", help="train each variant inside --ablation, reusing its SFT"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (--in-place)")
    ap.add_argument(
        "--label", action="append", default=[], help="the variant of each --summarise dir, in order"
    )
    ap.add_argument("--note", default="", help="a paragraph on how the summarised directories were made")
    args = ap.parse_args()
    seeds = tuple(args.seeds)
    if args.summarise:
        variants = [parse_variant(v) for v in args.label]
        items = [(d, "sft+rft:agent") for d in args.summarise]
    else:
        variants = [parse_variant(v) for v in args.variant]
        if args.in_place:
            items = [(args.ablation, run_in_place(args.ablation, args.base, v, seeds)) for v in variants]
        else:
            items = [(run(args.ablation, args.work, args.base, v), "sft+rft:agent") for v in variants]
    entries = summarise(items, seeds)
    for e, v in zip(entries, variants, strict=True):
        e["variant"] = v
    m = machine()
    lines = [
        "# RFT sweep: the per-agent rule on held-out scenes",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['device']}. The ablation's "
        "`sft+rft:agent` row (`recipes/ablation/rft-agent.yaml`: 40 RFT steps of 2 scenes x 32 rollouts, "
        "gradient through 8 rollouts of each on the evaluated agents, lr 1e-4 after a 5-step warm-up; the "
        "sweeps before rft_lr_sweep ran at lr 1e-3) "
        "with the settings below, from the ablation's pretrained base and CAT-K SFT (60 steps) of the "
        f"same seed; training seeds {', '.join(map(str, seeds))}; 32 rollouts on 100 held-out generated "
        "and 13 real WOMD scenes. Difference: RFT - SFT, mean +- standard error over scenes (of the "
        "per-scene differences averaged over seeds); rates and minADE relative to SFT's, seeds pooled (each seed's in %).",
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
            rel, each = _relative(s["rft"], s["sft"]), s["relative_per_seed"]
            lines.append(
                f"| {label(e['variant'])} | " + " | ".join(f"{s['rft'][k]:.{p_}f}" for k, _, p_ in COLUMNS)
                + f" | {p['mean']:+.4f} +- {p['se']:.4f}{per_seed(p)} "
                f"| {_cell(rel['simulated_collision_rate'], each, 'simulated_collision_rate')} "
                f"| {_cell(rel['min_ade'], each, 'min_ade')} |"
            )  # fmt: skip
        lines.append("")
    if args.note:
        lines += [args.note, ""]
    write_results(args.name, {"machine": m, "entries": entries}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
