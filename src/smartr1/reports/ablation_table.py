"""From the ablation's stored results to its table: means and spreads over training seeds, paired
differences between rows (same scenarios, same seeds), markdown + JSON + a bar chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from smartr1.data.atomic import atomic_path, atomic_write_bytes
from smartr1.training.pipeline import load_recipe

COLUMNS = (
    ("realism_meta_metric", "meta-metric"),
    ("kinematic_metrics", "kinematic"),
    ("interactive_metrics", "interactive"),
    ("map_based_metrics", "map-based"),
    ("min_ade", "minADE (m)"),
    ("simulated_collision_rate", "collision"),
    ("simulated_offroad_rate", "offroad"),
    ("simulated_traffic_light_violation_rate", "red light"),
)
# (a, b) pairs whose ordering the paper claims or issue 21 asks about: each rule against SFT and
# against its own negated control, the full pipeline against SFT and against as much SFT, the rules
# against each other
PAIRS = (
    ("sft", "pretrain"),
    ("sft+rft:agent", "sft"),
    ("sft+rft:agent", "sft+rft:agent:control"),
    ("sft+rft:agent:control", "sft"),
    ("sft+rft:agent+sft", "sft"),
    ("sft+rft:agent+sft", "sft+sft"),
    ("sft+rft:agent+sft", "sft+rft:agent"),
    ("sft+sft", "sft"),
    ("sft+rft:agent-ade", "sft"),
    ("sft+rft:agent-ade", "sft+rft:agent-ade:control"),
    ("sft+rft:agent-ade:control", "sft"),
    ("sft+rft:mpo-published", "sft"),
    ("sft+rft:mpo-published", "sft+rft:mpo-published:control"),
    ("sft+rft:mpo-published:control", "sft"),
    ("sft+rft:mpo", "sft"),
    ("sft+rft:mpo", "sft+rft:mpo:control"),
    ("sft+rft:mpo:control", "sft"),
    ("sft+rft:loo", "sft"),
    ("sft+rft:loo", "sft+rft:loo:control"),
    ("sft+rft:loo:control", "sft"),
    ("sft+rft:agent-lr1e-3", "sft"),
    ("sft+rft:agent-lr1e-3", "sft+rft:agent-lr1e-3:control"),
    ("sft+rft:agent-lr1e-3:control", "sft"),
    ("sft+rft:agent", "sft+rft:agent-lr1e-3"),
    ("sft+rft:agent-lr1e-3", "sft+rft:agent-ade"),
    ("sft+rft:agent", "sft+rft:mpo-published"),
    ("sft+rft:agent", "sft+rft:mpo"),
    ("sft+rft:agent", "sft+rft:loo"),
    ("sft+rft:mpo-published+sft", "sft"),
    ("sft+rft:grpo", "sft"),
    ("sft+rft:reinforce", "sft"),
)
# relative changes a / b - 1 of these dataset-level columns, beside each paired difference
RELATIVE = (("simulated_collision_rate", "collision"), ("min_ade", "minADE"))


MIN_SCENARIOS = 10  # fewer scenarios than this get no verdict


def load_results(out: Path, set_name: str) -> dict[str, dict[int, dict]]:
    rows: dict[str, dict[int, dict]] = {}
    for f in sorted((Path(out) / "results" / set_name).glob("*/seed*.json")):
        rec = json.loads(f.read_text())
        rows.setdefault(rec["row"], {})[int(rec["seed"])] = rec
    return rows


def _row_stats(seeds: dict[int, dict]) -> dict:
    out = {"seeds": sorted(seeds)}
    for key, _ in COLUMNS:
        vals = np.array([seeds[s]["buckets"][key] for s in sorted(seeds)], float)
        out[key] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}
    last = [r.get("train_seconds", {}) for r in seeds.values()]
    out["stage_seconds"] = float(np.mean([list(t.values())[-1] if t else 0.0 for t in last]))
    return out


def paired(
    a: dict[int, dict], b: dict[int, dict], key: str = "metametric", min_scenarios: int = MIN_SCENARIOS
) -> dict | None:
    """Row a - row b on the scenarios and seeds both have: per-scenario differences averaged over the
    common seeds (mean +- standard error over scenarios), and the per-seed differences of the means."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    ids = sorted(set.intersection(*[set(a[s]["scenarios"]) & set(b[s]["scenarios"]) for s in seeds]))
    d = np.array([[a[s]["scenarios"][i][key] - b[s]["scenarios"][i][key] for i in ids] for s in seeds])
    per_scenario = d.mean(0)
    per_seed = d.mean(1)
    se = float(per_scenario.std(ddof=1) / np.sqrt(len(ids))) if len(ids) > 1 else float("nan")
    mean = float(per_scenario.mean())
    consistent = bool((per_seed > 0).all() or (per_seed < 0).all())
    verdict = (
        "too few scenarios"  # a standard error over a handful of scenarios says nothing
        if len(ids) < min_scenarios
        else "a > b"
        if mean > 2 * se and consistent
        else "a < b"
        if mean < -2 * se and consistent
        else "within noise"
    )
    relative = {}
    for col, _ in RELATIVE:
        if all(col in a[s].get("buckets", {}) and col in b[s].get("buckets", {}) for s in seeds):
            ma = np.mean([a[s]["buckets"][col] for s in seeds])
            mb = np.mean([b[s]["buckets"][col] for s in seeds])
            relative[col] = float(ma / mb - 1) if mb else float("nan")
    return {"seeds": seeds, "scenarios": len(ids), "mean": mean, "se": se, "per_seed": per_seed.tolist(),
            "consistent_sign": consistent, "verdict": verdict, "relative": relative}  # fmt: skip


