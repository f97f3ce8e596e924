"""Throughput of scale-out and of the sim-agents API: `python benchmarks/bench_distributed.py [--run runs/demo]`.

1. WOSAC evaluation of the demo's held-out scenarios (one shard per scenario, its SMART rollouts),
   single-process against Ray with 2 workers on this machine, the results checked equal; the
   per-scenario cost extrapolated to WOMD's 44,097 validation scenarios per core.
2. Steps per second of `SimAgents.step` (every agent but the ego driven by the model) and of the Gym
   environment with the IDM example controller, on the real WOMD scenarios, shipped checkpoint.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, machine, write_results

from smartr1.data.womd import read_scenarios, write_scenarios
from smartr1.distributed.datasets import evaluate_dataset
from smartr1.distributed.runner import connect_ray
from smartr1.metrics.report import MetricsReport

WOMD_VALIDATION = 44_097


def _evaluate(shards, submission, ray) -> tuple[MetricsReport, float]:
    with tempfile.TemporaryDirectory() as results:
        t = time.perf_counter()
        out = evaluate_dataset(shards, submission, results, ray_address=ray)
        return out, time.perf_counter() - t


def _api_steps(scenarios) -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    import gymnasium as gym
    from idm_ego import idm_action

    import smartr1.sim  # noqa: F401
    from smartr1.sim.agents import SimAgents

    sim = SimAgents.from_checkpoint("smartr1-nano-sumo")
    steps, t = 0, time.perf_counter()
    for sc in scenarios:
        sim.reset(sc)
        while not sim.done:
            sim.step()
            steps += 1
    api = steps / (time.perf_counter() - t)
    env = gym.make("smartr1/SimAgents-v0", scenarios=scenarios, checkpoint="smartr1-nano-sumo")
    steps, t = 0, time.perf_counter()
    for i in range(len(scenarios)):
        obs, _ = env.reset(seed=i, options={"scenario": i})
        done = False
        while not done:
            obs, _, term, trunc, _ = env.step(idm_action(obs))
            steps += 1
            done = term or trunc
    return {"api_steps_per_s": api, "env_steps_per_s": steps / (time.perf_counter() - t),
            "agents": [len(sc.tracks.x) for sc in scenarios]}  # fmt: skip


def _ensure_inputs(run: Path) -> None:
    """The demo's held-out scenes and SMART rollouts; made here (20 generated scenes, the shipped
    checkpoint) when there is no demo run, so the benchmark works on a fresh checkout."""
    cli = [sys.executable, "-m", "smartr1.cli.main"]
    if not (run / "data" / "val").is_dir():
        subprocess.run([*cli, "generate", "--num", "20", "--out", str(run / "data" / "val"), "--seed", "1",
                        "--workers", "2"], check=True)  # fmt: skip
    if not (run / "rollouts" / "smart").is_dir():
        subprocess.run([*cli, "simulate", "--checkpoint", "smartr1-nano-sumo", "-s", str(run / "data" / "val"),
                        "-o", str(run / "rollouts" / "smart")], check=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/demo")
    args = ap.parse_args()
    run = Path(args.run)
    _ensure_inputs(run)
    load0 = os.getloadavg()[0]
    scen = list(read_scenarios(run / "data" / "val"))
    tmp = Path(tempfile.mkdtemp())
    shards = []
    for s in scen:
        path = tmp / f"{s.scenario_id}.tfrecord"
        write_scenarios(path, [s])
        shards.append(str(path))
    sub = str(run / "rollouts" / "smart")
    _evaluate(shards, sub, None)  # warm-up: imports, metric config (the submission must match the set)
    single, t1 = _evaluate(shards, sub, None)
    connect_ray("local")  # start-up (about 10 s) and worker warm-up are not counted
    _evaluate(shards, sub, "local")  # warm-up of the workers
    ray, t2 = _evaluate(shards, sub, "local")
    shutil.rmtree(tmp)
    equal = single == ray
    per_core = t1 / len(scen)
    api = _api_steps(list(read_scenarios(SHARED / "data" / "wosac" / "scenarios")))
    m = machine("cpu")
    m["load_average"] = [load0, os.getloadavg()[0]]
    result = {"machine": m, "scenarios": len(scen), "single_s": t1, "ray2_s": t2, "speedup": t1 / t2,
              "equal": equal, "s_per_scenario_core": per_core,
              "womd_validation_core_hours": per_core * WOMD_VALIDATION / 3600, **api}  # fmt: skip
    md = [
        "# Scale-out and sim-agents API throughput",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']}; no GPU; 1-min load average "
        f"{load0:.1f} at start, {m['load_average'][1]:.1f} at end (other jobs on the box lower the speed-up).",
        "",
        "| job | single process | Ray, 2 workers (warm) | speed-up | results equal |",
        "|---|---|---|---|---|",
        f"| evaluate {len(scen)} scenarios x 32 rollouts ({len(shards)} shards) | {t1:.1f} s | {t2:.1f} s | {t1 / t2:.2f}x | {equal} |",
        "",
        f"Per scenario and core: {per_core:.2f} s, so WOMD validation ({WOMD_VALIDATION:,} scenarios) takes "
        f"{result['womd_validation_core_hours']:.1f} core-hours: {result['womd_validation_core_hours'] / 64:.2f} h "
        "on a 64-core Ray cluster if it scales as here.",
        "",
        "| API | steps / s (0.1 s each) |",
        "|---|---|",
        f"| `SimAgents.step`, model drives all agents ({api['agents']} agents) | {api['api_steps_per_s']:.1f} |",
        f"| Gym env + IDM ego (collision / offroad checks included) | {api['env_steps_per_s']:.1f} |",
    ]
    write_results("distributed", result, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
