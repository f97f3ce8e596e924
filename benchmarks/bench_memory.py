"""Memory bounds: `python benchmarks/bench_memory.py [--scenarios 1000]`.

1. Streaming: read N real-size WOMD scenarios (the two real ones in ../shared, written N/2 times each
   into 10-scenario shards) with `read_scenarios` over all shards, one at a time, and record the
   resident set size after every 100: it must stay flat (growth << one shard).
2. Simulation of a 256-agent scene (the synthetic busy scene), 32 rollouts, shipped nano checkpoint:
   peak RSS added by the rollout.
The WOSAC metric's memory for a 256-agent scene x 32 rollouts is in results/metrics.md (synthetic256).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from common import SHARED, machine, write_results

from smartr1.data.tfrecord import iter_records, write_records
from smartr1.data.womd import read_scenarios

SHARD_SIZE = 10


def rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def streaming(n: int) -> dict:
    payloads = [
        p
        for f in sorted((SHARED / "data" / "wosac" / "scenarios").glob("*.tfrecord"))
        for p in iter_records(f)
    ]
    with tempfile.TemporaryDirectory() as d:
        shards = []
        for i in range(0, n, SHARD_SIZE):
            path = Path(d) / f"shard-{i // SHARD_SIZE:05d}.tfrecord"
            write_records(path, [payloads[j % len(payloads)] for j in range(i, min(n, i + SHARD_SIZE))])
            shards.append(path)
        size = sum(p.stat().st_size for p in shards) / 2**20
        trace, t = [], time.perf_counter()
        for k, s in enumerate(read_scenarios(shards), 1):
            del s
            if k % 100 == 0:
                trace.append((k, rss_mb()))
        seconds = time.perf_counter() - t
    return {"scenarios": n, "shards": len(shards), "data_mb": size, "seconds": seconds, "rss_trace": trace,
            "rss_growth_mb": trace[-1][1] - trace[0][1]}  # fmt: skip


def simulation() -> dict:
    import torch

    from smartr1.rollout.policy import load_policy
    from smartr1.testing.scenes import busy_scene

    scen, _ = busy_scene(num_agents=256, num_eval=8)
    policy = load_policy("smartr1-nano-sumo")
    policy.rollout([busy_scene(num_agents=8, num_eval=2, seed=1)[0]], num_rollouts=2)  # warm-up
    before, t = rss_mb(), time.perf_counter()
    with torch.no_grad():
        ros = policy.rollout([scen], num_rollouts=32, seed=0)
    return {"agents": len(scen.tracks.id), "sim_agents": int(ros[0].x.shape[1]), "seconds": time.perf_counter() - t,
            "rss_before_mb": before, "peak_rss_mb": peak_mb(), "added_mb": peak_mb() - before}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=1000)
    args = ap.parse_args()
    st = streaming(args.scenarios)
    sim = simulation()
    m = machine("cpu")
    result = {"machine": m, "streaming": st, "simulation_256": sim}
    first, last = st["rss_trace"][0], st["rss_trace"][-1]
    md = [
        "# Memory bounds",
        "",
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']}; no GPU.",
        "",
        f"Streaming read of {st['scenarios']} real-size WOMD scenarios ({st['shards']} shards, {st['data_mb']:.0f} MB) in "
        f"{st['seconds']:.1f} s: RSS {first[1]:.0f} MB after {first[0]}, {last[1]:.0f} MB after {last[0]} "
        f"(growth {st['rss_growth_mb']:+.1f} MB; bound: flat, under one 10-scenario shard, ~10 MB).",
        "",
        "| scenarios read | RSS (MB) |",
        "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in st["rss_trace"]],
        "",
        f"Simulation of a {sim['agents']}-agent scene ({sim['sim_agents']} simulated), 32 rollouts, nano, CPU: "
        f"{sim['seconds']:.1f} s, peak RSS {sim['peak_rss_mb']:.0f} MB ({sim['added_mb']:+.0f} MB over the "
        f"{sim['rss_before_mb']:.0f} MB before; bound: 2 GB).",
        "",
        "Evaluation of a 256-agent scene x 32 rollouts: see metrics.md, case synthetic256.",
    ]
    write_results("memory", result, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
