"""CAT-K closed-loop fine-tuning targets (Zhang et al., CVPR 2025): roll the policy out, at every 0.5 s
step continue from the one of its top-K tokens that lands closest to the log, and train towards the
token that would bring the agent back onto the log from wherever the rollout has taken it.

Distances are the mean corner distance of the token's end box (the class box) to the logged box at
the next anchor, as in tokenizing; the logged boxes are `TokenBatch.agents.logged` (flip-free, not
tokenized). Agents whose log is not valid at the next anchor follow the policy.
"""

from __future__ import annotations

import torch

from smartr1.data.timeline import HISTORY_SLOTS, NUM_SLOTS
from smartr1.rollout.session import Chooser, RolloutScene, RolloutState
from smartr1.tokens.matching import match_tokens
from smartr1.tokens.vocabulary import MotionVocab


class ClosestOfTopK:
    """A rollout chooser: among each agent's top-K tokens, the one whose end box is closest to the
    logged box at the next anchor (K = 1 is greedy, K = V plain teacher forcing of the recovery)."""

    def __init__(self, scene: RolloutScene, vocab: MotionVocab, top_k: int, fallback: Chooser):
        self.vocab, self.top_k, self.fallback = vocab, top_k, fallback
        rows = scene.row
        self.logged = scene.batch.agents.logged[rows]  # [N, A', 19, 3]
        self.logged_valid = scene.batch.agents.logged_valid[rows] & scene.sim[..., None]
        self.agent_class = scene.agent_class

    def __call__(self, state: RolloutState, logits: torch.Tensor) -> torch.Tensor:
        k = state.slot  # the token of slot k ends at anchor k + 1
        cand = torch.topk(logits, min(self.top_k, logits.shape[-1]), dim=-1).indices  # [N, A', K]
        best = match_tokens(state.pose, self.logged[:, :, k + 1], self.agent_class, self.vocab, cand)
        return torch.where(self.logged_valid[:, :, k + 1], best, self.fallback(state, logits))


def recovery_targets(state: RolloutState, vocab: MotionVocab) -> tuple[torch.Tensor, torch.Tensor]:
    """For each future slot k (2..17) of a completed rollout, the token over the whole vocabulary that
    moves the agent from the rollout's pose at anchor k to the logged pose at anchor k + 1.

    Returns targets [N, A', 16] long (-1 where there is none) and where they exist [N, A', 16].
    """
    scene, rows = state.scene, state.scene.row
    ends = torch.stack([p[:, :, -1] for p in state.poses], 2)  # anchors 3..18
    at = torch.cat([state.start[:, :, None], ends[:, :, :-1]], 2)  # anchors 2..17: where slot k starts
    logged = scene.batch.agents.logged[rows][:, :, HISTORY_SLOTS + 1 : NUM_SLOTS + 1]  # anchors 3..18
    ok = scene.batch.agents.logged_valid[rows][:, :, HISTORY_SLOTS + 1 : NUM_SLOTS + 1] & scene.sim[..., None]
    cls = scene.agent_class[..., None].expand(ok.shape)
    target = match_tokens(at, logged, cls, vocab)
    return torch.where(ok, target, torch.full_like(target, -1)), ok
