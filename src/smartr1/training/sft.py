"""Closed-loop supervised fine-tuning (CAT-K).

Each training step: (1) roll the current policy out on the batch, without gradients, one rollout per
scenario, continuing every 0.5 s from the one of its top-K tokens closest to the log
(`ClosestOfTopK`); (2) compute for every visited state the whole-vocabulary token that leads back
onto the log (`recovery_targets`); (3) one teacher-forced pass over the visited states, cross-entropy
towards those targets, for the loss agents that are simulated.
"""

from __future__ import annotations

import torch

from smartr1.rollout.engine import closed_loop
from smartr1.rollout.session import TopKSampler, replay_logits
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.catk import ClosestOfTopK, recovery_targets
from smartr1.training.losses import next_token_loss
from smartr1.training.stage_module import TokenLossModule


class SftModule(TokenLossModule):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.freeze_parts(self.cfg.sft.freeze_map_encoder, self.cfg.sft.freeze_embeddings)

    def closed_loop(self, batch):
        """CAT-K rollout (no gradients): the completed state and its recovery targets."""
        cfg = self.cfg.sft
        vocab = MotionVocab.from_poses(self.model.vocab_poses)
        seed = self.cfg.trainer.seed * 1_000_003 + int(self.global_step)

        def chooser(scene):
            return ClosestOfTopK(scene, vocab, cfg.top_k, TopKSampler(scene, seed=seed))

        state, _ = closed_loop(self.model, batch, 1, chooser, cfg.start)
        with torch.no_grad():
            target, ok = recovery_targets(state, vocab)
        return state, target, ok

    def loss(self, batch):
        state, target, ok = self.closed_loop(batch)
        logits = replay_logits(self.model, state)  # [N, A', 16, V], with gradients
        loss_agents = state.scene.batch.agents.train_mask[state.scene.row] & state.scene.sim
        mask = ok & loss_agents[..., None]
        return next_token_loss(logits, target, mask, self.cfg.optim.label_smoothing)
