"""The LightningModule part every training stage shares: the model, AdamW with a cosine schedule,
optional freezing, and the smartr1 entry of its checkpoints (stage, parent, configs)."""

from __future__ import annotations

import math

import lightning as L
import torch

from smartr1.model.checkpoint import smartr1_meta
from smartr1.model.config import ModelConfig
from smartr1.model.smart import SMART


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
    """Subclasses call `super().__init__(model_config, vocab_poses)`, then `save_hyperparameters` with
    at least `optim`, `max_steps`, `stage`, `parent` and `vocab_config`."""

    def __init__(self, model_config: dict, vocab_poses: torch.Tensor | None = None):
        super().__init__()
        self.model = SMART(ModelConfig.from_dict(model_config), vocab_poses)

    def configure_model(self) -> None:
        """`trainer.compile`: compile the model in place (its state-dict keys, hence checkpoints, stay the same)."""
        if getattr(self, "compile_model", False) and not getattr(self, "_compiled", False):
            self.model.compile(dynamic=True)
            self._compiled = True

    def freeze_parts(self, map_encoder: bool, embeddings: bool) -> None:
        if map_encoder:
            self.model.map_encoder.requires_grad_(False)
        if embeddings:
            for p in embedding_parameters(self.model):
                p.requires_grad_(False)

    def configure_optimizers(self):
        o = self.hparams.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, cosine_lambda(self.hparams.max_steps, o["warmup_steps"], o["min_lr_ratio"])
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["smartr1"] = smartr1_meta(
            self.model, self.hparams.stage, self.hparams.parent, self.hparams.vocab_config
        )
