"""Cropping the map to the model's reach must not change what the model computes."""

import torch

from smartr1.model.config import model_config
from smartr1.tokens.batch import collate
from smartr1.tokens.scene import crop_map, prepare_scene
from smartr1.tokens.vocab_build import build_vocab
from smartr1.training.config import load_config
from smartr1.training.pretrain import PretrainModule
from smartr1.training.runner import model_reach


def test_crop_keeps_loss_and_drops_far_segments(real_scenarios):
    torch.manual_seed(0)
    scenario = real_scenarios["637f20cafde22ff8"]
    vocab = build_vocab([scenario], size=64, seed=0)
    cfg = model_config("nano", vocab_size=vocab.size)
    train_cfg = load_config("pretrain", "nano", overrides={"model": {"vocab_size": vocab.size}})
    module = PretrainModule(train_cfg, vocab_config=vocab.config, vocab_poses=vocab.poses).eval()
    scene = prepare_scene(scenario, vocab)
    radius = model_reach(cfg)
    cropped = crop_map(scene, radius)
    assert 0 < cropped.map.num_segments < scene.map.num_segments
    # Every dropped segment is farther than the reach from every agent anchor.
    anchors = scene.agents.pose[..., :2][scene.agents.pose_valid]
    kept = set(map(tuple, cropped.map.points[:, 0].tolist()))
    dropped = torch.stack([p for p in scene.map.points if tuple(p[0].tolist()) not in kept])
    d = (dropped.reshape(-1, 1, 2).double() - anchors[None].double()).norm(dim=-1)
    assert d.min() > radius - 1e-3
    with torch.no_grad():
        full, _ = module.loss(collate([scene]))
        small, _ = module.loss(collate([cropped]))
    torch.testing.assert_close(small, full, rtol=1e-5, atol=1e-6)
