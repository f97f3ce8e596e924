"""Does an RFT rule optimise its reward? A learning check with its control, one command, resumable.

An RFT run on a fixed small set of training scenes, every update using all of them, scored every
`eval_every` steps on those same scenes with `eval_seeds` rollout seeds (32 rollouts each): the reward
of each (scene, seed) against the same (scene, seed) at the start, so that scene offsets (+-0.03) and
most of the sampling noise cancel; the standard error is over seeds of the scene-mean change. The
same run with the advantage negated (a policy pushed to lower its reward) is the control: whatever it
gains too is generic weight perturbation, and only the difference is credit for the reward.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import torch
from rich.console import Console

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.womd import read_scenarios, write_scenarios
from smartr1.model.checkpoint import load_model
from smartr1.tokens.batch import collate_cropped
from smartr1.training.cache import TokenizedDataset
from smartr1.training.config import load_config, merge_dicts
from smartr1.training.contexts import ScenarioContexts
from smartr1.training.rft import RATES, sample_rollouts, scenario_rewards
from smartr1.training.runner import model_reach
from smartr1.training.stages import run_stage

FIELDS = ("metametric", *RATES)


@dataclass
class LearningCheckConfig:
    out: Path = Path("runs/learning_check")
    checkpoint: str = "smartr1-nano-sumo"  # the starting policy (and the frozen reference)
    scenes: list[str] = field(default_factory=list)  # scenario files; the first `num_scenes` are used
    num_scenes: int = 3
    steps: int = 60
    eval_every: int = 20
    eval_seeds: int = 6
    rollouts: int = 32
    size: str = "nano"
    rft: dict = field(default_factory=dict)  # RftConfig overrides (rule, beta, num_rollouts, ...)
    optim: dict = field(default_factory=dict)  # OptimConfig overrides (lr, warmup_steps, ...)
    seed: int = 0
    control: bool = True  # also run the negated-advantage control


def score_scenes(model, batch, contexts: ScenarioContexts, seeds: list[int], rollouts: int, rft) -> dict:
    """{field: [seeds, scenes] list} of the metric of `rollouts` rollouts per scene and seed."""
    out = {k: [] for k in FIELDS}
    for seed in seeds:
        state = sample_rollouts(model, batch, rollouts, seed, rft.top_k, rft.temperature, rft.start)
        _, fields = scenario_rewards(state, batch, contexts, "set", rollouts)
        for k in FIELDS:
            out[k].append([float(f[k]) for f in fields])
    return out


class ScoreEvery(L.Callback):
    """Scores the policy on the check's scenes at the start and every `every` steps (rollouts seeded
    apart from training's, without touching its random state)."""

    def __init__(self, batch, contexts, seeds, rollouts, every: int, console: Console):
        self.batch, self.contexts, self.seeds, self.rollouts, self.every = (
            batch,
            contexts,
            seeds,
            rollouts,
            every,
        )
        self.console = console
        self.points: list[dict] = []

    def _score(self, trainer, module, step: int) -> None:
        batch = self.batch.to(module.device)
        scores = score_scenes(module.model, batch, self.contexts, self.seeds, self.rollouts, module.cfg.rft)
        logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
        self.points.append({"step": step, "scores": scores, "train": logged})
        m = np.mean(scores["metametric"])
        self.console.print(f"step {step}: reward {m:.4f} (mean over scenes and seeds)", highlight=False)

    def on_train_start(self, trainer, module):
        if trainer.global_step == 0:
            self._score(trainer, module, 0)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step % self.every == 0 or trainer.global_step == trainer.max_steps:
            self._score(trainer, module, trainer.global_step)


def paired_change(points: list[dict], key: str = "metametric") -> list[dict]:
    """Per scored step: mean over (scene, seed) of the change since step 0, and its standard error
    over seeds (each seed's scene-mean change is one sample)."""
    start = np.asarray(points[0]["scores"][key])  # [seeds, scenes]
    out = []
    for p in points:
        d = np.asarray(p["scores"][key]) - start
        per_seed = d.mean(1)
        se = per_seed.std(ddof=1) / math.sqrt(len(per_seed)) if len(per_seed) > 1 else float("nan")
        out.append({"step": p["step"], "mean": float(per_seed.mean()), "se": float(se)})
    return out


def verdict(run: list[dict], control: list[dict] | None) -> dict:
    """The done-when of issue 21: the final gain beyond 3 standard errors and at least twice the
    control's (and the difference between the two with its standard error)."""
    end = run[-1]
    out = {"gain": end["mean"], "se": end["se"], "beyond_3se": end["mean"] > 3 * end["se"]}
    if control:
        c = control[-1]
        out.update(control_gain=c["mean"], control_se=c["se"], difference=end["mean"] - c["mean"],
                   difference_se=math.hypot(end["se"], c["se"]),
                   twice_control=end["mean"] >= 2 * max(c["mean"], 0.0))  # fmt: skip
    out["passes"] = bool(out["beyond_3se"] and out.get("twice_control", True))
    return out


