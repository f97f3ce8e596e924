"""`smartr1 simulate --checkpoint PATH --scenarios FILES --out DIR`: closed-loop rollouts as WOSAC shards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import RayAddress, Threads, apply_threads, scenario_files
from smartr1.distributed.options import SimulateOptions

DEFAULT = SimulateOptions()  # the options' defaults are the CLI's


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
    rollouts: Annotated[
        int, typer.Option(help="Joint rollouts per scenario (WOSAC: 32).")
    ] = DEFAULT.num_rollouts,
    seed: Annotated[
        int, typer.Option(help="Sampling seed (results are reproducible per scenario).")
    ] = DEFAULT.seed,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, ...")] = DEFAULT.device,
    top_k: Annotated[int, typer.Option(help="Sample among the top-k tokens (1 = greedy).")] = DEFAULT.top_k,
    temperature: Annotated[
        float, typer.Option(help="Softmax temperature of sampling.")
    ] = DEFAULT.temperature,
    start: Annotated[
        str, typer.Option(help="Where the future's token chain starts: logged (step-10 pose) or tokenized.")
    ] = DEFAULT.start,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Scenarios simulated together in one batched pass (model policies; >1 helps on GPUs, not on CPU).",
        ),
    ] = DEFAULT.scenarios_per_batch,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip corrupt records instead of failing.")
    ] = DEFAULT.skip_bad,
    threads: Threads = None,
    ray: RayAddress = None,
) -> None:
    """Simulate every agent valid at the current step for 8 s and write official submission shards,
    one per input shard (`submission.binproto-0000i-of-0000n`, ready to package)."""
    apply_threads(threads)
    import time

    from rich.console import Console

    from smartr1.distributed.datasets import inputs_key, simulate_dataset

    console = Console()
    if rollouts < 1:
        console.print("[red]error:[/red] --rollouts must be at least 1")
        raise typer.Exit(2)
    files = scenario_files(scenarios)
    options = SimulateOptions(num_rollouts=rollouts, seed=seed, device=device, top_k=top_k, temperature=temperature,
                              start=start, scenarios_per_batch=batch_size, skip_bad=skip_bad,
                              threads=threads or DEFAULT.threads)  # fmt: skip
    t = time.perf_counter()
    shards = simulate_dataset(
        files, checkpoint, out, ray_address=ray, console=console,
        results_key=inputs_key(files, checkpoint, options), options=options,
    )  # fmt: skip
    seconds = time.perf_counter() - t
    console.print(f"{len(files)} scenario shard(s), {rollouts} rollouts per scenario: {seconds:.1f} s; "
                  f"{len(shards)} submission shard(s) in {out}")  # fmt: skip
