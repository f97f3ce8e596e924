"""Pretraining: loss targets, overfitting one batch, configs, a Lightning run with resume, DDP on CPU."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
import yaml

from smartr1.model.smart import SMART, model_config
from smartr1.rollout.policy import load_policy
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch
from smartr1.training.config import load_config
from smartr1.training.losses import next_token_loss
from smartr1.training.pretrain import next_token_targets
from smartr1.training.stage_module import cosine_lambda

V = 32


def test_targets_are_the_next_slot_on_train_agents():
    b = random_scene_batch(1, 4, 10, arc_vocab_poses(V), seed=0)
    b.agents.train_mask[0, 3] = False
    b.agents.token_valid[0, 1, 5] = False
    valid = torch.ones(1, 4, 18, dtype=torch.bool)
    target, mask = next_token_targets(b, valid)
    assert torch.equal(target[0, 0, :17], b.agents.token[0, 0, 1:])
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


def test_shipped_configs_are_the_layers_that_differ(tmp_path):
    from smartr1.training.config import DataConfig, OptimConfig, TrainerConfig, config_dir_default

    # the shipped files are package data, found without a source checkout
    shipped = config_dir_default()
    assert shipped.joinpath("pretrain.yaml").is_file()
    assert "site-packages" in str(shipped) or str(shipped).endswith("src/smartr1/configs")
    # pretraining is the dataclass defaults; mini / tiny change the batch size, nano (the CPU size) the
    # learning rate and dropout
    nano = load_config("pretrain", "nano")
    assert nano.data == DataConfig() and nano.optim.lr == 2 * OptimConfig().lr
    assert nano.model.dropout == nano.model.temporal_edge_drop == 0 < model_config("nano").dropout
    assert load_config("pretrain", "mini").optim == OptimConfig()
    assert load_config("pretrain", "mini").data.batch_size == 8 != DataConfig().batch_size
    assert load_config("pretrain", "tiny").model == model_config("tiny")
    # every line of a shipped file changes something (no restated default)
    defaults = {"data": DataConfig(), "optim": OptimConfig(), "trainer": TrainerConfig()}
    for f in shipped.glob("*.yaml"):  # recipes/ holds pipeline specs, checked in test_training_recipes
        for section, values in (yaml.safe_load(f.read_text()) or {}).items():
            for k, v in values.items():
                if section == "model":
                    assert getattr(model_config(f.name.removesuffix(".yaml")), k) != v, (f.name, k)
                else:
                    assert getattr(defaults[section], k) != v, (f.name, section, k)


def test_layers_resolve_in_order_and_missing_or_wrong_files_fail(tmp_path):
    (tmp_path / "pretrain.yaml").write_text(
        yaml.safe_dump({"optim": {"lr": 1e-3}, "data": {"batch_size": 3}})
    )
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump({"data": {"batch_size": 5}, "optim": {"lr": 2e-3}}))
    c = load_config("pretrain", "mini", config_dir=tmp_path)
    assert c.optim.lr == 1e-3 and c.data.batch_size == 3  # the stage file wins over the size file
    user = tmp_path / "u.yaml"
    user.write_text(yaml.safe_dump({"optim": {"lr": 4e-3}, "model": {"agent_layers": 2}}))
    c = load_config("pretrain", "nano", user, {"trainer": {"max_steps": 3}}, config_dir=tmp_path)
    assert c.optim.lr == 4e-3 and c.model.agent_layers == 2 and c.trainer.max_steps == 3
    with pytest.raises(ValueError, match="no config for stage 'sft'"):
        load_config("sft", config_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown stage"):
        load_config("finetune")
    user.write_text(yaml.safe_dump({"optim": {"lr_typo": 1}}))
    with pytest.raises(ValueError, match="lr_typo"):
        load_config("pretrain", "nano", user)


def test_configs_ship_in_the_wheel(tmp_path):
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, tmp_path / name)
    shutil.copytree(
        root / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", "."],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    shipped = {n for n in names if n.startswith("smartr1/configs/")}
    configs = root / "src/smartr1/configs"
    assert shipped == {
        f"smartr1/configs/{p.relative_to(configs).as_posix()}" for p in configs.rglob("*.yaml")
    }
    assert "smartr1/configs/pretrain.yaml" in shipped


def _data(tmp_path, n=4):
    from smartr1.data.womd import write_scenarios
    from smartr1.testing.tracks import synthetic_scenario

    f = tmp_path / "train.tfrecord"
    write_scenarios(f, [synthetic_scenario(seed=i, num_agents=6, scenario_id=f"s{i}") for i in range(n)])
    return f


def _cfg(tmp_path, data, steps, **trainer):
    """A small model; dropout stays on, so the random state matters for resuming."""
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


class _Record(L.Callback):
    """Scenario ids of every training batch; optionally stop after `stop_at` steps (an interruption)."""

    def __init__(self, stop_at: int | None = None):
        self.stop_at, self.seen = stop_at, []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.seen.append(list(batch.scenario_id))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.stop_at is not None and trainer.global_step >= self.stop_at:
            trainer.should_stop = True


def test_train_pretrain_writes_checkpoint_config_logs(tmp_path):
    from smartr1.testing.tracks import synthetic_scenario
    from smartr1.training.stages import run_stage

    data = _data(tmp_path)
    ckpt = run_stage(_cfg(tmp_path, data, 3))
    run = tmp_path / "run"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 3
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["vocab_size"] == V
    assert (run / "vocab.pt").exists() and any((run / "tb").rglob("events.out.tfevents*"))
    pol = load_policy(str(ckpt))
    sc = synthetic_scenario(seed=9, num_agents=3)
    (ro,) = pol.rollout([sc], num_rollouts=2, seed=0)
    assert list(ro.object_id) == list(sc.tracks.id) and np.isfinite(ro.x).all()


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    """Stop mid-epoch, resume from last.ckpt: the same batches, weights, optimizer and schedule state."""
    from smartr1.training.stages import run_stage

    data = _data(tmp_path, n=5)  # 3 batches of 2 per epoch: step 4 is mid-epoch
    whole = _Record()
    a = torch.load(run_stage(_cfg(tmp_path / "a", data, 7), callbacks=[whole]), weights_only=False)
    first, second = _Record(stop_at=4), _Record()
    cfg = _cfg(tmp_path / "b", data, 7)
    mid = torch.load(run_stage(cfg, callbacks=[first]), weights_only=False)
    assert mid["global_step"] == 4
    b = torch.load(run_stage(cfg, resume=True, callbacks=[second]), weights_only=False)
    assert b["global_step"] == a["global_step"] == 7
    assert first.seen + second.seen == whole.seen  # the same data, in the same order
    assert len({tuple(sorted(s)) for s in whole.seen[:3]}) == 3  # and it is shuffled, not constant
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    sa, sb = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for k in sa:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[k][name], sb[k][name]), (k, name)
    assert a["lr_schedulers"] == b["lr_schedulers"]
    # the weights did move, so equality is not trivial
    assert any(
        not torch.equal(v, mid["state_dict"][k]) for k, v in a["state_dict"].items() if v.is_floating_point()
    )


def test_ddp_two_cpu_processes(tmp_path):
    from smartr1.training.stages import run_stage

    data = _data(tmp_path, n=4)
    ckpt = run_stage(_cfg(tmp_path, data, 2, devices=2, strategy="ddp_spawn"))
    assert torch.load(ckpt, weights_only=True)["global_step"] == 2