def _eval_seconds(rows: dict[str, dict[int, dict]]) -> float:
    return sum(sum(rec.get("eval_seconds", {}).values()) for seeds in rows.values() for rec in seeds.values())


def _train_seconds(out: Path) -> float:
    """Every trained stage once: the done marker each stage writes (rows share their prefixes' stages)."""
    return sum(json.loads(f.read_text())["train_seconds"] for f in (Path(out) / "runs").glob("**/done.json"))


def summarize(out: Path, sets: list[str], order: list[str] | None = None) -> dict:
    """Per set: row statistics (in `order`, then any other stored row), paired comparisons, scenario
    count and the seconds its evaluations took."""
    report = {}
    for set_name in sets:
        rows = load_results(out, set_name)
        names = [n for n in (order or []) if n in rows] + [n for n in rows if n not in (order or [])]
        report[set_name] = {
            "scenarios": max(
                (len(r["scenarios"]) for seeds in rows.values() for r in seeds.values()), default=0
            ),
            "eval_seconds": _eval_seconds(rows),
            "rows": {name: _row_stats(rows[name]) for name in names},
            "pairs": {f"{a} vs {b}": paired(rows[a], rows[b]) for a, b in PAIRS if a in rows and b in rows},
        }
    return report


def _fmt(s: dict, key: str) -> str:
    v = s[key]
    return f"{v['mean']:.4f} ± {v['std']:.4f}" if len(s["seeds"]) > 1 else f"{v['mean']:.4f}"


