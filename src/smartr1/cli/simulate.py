"""`smartr1 simulate --checkpoint PATH --scenarios FILES --out DIR`: closed-loop rollouts as WOSAC shards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import Threads, apply_threads, chunks


def simulate_command(
    checkpoint: Annotated[
        str,
        typer.Option(
            help="Model checkpoint, or a reference policy: constant-velocity, logged-oracle, stationary."
        ),
    ],
    scenarios: Annotated[
        list[str], typer.Option("--scenarios", "-s", help="Scenario TFRecord files / globs.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the ScenarioRollouts shards.")],
    rollouts: Annotated[int, typer.Option(help="Joint rollouts per scenario (WOSAC: 32).")] = 32,
    seed: Annotated[int, typer.Option(help="Sampling seed (results are reproducible per scenario).")] = 0,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = "cpu",
    top_k: Annotated[int, typer.Option(help="Sample among the top-k tokens (1 = greedy).")] = 5,
    temperature: Annotated[float, typer.Option(help="Softmax temperature of sampling.")] = 1.0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Scenarios simulated together in one batched pass (model policies).")
    ] = 4,
    scenarios_per_shard: Annotated[int, typer.Option(help="Scenarios per output shard.")] = 64,
    skip_bad: Annotated[bool, typer.Option(help="Skip corrupt records instead of failing.")] = False,
    threads: Threads = None,
) -> None:
    """Simulate every agent valid at the current step for 8 s and write official ScenarioRollouts shards."""
    apply_threads(threads)
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from smartr1.data.womd import expand_paths, read_scenarios
    from smartr1.metrics.submission import write_rollout_shards
    from smartr1.rollout.policy import load_policy

    console = Console()
    if rollouts < 1:
        console.print("[red]error:[/red] --rollouts must be at least 1")
        raise typer.Exit(2)
    files = expand_paths(scenarios)
    if not files:
        console.print(f"[red]error:[/red] no scenario files match {scenarios}")
        raise typer.Exit(1)
    policy = load_policy(
        checkpoint, device=device, top_k=top_k, temperature=temperature, scenarios_per_batch=batch_size
    )
    stats = {"scenarios": 0, "agents": 0, "seconds": 0.0}

    def generate(progress, task):
        for chunk in chunks(read_scenarios(files, skip_bad=skip_bad), batch_size):
            t = time.perf_counter()
            ros = policy.rollout(list(chunk), num_rollouts=rollouts, seed=seed)
            stats["seconds"] += time.perf_counter() - t
            for ro in ros:
                stats["scenarios"] += 1
                stats["agents"] += ro.num_agents
                progress.advance(task)
                yield ro

    with Progress(
        TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("sim", total=None)
        shards = write_rollout_shards(out, generate(progress, task), scenarios_per_shard=scenarios_per_shard)
    n = max(1, stats["scenarios"])
    console.print(
        f"{stats['scenarios']} scenarios, {stats['agents']} agents, {rollouts} rollouts each: "
        f"{stats['seconds']:.1f} s ({stats['seconds'] / n:.2f} s per scenario); {len(shards)} shard(s) in {out}"
    )
