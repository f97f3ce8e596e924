"""Model benchmark: parameter counts, training throughput and closed-loop rollout time per named size.

Rollout: 32 rollouts x 8 s (16 tokens) of one 64-agent scene with 600 map segments, in one batched
pass. Achieved FLOP/s (matmul FLOPs counted by torch's FlopCounterMode) is reported against the
machine's matmul peak measured in the same run. Inputs are synthetic (smartr1.testing.batches), so
the figures measure compute, not model quality.

    .venv/bin/python benchmarks/bench_model.py [--sizes nano mini tiny] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from common import RESULTS, write_results
from common import machine as describe_machine

from smartr1.model.smart import SMART, model_config
from smartr1.rollout.engine import rollout_batch
from smartr1.testing.batches import arc_vocab_poses, random_scene_batch
from smartr1.training.losses import next_token_loss
from smartr1.training.pretrain import next_token_targets

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


def _median_time(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


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

    med = _median_time(step, steps)
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


def _generated(num: int, seed: int = 7):
    """`num` generated SUMO scenarios (default worlds), and a 512-token vocabulary built from them."""
    import tempfile

    from smartr1.data.sumo.generate import generate
    from smartr1.data.womd import read_scenarios
    from smartr1.tokens.vocab_build import build_vocab

    with tempfile.TemporaryDirectory() as d:
        generate(num, d, seed=seed, workers=2, progress=False)
        scenarios = list(read_scenarios(d))
    return scenarios, build_vocab(scenarios, size=512, seed=0)


def bench_simulate(scenarios, vocab, per_batch: list[int], rollouts: int = 32, reps: int = 1) -> dict:
    """Seconds per scenario of ModelPolicy.rollout at several scenarios per pass (same outputs)."""
    import numpy as np

    from smartr1.rollout.policy import ModelPolicy

    torch.manual_seed(0)
    m = SMART(model_config("nano", vocab_size=vocab.size), vocab.poses).eval()
    out, ref = {}, None
    for n in per_batch:
        pol = ModelPolicy(m, vocab, scenarios_per_batch=n)
        pol.rollout(scenarios[:1], num_rollouts=2)  # warm-up
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            ros = pol.rollout(scenarios, num_rollouts=rollouts, seed=0)
            best = min(best, time.perf_counter() - t)
        if ref is None:
            ref = ros
        same = all(
            np.array_equal(a.x, b.x) and np.array_equal(a.heading, b.heading)
            for a, b in zip(ros, ref, strict=True)
        )
        out[n] = {"seconds": best, "seconds_per_scenario": best / len(scenarios), "same_output": same}
        print(
            f"simulate {len(scenarios)} scenarios, {n} per pass: {best:.2f} s (same output: {same})",
            flush=True,
        )
    agents = [len(s.sim_agent_index()) for s in scenarios]
    return {"scenarios": len(scenarios), "sim_agents_mean": sum(agents) / len(agents), "rollouts": rollouts,
            "by_scenarios_per_batch": out}  # fmt: skip


def _reward_times(sc, batch, out, ctx, reps: int) -> dict:
    from smartr1.metrics.reward import metametric_reward
    from smartr1.rollout.engine import to_rollouts
    from smartr1.rollout.metric_order import metric_future

    paths = {
        "convert_numpy": lambda: ctx.align([to_rollouts(sc, batch, 0, out)]),
        "convert_tensor": lambda: metric_future(out, batch, ctx.batch),
    }
    assert torch.equal(paths["convert_numpy"](), paths["convert_tensor"]())
    paths["numpy"] = lambda: metametric_reward(ctx, paths["convert_numpy"]())
    paths["tensor"] = lambda: metametric_reward(ctx, paths["convert_tensor"]())
    return {name: _median_time(fn, reps) for name, fn in paths.items()}


def bench_reward_path(scenarios, vocab, reps: int = 7) -> dict:
    """One scenario's 32 rollouts into the meta-metric: NumPy round trip vs tensor path (median s)."""
    from smartr1.metrics.scoring import ScenarioContext
    from smartr1.rollout.engine import rollout_batch
    from smartr1.tokens.batch import token_batch

    torch.manual_seed(0)
    m = SMART(model_config("nano", vocab_size=vocab.size), vocab.poses).eval()
    rows = []
    for sc in scenarios:
        batch = token_batch([sc], vocab)
        out = rollout_batch(m, batch, num_rollouts=32, seed=0)
        times = _reward_times(sc, batch, out, ScenarioContext.build([sc]), reps)
        rows.append({"scenario_id": sc.scenario_id, "sim_agents": len(sc.sim_agent_index()), **times})
    mean = {
        k: statistics.mean(r[k] for r in rows) for k in ("numpy", "tensor", "convert_numpy", "convert_tensor")
    }
    print(
        f"reward per scenario: numpy path {mean['numpy'] * 1e3:.1f} ms, tensor {mean['tensor'] * 1e3:.1f} ms"
    )
    return {"per_scenario": rows, "mean_seconds": mean}


