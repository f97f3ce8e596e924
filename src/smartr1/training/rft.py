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
   -(ratio x A - beta x KL) with the k3 KL; `rft.kl: exact` puts the exact KL of the full softmaxes in
   its place).
The reward uses all R rollouts; the gradient a subset, because the replay (with backward) costs
about as much per rollout as the rollout itself.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from pathlib import Path

import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.metrics.agent_credit import agent_credit
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
from smartr1.training.losses import (
    exact_kl,
    next_token_loss,
    policy_gradient_loss,
    restricted_log_probs,
    support_entropy,
    topk_support,
)
from smartr1.training.pretrain import next_token_targets
from smartr1.training.stage_module import StageModule

RATES = ("simulated_collision_rate", "simulated_offroad_rate", "simulated_traffic_light_violation_rate")


def sample_rollouts(model, batch, rollouts: int, seed: int, top_k: int, temperature: float, start: str):
    """Closed-loop rollouts without gradients (the model in eval mode): the completed state."""

    def chooser(scene):
        return TopKSampler(scene, seed=seed, top_k=top_k, temperature=temperature)

    return closed_loop(model, batch, rollouts, chooser, start)[0]


def scenario_rewards(
    state: RolloutState,
    batch,
    contexts: ScenarioContexts,
    reward: str,
    group: int,
    credit: ScenarioContexts | None = None,
    event_weight: float = 0.0,
    ade_weight: float = 0.0,
    slow_weight: float = 0.0,
):
    """Per scenario: the reward tensor of kind `reward` (see `advantages.Rule`: [1] per scenario, [G]
    per group, [R] leave-one-out metrics, or [R, A'] per-agent credit in the rollout's columns, scored
    with the `credit` contexts) and the metric fields of all its rollouts (for logging). Lists over
    the batch."""
    out = finish(state, batch)
    rewards, fields = [], []
    for b, sid in enumerate(batch.scenario_id):
        ctx = contexts.get(sid)
        future = metric_future(out, batch, ctx.batch, rows=[b])
        if reward == "groups":
            f = metric_fields(ctx, future, group_size=group)  # [1, G]
            rewards.append(f["metametric"][0])
            fields.append({k: v.mean() for k, v in f.items()})
            continue
        f = metric_fields(ctx, future)  # [1]
        fields.append({k: v[0] for k, v in f.items()})
        if reward == "leave_one_out":
            rewards.append(leave_one_out_fields(ctx, future)["metametric"][0])
        elif reward == "agent":
            cctx = (credit or contexts).get(sid)
            cred = agent_credit(cctx, metric_future(out, batch, cctx.batch, rows=[b]))
            adv = cred.advantage(event_weight, ade_weight, slow_weight)
            rewards.append(to_columns(adv[0], cctx.batch.track_index[0], state.scene.cols[b]))
        else:
            rewards.append(f["metametric"])
    return rewards, fields


