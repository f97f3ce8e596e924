"""Model benchmark: parameter counts, training throughput and closed-loop rollout time per named size.

Rollout: 32 rollouts x 8 s (16 tokens) of one 64-agent scene with 600 map segments, in one batched
pass. Achieved FLOP/s (matmul FLOPs counted by torch's FlopCounterMode) is reported against the
machine's matmul peak measured in the same run. Inputs are synthetic (smartr1.testing.batches), so
the figures measure compute, not model quality.

    .venv/bin/python benchmarks/bench_model.py [--sizes nano mini tiny] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from common import machine as describe_machine
from common import write_results

from smartr1.model.smart import SMART, model_config
from smartr1.rollout.engine import rollout_batch
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch
from smartr1.training.pretrain import next_token_loss, next_token_targets

TARGETS = {"nano": 1.0e6, "mini": 3.0e6, "tiny": 7.0e6}


def matmul_peak(n: int = 2048, reps: int = 6) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


def bench_train(size: str, batch: int, agents: int, segments: int, steps: int) -> dict:
    torch.manual_seed(0)
    cfg = model_config(size)
    m = SMART(cfg, arc_vocab_poses(cfg.vocab_size)).train()
    opt = torch.optim.AdamW(m.parameters(), lr=5e-4)
    b = random_scene_batch(batch, agents, segments, m.vocab_poses, extent=150.0, seed=1)

    def step():
        logits, valid = m(b)
        loss, _ = next_token_loss(logits, *next_token_targets(b, valid))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        opt.step()

    step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {
        "batch": batch,
        "agents": agents,
        "map_segments": segments,
        "step_s": med,
        "scenarios_per_s": batch / med,
    }


def bench_rollout(size: str, agents: int, segments: int, rollouts: int, reps: int) -> dict:
    torch.manual_seed(0)
    cfg = model_config(size)
    m = SMART(cfg, arc_vocab_poses(cfg.vocab_size)).eval()
    b = random_scene_batch(1, agents, segments, m.vocab_poses, extent=150.0, seed=2)
    rollout_batch(m, b, num_rollouts=2)  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        rollout_batch(m, b, num_rollouts=rollouts, seed=0)
        times.append(time.perf_counter() - t)
    flops = count_flops(lambda: rollout_batch(m, b, num_rollouts=rollouts, seed=0))
    best = min(times)
    return {"agents": agents, "map_segments": segments, "rollouts": rollouts, "seconds": best,
            "seconds_all": times, "matmul_flops": flops, "flops_per_s": flops / best}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["nano", "mini", "tiny"])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reps = 1 if args.quick else 3
    machine = describe_machine("cpu")
    peak = matmul_peak()
    machine["matmul_peak_flops"] = peak
    rows = {}
    for size in args.sizes:
        params = SMART(model_config(size, vocab_size=2048)).num_parameters()
        params_default = SMART(model_config(size)).num_parameters()["total"]
        tr = bench_train(size, batch=4, agents=32, segments=300, steps=reps)
        ro = bench_rollout(size, agents=64, segments=600, rollouts=32, reps=reps if size == "nano" else 1)
        rows[size] = {"params_v2048": params, "params_default_vocab": params_default,
                      "vocab_default": model_config(size).vocab_size, "param_target": TARGETS[size],
                      "train": tr, "rollout": ro, "rollout_peak_fraction": ro["flops_per_s"] / peak}  # fmt: skip
        print(f"{size}: {params['total'] / 1e6:.2f}M params, train {tr['scenarios_per_s']:.2f} scen/s, "
              f"rollout {ro['seconds']:.2f} s ({ro['flops_per_s'] / 1e9:.1f} GFLOP/s)", flush=True)  # fmt: skip
    if "nano" in rows:  # the same nano rollout at 1 and 2 threads: shows oversubscription on a busy machine
        by_threads = {}
        for n in (1, 2):
            torch.set_num_threads(n)
            by_threads[n] = bench_rollout("nano", agents=64, segments=600, rollouts=32, reps=reps)["seconds"]
        torch.set_num_threads(args.threads)
        rows["nano"]["rollout_seconds_by_threads"] = by_threads
        print(f"nano rollout by threads: {by_threads}", flush=True)
    machine["loadavg_end"] = os.getloadavg()
    base = rows.get("nano", next(iter(rows.values())))["rollout"]["seconds"]
    for r in rows.values():
        r["rollout_vs_nano"] = r["rollout"]["seconds"] / base
    result = {
        "machine": machine,
        "goal": "nano: 32 x 8 s rollouts of a 64-agent scene < 5 s on 2 cores",
        "sizes": rows,
    }
    lines = [
        "# Model benchmark",
        "",
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, torch {machine['torch']} "
        f"({machine['torch_threads']} threads), load average {machine['loadavg_1min_start']:.1f} -> "
        f"{machine['loadavg_end'][0]:.1f}; measured matmul peak {peak / 1e9:.1f} GFLOP/s.",
        "",
        "| size | params (V=2048) | target | train scen/s (4 x 32 agents) | rollout s (32 x 8 s, 64 agents) "
        "| vs nano | GFLOP/s | of peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, r in rows.items():
        ro = r["rollout"]
        lines.append(
            f"| {size} | {r['params_v2048']['total'] / 1e6:.2f}M | {r['param_target'] / 1e6:.0f}M "
            f"| {r['train']['scenarios_per_s']:.2f} | {ro['seconds']:.2f} | {r['rollout_vs_nano']:.2f}x "
            f"| {ro['flops_per_s'] / 1e9:.1f} | {r['rollout_peak_fraction']:.1%} |"
        )
    if "nano" in rows:
        bt = rows["nano"]["rollout_seconds_by_threads"]
        lines += [
            "",
            "nano rollout by intra-op threads: " + ", ".join(f"{k}: {v:.2f} s" for k, v in bt.items()),
        ]
    write_results("model", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
