"""Pretraining by next-token prediction (behaviour cloning).

Loss: cross-entropy with label smoothing over the logged next token at every slot, for the agents in
`train_mask` (all agents are context). AdamW, cosine decay to `min_lr_ratio` of lr, gradient clipping
by norm (set on the Trainer). Run it with `smartr1.training.stages.run_stage`.
"""

from __future__ import annotations

import torch

from smartr1.training.losses import next_token_loss
from smartr1.training.stage_module import TokenLossModule


def next_token_targets(batch, node_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets [B, A, S] (token of slot k + 1 for the node at slot k) and where they count [B, A, S]."""
    target = torch.full_like(batch.agents.token, -1)
    target[..., :-1] = batch.agents.token[..., 1:]
    mask = torch.zeros_like(node_valid)
    mask[..., :-1] = node_valid[..., :-1] & batch.agents.token_valid[..., 1:]
    mask &= batch.agents.train_mask.unsqueeze(-1) & (target >= 0)
    return target, mask


class PretrainModule(TokenLossModule):
    def loss(self, batch):
        logits, node_valid = self.model(batch)
        target, mask = next_token_targets(batch, node_valid)
        return next_token_loss(logits, target, mask, self.cfg.optim.label_smoothing)