def to_columns(values: torch.Tensor, track_index: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """[R, N] values in the metric's object order -> [R, A'] in a rollout's compacted columns (`cols`:
    each column's track, -1 padding); 0 for columns the metric does not hold."""
    dev = cols.device
    out = torch.zeros(values.shape[0], cols.shape[0], dtype=torch.float32, device=dev)
    track = track_index.to(dev)
    match = (cols[:, None] == track[None, :]) & (track[None, :] >= 0)  # [A', N]
    col, obj = torch.nonzero(match, as_tuple=True)
    out[:, col] = values.to(dev, torch.float32)[:, obj]
    return out


def evaluated_columns(state: RolloutState, contexts: ScenarioContexts) -> torch.Tensor:
    """[B, A'] bool: the compacted rollout columns of the agents the reward scores (the metric's
    evaluated objects), per scenario of the rollout."""
    sc = state.scene
    out = torch.zeros_like(sc.cols, dtype=torch.bool)
    for b, sid in enumerate(sc.scenario_ids):
        mb = contexts.get(sid).batch
        tracks = mb.track_index[0, : mb.num_eval][mb.eval_mask[0]].to(sc.cols.device)
        out[b] = torch.isin(sc.cols[b], tracks) & (sc.cols[b] >= 0)
    return out


class RftModule(StageModule):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rft = self.cfg.rft
        if isinstance(rft.alpha, str):
            raise ValueError(f"RFT needs a numeric alpha (resolve {rft.alpha!r} first: RftModule.resolve)")
        self.rule = advantages.RULES[rft.rule]
        self.reference = copy.deepcopy(self.model).requires_grad_(False)
        self.freeze_parts(rft.freeze_map_encoder, rft.freeze_embeddings)
        data = self.cfg.data  # contexts skip bad records as the token cache does (data.skip_bad)
        self.contexts = ScenarioContexts(data.train, data.skip_bad)
        self.val_contexts = ScenarioContexts(data.val, data.skip_bad) if data.val else None
        self.credit_contexts = (
            ScenarioContexts(data.train, data.skip_bad, evaluate="all")
            if rft.credit_agents == "all"
            else None
        )
        self.rule_state = advantages.RuleState(float(rft.alpha), advantages.RunningMean(rft.baseline_decay))
        self.scene_means = advantages.SceneMeans()
        self.beta = rft.beta  # adapted towards rft.target_kl when set

    @classmethod
    def resolve(cls, cfg: TrainConfig, parent: SMART | None, dm: SceneDataModule, out: Path) -> TrainConfig:
        """`alpha: auto` becomes a number, calibrated once and kept in <out>/alpha.json (a resumed run
        reuses it)."""
        alpha_file = out / "alpha.json"
        if cfg.rft.alpha != "auto":
            alpha = {"alpha": float(cfg.rft.alpha), "source": "config"}
        elif not advantages.RULES[cfg.rft.rule].uses_alpha:  # 16 scenes x 32 rollouts saved
            alpha = {"alpha": 0.0, "source": f"not used by rule {cfg.rft.rule!r}: not calibrated"}
        elif alpha_file.exists():
            alpha = json.loads(alpha_file.read_text())
        else:
            dm.prepare_data()
            dm.setup("fit")
            alpha = calibrate_alpha(parent, cfg, ScenarioContexts(cfg.data.train, cfg.data.skip_bad), dm)
        atomic_write_bytes(alpha_file, [json.dumps(alpha, indent=1).encode()])
        return dataclasses.replace(cfg, rft=dataclasses.replace(cfg.rft, alpha=float(alpha["alpha"])))

    @classmethod
    def finish(cls, cfg: TrainConfig, last: Path) -> Path:
        """`rft.interpolate` below 1: checkpoints/interpolated.ckpt, the policy moved back towards its
        reference; last.ckpt stays the trained state (and what a resumed run continues from)."""
        if cfg.rft.interpolate == 1.0:
            return last
        return write_interpolated(last, cfg.rft.interpolate, last.parent / "interpolated.ckpt")

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
        weights = {
            "event_weight": cfg.event_weight,
            "ade_weight": cfg.ade_weight,
            "slow_weight": cfg.slow_weight,
        }
        rewards, fields = scenario_rewards(
            state, batch, self.contexts, self.rule.reward, r, self.credit_contexts, **weights
        )
        reward = torch.stack(rewards)
        adv = self.rule.advantage(reward, self.rule_state)  # [B, 1], [B, G] or [B, R]
        scenes = list(batch.scenario_id)
        before = [self.scene_means.get(sid) for sid in scenes]  # for monitoring, before this step's update
        meta = [float(f["metametric"]) for f in fields]  # each scene's reward, whatever the rule scores
        if cfg.baseline == "scene" and self.rule.reward == "set":
            adv = advantages.scene_baselined(reward, adv, scenes, self.scene_means)
        else:
            for sid, m in zip(scenes, meta, strict=True):
                self.scene_means.add(sid, m)
        if cfg.negate_advantage:
            adv = -adv
        # the rollouts the gradient goes through: the first grad_rollouts of every group
        n_grad = min(cfg.grad_rollouts, r)
        local = torch.tensor([g * r + i for g in range(groups) for i in range(n_grad)], device=adv.device)
        b = len(scenes)
        rows = (torch.arange(b, device=adv.device)[:, None] * total + local[None]).reshape(-1)
        if self.rule.reward in ("leave_one_out", "agent"):  # one advantage per rollout (and agent)
            row_adv = adv[:, local]
        else:
            row_adv = adv.repeat_interleave(n_grad, dim=1)  # [B, G * n_grad]
        row_adv = row_adv.reshape(b * len(local), *adv.shape[2:]).to(self.device)  # [n] or [n, A']
        agents = None
        if cfg.loss_agents == "evaluated":
            agents = evaluated_columns(state, self.contexts)[rows // total]
        loss, stats = self._policy_loss(state, rows, row_adv, agents)
        if cfg.bc_weight:  # an anchor on the log itself: next-token cross-entropy on the logged tokens
            logits, node_valid = self.model(batch)
            target, bc_mask = next_token_targets(batch, node_valid)
            bc, _ = next_token_loss(logits, target, bc_mask, self.cfg.optim.label_smoothing)
            loss = loss + cfg.bc_weight * bc
            self.log("train/bc", bc.detach(), batch_size=len(batch.scenario_id))
        self._adapt_beta(float(stats["kl"]))
        self._log(rewards, fields, adv, stats, b)
        seen = [m - base for m, base in zip(meta, before, strict=True) if base is not None]
        if seen:  # the reward against the scene's own earlier mean: what a cross-scene mean hides
            self.log("train/reward_vs_scene_mean", sum(seen) / len(seen), batch_size=len(seen))
        return loss

    def _adapt_beta(self, kl: float) -> None:
        """With rft.target_kl: beta x1.5 when the KL is above twice the target, /1.5 below half of it."""
        target = self.cfg.rft.target_kl
        if target is None:
            return
        if kl > 2 * target:
            self.beta *= 1.5
        elif kl < target / 2:
            self.beta /= 1.5
        self.log("train/beta", self.beta)

    def validation_step(self, batch, batch_idx):
        """The held-out reward: the meta-metric and rates of `val_rollouts` rollouts per scenario (fixed
        seed, so that steps compare)."""
        if self.val_contexts is None:
            return
        cfg = self.cfg.rft
        state = sample_rollouts(
            self.model, batch, cfg.val_rollouts, 12_345, cfg.top_k, cfg.temperature, cfg.start
        )
        _, fields = scenario_rewards(state, batch, self.val_contexts, "set", cfg.val_rollouts)
        b = len(batch.scenario_id)
        for key in ("metametric", *RATES):
            value = torch.stack([f[key] for f in fields]).float().mean()
            self.log(f"val/{key}", value, batch_size=b, sync_dist=True, prog_bar=key == "metametric")

    def _policy_loss(
        self,
        state: RolloutState,
        rows: torch.Tensor,
        row_adv: torch.Tensor,
        agents: torch.Tensor | None = None,
    ):
        """The policy-gradient loss over the replayed `rows`; `agents` [n, A'] restricts it to some
        agents' tokens (default: every simulated agent)."""
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
        sim = state.scene.sim[rows] if agents is None else state.scene.sim[rows] & agents
        mask = sim[..., None] & (token >= 0) & torch.isfinite(logp.detach()) & torch.isfinite(logp_ref)
        logp = torch.where(mask, logp, torch.zeros_like(logp))
        logp_ref = torch.where(mask, logp_ref, torch.zeros_like(logp_ref))
        per_token = row_adv[:, None, None] if row_adv.ndim == 1 else row_adv[:, :, None]
        kl = exact_kl(logits, ref, cfg.temperature) if cfg.kl == "exact" else None
        loss, stats = policy_gradient_loss(logp, logp_ref, per_token, mask, self.beta, kl)
        ent = support_entropy(logp_all, support)  # [n, A', 16]
        ent = ent[mask].mean() if mask.any() else ent.sum() * 0.0
        if cfg.entropy_weight:  # a bonus that keeps rollouts diverse (minADE is a min over rollouts)
            loss = loss - cfg.entropy_weight * ent
        stats["entropy"] = ent.detach()
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
        checkpoint["rft_scene_means"] = dataclasses.asdict(self.scene_means)
        checkpoint["rft_beta"] = self.beta

    def on_load_checkpoint(self, checkpoint):
        self.rule_state.baseline.value = checkpoint.get("rft_baseline")
        self.scene_means = advantages.SceneMeans(**checkpoint.get("rft_scene_means", {}))
        self.beta = checkpoint.get("rft_beta", self.cfg.rft.beta)


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


def interpolate_to_reference(state_dict: dict, weight: float) -> dict:
    """An RFT checkpoint's state dict with the policy moved back towards its frozen reference: each
    floating `model.*` tensor becomes ref + weight x (policy - ref) (WiSE-FT's weight-space
    interpolation; 1: the policy, 0: the reference). RFT moves every weight by the optimiser's noise as
    well as the reward's signal; on the per-agent rule, halfway kept most of the realism gain for less
    of the minADE cost (benchmarks/results/rft_interpolate.md)."""
    out = dict(state_dict)
    for key, value in state_dict.items():
        if not key.startswith("model.") or not value.is_floating_point():
            continue
        ref = state_dict.get("reference." + key.removeprefix("model."))
        if ref is None:
            raise KeyError(f"{key}: the checkpoint holds no reference weights (not an RFT checkpoint?)")
        out[key] = ref + weight * (value - ref)
    return out


def write_interpolated(ckpt: Path, weight: float, out: Path) -> Path:
    """An RFT checkpoint file moved back towards its reference (`interpolate_to_reference`), written
    atomically to `out`; the rest of the checkpoint (step, settings, optimiser) is kept."""
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    state["state_dict"] = interpolate_to_reference(state["state_dict"], weight)
    state["rft_interpolate"] = weight  # provenance: this is not the trained state
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(out, [buf.getvalue()])
    return out