class LearningCheck:
    def __init__(self, cfg: LearningCheckConfig, console: Console | None = None):
        self.cfg, self.out, self.console = cfg, Path(cfg.out), console or Console()

    def _scenes(self) -> Path:
        """The check's scenes, copied into one shard (the first `num_scenes` of the inputs)."""
        path = self.out / "scenes.tfrecord"
        if not path.exists():
            scenes = []
            for s in read_scenarios(self.cfg.scenes):
                scenes.append(s)
                if len(scenes) == self.cfg.num_scenes:
                    break
            if not scenes:
                raise ValueError(f"no scenarios in {self.cfg.scenes}")
            tmp = self.out / "scenes.tfrecord.part"
            write_scenarios(tmp, scenes)
            shutil.move(tmp, path)
        return path

    def run_one(self, name: str, negate: bool) -> list[dict]:
        """One RFT run (or the control) with its scored points; stored in <out>/<name>.json."""
        cfg = self.cfg
        result = self.out / f"{name}.json"
        if result.exists():
            return json.loads(result.read_text())["points"]
        scenes = self._scenes()
        model, vocab = load_model(cfg.checkpoint)
        ds = TokenizedDataset([scenes], vocab, cache_dir=self.out / "cache")
        batch = collate_cropped([ds[i] for i in range(len(ds))], model_reach(model.cfg, closed_loop=True))
        contexts = ScenarioContexts([scenes])
        seeds = [10_000 + k for k in range(cfg.eval_seeds)]
        score = ScoreEvery(batch, contexts, seeds, cfg.rollouts, cfg.eval_every, self.console)
        over = {
            "out": str(self.out / name),
            "init_checkpoint": cfg.checkpoint,
            "data": {"train": [str(scenes)], "cache_dir": str(self.out / "cache"), "batch_size": len(ds)},
            "trainer": {
                "max_steps": cfg.steps,
                "seed": cfg.seed,
                "log_every_n_steps": 1,
                "checkpoint_every_n_steps": cfg.steps,
            },  # fmt: skip
            "rft": merge_dicts(cfg.rft, {"negate_advantage": negate}),
            "optim": dict(cfg.optim),
        }
        if (self.out / name).exists():  # a partial run: start again (its scores were not kept)
            shutil.rmtree(self.out / name)
        self.console.rule(f"[bold]learning check: {name}")
        run_stage(load_config("rft", cfg.size, overrides=over), callbacks=[score])
        atomic_write_bytes(result, [json.dumps({"points": score.points}).encode()])
        return score.points

    def run(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        runs = {"rft": self.run_one("rft", negate=False)}
        if self.cfg.control:
            runs["control"] = self.run_one("control", negate=True)
        curves = {name: {k: paired_change(p, k) for k in FIELDS} for name, p in runs.items()}
        train = {name: [{"step": p["step"], **p["train"]} for p in pts] for name, pts in runs.items()}
        report = {
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.cfg).items()},
            "curves": curves,
            "train": train,
            "verdict": verdict(curves["rft"]["metametric"], curves.get("control", {}).get("metametric")),
            "torch_threads": torch.get_num_threads(),
        }
        atomic_write_bytes(self.out / "learning_check.json", [json.dumps(report, indent=1).encode()])
        atomic_write_bytes(self.out / "learning_check.md", [render(report).encode()])
        plot(report, self.out / "learning_check.png")
        return report


def render(report: dict) -> str:
    cfg, v = report["config"], report["verdict"]
    lines = [
        "# RFT learning check",
        "",
        f"Start: `{cfg['checkpoint']}`; {cfg['num_scenes']} training scenes, every update uses all of them; "
        f"{cfg['steps']} steps; rft {cfg['rft']}, optim {cfg['optim']}; scored every {cfg['eval_every']} "
        f"steps with {cfg['eval_seeds']} rollout seeds x {cfg['rollouts']} rollouts. Change since step 0, "
        "paired by (scene, seed), mean +- standard error over seeds:",
        "",
        "| step | " + " | ".join(f"{n} meta-metric | {n} collision" for n in report["curves"]) + " |",
        "|---|" + "---|---|" * len(report["curves"]),
    ]
    names = list(report["curves"])
    for i, pt in enumerate(report["curves"][names[0]]["metametric"]):
        cells = []
        for n in names:
            m, c = report["curves"][n]["metametric"][i], report["curves"][n]["simulated_collision_rate"][i]
            cells.append(f"{m['mean']:+.4f} +- {m['se']:.4f} | {c['mean']:+.4f} +- {c['se']:.4f}")
        lines.append(f"| {pt['step']} | " + " | ".join(cells) + " |")
    lines += ["", f"Verdict: {json.dumps(v)}", ""]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    # matplotlib: heavy, and only the picture needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.4), dpi=90)
    keys = (("metametric", "meta-metric"), ("simulated_collision_rate", "collision rate"),
            ("simulated_offroad_rate", "offroad rate"))  # fmt: skip
    for j, (key, label) in enumerate(keys):
        ax = fig.add_subplot(1, len(keys) + 1, j + 1)
        for name, curves in report["curves"].items():
            pts = curves[key]
            x = [p["step"] for p in pts]
            m = np.array([p["mean"] for p in pts])
            se = np.nan_to_num(np.array([p["se"] for p in pts]))
            ax.plot(x, m, marker="o", label=name)
            ax.fill_between(x, m - se, m + se, alpha=0.2)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(f"{label}: change since step 0")
        ax.set_xlabel("step")
        ax.legend()
    ax = fig.add_subplot(1, len(keys) + 1, len(keys) + 1)
    for name, rows in report["train"].items():
        ax.plot(
            [r["step"] for r in rows], [r.get("train/kl", float("nan")) for r in rows], marker="o", label=name
        )
    ax.set_title("k3 KL to the start, per token")
    ax.set_xlabel("step")
    ax.legend()
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))
