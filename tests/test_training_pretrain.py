"""Pretraining: loss targets, overfitting one batch, configs, a Lightning run with resume, DDP on CPU."""

from __future__ import annotations

import pytest
import torch
import yaml

from smartr1.model.smart import SMART, model_config
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch
from smartr1.training.config import load_config
from smartr1.training.pretrain import cosine_lambda, next_token_loss, next_token_targets

V = 32


def test_targets_are_the_next_slot_on_train_agents():
    b = random_scene_batch(1, 4, 10, arc_vocab_poses(V), seed=0)
    b.train_mask[0, 3] = False
    b.token_valid[0, 1, 5] = False
    valid = torch.ones(1, 4, 18, dtype=torch.bool)
    target, mask = next_token_targets(b, valid)
    assert torch.equal(target[0, 0, :17], b.token[0, 0, 1:])
    assert not mask[..., 17].any() and not mask[0, 3].any() and not mask[0, 1, 4]
    assert mask[0, 0, :17].all()


def test_loss_falls_when_overfitting_one_batch():
    torch.manual_seed(0)
    cfg = model_config(
        "nano", vocab_size=V, hidden=32, heads=2, head_dim=8, agent_layers=2, map_layers=1, dropout=0.0
    )
    m = SMART(cfg, arc_vocab_poses(V)).train()
    b = random_scene_batch(1, 4, 10, m.vocab_poses, extent=30, seed=1)
    opt = torch.optim.AdamW(m.parameters(), lr=5e-3)
    losses = []
    for _ in range(30):
        logits, valid = m(b)
        loss, _ = next_token_loss(logits, *next_token_targets(b, valid), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses[::8]


def test_cosine_schedule_ends_at_min_ratio():
    f = cosine_lambda(100, 0, 0.01)
    assert f(0) == pytest.approx(1.0) and f(100) == pytest.approx(0.01) and f(50) == pytest.approx(0.505)


def test_configs_resolve_for_every_size_and_reject_unknown_keys(tmp_path):
    for size in ("nano", "mini", "tiny"):
        c = load_config("pretrain", size)
        assert c.model == model_config(size, vocab_size=c.model.vocab_size)
        assert c.optim.label_smoothing == 0.1 and c.optim.grad_clip == 0.5 and c.optim.min_lr_ratio == 0.01
    user = tmp_path / "u.yaml"
    user.write_text(yaml.safe_dump({"optim": {"lr": 1e-3}, "model": {"agent_layers": 2}}))
    c = load_config("pretrain", "nano", user, {"trainer": {"max_steps": 3}})
    assert c.optim.lr == 1e-3 and c.model.agent_layers == 2 and c.trainer.max_steps == 3
    user.write_text(yaml.safe_dump({"optim": {"lr_typo": 1}}))
    with pytest.raises(ValueError, match="lr_typo"):
        load_config("pretrain", "nano", user)


def _data(tmp_path, n=4):
    from smartr1.data.womd import write_scenarios
    from smartr1.testing.tracks import synthetic_scenario

    f = tmp_path / "train.tfrecord"
    write_scenarios(f, [synthetic_scenario(seed=i, num_agents=6, scenario_id=f"s{i}") for i in range(n)])
    return f


def _cfg(tmp_path, data, steps, **trainer):
    small = {"vocab_size": V, "hidden": 32, "heads": 2, "head_dim": 8, "agent_layers": 1, "map_layers": 1}
    return load_config(
        "pretrain",
        "nano",
        overrides={
            "out": str(tmp_path / "run"),
            "model": small,
            "data": {"train": [str(data)], "cache_dir": str(tmp_path / "cache"), "batch_size": 2},
            "trainer": {"max_steps": steps, "checkpoint_every_n_steps": 2, "log_every_n_steps": 1, **trainer},
        },
    )


def test_train_pretrain_writes_checkpoint_config_logs_and_resumes(tmp_path):
    from smartr1.rollout.policy import load_policy
    from smartr1.testing.tracks import synthetic_scenario
    from smartr1.training.pretrain import train_pretrain

    data = _data(tmp_path)
    ckpt = train_pretrain(_cfg(tmp_path, data, 3))
    run = tmp_path / "run"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 3
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["vocab_size"] == V
    assert (run / "vocab.pt").exists() and any((run / "tb").rglob("events.out.tfevents*"))
    ckpt = train_pretrain(_cfg(tmp_path, data, 5), resume=True)
    assert torch.load(ckpt, weights_only=True)["global_step"] == 5
    pol = load_policy(str(ckpt))
    (ro,) = pol.rollout([synthetic_scenario(seed=9, num_agents=3)], num_rollouts=2, seed=0)
    assert ro.x.shape == (2, 3, 80)


def test_ddp_two_cpu_processes(tmp_path):
    from smartr1.training.pretrain import train_pretrain

    data = _data(tmp_path, n=4)
    ckpt = train_pretrain(_cfg(tmp_path, data, 2, devices=2, strategy="ddp_spawn"))
    assert torch.load(ckpt, weights_only=True)["global_step"] == 2
