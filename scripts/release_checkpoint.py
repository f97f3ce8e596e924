"""Ship a trained pipeline's final checkpoint inside the package, with its card.

    python scripts/release_checkpoint.py runs/demo                         # a demo run (report.json)
    python scripts/release_checkpoint.py runs/cpu-long --val data/val \
        --recipe "smartr1 train pipeline --config cpu-long" --data "1000 generated SUMO scenarios, seed 0"

Exports the last stage's weights (no optimizer state) to `src/smartr1/model/released/smartr1-nano-sumo.pt`
and writes its card beside it: the recipe (stages, steps, data), the held-out scores next to constant
velocity and the logged oracle (from the demo report, or scored here on `--val`), the held-out scores
after every stage, and scores on the real WOMD scenarios in ../shared/data/wosac (32 rollouts, seed 0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.womd import read_scenarios
from smartr1.machine import describe_machine
from smartr1.metrics.report import MetricsReport
from smartr1.model.checkpoint import export_model, load_model
from smartr1.model.released import DEFAULT_RELEASE
from smartr1.rollout.evaluation import evaluate_policy
from smartr1.training.pipeline import PIPELINE, stage_done

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "wosac" / "scenarios"
KEYS = ("metametric", "kinematic_metrics", "interactive_metrics", "map_based_metrics")
REFERENCES = ("constant-velocity", "logged-oracle")


def _scores(res: MetricsReport | dict) -> dict:
    """The card's scores from a MetricsReport or its stored form (a demo report's {dataset, buckets})."""
    d, b = (res["dataset"], res["buckets"]) if isinstance(res, dict) else (res.dataset, res.buckets)
    out = {k: d.get(k, b.get(k)) for k in KEYS}
    out["min_ade"] = d["min_average_displacement_error"]
    return out


def _steps(ckpt: str) -> int:
    import torch

    return int(torch.load(ckpt, map_location="cpu", weights_only=False).get("global_step", 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, nargs="?", default=Path("runs/demo"))
    ap.add_argument("--val", type=Path, default=None, help="held-out scenarios (runs without a demo report)")
    ap.add_argument("--recipe", default="bash scripts/demo.sh (smartr1 demo defaults)")
    ap.add_argument("--data", default=None, help="what the model was trained on (default: the demo's)")
    args = ap.parse_args()
    report_file = args.run / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    records = {s: r for s in PIPELINE if (r := stage_done(args.run / s))}
    if not records:
        raise SystemExit(f"{args.run}: no finished pipeline stage (<stage>/done.json)")
    for s, r in records.items():  # a relative path was the trainer's: read the run's own checkpoint
        path = Path(r["checkpoint"])
        r["checkpoint"] = str(path if path.is_absolute() else args.run / s / "checkpoints" / path.name)
        if not Path(r["checkpoint"]).is_file():
            raise SystemExit(f"{args.run / s}: its checkpoint {r['checkpoint']} is missing")
    stages = list(records)
    ckpt = records[stages[-1]]["checkpoint"]
    folder = REPO / "src" / "smartr1" / "model" / "released"
    weights = export_model(ckpt, folder / f"{DEFAULT_RELEASE}.pt")
    if report is not None:
        generated = {k: _scores(v) for k, v in report["results"].items()}
        data = (
            f"{report['config']['train_scenarios']} generated SUMO scenarios, seed {report['config']['seed']}"
        )
        machine = report["machine"]
    else:
        if args.val is None:
            raise SystemExit("no demo report in the run: pass --val with the held-out scenarios")
        val = list(read_scenarios(args.val))
        generated = {name: _scores(evaluate_policy(p, val, 32, 0)[0])
                     for name, p in (("smart", str(weights)), *((r, r) for r in REFERENCES))}  # fmt: skip
        data, machine = args.data or "unknown", describe_machine("cpu")
    real = list(read_scenarios(REAL))
    on_real = {name: _scores(evaluate_policy(p, real, 32, 0)[0]) for name, p in
               (("smart", str(weights)), ("constant-velocity", "constant-velocity"))}  # fmt: skip
    model, _ = load_model(weights)
    card = {
        "name": DEFAULT_RELEASE,
        "model": "SMART-nano" if model.cfg.hidden == 64 else f"SMART (hidden {model.cfg.hidden})",
        "model_config": model.cfg.to_dict(),
        "stages": stages,
        "steps": {s: _steps(r["checkpoint"]) for s, r in records.items()},
        "data": data,
        "trained_with": args.recipe,
        "machine": machine,
        "train_minutes": {s: round(r["train_seconds"] / 60, 2) for s, r in records.items()},
        "held_out": {
            "generated": generated,
            "generated_per_stage": {s: _scores(r["held_out"]) for s, r in records.items() if "held_out" in r},
            f"real_womd_{len(real)}": on_real,
        },
    }
    atomic_write_bytes(folder / f"{DEFAULT_RELEASE}.json", [json.dumps(card, indent=1).encode()])
    print(json.dumps(card["held_out"], indent=1))
    print(f"{weights} ({weights.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