def render(result: dict) -> list[str]:
    m = result["machine"]
    lines = [
        "# Model benchmark",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), "
        f"device {m['device']}, load average {m['loadavg_1min_start']:.1f} -> {m['loadavg_end'][0]:.1f}; "
        f"measured matmul peak {m['matmul_peak_flops'] / 1e9:.1f} GFLOP/s.",
    ]
    rows = result.get("sizes")
    if rows:
        lines += [
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
        if "rollout_seconds_by_threads" in rows.get("nano", {}):
            bt = rows["nano"]["rollout_seconds_by_threads"]
            lines += [
                "",
                "nano rollout by intra-op threads: " + ", ".join(f"{k}: {v:.2f} s" for k, v in bt.items()),
            ]
    sim = result.get("simulate")
    if sim:
        by = sim["by_scenarios_per_batch"]
        base = by[min(by, key=int)]["seconds"]
        lines += [
            "",
            f"## Simulation: scenarios per batched pass ({sim['scenarios']} generated SUMO scenarios, "
            f"{sim['sim_agents_mean']:.0f} sim agents on average, {sim['rollouts']} rollouts, nano)",
            "",
            "| scenarios per pass | seconds | s per scenario | speed-up vs 1 | same output as 1 per pass |",
            "|---|---|---|---|---|",
        ]
        for n, r in by.items():
            lines.append(
                f"| {n} | {r['seconds']:.2f} | {r['seconds_per_scenario']:.3f} | {base / r['seconds']:.2f}x "
                f"| {'yes' if r['same_output'] else 'NO'} |"
            )
    rw = result.get("reward")
    if rw:
        mean = rw["mean_seconds"]
        lines += [
            "",
            "## Reward path: one scenario's 32 rollouts into the WOSAC meta-metric (nano rollouts, cached context)",
            "",
            "| path | conversion only (ms) | conversion + metric (ms) |",
            "|---|---|---|",
            f"| NumPy round trip (`to_rollouts` -> `Rollouts` -> `align`) | {mean['convert_numpy'] * 1e3:.2f} "
            f"| {mean['numpy'] * 1e3:.1f} |",
            f"| tensor path (`metric_future`, one gather) | {mean['convert_tensor'] * 1e3:.2f} | {mean['tensor'] * 1e3:.1f} |",
            "",
            f"Mean over {len(rw['per_scenario'])} generated scenarios (median of repeats each); both paths give "
            "bit-identical rewards (checked in the run).",
        ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["nano", "mini", "tiny"])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads")
    ap.add_argument(
        "--parts", nargs="+", default=["sizes", "simulate", "reward"], help="sizes, simulate, reward; "
        "parts not run keep their previous results"
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reps = 1 if args.quick else 3
    machine = describe_machine("cpu")
    machine["matmul_peak_flops"] = peak = matmul_peak()
    old = RESULTS / "model.json"
    result = json.loads(old.read_text()) if old.exists() else {}
    result["machine"] = machine
    result["goal"] = "nano: 32 x 8 s rollouts of a 64-agent scene < 5 s on 2 cores"
    if "sizes" in args.parts:
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
        if "nano" in rows:  # the same nano rollout at 1 and 2 threads: oversubscription on a busy machine
            by_threads = {}
            for n in (1, 2):
                torch.set_num_threads(n)
                by_threads[n] = bench_rollout("nano", agents=64, segments=600, rollouts=32, reps=reps)[
                    "seconds"
                ]
            torch.set_num_threads(args.threads)
            rows["nano"]["rollout_seconds_by_threads"] = by_threads
        base = rows.get("nano", next(iter(rows.values())))["rollout"]["seconds"]
        for r in rows.values():
            r["rollout_vs_nano"] = r["rollout"]["seconds"] / base
        result["sizes"] = rows
    if "simulate" in args.parts or "reward" in args.parts:
        scenarios, vocab = _generated(8)
        if "simulate" in args.parts:
            result["simulate"] = bench_simulate(scenarios, vocab, [1, 2, 4, 8], reps=1 if args.quick else 2)
        if "reward" in args.parts:
            result["reward"] = bench_reward_path(scenarios, vocab, reps=3 if args.quick else 7)
    machine["loadavg_end"] = os.getloadavg()
    lines = render(result)
    write_results("model", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
