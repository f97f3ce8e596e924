"""Pretraining by next-token prediction (behaviour cloning), as a LightningModule, and `train_pretrain`.

Loss: cross-entropy with label smoothing over the logged next token at every slot, for the agents in
`train_mask` (all agents are context). AdamW, cosine decay to `min_lr_ratio` of lr, gradient clipping
by norm (set on the Trainer). Later stages reuse `next_token_targets` and the checkpoint format.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from smartr1.model.checkpoint import smartr1_meta
from smartr1.model.config import ModelConfig
from smartr1.model.smart import SMART
from smartr1.training.config import TrainConfig
from smartr1.training.resume import RandomState, SaveLastOnEnd


def next_token_targets(batch, node_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets [B, A, S] (token of slot k + 1 for the node at slot k) and where they count [B, A, S]."""
    target = torch.full_like(batch.token, -1)
    target[..., :-1] = batch.token[..., 1:]
    mask = torch.zeros_like(node_valid)
    mask[..., :-1] = node_valid[..., :-1] & batch.token_valid[..., 1:]
    mask &= batch.train_mask.unsqueeze(-1) & (target >= 0)
    return target, mask


def next_token_loss(logits, target, mask, label_smoothing: float = 0.1) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy over masked entries; a zero (but graph-connected) loss when there are none."""
    n = int(mask.sum())
    if n == 0:
        zero = logits.sum() * 0.0
        return zero, {"tokens": 0, "acc": torch.zeros((), device=logits.device)}
    sel = logits[mask]
    tgt = target[mask]
    loss = F.cross_entropy(sel.float(), tgt, label_smoothing=label_smoothing)
    acc = (sel.argmax(-1) == tgt).float().mean()
    return loss, {"tokens": n, "acc": acc.detach()}


def cosine_lambda(max_steps: int, warmup: int, min_ratio: float):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, max_steps - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    return f


class PretrainModule(L.LightningModule):
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
        super().__init__()
        self.save_hyperparameters(ignore=["vocab_poses"])
        self.model = SMART(ModelConfig.from_dict(model_config), vocab_poses)

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

    def configure_optimizers(self):
        o = self.hparams.optim
        opt = torch.optim.AdamW(self.model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, cosine_lambda(self.hparams.max_steps, o["warmup_steps"], o["min_lr_ratio"])
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["smartr1"] = smartr1_meta(
            self.model, self.hparams.stage, self.hparams.parent, self.hparams.vocab_config
        )


def resolve_vocab(cfg: TrainConfig, out: Path):
    """The run's motion vocabulary: data.vocab if given, else <out>/vocab.pt (built once from the data)."""
    from smartr1.tokens.vocab_build import build_vocab
    from smartr1.tokens.vocabulary import MotionVocab

    if cfg.data.vocab:
        return MotionVocab.load(cfg.data.vocab)
    path = out / "vocab.pt"
    if path.exists():
        return MotionVocab.load(path)
    import itertools

    from smartr1.data.womd import read_scenarios

    scenarios = itertools.islice(
        read_scenarios(cfg.data.train, skip_bad=cfg.data.skip_bad), cfg.data.vocab_scenarios
    )
    vocab = build_vocab(scenarios, size=cfg.model.vocab_size, seed=cfg.trainer.seed)
    vocab.save(path)
    return vocab


def make_trainer(cfg: TrainConfig, out: Path, has_val: bool, callbacks: list | None = None) -> L.Trainer:
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    t = cfg.trainer
    ckpt = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=max(1, min(t.checkpoint_every_n_steps, t.max_steps)),
        save_top_k=1,
        save_last=True,
    )
    return L.Trainer(
        default_root_dir=str(out),
        max_steps=t.max_steps,
        max_epochs=-1,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        precision=t.precision,
        gradient_clip_val=cfg.optim.grad_clip,
        gradient_clip_algorithm="norm",
        log_every_n_steps=t.log_every_n_steps,
        logger=TensorBoardLogger(str(out), name="tb"),
        callbacks=[
            ckpt,
            LearningRateMonitor(logging_interval="step"),
            RandomState(),
            SaveLastOnEnd(out / "checkpoints" / "last.ckpt"),
            *(callbacks or []),
        ],
        use_distributed_sampler=False,  # the data module shards its own resumable order
        val_check_interval=t.val_every_n_steps if has_val else None,
        check_val_every_n_epoch=None if has_val else 1,
        limit_val_batches=None if has_val else 0,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        enable_progress_bar=True,
    )


def model_reach(m) -> float:
    """Farthest a map segment can be from an agent and still change its logits (plus 5 m margin)."""
    return m.map_to_agent_radius + m.map_layers * m.map_radius + 5.0


def train_pretrain(cfg: TrainConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run pretraining as configured (extra Lightning `callbacks` optional); returns the last checkpoint."""
    import dataclasses

    from smartr1.model.checkpoint import load_model
    from smartr1.training.datamodule import SceneDataModule
    from smartr1.training.resume import last_checkpoint

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    vocab = resolve_vocab(cfg, out)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vocab_size=vocab.size))
    cfg.save(out / "config.yaml")
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
    trainer = make_trainer(cfg, out, has_val=bool(cfg.data.val), callbacks=callbacks)
    ckpt_path = "last" if resume and last_checkpoint(out) is not None else None
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    last = last_checkpoint(out)
    if last is None:
        raise RuntimeError(f"training finished without writing {out / 'checkpoints' / 'last.ckpt'}")
    return last
