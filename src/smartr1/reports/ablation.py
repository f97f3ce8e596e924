"""The ablation table of the SMART-R1 recipe, one command, resumable.

Rows are recipes: a chain of training stages from a shared pretrained base, each fine-tuning stage run
with several training seeds (the base is trained once, with seed 0: the rows compare what fine-tuning
adds to the same starting point). Every (row, seed) is trained in its own directory (a stage shared by
several rows, e.g. the SFT that precedes every RFT variant, is trained once per seed and reused), then
evaluated with 32 rollouts on the held-out generated scenarios and on the real WOMD scenarios; each
result is written as soon as it exists, so a rerun skips what is done. The report holds per-scenario
metrics, so differences between rows are compared pairwise (same scenarios, same seeds).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from smartr1.data.atomic import atomic_write_bytes
from smartr1.reports.ablation_table import summarize, write_report

MAIN_ROWS = ("pretrain", "sft", "sft+sft", "sft+rft", "sft+rft+sft", "rft:grpo", "rft:reinforce", "rft:loo")


@dataclass
class AblationConfig:
    out: Path = Path("runs/ablation")
    train: list[str] = field(default_factory=list)  # scenario shards; generated when empty
    val: list[str] = field(default_factory=list)
    real: list[str] = field(default_factory=list)  # real WOMD scenarios, scored as a second table
    generate_train: int = 400
    generate_val: int = 100
    generate_seed: int = 0
    tiny_worlds: bool = False
    seeds: tuple[int, ...] = (0, 1, 2)
    sweep_seeds: tuple[int, ...] = (0,)
    alphas: tuple[float, ...] = (0.02, 0.0)  # MPO sweep: alpha = mean reward - margin for these margins
    betas: tuple[float, ...] = (0.0, 0.2)  # MPO sweep of the KL weight (0.04 is the main row)
    base: str | None = None  # a pretrained checkpoint every row starts from (None: pretrain one here)
    pretrain_steps: int = 600
    sft_steps: int = 60
    rft_steps: int = 40
    rollouts: int = 32
    batch_size: int = 4
    size: str = "nano"
    rft: dict = field(default_factory=dict)  # overrides of RftConfig for every RFT row
    sft: dict = field(default_factory=dict)  # overrides of SftConfig for every SFT stage
    model: dict = field(default_factory=dict)  # overrides of the model size (quick runs)
    workers: int = 2


def recipes(cfg: AblationConfig) -> dict[str, list[tuple[str, dict]]]:
    """row -> stages after the base: (stage, overrides). Rows that share a prefix share its training."""
    from smartr1.training.config import CPU_SFT_LABEL_SMOOTHING

    ft = {"trainer": {"max_steps": cfg.sft_steps}, "sft": dict(cfg.sft),
          "optim": {"label_smoothing": CPU_SFT_LABEL_SMOOTHING}}  # fmt: skip
    sft, sft2 = ("sft", ft), ("sft2", ft)

    def rft(**kw):
        return ("rft", {"trainer": {"max_steps": cfg.rft_steps}, "rft": {**cfg.rft, **kw}})

    rows = {
        "pretrain": [],
        "sft": [sft],
        "sft+sft": [sft, sft2],
        "sft+rft": [sft, rft(rule="mpo")],
        "sft+rft+sft": [sft, rft(rule="mpo"), sft2],
        "rft:grpo": [sft, rft(rule="grpo")],
        "rft:reinforce": [sft, rft(rule="reinforce")],
        "rft:loo": [sft, rft(rule="loo")],
    }
    for m in cfg.alphas:
        rows[f"mpo:alpha=mean-{m:g}"] = [sft, rft(rule="mpo", alpha_margin=m)]
    for b in cfg.betas:
        rows[f"mpo:beta={b:g}"] = [sft, rft(rule="mpo", beta=b)]
    return rows


def _key(stages: list[tuple[str, dict]]) -> str:
    """A directory name for a chain of stages (the same chain, the same directory)."""
    parts = []
    for stage, ov in stages:
        r = ov.get("rft", {})
        tag = stage
        if stage == "rft":
            tag += f"-{r.get('rule', 'mpo')}"
            if "alpha_margin" in r and r["alpha_margin"] != cfg_default("alpha_margin"):
                tag += f"-m{r['alpha_margin']:g}"
            if "beta" in r and r["beta"] != cfg_default("beta"):
                tag += f"-b{r['beta']:g}"
        parts.append(tag)
    return "__".join(parts) or "pretrain"


def cfg_default(name: str):
    from smartr1.training.config import RftConfig

    return getattr(RftConfig(), name)


class Ablation:
    def __init__(self, cfg: AblationConfig, console=None):
        from rich.console import Console

        self.cfg = cfg
        self.out = Path(cfg.out)
        self.console = console or Console()

    # ---- data and the shared base -------------------------------------------------------------
    def data(self) -> tuple[list[str], list[str]]:
        cfg = self.cfg
        if cfg.train and cfg.val:
            return cfg.train, cfg.val
        from smartr1.data.sumo.generate import generate
        from smartr1.data.sumo.plan import GenerateConfig, tiny_config

        gen = tiny_config() if cfg.tiny_worlds else GenerateConfig()
        for split, num, seed in (("train", cfg.generate_train, cfg.generate_seed),
                                 ("val", cfg.generate_val, cfg.generate_seed + 10_000)):  # fmt: skip
            marker = self.out / "data" / f"{split}.done.json"
            if not marker.exists():
                generate(
                    num,
                    self.out / "data" / split,
                    seed=seed,
                    workers=cfg.workers,
                    cfg=gen,
                    console=self.console,
                )
                atomic_write_bytes(marker, [json.dumps({"num": num, "seed": seed}).encode()])
        return [str(self.out / "data" / "train")], [str(self.out / "data" / "val")]

    def _shared(self, train: list[str], seed: int, stage: str = "pretrain") -> dict:
        data = {"train": train, "cache_dir": str(self.out / "cache")}
        if stage != "rft":  # RFT's batch is one scenario x 32 rollouts (rft.yaml), as in the demo
            data["batch_size"] = self.cfg.batch_size
        return {"data": data, "trainer": {"seed": seed}}

    def _train(self, stage: str, out: Path, overrides: dict, init: str | None) -> tuple[str, float]:
        """Train one stage unless it is done; (checkpoint, seconds) from its done marker."""
        from smartr1.training.config import load_config, merge_dicts
        from smartr1.training.pipeline import TRAIN

        marker = out / "done.json"
        if marker.exists():
            d = json.loads(marker.read_text())
            return d["checkpoint"], d["seconds"]
        ov = merge_dicts(overrides, {"out": str(out)})
        if init:
            ov["init_checkpoint"] = init
        t0 = time.perf_counter()
        ckpt = str(TRAIN[stage](load_config(stage, self.cfg.size, overrides=ov), resume=True))
        rec = {"checkpoint": ckpt, "seconds": time.perf_counter() - t0, "parent": init}
        atomic_write_bytes(marker, [json.dumps(rec, indent=1).encode()])
        return ckpt, rec["seconds"]

    def base(self, train: list[str]) -> tuple[str, float]:
        """The shared pretrained base: the given checkpoint (its training time unknown here: 0 s) or one
        pretrained here with seed 0."""
        if self.cfg.base:
            from smartr1.model.checkpoint import load_model

            load_model(self.cfg.base)  # a clear error now rather than after the references are scored
            return self.cfg.base, 0.0
        ov = self._shared(train, 0)
        ov["trainer"]["max_steps"] = self.cfg.pretrain_steps
        if self.cfg.model:
            ov["model"] = dict(self.cfg.model)
        return self._train("pretrain", self.out / "runs" / "pretrain", ov, None)

    def row(self, name: str, stages, train: list[str], seed: int, base: str) -> tuple[str, dict[str, float]]:
        """Train a row's chain for one seed; (final checkpoint, seconds per stage)."""
        from smartr1.training.config import merge_dicts

        ckpt, seconds = base, {}
        for i in range(len(stages)):
            stage, ov = stages[i]
            out = self.out / "runs" / _key(stages[: i + 1]) / f"seed{seed}"
            ckpt, sec = self._train(stage, out, merge_dicts(self._shared(train, seed, stage), ov), ckpt)
            seconds[f"{i}:{stage}"] = sec
        return ckpt, seconds

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self, name: str, seed: int, policy: str, sets: dict[str, list], extra: dict) -> dict:
        """Score a policy on every scenario set, once: results/<set>/<row>/seed<k>.json."""
        from smartr1.rollout.evaluation import evaluate_policy

        out = {}
        for set_name, scenarios in sets.items():
            path = self.out / "results" / set_name / _safe(name) / f"seed{seed}.json"
            if path.exists():
                out[set_name] = json.loads(path.read_text())
                continue
            res, _, sec = evaluate_policy(policy, scenarios, self.cfg.rollouts, seed=seed)
            rec = {"row": name, "seed": seed, "policy": policy, "eval_seconds": sec, **extra,
                   "dataset": res["dataset"], "buckets": res["buckets"],
                   "scenarios": {k: v for k, v in res["scenarios"].items()}}  # fmt: skip
            atomic_write_bytes(path, [json.dumps(rec).encode()])
            out[set_name] = rec
        return out

    def run(self) -> dict:
        from smartr1.data.womd import read_scenarios

        cfg = self.cfg
        train, val = self.data()
        sets = {"generated": list(read_scenarios(val))}
        if cfg.real:
            sets["real"] = list(read_scenarios(cfg.real))
        self.console.rule("[bold]ablation: references")
        for ref in ("constant-velocity", "logged-oracle"):
            self.evaluate(ref, 0, ref, sets, {"train_seconds": {}})
        self.console.rule("[bold]ablation: pretrained base")
        base, base_s = self.base(train)
        # seed-major: a run stopped early has every row for its first seeds rather than some rows for all
        for seed in sorted({*cfg.seeds, *cfg.sweep_seeds}):
            for name, stages in recipes(cfg).items():
                if seed not in (cfg.seeds if name in MAIN_ROWS else cfg.sweep_seeds):
                    continue
                self.console.rule(f"[bold]ablation: {name}, seed {seed}")
                ckpt, secs = self.row(name, stages, train, seed, base)
                self.evaluate(name, seed, ckpt, sets, {"train_seconds": {"pretrain": base_s, **secs}})
        report = summarize(self.out, list(sets), ["constant-velocity", *recipes(cfg), "logged-oracle"])
        write_report(self.out, report, asdict_cfg(cfg))
        return report


def asdict_cfg(cfg: AblationConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("=", "").replace("+", "_")
