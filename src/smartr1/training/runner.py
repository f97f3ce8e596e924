"""What every training stage shares: its vocabulary, its Lightning Trainer, and fitting it
(`smartr1.training.stages.run_stage` wires a stage together from these).

A stage writes into its own run directory: `config.yaml` (resolved), `vocab.pt` (pretraining builds
it; later stages take their parent checkpoint's), `checkpoints/last.ckpt` (atomic, resumable: a
resumed run continues exactly as an uninterrupted one) and TensorBoard logs under `tb/`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from smartr1.data.womd import read_scenarios
from smartr1.model.config import ModelConfig
from smartr1.tokens.vocab_build import build_vocab
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.config import TrainConfig
from smartr1.training.resume import AtomicCheckpointIO, RandomState, SaveLastOnEnd, last_checkpoint


def resolve_vocab(cfg: TrainConfig, out: Path) -> MotionVocab:
    """A first stage's motion vocabulary (later stages take their parent's): data.vocab if given, else
    <out>/vocab.pt (built once from the training data)."""
    if cfg.data.vocab:
        return MotionVocab.load(cfg.data.vocab)
    path = out / "vocab.pt"
    if path.exists():
        return MotionVocab.load(path)
    scenarios = itertools.islice(
        read_scenarios(cfg.data.train, skip_bad=cfg.data.skip_bad), cfg.data.vocab_scenarios
    )
    vocab = build_vocab(scenarios, size=cfg.model.vocab_size, seed=cfg.trainer.seed)
    vocab.save(path)
    return vocab


def make_trainer(cfg: TrainConfig, out: Path, has_val: bool, callbacks: list | None = None) -> L.Trainer:
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
        num_nodes=t.num_nodes,
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
        plugins=[AtomicCheckpointIO()],
    )


def model_reach(m: ModelConfig, closed_loop: bool = False) -> float:
    """Farthest a map segment can be from an agent and still change its logits (plus 5 m margin);
    closed-loop stages add 50 m, for rollouts that leave the logged tracks behind."""
    return m.map_to_agent_radius + m.map_layers * m.map_radius + (55.0 if closed_loop else 5.0)


def fit(
    cfg: TrainConfig, module: L.LightningModule, datamodule, out: Path, resume: bool, callbacks=None
) -> Path:
    """Fit `module` (resuming from `out`'s last checkpoint when asked and present); returns last.ckpt."""
    trainer = make_trainer(cfg, out, has_val=bool(cfg.data.val), callbacks=callbacks)
    ckpt_path = "last" if resume and last_checkpoint(out) is not None else None
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    last = last_checkpoint(out)
    if last is None:
        raise RuntimeError(f"training finished without writing {out / 'checkpoints' / 'last.ckpt'}")
    return last
