"""Pretraining by next-token prediction (behaviour cloning), as a LightningModule, and `train_pretrain`.

Loss: cross-entropy with label smoothing over the logged next token at every slot, for the agents in
`train_mask` (all agents are context). AdamW, cosine decay to `min_lr_ratio` of lr, gradient clipping
by norm (set on the Trainer).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from smartr1.model.checkpoint import load_model
from smartr1.training.config import TrainConfig
from smartr1.training.datamodule import SceneDataModule
from smartr1.training.losses import next_token_loss
from smartr1.training.runner import fit, model_reach, prepare_run
from smartr1.training.stage_module import StageModule


def next_token_targets(batch, node_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets [B, A, S] (token of slot k + 1 for the node at slot k) and where they count [B, A, S]."""
    target = torch.full_like(batch.token, -1)
    target[..., :-1] = batch.token[..., 1:]
    mask = torch.zeros_like(node_valid)
    mask[..., :-1] = node_valid[..., :-1] & batch.token_valid[..., 1:]
    mask &= batch.train_mask.unsqueeze(-1) & (target >= 0)
    return target, mask


class PretrainModule(StageModule):
    def __init__(
        self,
        model_config: dict,
        optim: dict,
        max_steps: int,
        stage: str = "pretrain",
        parent: str | None = None,
        vocab_config: dict | None = None,
        vocab_poses: torch.Tensor | None = None,
    ):
        super().__init__(model_config, vocab_poses)
        self.save_hyperparameters(ignore=["vocab_poses"])

    def _loss(self, batch):
        logits, node_valid = self.model(batch)
        target, mask = next_token_targets(batch, node_valid)
        return next_token_loss(logits, target, mask, self.hparams.optim["label_smoothing"])

    def training_step(self, batch, batch_idx):
        loss, stats = self._loss(batch)
        bs = len(batch.scenario_id)
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/acc", stats["acc"], batch_size=bs)
        self.log("train/tokens", float(stats["tokens"]), batch_size=bs, reduce_fx="sum")
        return loss

    def validation_step(self, batch, batch_idx):
        loss, stats = self._loss(batch)
        bs = len(batch.scenario_id)
        self.log("val/loss", loss, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val/acc", stats["acc"], batch_size=bs, sync_dist=True)


def train_pretrain(cfg: TrainConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run pretraining as configured (extra Lightning `callbacks` optional); returns the last checkpoint."""
    cfg, vocab, out = prepare_run(cfg)
    module = PretrainModule(
        cfg.model.to_dict(),
        dataclasses.asdict(cfg.optim),
        cfg.trainer.max_steps,
        stage=cfg.stage,
        parent=cfg.init_checkpoint,
        vocab_config=vocab.config,
        vocab_poses=vocab.poses,
    )
    if cfg.init_checkpoint:
        parent, _ = load_model(cfg.init_checkpoint)
        module.model.load_state_dict(parent.state_dict())
    dm = SceneDataModule(cfg.data, vocab, seed=cfg.trainer.seed, map_crop_radius=model_reach(cfg.model))
    return fit(cfg, module, dm, out, resume, callbacks)