def write_report(out: Path, report: dict, config: dict) -> None:
    out = Path(out)
    atomic_write_bytes(out / "ablation.json", [json.dumps({"config": config, **report}, indent=1).encode()])
    lines = ["# Ablation of the SMART-R1 recipe", "", _setup(out, report, config), ""]
    for set_name, rep in report.items():
        lines += [f"## {set_name} scenarios ({rep.get('scenarios', '?')})", "", "| row | seeds | " + " | ".join(c for _, c in COLUMNS) + " | stage s |",
                  "|---|---|" + "---|" * (len(COLUMNS) + 1)]  # fmt: skip
        for name, s in rep["rows"].items():
            lines.append(f"| {name} | {len(s['seeds'])} | " + " | ".join(_fmt(s, k) for k, _ in COLUMNS)
                         + f" | {s['stage_seconds']:.0f} |")  # fmt: skip
        lines += ["", "Paired differences of the meta-metric (a - b; per-scenario mean over common seeds, "
                  "± standard error over scenarios; per-seed differences of the means):", "",
                  "| a vs b | difference | ± s.e. | per seed | verdict | "
                  + " | ".join(f"{n} a/b-1" for _, n in RELATIVE) + " |",
                  "|---|---|---|---|---|" + "---|" * len(RELATIVE)]  # fmt: skip
        for pair, p in rep["pairs"].items():
            if p:
                seeds = ", ".join(f"{x:+.4f}" for x in p["per_seed"])
                rel = " | ".join(f"{p.get('relative', {}).get(c, float('nan')):+.1%}" for c, _ in RELATIVE)
                lines.append(
                    f"| {pair} | {p['mean']:+.4f} | {p['se']:.4f} | {seeds} | {p['verdict']} | {rel} |"
                )
        shares = control_shares(rep["pairs"])
        if shares:
            lines += ["", "The control's share of each rule's gain over SFT (control gain / rule gain, "
                      "meta-metric; only the rest is credit for the reward):", ""]  # fmt: skip
            lines += [f"- {row}: gain {g:+.4f}, control {c:+.4f}, " + (f"share {c / g:.0%}" if g > 0 and c > 0
                      else "the control gains nothing: none of the gain is generic perturbation")
                      for row, g, c in shares]  # fmt: skip
        lines.append("")
    atomic_write_bytes(out / "ablation.md", ["\n".join(lines).encode()])
    _chart(out / "ablation.png", report)


def control_shares(pairs: dict) -> list[tuple[str, float, float]]:
    """(row, its gain over SFT, its control's gain over SFT) for each row with a control and SFT."""
    out = []
    for key, p in pairs.items():
        a, b = key.split(" vs ")
        c = pairs.get(f"{b} vs sft") if b == f"{a}:control" else None
        g = pairs.get(f"{a} vs sft")
        if p and c and g:
            out.append((a, g["mean"], c["mean"]))
    return out


def _recipe_steps(stage: str) -> int:
    """A stage's step count in the shared ablation recipe (what a row runs unless told otherwise)."""
    return load_recipe("ablation").overrides(stage)["trainer"]["max_steps"]


def _setup(out: Path, report: dict, config: dict) -> str:
    c = config
    sec = {
        "train": _train_seconds(out),
        "evaluate": sum(rep.get("eval_seconds", 0.0) for rep in report.values()),
    }
    base = (
        f"the given checkpoint `{c.get('base')}`"
        if c.get("base")
        else f"{c.get('pretrain_steps')} steps here"
    )
    return (
        f"SMART-{c.get('size')}; every row starts from one pretrained base ({base}); fine-tuning stages: "
        f"CAT-K SFT {c.get('sft_steps') or _recipe_steps('sft')} steps, RFT {c.get('rft_steps') or _recipe_steps('rft')} "
        "steps; main rows with training "
        f"seeds {list(c.get('seeds', []))}, other rule rows with {list(c.get('rule_seeds', []))}; each row scored with "
        f"{c.get('rollouts')} rollouts per scenario (evaluation seed = training seed). Compute of the stored "
        f"results: training {sec['train'] / 3600:.2f} h, evaluation {sec['evaluate'] / 3600:.2f} h. "
        "`stage s`: seconds of the row's last stage. A verdict needs the difference beyond 2 standard "
        "errors over scenarios and the same sign for every seed."
    )


def _chart(path: Path, report: dict) -> None:
    # matplotlib: heavy, and only the chart needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = ("realism_meta_metric", "min_ade", "simulated_collision_rate", "simulated_offroad_rate")
    fig = Figure(figsize=(14, 3.6 * len(report)), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(report), len(keys), squeeze=False)
    for r, (set_name, rep) in enumerate(report.items()):
        names = list(rep["rows"])
        for c, key in enumerate(keys):
            ax = axes[r][c]
            m = [rep["rows"][n][key]["mean"] for n in names]
            e = [rep["rows"][n][key]["std"] for n in names]
            ax.bar(range(len(names)), m, yerr=e, capsize=3, color="#4c72b0")
            ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
            ax.set_title(f"{set_name}: {dict(COLUMNS)[key]}", fontsize=9)
            if key == "realism_meta_metric" and m:
                lo = min(m) - 0.05
                ax.set_ylim(max(0.0, lo), min(1.0, max(m) + 0.03))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
