"""The ablation table of the SMART-R1 recipe, one command, resumable.

Rows are pipeline recipes (`smartr1/configs/recipes/ablation/<row>.yaml`, each layered over
`recipes/ablation.yaml`): a chain of training stages from a shared pretrained base, each fine-tuning
stage run with several training seeds (the base is trained once, with seed 0: the rows compare what
fine-tuning adds to the same starting point). Every (row, seed) runs through `run_pipeline` with its
done markers; a stage shared by several rows (the SFT that precedes every RFT variant) is trained once
per seed and reused (`share_prefixes`). Each row is then evaluated with 32 rollouts on the held-out
generated scenarios and on the real WOMD scenarios; each result is written as soon as it exists, so a
rerun skips what is done. The report holds per-scenario metrics, so differences between rows are
compared pairwise (same scenarios, same seeds). Every RFT rule row has a control row, the same run
with the advantage negated: what the control gains too is generic weight perturbation, not the reward.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.sumo.generate import generate
from smartr1.data.sumo.plan import GenerateConfig, tiny_config
from smartr1.data.womd import read_scenarios
from smartr1.model.checkpoint import load_model
from smartr1.reports.ablation_table import summarize, write_report
from smartr1.rollout.evaluation import evaluate_policy
from smartr1.training.pipeline import Recipe, checkpoint_stamp, load_recipe, run_pipeline

# row -> its recipe. The main rows run with every seed; the other rule rows (and the MPO alpha / beta
# sweeps, built from the published MPO row) with `rule_seeds`, to keep the CPU budget.
MAIN_ROWS = {
    "pretrain": "ablation/pretrain",
    "sft": "ablation/sft",
    "sft+sft": "ablation/sft+sft",
    "sft+rft:agent": "ablation/rft-agent",
    "sft+rft:agent+sft": "ablation/rft-agent+sft",
}
RULE_ROWS = {
    "sft+rft:agent-ade": "ablation/rft-agent-ade",
    "sft+rft:mpo-published": "ablation/sft+rft",
    "sft+rft:mpo": "ablation/rft-mpo",
    "sft+rft:loo": "ablation/rft-loo",
}
# opt-in rows (`rows=`): the per-agent rule at lr 1e-3 (the main row until the lr sweep), the published
# MPO pipeline and the baselines of the first ablation
EXTRA_ROWS = {
    "sft+rft:agent-lr1e-3": "ablation/rft-agent-lr1e-3",
    "sft+rft:mpo-published+sft": "ablation/sft+rft+sft",
    "sft+rft:grpo": "ablation/rft-grpo",
    "sft+rft:reinforce": "ablation/rft-reinforce",
}
# RFT rows that get a control row "<row>:control" (the advantage negated), with the row's seeds
CONTROLLED = (
    "sft+rft:agent",
    "sft+rft:agent-lr1e-3",
    "sft+rft:agent-ade",
    "sft+rft:mpo-published",
    "sft+rft:mpo",
    "sft+rft:loo",
)
DEFAULT_ROWS = (*MAIN_ROWS, *RULE_ROWS)


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
    rule_seeds: tuple[int, ...] = (0,)  # seeds of the rows outside MAIN_ROWS (budget)
    rows: tuple[str, ...] = DEFAULT_ROWS  # which rows (names of MAIN_ROWS, RULE_ROWS, EXTRA_ROWS)
    controls: bool = True  # a negated-advantage control row for each row in CONTROLLED
    alphas: tuple[float, ...] = ()  # MPO sweep: alpha = mean reward - margin for these margins
    betas: tuple[float, ...] = ()  # MPO sweep of the KL weight (0.04 is the published row)
    base: str | None = None  # a pretrained checkpoint every row starts from (None: pretrain one here)
    # step counts: None = the recipes' (recipes/ablation.yaml)
    pretrain_steps: int | None = None
    sft_steps: int | None = None
    rft_steps: int | None = None
    rollouts: int = 32
    batch_size: int = 4
    size: str = "nano"
    rft: dict = field(default_factory=dict)  # overrides of RftConfig for every RFT row
    rft_optim: dict = field(default_factory=dict)  # overrides of OptimConfig (lr, warm-up) for RFT rows
    sft: dict = field(default_factory=dict)  # overrides of SftConfig for every SFT stage
    model: dict = field(default_factory=dict)  # overrides of the model size (quick runs)
    workers: int = 2


def _steps(n: int | None) -> dict:
    return {"trainer": {"max_steps": n}} if n is not None else {}


def recipes(cfg: AblationConfig) -> dict[str, Recipe]:
    """row -> its recipe with this run's overrides (steps, quick-run sizes) on top."""
    ft = {**_steps(cfg.sft_steps), **({"sft": dict(cfg.sft)} if cfg.sft else {})}
    ov = {
        "sft": ft,
        "sft2": ft,
        "rft": {
            **_steps(cfg.rft_steps),
            **({"rft": dict(cfg.rft)} if cfg.rft else {}),
            **({"optim": dict(cfg.rft_optim)} if cfg.rft_optim else {}),
        },
    }
    known = {**MAIN_ROWS, **RULE_ROWS, **EXTRA_ROWS}
    unknown = [r for r in cfg.rows if r not in known]
    if unknown:
        raise ValueError(f"unknown ablation rows {unknown}; choose from {list(known)}")
    rows = {}
    for name in cfg.rows:
        rows[name] = load_recipe(known[name]).over(stages=ov, size=cfg.size)
        if cfg.controls and name in CONTROLLED:
            rows[f"{name}:control"] = rows[name].over(stages={"rft": {"rft": {"negate_advantage": True}}})
    mpo = load_recipe(RULE_ROWS["sft+rft:mpo-published"]).over(stages=ov, size=cfg.size)
    for m in cfg.alphas:
        rows[f"mpo:alpha=mean-{m:g}"] = mpo.over(stages={"rft": {"rft": {"alpha_margin": m}}})
    for b in cfg.betas:
        rows[f"mpo:beta={b:g}"] = mpo.over(stages={"rft": {"rft": {"beta": b}}})
    return rows


