"""`smartr1 evaluate`: WOSAC 2025 realism metrics of a submission against scenario files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import RayAddress
from smartr1.distributed.options import EvaluateOptions

DEFAULT = EvaluateOptions()  # the options' defaults are the CLI's


def evaluate_command(
    scenarios: Annotated[
        list[str],
        typer.Option("--scenarios", help="Scenario TFRecord files, directories or globs (repeatable)."),
    ],
    submission: Annotated[
        str, typer.Option(help="Rollouts: a binproto, a directory or glob of shards, or a packaged .tar.gz.")
    ],
    out: Annotated[Path, typer.Option(help="Where to write the metrics JSON.")] = Path("metrics.json"),
    device: Annotated[
        str, typer.Option(help="torch device for the metric (cpu, cuda, ...).")
    ] = DEFAULT.device,
    config: Annotated[str, typer.Option(help="Metric config: 2025 (default) or 2024.")] = DEFAULT.config,
    batch_size: Annotated[int, typer.Option(help="Scenarios scored together.")] = DEFAULT.batch_size,
    threads: Annotated[
        int,
        typer.Option(help="torch intra-op threads (0 = torch default); 1 is fastest on small shared CPUs."),
    ] = 1,
    num_rollouts: Annotated[
        int, typer.Option(help="Required joint scenes per scenario (official: 32; 0 accepts any count).")
    ] = DEFAULT.num_rollouts,
    per_agent: Annotated[
        bool,
        typer.Option(help="Also write per evaluated agent its component likelihoods, event steps, minADE."),
    ] = False,
    ray: RayAddress = None,
) -> None:
    """Score every scenario, print a table and write per-scenario and dataset metrics (official names).

    Scenarios the metric cannot score (no road edge) are listed by name under "unscorable" and
    skipped; their rollouts must still follow the submission rules."""
    from rich.console import Console
    from rich.table import Table

    from smartr1.cli.options import scenario_files
    from smartr1.data.atomic import atomic_write_bytes
    from smartr1.data.threads import torch_threads
    from smartr1.distributed.datasets import evaluate_dataset, inputs_key
    from smartr1.metrics.aggregate import BUCKET_FIELDS, METRIC_FIELDS

    scenario_files(scenarios)  # none at all: one error naming them, before the submission is read
    console = Console()
    options = EvaluateOptions(
        device=device, config=config, batch_size=batch_size, num_rollouts=num_rollouts or None
    )
    # per-shard results are kept beside the output, keyed by the inputs: a rerun skips finished shards
    shards_dir = out.parent / f".{out.name}.{inputs_key(scenarios, submission, options)}.shards"
    with torch_threads(threads or None):
        report = evaluate_dataset(scenarios, submission, shards_dir, ray_address=ray, console=console,
                                  options=options)  # fmt: skip
    text = report.to_json(submission=str(submission), scenario_files=[str(s) for s in scenarios])
    if per_agent:  # adds "per_agent": {scenario_id: ...} (smartr1.metrics.per_agent), the rest unchanged
        from smartr1.reports.view import with_per_agent

        text = with_per_agent(text, scenarios, submission, config, device)
    atomic_write_bytes(out, [text.encode()])

    table = Table(title=f"WOSAC {report.config} metrics ({report.num_scenarios} scenarios)")
    table.add_column("field")
    ids = list(report.scenarios)
    show_ids = ids if len(ids) <= 4 else []
    for sid in show_ids:
        table.add_column(sid, justify="right")
    table.add_column("dataset mean", justify="right", style="bold")
    for f in METRIC_FIELDS:
        table.add_row(f, *[f"{report.scenarios[s][f]:.4f}" for s in show_ids], f"{report.dataset[f]:.4f}")
    table.add_section()
    for f in BUCKET_FIELDS:
        table.add_row(f, *[f"{report.scenarios[s][f]:.4f}" for s in show_ids], f"{report.buckets[f]:.4f}")
    console.print(table)
    for sid, why in sorted(report.unscorable.items()):
        console.print(f"[yellow]unscorable, not in the means:[/yellow] {sid}: {why}", highlight=False)
    console.print(f"wrote {out}")
