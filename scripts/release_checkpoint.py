"""Ship the demo's final checkpoint inside the package: `python scripts/release_checkpoint.py [runs/demo]`.

Exports the last pipeline stage's weights (no optimizer state) to
`src/smartr1/model/released/smartr1-nano-sumo.pt` and writes its card beside it: the recipe (stages,
steps, data), the held-out scores of the demo report, and scores on the real WOMD scenarios in
../shared/data/wosac next to constant velocity (32 rollouts, seed 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.womd import read_scenarios
from smartr1.model.checkpoint import export_model
from smartr1.model.released import DEFAULT_RELEASE
from smartr1.rollout.evaluation import evaluate_policy

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "wosac" / "scenarios"
KEYS = ("metametric", "kinematic_metrics", "interactive_metrics", "map_based_metrics")


def _scores(res: dict) -> dict:
    d, b = res["dataset"], res.get("buckets", {})
    out = {k: d.get(k, b.get(k)) for k in KEYS}
    out["min_ade"] = d["min_average_displacement_error"]
    return out


def main() -> None:
    run = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/demo")
    report = json.loads((run / "report.json").read_text())
    stages = list(report["stages"])
    ckpt = report["checkpoint"]
    folder = REPO / "src" / "smartr1" / "model" / "released"
    weights = export_model(ckpt, folder / f"{DEFAULT_RELEASE}.pt")
    real = list(read_scenarios(REAL))
    on_real = {name: _scores(evaluate_policy(p, real, 32, 0)[0]) for name, p in
               (("smart", str(weights)), ("constant-velocity", "constant-velocity"))}  # fmt: skip
    card = {
        "name": DEFAULT_RELEASE,
        "model": f"SMART-{report['config']['size']}",
        "stages": stages,
        "steps": {
            s: int(report["config"][k])
            for s, k in zip(stages, ("max_steps", "sft_steps", "rft_steps", "sft2_steps"), strict=True)
        },  # fmt: skip
        "data": f"{report['config']['train_scenarios']} generated SUMO scenarios, seed {report['config']['seed']}",
        "trained_with": "bash scripts/demo.sh (smartr1 demo defaults)",
        "machine": report["machine"],
        "train_minutes": {s: round(v["train_seconds"] / 60, 2) for s, v in report["stages"].items()},
        "held_out": {
            "generated": {k: _scores(v) for k, v in report["results"].items()},
            "generated_per_stage": {
                s: _scores({"dataset": v["held_out"]}) for s, v in report["stages"].items()
            },
            f"real_womd_{len(real)}": on_real,
        },
    }
    atomic_write_bytes(folder / f"{DEFAULT_RELEASE}.json", [json.dumps(card, indent=1).encode()])
    print(json.dumps(card["held_out"], indent=1))
    print(f"{weights} ({weights.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
