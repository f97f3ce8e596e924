"""Reinforcement fine-tuning with the WOSAC realism meta-metric as reward, as a LightningModule.

One training step, per batch of scenarios:
1. Sample R = `num_rollouts` (x G groups for GRPO) closed-loop rollouts per scenario with the current
   policy, without gradients: top-k at a temperature, the distribution deployment samples from.
2. Score them: the meta-metric of each scenario's R rollouts (tensor path into the metric), or of each
   group of R (GRPO), or R leave-one-out metrics (RLFTSim's MLOO).
3. Turn rewards into advantages with one of the rules in `advantages.py`; one advantage per scenario
   (MPO, REINFORCE), per group (GRPO) or per rollout (leave-one-out), shared by every token of every
   simulated agent in it.
4. Replay `grad_rollouts` of the rollouts (per group) in one teacher-forced pass, in eval mode (no
   dropout, no temporal-edge drop) with gradients, for the log-probabilities of the sampled tokens
   under the top-k distribution they were drawn from; the frozen reference (the starting checkpoint)
   gives its log-probabilities over the same top-k support. Loss: `policy_gradient_loss` (SMART-R1's
   -(ratio x A - beta x KL) with the k3 KL).
The reward uses all R rollouts; the gradient a subset, because the replay (with backward) costs
about as much per rollout as the rollout itself.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.metrics.reward import leave_one_out_fields, metric_fields
from smartr1.model.checkpoint import load_model
from smartr1.rollout.engine import finish
from smartr1.rollout.metric_order import metric_future
from smartr1.rollout.session import RolloutSession, RolloutState, TopKSampler, replay_logits
from smartr1.training import advantages
from smartr1.training.config import TrainConfig
from smartr1.training.contexts import ScenarioContexts
from smartr1.training.datamodule import SceneDataModule
from smartr1.training.losses import policy_gradient_loss, restricted_log_probs, topk_support
from smartr1.training.runner import fit, model_reach, prepare_run
from smartr1.training.stage_module import StageModule

RULES = ("mpo", "grpo", "reinforce", "loo")
RATES = ("simulated_collision_rate", "simulated_offroad_rate", "simulated_traffic_light_violation_rate")


def sample_rollouts(model, batch, rollouts: int, seed: int, top_k: int, temperature: float, start: str):
    """Closed-loop rollouts without gradients (the model in eval mode): the completed state."""
    was = model.training
    model.eval()
    with torch.no_grad():
        session = RolloutSession(model, rollouts, start)
        state = session.reset(batch)
        choose = TopKSampler(state.scene, seed=seed, top_k=top_k, temperature=temperature)
        while not state.done:
            state, _ = session.step(state, choose)
    model.train(was)
    return state


def scenario_rewards(state: RolloutState, batch, contexts: ScenarioContexts, rule: str, group: int):
    """Per scenario: the reward tensor the rule needs ([1] per scenario, [G] per group, or [R] leave-one-out
    metrics) and the metric fields of all its rollouts (for logging). Lists over the batch."""
    out = finish(state, batch)
    rewards, fields = [], []
    for b, sid in enumerate(batch.scenario_id):
        ctx = contexts.get(sid)
        future = metric_future(out, batch, ctx.batch, rows=[b])
        if rule == "grpo":
            f = metric_fields(ctx, future, group_size=group)  # [1, G]
            rewards.append(f["metametric"][0])
            fields.append({k: v.mean() for k, v in f.items()})
        else:
            f = metric_fields(ctx, future)  # [1]
            fields.append({k: v[0] for k, v in f.items()})
            if rule == "loo":
                rewards.append(leave_one_out_fields(ctx, future)["metametric"][0])
            else:
                rewards.append(f["metametric"])
    return rewards, fields


class RftModule(StageModule):
    def __init__(
        self,
        model_config: dict,
        optim: dict,
        max_steps: int,
        rft: dict,
        train_files: list[str],
        alpha: float = 0.0,
        stage: str = "rft",
        parent: str | None = None,
        vocab_config: dict | None = None,
        vocab_poses: torch.Tensor | None = None,
        seed: int = 0,
    ):
        super().__init__(model_config, vocab_poses)
        self.save_hyperparameters(ignore=["vocab_poses"])
        if rft["rule"] not in RULES:
            raise ValueError(f"unknown RFT rule {rft['rule']!r}; choose one of {RULES}")
        self.reference = copy.deepcopy(self.model).requires_grad_(False)
        self.freeze_parts(rft["freeze_map_encoder"], rft["freeze_embeddings"])
        self.contexts = ScenarioContexts(train_files)
        self.baseline = advantages.RunningMean(rft["baseline_decay"])

    def load_parent(self, state_dict: dict) -> None:
        """Start the policy and the frozen reference from the same (parent) weights."""
        self.model.load_state_dict(state_dict)
        self.reference.load_state_dict(state_dict)

    def train(self, mode: bool = True):
        super().train(mode)
        self.reference.eval()  # never in training mode
        return self

    def _advantages(self, rewards: list[torch.Tensor]) -> torch.Tensor:
        """[B, G or R] advantages from the per-scenario rewards."""
        rule, cfg = self.hparams.rft["rule"], self.hparams.rft
        if rule == "mpo":
            return advantages.mpo(torch.stack(rewards), self.hparams.alpha)  # [B, 1]
        if rule == "reinforce":
            return advantages.reinforce(torch.stack(rewards), self.baseline)  # [B, 1]
        if rule == "grpo":
            return advantages.grpo(torch.stack(rewards))  # [B, G]
        del cfg
        return advantages.leave_one_out(torch.stack(rewards))  # [B, R]

    def training_step(self, batch, batch_idx):
        cfg = self.hparams.rft
        rule, r = cfg["rule"], cfg["num_rollouts"]
        groups = cfg["groups"] if rule == "grpo" else 1
        total = r * groups
        seed = self.hparams.seed * 1_000_003 + int(self.global_step)
        state = sample_rollouts(
            self.model, batch, total, seed, cfg["top_k"], cfg["temperature"], cfg["start"]
        )
        rewards, fields = scenario_rewards(state, batch, self.contexts, rule, r)
        adv = self._advantages(rewards)  # [B, G] or [B, R]
        # the rollouts the gradient goes through: the first grad_rollouts of every group
        n_grad = min(cfg["grad_rollouts"], r)
        local = torch.tensor([g * r + i for g in range(groups) for i in range(n_grad)], device=adv.device)
        b = len(batch.scenario_id)
        rows = (torch.arange(b, device=adv.device)[:, None] * total + local[None]).reshape(-1)
        if rule == "loo":
            row_adv = adv.gather(1, local[None].expand(b, -1))
        else:
            row_adv = adv.repeat_interleave(n_grad, dim=1)  # [B, G * n_grad]
        row_adv = row_adv.reshape(-1).to(self.device)
        loss, stats = self._policy_loss(state, rows, row_adv)
        self._log(rewards, fields, adv, stats, b)
        return loss

    def _policy_loss(self, state: RolloutState, rows: torch.Tensor, row_adv: torch.Tensor):
        cfg = self.hparams.rft
        self.model.eval()  # the distribution the tokens were drawn from: no dropout, no edge drop
        logits = replay_logits(self.model, state, rows)  # [n, A', 16, V], with gradients
        with torch.no_grad():
            ref = replay_logits(self.reference, state, rows)
        self.model.train()
        token = torch.stack(state.tokens, -1)[rows]  # [n, A', 16]
        support = topk_support(logits, cfg["top_k"])
        logp_all = restricted_log_probs(logits, support, cfg["temperature"])
        ref_all = restricted_log_probs(ref, support, cfg["temperature"])
        safe = token.clamp(min=0)[..., None]
        logp = logp_all.gather(-1, safe)[..., 0]
        logp_ref = ref_all.gather(-1, safe)[..., 0]
        sim = state.scene.sim[rows]
        mask = sim[..., None] & (token >= 0) & torch.isfinite(logp.detach()) & torch.isfinite(logp_ref)
        logp = torch.where(mask, logp, torch.zeros_like(logp))
        logp_ref = torch.where(mask, logp_ref, torch.zeros_like(logp_ref))
        loss, stats = policy_gradient_loss(logp, logp_ref, row_adv[:, None, None], mask, cfg["beta"])
        with torch.no_grad():
            p = logp_all.exp()
            ent = -(p * torch.where(support, logp_all, torch.zeros_like(logp_all))).sum(-1)
            stats["entropy"] = ent[mask].mean() if mask.any() else torch.zeros(())
            stats["outside_support"] = int((sim[..., None] & (token >= 0) & ~mask).sum())
        return loss, stats

    def _log(self, rewards, fields, adv, stats, b):
        reward = torch.stack([r.float().mean() for r in rewards]).mean()
        self.log("train/reward", reward, prog_bar=True, batch_size=b)
        self.log("train/advantage", adv.float().mean(), batch_size=b)
        self.log("train/advantage_std", adv.float().std(unbiased=False), batch_size=b)
        self.log("train/kl", stats["kl"], batch_size=b)
        self.log("train/entropy", stats["entropy"], batch_size=b)
        self.log("train/tokens", float(stats["tokens"]), batch_size=b, reduce_fx="sum")
        self.log("train/outside_support", float(stats["outside_support"]), batch_size=b, reduce_fx="sum")
        for key in RATES:
            self.log(f"train/{key}", torch.stack([f[key] for f in fields]).float().mean(), batch_size=b)
        self.log(
            "train/metametric", torch.stack([f["metametric"] for f in fields]).float().mean(), batch_size=b
        )

    def on_save_checkpoint(self, checkpoint):
        super().on_save_checkpoint(checkpoint)
        checkpoint["rft_baseline"] = self.baseline.value

    def on_load_checkpoint(self, checkpoint):
        self.baseline.value = checkpoint.get("rft_baseline")


def calibrate_alpha(model, cfg: TrainConfig, contexts: ScenarioContexts, dm: SceneDataModule) -> dict:
    """`alpha: auto`: the starting model's mean reward on the first training scenarios, minus a margin."""
    rft = cfg.rft
    ds = dm.train_set
    n = min(rft.calibration_scenarios, len(ds))
    from smartr1.tokens.batch import collate_cropped

    rewards = []
    for i in range(0, n, dm.cfg.batch_size):
        batch = collate_cropped([ds[j] for j in range(i, min(n, i + dm.cfg.batch_size))], dm.map_crop_radius)
        state = sample_rollouts(
            model, batch, rft.num_rollouts, cfg.trainer.seed, rft.top_k, rft.temperature, rft.start
        )
        rs, _ = scenario_rewards(state, batch, contexts, "mpo", rft.num_rollouts)
        rewards += [float(r) for r in rs]
    mean = sum(rewards) / len(rewards)
    return {"alpha": mean - rft.alpha_margin, "mean_reward": mean, "margin": rft.alpha_margin, "scenarios": n}


