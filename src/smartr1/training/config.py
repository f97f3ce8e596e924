"""Typed training configs: defaults in the dataclasses below, differences in small YAML layers.

Resolution order (later wins): dataclass defaults (the pretraining settings) -> the size file
`smartr1/configs/<size>.yaml` if the size changes anything besides the model -> the stage file
`smartr1/configs/<stage>.yaml` (required; sft2 layers over sft) -> a user YAML file -> explicit
overrides (CLI). Model
hyper-parameters start from the named size in `smartr1.model.config.SIZES`; YAML `model:` sections only
override fields. The YAML files are package data, so they work from an installed wheel. Every run
writes the resolved config beside its outputs (`config.yaml`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from smartr1.data.atomic import atomic_write_bytes
from smartr1.model.config import ModelConfig, model_config
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.training.advantages import RULES

STAGES = ("pretrain", "sft", "rft", "sft2")
STAGE_BASE = {"sft2": "sft"}  # a stage whose file layers over another stage's


def config_dir_default() -> Traversable:
    """The shipped stage and size files (inside the installed package)."""
    return resources.files("smartr1") / "configs"


@dataclass
class DataConfig:
    train: list[str] = field(default_factory=list)  # TFRecord files / globs of Scenario protos
    val: list[str] = field(default_factory=list)
    vocab: str | None = None  # MotionVocab file; None = build one from the training data into <out>/vocab.pt
    vocab_scenarios: int = 1000  # scenarios read to build a vocabulary
    cache_dir: str | None = None  # token cache (default: $XDG_CACHE_HOME/smartr1/tokens)
    batch_size: int = 4
    num_workers: int = 0
    skip_bad: bool = False
    # Which agents carry a loss (every agent is context): "all" = every agent with a logged next token;
    # "smart" = SMART's WOMD choice, role agents + 32 nearest with 8 valid future slots. On small CPU
    # budgets "all" learns faster (benchmarks/results/base_model.md).
    loss_agents: str = "all"

    def __post_init__(self):
        if self.loss_agents not in LOSS_AGENTS:
            raise ValueError(f"data.loss_agents must be one of {LOSS_AGENTS}, not {self.loss_agents!r}")


LOSS_AGENTS = ("all", "smart")


@dataclass
class OptimConfig:
    lr: float = 5e-4
    weight_decay: float = 0.01
    min_lr_ratio: float = 0.01  # cosine schedule ends at lr * min_lr_ratio
    warmup_steps: int = 0
    grad_clip: float = 0.5
    label_smoothing: float = 0.1


@dataclass
class TrainerConfig:
    max_steps: int = 1000
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"  # bf16-mixed on GPUs (and CPUs) that support bfloat16
    compile: bool = False  # torch.compile the model (first steps slower; needs a C++ compiler on CPU)
    log_every_n_steps: int = 10
    val_every_n_steps: int = 200
    checkpoint_every_n_steps: int = 200
    seed: int = 0


@dataclass
class SftConfig:
    """Closed-loop supervised fine-tuning (CAT-K)."""

    top_k: int = 32  # candidates the rollout continues from (published K = 32)
    start: str = "logged"  # where the future's token chain starts (see RolloutSession)
    freeze_map_encoder: bool = True  # published: map encoder and embeddings frozen
    freeze_embeddings: bool = True


@dataclass
class RftConfig:
    """Reinforcement fine-tuning with the WOSAC meta-metric as reward (MPO and baselines)."""

    rule: str = "mpo"  # a name in advantages.RULES: mpo | grpo | reinforce | loo (RLFTSim's leave-one-out)
    alpha: float | str = "auto"  # MPO target; auto = the starting model's mean reward - alpha_margin
    alpha_margin: float = 0.01  # published: alpha 0.77 vs 0.781 mean reward of the SFT model
    calibration_scenarios: int = 16  # training scenarios whose mean reward calibrates alpha: auto
    beta: float = 0.04  # weight of the KL to the frozen starting checkpoint
    # which KL: "k3", SMART-R1's sampled estimate on the drawn tokens over the policy's top-k support;
    # "exact", KL(pi_ref || pi) of the full tempered softmaxes at every replayed step, which also sees the
    # reference's tokens that the policy dropped from its top k (minADE is a min over rollouts)
    kl: str = "k3"
    num_rollouts: int = 32  # rollouts per scenario that the reward scores
    grad_rollouts: int = 4  # of them, how many the policy gradient goes through (per group)
    groups: int = 4  # GRPO: independent 32-rollout draws per scenario
    baseline_decay: float = 0.9  # REINFORCE: running-mean baseline
    top_k: int = (
        DEFAULT_TOP_K  # rollouts sample the top-k at a temperature; log-probs are of that distribution
    )
    temperature: float = 1.0
    start: str = "logged"
    freeze_map_encoder: bool = True
    freeze_embeddings: bool = True
    # Learning checks and the fixes of issue 21; the defaults keep the published MPO behaviour.
    negate_advantage: bool = False  # the control: the same run pushed to lower its reward
    baseline: str = "rule"  # rule: the rule's own (MPO's alpha, REINFORCE's running mean); scene: each
    #                         scene's mean of its earlier rewards (the rule's on its first visit)
    loss_agents: str = "sim"  # whose tokens carry the gradient: every simulated agent, or "evaluated"
    target_kl: float | None = None  # adapt beta each step towards this k3 KL per token (None: fixed beta)
    val_rollouts: int = 8  # rollouts per held-out scenario in RFT's validation step (its reward)
    # rule "agent" (dense per-agent credit): which agents the training reward scores ("all": every
    # simulated agent, a training choice; evaluation stays official) and how much one collision,
    # offroad or red-light event of an agent, against its rollout mean, weighs beside its
    # leave-one-out credit (credits are about +-0.007; 0.005 makes an event worth about one), and how
    # much one metre of an agent's displacement from its log, against its rollout mean, weighs (0: off;
    # a training choice beyond the paper against slowed traffic; over 3 seeds 0.001 halved the realism
    # gain and left minADE +37%: benchmarks/results/ablation.md, row sft+rft:agent-ade)
    credit_agents: str = "evaluated"
    event_weight: float = 0.005
    ade_weight: float = 0.0
    # ... and one m/s of an agent's mean speed shortfall below its log (driving faster counts 0), against
    # its rollout mean: RFT's minADE cost is fast agents driving at about half their logged speed
    slow_weight: float = 0.0
    # Anchors against RFT's minADE cost (0: off; benchmarks/results/rft_anchor_sweep.md, one seed):
    # a bonus on the policy's entropy over the top-k support (0.003 made it erratic), and next-token
    # cross-entropy on the logged tokens beside the RFT loss (0.01 kept minADE and most of SFT's
    # collisions too)
    entropy_weight: float = 0.0
    bc_weight: float = 0.0
    # the stage's result: ref + interpolate x (policy - ref), WiSE-FT's weight-space interpolation towards
    # the starting checkpoint (1: the policy as trained; 0.5 kept the realism gain for half the minADE
    # cost over 3 seeds: benchmarks/results/rft_interpolate.md); written as checkpoints/interpolated.ckpt
    interpolate: float = 1.0

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown RFT rule {self.rule!r}; choose one of {tuple(RULES)}")
        for name, value, allowed in (("baseline", self.baseline, RFT_BASELINES),
                                     ("loss_agents", self.loss_agents, RFT_LOSS_AGENTS),
                                     ("credit_agents", self.credit_agents, RFT_CREDIT_AGENTS)):  # fmt: skip
            if value not in allowed:
                raise ValueError(f"rft.{name} must be one of {allowed}, not {value!r}")
        if self.target_kl is not None and self.target_kl <= 0:
            raise ValueError(f"rft.target_kl must be positive (or null), not {self.target_kl}")
        if not 0.0 <= self.interpolate <= 1.0:
            raise ValueError(f"rft.interpolate must be in [0, 1], not {self.interpolate}")
        if self.kl not in RFT_KLS:
            raise ValueError(f"rft.kl must be one of {RFT_KLS}, not {self.kl!r}")


RFT_BASELINES = ("rule", "scene")
RFT_LOSS_AGENTS = ("sim", "evaluated")
RFT_CREDIT_AGENTS = ("evaluated", "all")
RFT_KLS = ("k3", "exact")


@dataclass
class TrainConfig:
    stage: str = "pretrain"
    size: str = "nano"
    out: str = "runs/pretrain"
    init_checkpoint: str | None = None  # parent checkpoint (later stages)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    sft: SftConfig = field(default_factory=SftConfig)
    rft: RftConfig = field(default_factory=RftConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        atomic_write_bytes(path, [text.encode()])


def merge_dicts(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in (update or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_dicts(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path | Traversable) -> dict:
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read config ({e})") from e
    if not isinstance(d, dict):
        raise ValueError(f"{path}: a config must be a mapping, got {type(d).__name__}")
    return d


def _build(cls, d: dict, where: str):
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; valid: {sorted(names)}")
    return cls(**d)


def from_dict(d: dict) -> TrainConfig:
    """A TrainConfig from a (possibly partial) nested dict; the model starts from the named size."""
    d = dict(d)
    size = d.get("size", "nano")
    model = model_config(size, **(d.pop("model", None) or {}))
    parts = {k: _build(cls, d.pop(k, None) or {}, k) for k, cls in
             (("data", DataConfig), ("optim", OptimConfig), ("trainer", TrainerConfig), ("sft", SftConfig),
              ("rft", RftConfig))}  # fmt: skip
    for k in ("train", "val"):
        v = getattr(parts["data"], k)
        if isinstance(v, str):
            setattr(parts["data"], k, [v])
    top = _build(TrainConfig, d, "config")
    return dataclasses.replace(top, model=model, **parts)


def load_config(
    stage: str = "pretrain",
    size: str = "nano",
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    config_dir: str | Path | Traversable | None = None,
) -> TrainConfig:
    """Resolve a TrainConfig for a stage and size (see module docstring)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES}")
    cdir = config_dir_default() if config_dir is None else config_dir
    cdir = Path(cdir) if isinstance(cdir, str) else cdir
    stage_file = cdir / f"{stage}.yaml"
    if not stage_file.is_file():
        raise ValueError(f"no config for stage {stage!r}: {stage_file} is missing")
    d: dict = {}
    size_file = cdir / f"{size}.yaml"
    if size_file.is_file():
        d = merge_dicts(d, _read_yaml(size_file))
    if stage in STAGE_BASE:
        d = merge_dicts(d, _read_yaml(cdir / f"{STAGE_BASE[stage]}.yaml"))
    d = merge_dicts(d, _read_yaml(stage_file))
    if path is not None:
        d = merge_dicts(d, _read_yaml(Path(path)))
    d = merge_dicts(d, {"stage": stage, "size": size})
    d = merge_dicts(d, overrides or {})
    # a user file may pick another size; the size layer then follows it
    if d.get("size", size) != size:
        return load_config(stage, d["size"], path, overrides, cdir)
    return from_dict(d)


