"""How a training stage is wired, in one place: `run_stage(cfg)` runs any stage from its typed config.

A stage is an entry of `STAGE_MODULES`: its LightningModule class (built from the typed `TrainConfig`,
which it keeps in its checkpoints), whether it starts from a parent checkpoint, and whether it rolls
out during training (the map crop then reaches farther). Every stage runs the same way:

    out dir + seed -> parent checkpoint (loaded once) -> vocabulary -> resolved config.yaml
    -> data module -> `Module.resolve` (stage settings that need the parent or data, e.g. RFT's alpha)
    -> module from the typed config, started from the parent's weights -> Lightning fit -> last.ckpt

Adding a stage is one class and one entry here (and a `configs/<stage>.yaml`); adding an RFT advantage
rule is one function and one entry in `advantages.RULES`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import lightning as L

from smartr1.model.checkpoint import load_model
from smartr1.training.config import STAGES, TrainConfig
from smartr1.training.datamodule import SceneDataModule
from smartr1.training.pretrain import PretrainModule
from smartr1.training.rft import RftModule
from smartr1.training.runner import fit, model_reach, resolve_vocab
from smartr1.training.sft import SftModule
from smartr1.training.stage_module import StageModule


@dataclass(frozen=True)
class StageSpec:
    module: type[StageModule]
    needs_parent: bool  # fine-tuning: starts from `init_checkpoint`
    closed_loop: bool  # rolls out while training: map segments up to 50 m farther matter


STAGE_MODULES: dict[str, StageSpec] = {
    "pretrain": StageSpec(PretrainModule, needs_parent=False, closed_loop=False),
    "sft": StageSpec(SftModule, needs_parent=True, closed_loop=True),
    "rft": StageSpec(RftModule, needs_parent=True, closed_loop=True),
    "sft2": StageSpec(SftModule, needs_parent=True, closed_loop=True),
}
assert set(STAGE_MODULES) == set(STAGES), "every stage config needs a module and vice versa"


def run_stage(cfg: TrainConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Train one stage as configured (resuming from <out>/checkpoints/last.ckpt when asked and present;
    extra Lightning `callbacks` optional); returns the last checkpoint."""
    spec = STAGE_MODULES[cfg.stage]
    if spec.needs_parent and not cfg.init_checkpoint:
        raise ValueError(f"stage {cfg.stage!r} fine-tunes a trained model: set init_checkpoint")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    if cfg.init_checkpoint:
        parent, vocab = load_model(cfg.init_checkpoint)
        cfg = dataclasses.replace(cfg, model=parent.cfg)
    else:
        parent, vocab = None, resolve_vocab(cfg, out)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vocab_size=vocab.size))
    cfg.save(out / "config.yaml")
    dm = SceneDataModule(
        cfg.data, vocab, seed=cfg.trainer.seed, map_crop_radius=model_reach(cfg.model, spec.closed_loop)
    )
    cfg = spec.module.resolve(cfg, parent, dm, out)
    module = spec.module(cfg, vocab_config=vocab.config, vocab_poses=vocab.poses)
    if parent is not None:
        module.start_from(parent)
    return spec.module.finish(cfg, fit(cfg, module, dm, out, resume, callbacks))