def train_rft(cfg: TrainConfig, resume: bool = False, callbacks: list | None = None) -> Path:
    """Run reinforcement fine-tuning from `cfg.init_checkpoint`; returns the last checkpoint."""
    if not cfg.init_checkpoint:
        raise ValueError("reinforcement fine-tuning starts from a trained checkpoint: set init_checkpoint")
    cfg, vocab, out = prepare_run(cfg)
    parent, _ = load_model(cfg.init_checkpoint)
    dm = SceneDataModule(cfg.data, vocab, seed=cfg.trainer.seed, map_crop_radius=model_reach(cfg.model, True))
    alpha_file = out / "alpha.json"
    if cfg.rft.alpha != "auto":
        alpha = {"alpha": float(cfg.rft.alpha), "source": "config"}
    elif alpha_file.exists():
        alpha = json.loads(alpha_file.read_text())
    else:
        dm.prepare_data()
        dm.setup("fit")
        alpha = calibrate_alpha(parent, cfg, ScenarioContexts(cfg.data.train, cfg.data.skip_bad), dm)
    atomic_write_bytes(alpha_file, [json.dumps(alpha, indent=1).encode()])
    module = RftModule(
        cfg.model.to_dict(),
        dataclasses.asdict(cfg.optim),
        cfg.trainer.max_steps,
        dataclasses.asdict(cfg.rft),
        [str(p) for p in cfg.data.train],
        alpha=float(alpha["alpha"]),
        stage=cfg.stage,
        parent=cfg.init_checkpoint,
        vocab_config=vocab.config,
        vocab_poses=vocab.poses,
        seed=cfg.trainer.seed,
    )
    module.load_parent(parent.state_dict())
    return fit(cfg, module, dm, out, resume, callbacks)
