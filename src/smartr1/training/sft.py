"""Closed-loop supervised fine-tuning (CAT-K) as a LightningModule, and `train_sft`.

Each training step: (1) roll the current policy out on the batch, without gradients, one rollout per
scenario, continuing every 0.5 s from the one of its top-K tokens closest to the log
(`ClosestOfTopK`); (2) compute for every visited state the whole-vocabulary token that leads back
onto the log (`recovery_targets`); (3) one teacher-forced pass over the visited states, cross-entropy
towards those targets (no label smoothing), for the loss agents that are simulated.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from smartr1.model.checkpoint import load_model
from smartr1.rollout.session import RolloutSession, TopKSampler, replay_logits
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.catk import ClosestOfTopK, recovery_targets
from smartr1.training.config import TrainConfig
from smartr1.training.datamodule import SceneDataModule
from smartr1.training.losses import next_token_loss
from smartr1.training.runner import fit, model_reach, prepare_run
from smartr1.training.stage_module import StageModule


class SftModule(StageModule):
    def __init__(
        self,
        model_config: dict,
        optim: dict,
        max_steps: int,
        sft: dict,
        stage: str = "sft",
        parent: str | None = None,
        vocab_config: dict | None = None,
        vocab_poses: torch.Tensor | None = None,
        seed: int = 0,
    ):
        super().__init__(model_config, vocab_poses)
        self.save_hyperparameters(ignore=["vocab_poses"])
        self.freeze_parts(sft["freeze_map_encoder"], sft["freeze_embeddings"])

    def closed_loop(self, batch):
        """CAT-K rollout (no gradients): the completed state and its recovery targets."""
        cfg = self.hparams.sft
        vocab = MotionVocab.from_poses(self.model.vocab_poses)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            session = RolloutSession(self.model, num_rollouts=1, start=cfg["start"])
            state = session.reset(batch)
            seed = self.hparams.seed * 1_000_003 + int(self.global_step)
            choose = ClosestOfTopK(state.scene, vocab, cfg["top_k"], TopKSampler(state.scene, seed=seed))
            while not state.done:
                state, _ = session.step(state, choose)
            target, ok = recovery_targets(state, vocab)
        self.model.train(was_training)
        return state, target, ok

    def _loss(self, batch):
        state, target, ok = self.closed_loop(batch)
        logits = replay_logits(self.model, state)  # [N, A', 16, V], with gradients
        loss_agents = state.scene.batch.train_mask[state.scene.row] & state.scene.sim
        mask = ok & loss_agents[..., None]
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


def train_sft(cfg: TrainConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run CAT-K fine-tuning from `cfg.init_checkpoint`; returns the last checkpoint."""
    if not cfg.init_checkpoint:
        raise ValueError("closed-loop fine-tuning starts from a trained checkpoint: set init_checkpoint")
    cfg, vocab, out = prepare_run(cfg)
    module = SftModule(
        cfg.model.to_dict(),
        dataclasses.asdict(cfg.optim),
        cfg.trainer.max_steps,
        dataclasses.asdict(cfg.sft),
        stage=cfg.stage,
        parent=cfg.init_checkpoint,
        vocab_config=vocab.config,
        vocab_poses=vocab.poses,
        seed=cfg.trainer.seed,
    )
    parent, _ = load_model(cfg.init_checkpoint)
    module.model.load_state_dict(parent.state_dict())
    dm = SceneDataModule(
        cfg.data, vocab, seed=cfg.trainer.seed, map_crop_radius=model_reach(cfg.model, closed_loop=True)
    )
    return fit(cfg, module, dm, out, resume, callbacks)
