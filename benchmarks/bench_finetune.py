"""Fine-tuning speed: one MPO update on one generated scene (32 rollouts) split into rollout / reward /
backward, and CAT-K SFT and RFT throughput in scenarios per second.

The scene is the generated held-out scenario whose number of simulated agents is closest to
`--agents` (the issue's ~60-agent scene). Each phase is timed over `--repeats` updates after one
warm-up; the table reports medians. The model is the shipped nano checkpoint unless `--checkpoint` names
another; its weights do not change the cost (the same number of tokens is drawn and replayed).

    .venv/bin/python benchmarks/bench_finetune.py [--checkpoint CKPT] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import machine, write_results

from smartr1.data.sumo.generate import generate
from smartr1.data.womd import read_scenarios, write_scenarios
from smartr1.model.checkpoint import load_model
from smartr1.tokens.batch import collate_cropped
from smartr1.tokens.scene import prepare_scene
from smartr1.training.config import load_config
from smartr1.training.loss_agents import train_agents
from smartr1.training.rft import RftModule, sample_rollouts, scenario_rewards
from smartr1.training.runner import model_reach
from smartr1.training.sft import SftModule


def _scene(scenario, vocab):
    scene = prepare_scene(scenario, vocab)
    return scene._replace(train_mask=train_agents(scenario, scene.agents.sim_mask, scene.agents.valid))


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_mpo(ckpt, scenario, path: Path, repeats: int, rollouts: int, grad_rollouts: int) -> dict:
    model, vocab = load_model(ckpt)
    cfg = load_config(
        "rft", "nano", overrides={"rft": {"num_rollouts": rollouts, "grad_rollouts": grad_rollouts}}
    )
    cfg = dataclasses.replace(
        cfg, model=model.cfg, data=dataclasses.replace(cfg.data, train=[str(path)]),
        rft=dataclasses.replace(cfg.rft, alpha=0.7),
    )  # fmt: skip
    module = RftModule(cfg, vocab_poses=vocab.poses)
    module.start_from(model)
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=cfg.optim.lr)
    batch = collate_cropped([_scene(scenario, vocab)], model_reach(model.cfg, closed_loop=True))
    r = cfg.rft
    times = {"rollout": [], "reward": [], "backward": [], "total": []}
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        state = sample_rollouts(module.model, batch, rollouts, i, r.top_k, r.temperature, r.start)
        t1 = time.perf_counter()
        rewards, _ = scenario_rewards(state, batch, module.contexts, module.rule.reward, rollouts)
        t2 = time.perf_counter()
        adv = module.rule.advantage(torch.stack(rewards), module.rule_state)
        rows = torch.arange(grad_rollouts)
        loss, _ = module._policy_loss(state, rows, adv.repeat_interleave(grad_rollouts, dim=1).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        t3 = time.perf_counter()
        if i:  # the first update builds the scenario's metric context: warm-up
            for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                times[k].append(v)
    return {k: _median(v) for k, v in times.items()}


def bench_sft(ckpt, scenarios, repeats: int, batch_size: int) -> dict:
    model, vocab = load_model(ckpt)
    cfg = load_config("sft", "nano")
    module = SftModule(dataclasses.replace(cfg, model=model.cfg), vocab_poses=vocab.poses)
    module.start_from(model)
    module.train()
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=cfg.optim.lr)
    scenes = [_scene(s, vocab) for s in scenarios]
    radius = model_reach(model.cfg, closed_loop=True)
    times = []
    for i in range(repeats + 1):
        pick = [scenes[(i * batch_size + j) % len(scenes)] for j in range(batch_size)]
        batch = collate_cropped(pick, radius)
        t0 = time.perf_counter()
        loss, _ = module.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return {"step": _median(times), "batch_size": batch_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="smartr1-nano-sumo")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agents", type=int, default=60, help="pick the held-out scene closest to this")
    ap.add_argument("--rollouts", type=int, default=32)
    ap.add_argument("--grad-rollouts", type=int, default=4)
    ap.add_argument("--sft-batch", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        generate(20, Path(tmp) / "val", seed=10_000, workers=2)
        scenarios = list(read_scenarios(Path(tmp) / "val"))
        sim = [int((s.tracks.valid[:, s.current_step]).sum()) for s in scenarios]
        best = min(range(len(scenarios)), key=lambda i: abs(sim[i] - args.agents))
        scene_file = Path(tmp) / "scene.tfrecord"
        write_scenarios(scene_file, [scenarios[best]])
        mpo = bench_mpo(
            args.checkpoint, scenarios[best], scene_file, args.repeats, args.rollouts, args.grad_rollouts
        )
        sft = bench_sft(args.checkpoint, scenarios, args.repeats, args.sft_batch)
    total = mpo["total"]
    result = {
        "machine": machine(),
        "checkpoint": args.checkpoint,
        "scenario": scenarios[best].scenario_id,
        "sim_agents": sim[best],
        "rollouts": args.rollouts,
        "grad_rollouts": args.grad_rollouts,
        "mpo_update_s": mpo,
        "mpo_share": {k: mpo[k] / total for k in ("rollout", "reward", "backward")},
        "rft_scenarios_per_s": 1.0 / total,
        "sft_step_s": sft["step"],
        "sft_batch": sft["batch_size"],
        "sft_scenarios_per_s": sft["batch_size"] / sft["step"],
        "target_mpo_update_s": 5.0,
    }
    m = result["machine"]
    lines = [
        "# Fine-tuning speed",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']} ({args.threads} threads), "
        f"device {m.get('device', 'cpu')}. Model: `{args.checkpoint}` (nano). Medians of {args.repeats} "
        "updates after a warm-up.",
        "",
        f"One MPO update on generated scene {result['scenario']} ({sim[best]} simulated agents): "
        f"{args.rollouts} rollouts for the reward, {args.grad_rollouts} replayed with gradients.",
        "",
        "| phase | seconds | share |",
        "|---|---|---|",
    ]
    for k in ("rollout", "reward", "backward"):
        lines.append(f"| {k} | {mpo[k]:.2f} | {result['mpo_share'][k]:.0%} |")
    verdict = "meets" if total < 5.0 else "misses"
    lines += [
        f"| **total** | **{total:.2f}** | {verdict} the 5 s target |",
        "",
        "| stage | scenarios / s | step |",
        "|---|---|---|",
        f"| RFT (MPO, 1 scenario x {args.rollouts} rollouts per update) | {result['rft_scenarios_per_s']:.2f} | "
        f"{total:.2f} s |",
        f"| CAT-K SFT (batch {sft['batch_size']}, one rollout per scenario) | "
        f"{result['sft_scenarios_per_s']:.2f} | {sft['step']:.2f} s |",
    ]
    write_results("finetune", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
