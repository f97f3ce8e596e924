"""Reinforcement fine-tuning with the WOSAC realism meta-metric as reward, as a LightningModule.

One training step, per batch of scenarios:
1. Sample R = `num_rollouts` (x G groups for GRPO) closed-loop rollouts per scenario with the current
   policy, without gradients: top-k at a temperature, the distribution deployment samples from.
2. Score them: the meta-metric of each scenario's R rollouts (tensor path into the metric), or of each
   group of R (GRPO), or R leave-one-out metrics (RLFTSim's MLOO).
3. Turn rewards into advantages with one of the rules in `advantages.RULES`; one advantage per scenario
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
from smartr1.model.smart import SMART
from smartr1.rollout.engine import closed_loop, finish
from smartr1.rollout.metric_order import metric_future
from smartr1.rollout.session import RolloutState, TopKSampler, replay_logits
from smartr1.tokens.batch import collate_cropped
from smartr1.training import advantages
from smartr1.training.config import TrainConfig
from smartr1.training.contexts import ScenarioContexts
from smartr1.training.datamodule import SceneDataModule
from smartr1.training.losses import policy_gradient_loss, restricted_log_probs, topk_support
from smartr1.training.stage_module import StageModule

RATES = ("simulated_collision_rate", "simulated_offroad_rate", "simulated_traffic_light_violation_rate")


def sample_rollouts(model, batch, rollouts: int, seed: int, top_k: int, temperature: float, start: str):
    """Closed-loop rollouts without gradients (the model in eval mode): the completed state."""

    def chooser(scene):
        return TopKSampler(scene, seed=seed, top_k=top_k, temperature=temperature)

    return closed_loop(model, batch, rollouts, chooser, start)[0]


def scenario_rewards(state: RolloutState, batch, contexts: ScenarioContexts, reward: str, group: int):
    """Per scenario: the reward tensor of kind `reward` (see `advantages.Rule`: [1] per scenario, [G]
    per group, or [R] leave-one-out metrics) and the metric fields of all its rollouts (for logging).
    Lists over the batch."""
    out = finish(state, batch)
    rewards, fields = [], []
    for b, sid in enumerate(batch.scenario_id):
        ctx = contexts.get(sid)
        future = metric_future(out, batch, ctx.batch, rows=[b])
        if reward == "groups":
            f = metric_fields(ctx, future, group_size=group)  # [1, G]
            rewards.append(f["metametric"][0])
            fields.append({k: v.mean() for k, v in f.items()})
        else:
            f = metric_fields(ctx, future)  # [1]
            fields.append({k: v[0] for k, v in f.items()})
            if reward == "leave_one_out":
                rewards.append(leave_one_out_fields(ctx, future)["metametric"][0])
            else:
                rewards.append(f["metametric"])
    return rewards, fields


class RftModule(StageModule):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rft = self.cfg.rft
        if isinstance(rft.alpha, str):
            raise ValueError(f"RFT needs a numeric alpha (resolve {rft.alpha!r} first: RftModule.resolve)")
        self.rule = advantages.RULES[rft.rule]
        self.reference = copy.deepcopy(self.model).requires_grad_(False)
        self.freeze_parts(rft.freeze_map_encoder, rft.freeze_embeddings)
        self.contexts = ScenarioContexts(self.cfg.data.train)
        self.rule_state = advantages.RuleState(float(rft.alpha), advantages.RunningMean(rft.baseline_decay))

    @classmethod
    def resolve(cls, cfg: TrainConfig, parent: SMART | None, dm: SceneDataModule, out: Path) -> TrainConfig:
        """`alpha: auto` becomes a number, calibrated once and kept in <out>/alpha.json (a resumed run
        reuses it)."""
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
        return dataclasses.replace(cfg, rft=dataclasses.replace(cfg.rft, alpha=float(alpha["alpha"])))

    def start_from(self, parent: SMART) -> None:
        """Start the policy and the frozen reference from the same (parent) weights."""
        self.model.load_state_dict(parent.state_dict())
        self.reference.load_state_dict(parent.state_dict())

    def train(self, mode: bool = True):
        super().train(mode)
        self.reference.eval()  # never in training mode
        return self

    def training_step(self, batch, batch_idx):
        cfg = self.cfg.rft
        r = cfg.num_rollouts
        groups = cfg.groups if self.rule.reward == "groups" else 1
        total = r * groups
        seed = self.cfg.trainer.seed * 1_000_003 + int(self.global_step)
        state = sample_rollouts(self.model, batch, total, seed, cfg.top_k, cfg.temperature, cfg.start)
        rewards, fields = scenario_rewards(state, batch, self.contexts, self.rule.reward, r)
        adv = self.rule.advantage(torch.stack(rewards), self.rule_state)  # [B, 1], [B, G] or [B, R]
        # the rollouts the gradient goes through: the first grad_rollouts of every group
        n_grad = min(cfg.grad_rollouts, r)
        local = torch.tensor([g * r + i for g in range(groups) for i in range(n_grad)], device=adv.device)
        b = len(batch.scenario_id)
        rows = (torch.arange(b, device=adv.device)[:, None] * total + local[None]).reshape(-1)
        if self.rule.reward == "leave_one_out":
            row_adv = adv.gather(1, local[None].expand(b, -1))
        else:
            row_adv = adv.repeat_interleave(n_grad, dim=1)  # [B, G * n_grad]
        row_adv = row_adv.reshape(-1).to(self.device)
        loss, stats = self._policy_loss(state, rows, row_adv)
        self._log(rewards, fields, adv, stats, b)
        return loss

    def _policy_loss(self, state: RolloutState, rows: torch.Tensor, row_adv: torch.Tensor):
        cfg = self.cfg.rft
        self.model.eval()  # the distribution the tokens were drawn from: no dropout, no edge drop
        logits = replay_logits(self.model, state, rows)  # [n, A', 16, V], with gradients
        with torch.no_grad():
            ref = replay_logits(self.reference, state, rows)
        self.model.train()
        token = torch.stack(state.tokens, -1)[rows]  # [n, A', 16]
        support = topk_support(logits, cfg.top_k)
        logp_all = restricted_log_probs(logits, support, cfg.temperature)
        ref_all = restricted_log_probs(ref, support, cfg.temperature)
        safe = token.clamp(min=0)[..., None]
        logp = logp_all.gather(-1, safe)[..., 0]
        logp_ref = ref_all.gather(-1, safe)[..., 0]
        sim = state.scene.sim[rows]
        mask = sim[..., None] & (token >= 0) & torch.isfinite(logp.detach()) & torch.isfinite(logp_ref)
        logp = torch.where(mask, logp, torch.zeros_like(logp))
        logp_ref = torch.where(mask, logp_ref, torch.zeros_like(logp_ref))
        loss, stats = policy_gradient_loss(logp, logp_ref, row_adv[:, None, None], mask, cfg.beta)
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
        checkpoint["rft_baseline"] = self.rule_state.baseline.value

    def on_load_checkpoint(self, checkpoint):
        self.rule_state.baseline.value = checkpoint.get("rft_baseline")


def calibrate_alpha(model, cfg: TrainConfig, contexts: ScenarioContexts, dm: SceneDataModule) -> dict:
    """`alpha: auto`: the starting model's mean reward on the first training scenarios, minus a margin."""
    rft = cfg.rft
    ds = dm.train_set
    n = min(rft.calibration_scenarios, len(ds))
    rewards = []
    for i in range(0, n, dm.cfg.batch_size):
        batch = collate_cropped([ds[j] for j in range(i, min(n, i + dm.cfg.batch_size))], dm.map_crop_radius)
        state = sample_rollouts(
            model, batch, rft.num_rollouts, cfg.trainer.seed, rft.top_k, rft.temperature, rft.start
        )
        rs, _ = scenario_rewards(state, batch, contexts, "set", rft.num_rollouts)
        rewards += [float(r) for r in rs]
    mean = sum(rewards) / len(rewards)
    return {"alpha": mean - rft.alpha_margin, "mean_reward": mean, "margin": rft.alpha_margin, "scenarios": n}