def row_seeds(cfg: AblationConfig, name: str) -> tuple[int, ...]:
    """The main rows (and their controls) run with every seed, the others with `rule_seeds`."""
    return cfg.seeds if name.removesuffix(":control") in MAIN_ROWS else cfg.rule_seeds


class Ablation:
    def __init__(self, cfg: AblationConfig, console=None):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.console = console or Console()

    # ---- data and the shared base -------------------------------------------------------------
    def data(self) -> tuple[list[str], list[str]]:
        cfg = self.cfg
        if cfg.train and cfg.val:
            return cfg.train, cfg.val
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

    def _shared(self, train: list[str], seed: int) -> dict:
        return {"data": {"train": train, "cache_dir": str(self.out / "cache")}, "trainer": {"seed": seed}}

    def _batches(self, recipe: Recipe) -> Recipe:
        """The SFT-style stages take the run's batch size; RFT keeps one scenario x 32 rollouts (rft.yaml)."""
        data = {"data": {"batch_size": self.cfg.batch_size}}
        return recipe.over(stages={s: data for s in ("pretrain", "sft", "sft2")})

    def base(self, train: list[str]) -> tuple[str, float]:
        """The shared pretrained base: the given checkpoint (its training time unknown here: 0 s) or one
        pretrained here with seed 0."""
        if self.cfg.base:
            load_model(self.cfg.base)  # a clear error now rather than after the references are scored
            return self.cfg.base, 0.0
        ov = {
            "pretrain": {
                **_steps(self.cfg.pretrain_steps),
                **({"model": dict(self.cfg.model)} if self.cfg.model else {}),
            }
        }
        recipe = load_recipe("ablation").over(
            self._shared(train, 0), ov, order=("pretrain",), size=self.cfg.size
        )
        rec = run_pipeline(self.out / "runs", self._batches(recipe))["pretrain"]
        return rec["checkpoint"], rec["train_seconds"]

    def row(self, recipe: Recipe, train: list[str], seed: int, base: str) -> tuple[str, dict[str, float]]:
        """Train a row's chain for one seed; (final checkpoint, seconds per stage)."""
        recipe = self._batches(recipe.over(self._shared(train, seed)))
        records = run_pipeline(self.out / "runs", recipe, init_checkpoint=base, share_prefixes=True)
        seconds = {f"{i}:{s}": records[s]["train_seconds"] for i, s in enumerate(recipe.order)}
        return (records[recipe.order[-1]]["checkpoint"] if recipe.order else base), seconds

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self, name: str, seed: int, policy: str, sets: dict[str, list], extra: dict) -> dict:
        """Score a policy on every scenario set, once: results/<set>/<row>/seed<k>.json (scored again
        when the row's policy is another checkpoint: its recipe changed, or its stage retrained in place
        from another base)."""
        out = {}
        stamp = checkpoint_stamp(policy)
        for set_name, scenarios in sets.items():
            path = self.out / "results" / set_name / _safe(name) / f"seed{seed}.json"
            if path.exists():
                rec = json.loads(path.read_text())
                # results stored before stamps existed compare by path alone
                if rec.get("policy") == policy and rec.get("policy_stamp", stamp) == stamp:
                    out[set_name] = rec
                    continue
                self.console.print(f"{name}, seed {seed}: its model changed since {path} was scored; again")
            res, _, sec = evaluate_policy(policy, scenarios, self.cfg.rollouts, seed=seed)
            rec = {"row": name, "seed": seed, "policy": policy, "policy_stamp": stamp, "eval_seconds": sec, **extra,
                   "dataset": res.dataset, "buckets": res.buckets,
                   "scenarios": {k: v for k, v in res.scenarios.items()}}  # fmt: skip
            atomic_write_bytes(path, [json.dumps(rec).encode()])
            out[set_name] = rec
        return out

    def report(self) -> dict:
        """The table from the results stored so far (a run in progress or stopped), without training."""
        sets = ["generated", *(["real"] if self.cfg.real else [])]
        report = summarize(self.out, sets, ["constant-velocity", *recipes(self.cfg), "logged-oracle"])
        write_report(self.out, report, asdict_cfg(self.cfg))
        return report

    def run(self) -> dict:
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
        rows = recipes(cfg)
        # seed-major: a run stopped early has every row for its first seeds rather than some rows for all
        for seed in sorted({*cfg.seeds, *cfg.rule_seeds}):
            for name, recipe in rows.items():
                if seed not in row_seeds(cfg, name):
                    continue
                self.console.rule(f"[bold]ablation: {name}, seed {seed}")
                ckpt, secs = self.row(recipe, train, seed, base)
                self.evaluate(name, seed, ckpt, sets, {"train_seconds": {"pretrain": base_s, **secs}})
        return self.report()


def asdict_cfg(cfg: AblationConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("=", "").replace("+", "_")
