"""The LightningModule part every training stage shares: the run's typed config, the model, AdamW with a
cosine schedule, optional freezing, the smartr1 entry of its checkpoints, and (for the token-loss
stages, pretraining and CAT-K SFT) one training / validation step."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch

from smartr1.model.checkpoint import smartr1_meta
from smartr1.model.smart import SMART
from smartr1.training.config import TrainConfig, config_from_hparams
from smartr1.training.datamodule import SceneDataModule


def cosine_lambda(max_steps: int, warmup: int, min_ratio: float):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, max_steps - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    return f


def embedding_parameters(model: SMART) -> list[torch.nn.Parameter]:
    """The token, class and size embeddings (CAT-K freezes them with the map encoder)."""
    return [
        *model.token_mlp.parameters(),
        model.no_token,
        *model.class_emb.parameters(),
        *model.size_proj.parameters(),
    ]


class StageModule(L.LightningModule):
    """A stage built from the run's typed `TrainConfig`.

    The config is kept in the checkpoint's hyper-parameters as a plain dict (`config`) and rebuilt typed
    here, so `load_from_checkpoint` works without pickled classes; checkpoints written before the typed
    config (hyper-parameters `model_config`, `optim`, `max_steps`, ...) rebuild through
    `config_from_hparams`."""

    def __init__(
        self,
        config: TrainConfig | dict | None = None,
        vocab_config: dict | None = None,
        vocab_poses: torch.Tensor | None = None,
        **legacy,
    ):
        super().__init__()
        cfg = config_from_hparams({"config": config, **legacy})
        self.save_hyperparameters({"config": cfg.to_dict(), "vocab_config": vocab_config})
        self.cfg = cfg
        self.model = SMART(cfg.model, vocab_poses)
        self.compile_model = cfg.trainer.compile

    @classmethod
    def resolve(cls, cfg: TrainConfig, parent: SMART | None, dm: SceneDataModule, out: Path) -> TrainConfig:
        """Settings only known once the parent and the data exist (e.g. RFT's `alpha: auto`)."""
        return cfg

    @classmethod
    def finish(cls, cfg: TrainConfig, last: Path) -> Path:
        """The stage's result from its last checkpoint (RFT may move it back towards its start)."""
        return last

    def start_from(self, parent: SMART) -> None:
        """Start from the parent checkpoint's weights."""
        self.model.load_state_dict(parent.state_dict())

    def configure_model(self) -> None:
        """`trainer.compile`: compile the model in place (its state-dict keys, hence checkpoints, stay the same)."""
        if self.compile_model and not getattr(self, "_compiled", False):
            self.model.compile(dynamic=True)
            self._compiled = True

    def freeze_parts(self, map_encoder: bool, embeddings: bool) -> None:
        if map_encoder:
            self.model.map_encoder.requires_grad_(False)
        if embeddings:
            for p in embedding_parameters(self.model):
                p.requires_grad_(False)

    def configure_optimizers(self):
        o = self.cfg.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, cosine_lambda(self.cfg.trainer.max_steps, o.warmup_steps, o.min_lr_ratio)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["smartr1"] = smartr1_meta(
            self.model, self.cfg.stage, self.cfg.init_checkpoint, self.hparams.vocab_config
        )


class TokenLossModule(StageModule):
    """A stage trained by cross-entropy towards one target token per agent and slot (pretraining: the
    logged next token; CAT-K: the recovery token). Subclasses give `loss(batch) -> (loss, stats)`."""

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss, stats = self.loss(batch)
        bs = len(batch.scenario_id)
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/acc", stats["acc"], batch_size=bs)
        self.log("train/tokens", float(stats["tokens"]), batch_size=bs, reduce_fx="sum")
        return loss

    def validation_step(self, batch, batch_idx):
        loss, stats = self.loss(batch)
        bs = len(batch.scenario_id)
        self.log("val/loss", loss, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val/acc", stats["acc"], batch_size=bs, sync_dist=True)
