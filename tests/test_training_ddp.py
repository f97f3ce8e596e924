"""Distributed data parallel on CPU (gloo, 2 processes through Lightning): the gradients each rank
steps with equal the mean of the two ranks' single-process gradients on the same data, and the
closed-loop stages train under DDP too."""

from __future__ import annotations

import dataclasses

import lightning as L
import pytest
import torch

from smartr1.data.womd import write_scenarios
from smartr1.testing.tracks import synthetic_scenario
from smartr1.training.config import load_config
from smartr1.training.stages import run_stage

SMALL = {"vocab_size": 32, "hidden": 32, "heads": 2, "head_dim": 8, "agent_layers": 1, "map_layers": 1,
         "dropout": 0.0, "temporal_edge_drop": 0.0}  # fmt: skip


def _cfg(tmp_path, data, stage="pretrain", init=None, **extra):
    ov = {"out": str(tmp_path / stage), "data": {"train": [str(data)], "cache_dir": str(tmp_path / "cache"),
          "batch_size": 2}, "trainer": {"max_steps": 1, "log_every_n_steps": 1, **extra.pop("trainer", {})}, **extra}  # fmt: skip
    if init:
        ov["init_checkpoint"] = str(init)
    else:
        ov["model"] = SMALL
    return load_config(stage, "nano", overrides=ov)


class SaveGradients(L.Callback):
    """Each rank's gradients as the optimizer sees them (after DDP's all-reduce)."""

    def __init__(self, path):
        self.path = path

    def on_train_start(self, trainer, module):
        if trainer.global_rank == 0:
            torch.save({k: v.clone() for k, v in module.model.state_dict().items()}, f"{self.path}.init")

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.batch = list(batch.scenario_id)

    def on_before_optimizer_step(self, trainer, module, optimizer):
        if trainer.global_step == 0:
            named = module.model.named_parameters()
            grads = {n: p.grad.detach().clone() for n, p in named if p.grad is not None}
            torch.save({"grads": grads, "batch": self.batch}, f"{self.path}.rank{trainer.global_rank}")


def test_ddp_gradients_are_the_mean_of_the_ranks_gradients(tmp_path):
    from smartr1.tokens.batch import collate_cropped
    from smartr1.training import pretrain
    from smartr1.training.cache import TokenizedDataset
    from smartr1.training.pretrain import next_token_targets
    from smartr1.training.runner import model_reach

    data = tmp_path / "train.tfrecord"
    write_scenarios(data, [synthetic_scenario(seed=i, num_agents=6, scenario_id=f"s{i}") for i in range(4)])
    cfg = _cfg(tmp_path, data, trainer={"devices": 2, "strategy": "ddp_spawn"})
    run_stage(cfg, callbacks=[SaveGradients(tmp_path / "grads")])
    ranks = [torch.load(f"{tmp_path / 'grads'}.rank{r}", weights_only=False) for r in (0, 1)]
    assert sorted(ranks[0]["batch"] + ranks[1]["batch"]) == ["s0", "s1", "s2", "s3"]  # disjoint halves
    for n in ranks[0]["grads"]:  # all-reduced: every rank steps with the same gradient
        torch.testing.assert_close(ranks[0]["grads"][n], ranks[1]["grads"][n])
    # single process, the same initial weights, each rank's half: the mean of the two gradients
    from smartr1.tokens.vocabulary import MotionVocab

    vocab = MotionVocab.load(tmp_path / "pretrain" / "vocab.pt")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vocab_size=vocab.size))
    module = pretrain.PretrainModule(cfg, vocab_poses=vocab.poses)
    module.model.load_state_dict(torch.load(f"{tmp_path / 'grads'}.init", weights_only=False))
    ds = TokenizedDataset([data], vocab, cache_dir=tmp_path / "cache")
    by_id = {ds[i].scenario_id: ds[i] for i in range(len(ds))}
    grads = []
    for r in ranks:
        module.model.zero_grad()
        batch = collate_cropped([by_id[s] for s in r["batch"]], model_reach(cfg.model))
        logits, valid = module.model(batch)
        loss, _ = pretrain.next_token_loss(logits, *next_token_targets(batch, valid), 0.1)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in module.model.named_parameters() if p.grad is not None})
    for n, g in ranks[0]["grads"].items():
        torch.testing.assert_close(g, (grads[0][n] + grads[1][n]) / 2, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("stage", ["sft", "rft"])
def test_closed_loop_stages_step_under_ddp_with_the_mean_of_single_process_gradients(tmp_path, stage):
    """Each rank rolls out its half of the data; the step is taken with the mean of the two halves'
    single-process gradients (the module rebuilt from the typed config its checkpoint holds)."""
    from smartr1.tokens.batch import collate_cropped
    from smartr1.training.cache import TokenizedDataset
    from smartr1.training.runner import model_reach
    from smartr1.training.stages import STAGE_MODULES

    data = tmp_path / "train.tfrecord"
    write_scenarios(data, [synthetic_scenario(seed=i, num_agents=6, scenario_id=f"s{i}") for i in range(4)])
    parent = run_stage(_cfg(tmp_path, data))
    extra = (
        {"sft": {"top_k": 4}}
        if stage == "sft"
        else {"rft": {"num_rollouts": 4, "grad_rollouts": 2, "calibration_scenarios": 2}}
    )
    cfg = _cfg(tmp_path, data, stage, parent, trainer={"devices": 2, "strategy": "ddp_spawn"}, **extra)
    ckpt = torch.load(run_stage(cfg, callbacks=[SaveGradients(tmp_path / "grads")]), weights_only=False)
    assert ckpt["global_step"] == 1
    ranks = [torch.load(f"{tmp_path / 'grads'}.rank{r}", weights_only=False) for r in (0, 1)]
    assert sorted(ranks[0]["batch"] + ranks[1]["batch"]) == ["s0", "s1", "s2", "s3"]
    module = STAGE_MODULES[stage].module(**ckpt["hyper_parameters"])
    init = torch.load(f"{tmp_path / 'grads'}.init", weights_only=False)
    module.model.load_state_dict(init)
    if stage == "rft":
        module.reference.load_state_dict(init)
    vocab_poses = module.model.vocab_poses
    from smartr1.tokens.vocabulary import MotionVocab

    ds = TokenizedDataset([data], MotionVocab.from_poses(vocab_poses), cache_dir=tmp_path / "cache")
    by_id = {ds[i].scenario_id: ds[i] for i in range(len(ds))}
    grads = []
    for r in ranks:
        module.zero_grad()
        batch = collate_cropped(
            [by_id[s] for s in r["batch"]], model_reach(module.cfg.model, closed_loop=True)
        )
        loss = module.loss(batch)[0] if stage == "sft" else module.training_step(batch, 0)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in module.model.named_parameters() if p.grad is not None})
    assert ranks[0]["grads"].keys() == grads[0].keys()
    for n, g in ranks[0]["grads"].items():
        torch.testing.assert_close(ranks[1]["grads"][n], g)
        torch.testing.assert_close(g, (grads[0][n] + grads[1][n]) / 2, atol=1e-6, rtol=1e-5)
