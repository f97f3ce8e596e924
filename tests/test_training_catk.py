"""CAT-K: the closest of the top-K continues the rollout; the recovery target is the whole-vocabulary
token back onto the log. Hand-made vocabulary (straight motions of 0..9 m per token) and poses."""

from __future__ import annotations

import torch

from smartr1.model.smart import SMART, model_config
from smartr1.rollout.session import RolloutSession, TopKSampler
from smartr1.testing.batches import random_scene_batch
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.catk import ClosestOfTopK, recovery_targets

V = 10


def straight_vocab() -> torch.Tensor:
    """[3, V, 5, 3]: token v moves v metres straight ahead in 0.5 s (steps of v / 5)."""
    poses = torch.zeros(3, V, 5, 3)
    steps = torch.arange(1, 6) / 5
    poses[..., 0] = torch.arange(V, dtype=torch.float32)[None, :, None] * steps
    return poses


def setup():
    torch.manual_seed(0)
    cfg = model_config("nano", vocab_size=V, hidden=16, heads=2, head_dim=4, agent_layers=1, map_layers=1)
    model = SMART(cfg, straight_vocab()).eval()
    b = random_scene_batch(1, 2, 5, model.vocab_poses, seed=0)
    b.agents.cls[:] = 0
    b.agents.logged[0, :, 2] = torch.tensor([[0.0, 0.0, 0.0], [10.0, 5.0, 0.0]])  # start poses, heading +x
    b.agents.logged[0, 0, 3] = torch.tensor([4.2, 0.0, 0.0])  # agent 0 is logged 4.2 m ahead at anchor 3
    b.agents.logged_valid[0, 1, 3:] = False  # agent 1 has no log after now: it follows the policy
    with torch.no_grad():
        state = RolloutSession(model, num_rollouts=1, start="logged").reset(b)
    return model, b, state


def test_closest_of_top_k_continues_from_the_candidate_nearest_the_log():
    model, b, state = setup()
    vocab = MotionVocab.from_poses(model.vocab_poses)
    logits = torch.full((1, 2, V), -10.0)
    logits[0, :, [2, 5, 7]] = torch.tensor([3.0, 2.0, 1.0])  # top-3 = {2, 5, 7}; 4 is not among them
    fallback = TopKSampler(state.scene, seed=0, top_k=1)  # greedy: token 2
    choose = ClosestOfTopK(state.scene, vocab, top_k=3, fallback=fallback)
    tok = choose(state, logits)
    assert tok.tolist() == [[5, 2]]  # 5 m is the nearest of {2, 5, 7} m to 4.2 m; agent 1 follows the policy
    assert ClosestOfTopK(state.scene, vocab, top_k=V, fallback=fallback)(state, logits)[0, 0] == 4
    assert ClosestOfTopK(state.scene, vocab, top_k=1, fallback=fallback)(state, logits)[0, 0] == 2


def test_recovery_target_brings_the_rollout_back_onto_the_log():
    model, b, state = setup()
    vocab = MotionVocab.from_poses(model.vocab_poses)
    session = RolloutSession(model, num_rollouts=1, start="logged")
    # a rollout that always moves 9 m per token, against a log that moves 3 m per token
    b.agents.logged[0, 0, 2:, 0] = 3.0 * torch.arange(17)
    b.agents.logged[0, 0, 2:, 1:] = 0.0
    b.agents.logged_valid[0, 0] = True
    with torch.no_grad():
        state = session.reset(b)
        while not state.done:
            state, _ = session.step(state, lambda s, lg: torch.full(lg.shape[:-1], 9, dtype=torch.long))
    # targets start from where the rollout is: at the start (on the log) the way back is token 3; from
    # then on the rollout is ahead of the log (9 m vs 3 m, 18 m vs 6 m, ...), and standing still (token
    # 0) is the token that comes closest to it
    target, ok = recovery_targets(state, vocab)
    assert ok[0, 0].all() and not ok[0, 1].any()
    assert target[0, 0, 0] == 3  # from the start (0 m) to the log at 3 m: token 3
    assert (target[0, 0, 1:] == 0).all()  # ahead of the log from then on: stop
    assert (target[0, 1] == -1).all()