def config_from_hparams(hparams: dict) -> TrainConfig:
    """The typed config of a stage module's hyper-parameters: `config` (a TrainConfig or its dict), or
    the separate entries that checkpoints held before the typed config (model_config, optim, max_steps,
    stage, parent, seed, sft, rft, train_files, alpha)."""
    config = hparams.get("config")
    if isinstance(config, TrainConfig):
        return config
    if config is not None:
        return from_dict(config)
    h = hparams
    if "model_config" not in h:
        raise ValueError(f"stage hyper-parameters hold neither `config` nor `model_config`: {sorted(h)}")
    rft = dict(h.get("rft") or {})
    if "alpha" in h:
        rft["alpha"] = h["alpha"]
    d = {
        "stage": h.get("stage", "pretrain"),
        "init_checkpoint": h.get("parent"),
        "model": dict(h["model_config"]),
        "optim": dict(h.get("optim") or {}),
        "trainer": {"max_steps": h.get("max_steps", TrainerConfig.max_steps), "seed": h.get("seed", 0)},
        "data": {"train": list(h.get("train_files") or [])},
        "sft": dict(h.get("sft") or {}),
        "rft": rft,
    }
    cfg = from_dict(d)  # the model as its checkpoint stated it (old configs lack newer fields)
    return dataclasses.replace(cfg, model=ModelConfig.from_dict(h["model_config"]))
