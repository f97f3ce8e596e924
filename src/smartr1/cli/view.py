"""`smartr1 view`: one self-contained HTML file to scrub through scenes, rollouts and two models, with
per-agent WOSAC diagnostics (which components an agent fails, where it collides or leaves the road)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def view_command(
    scenarios: Annotated[
        list[str],
        typer.Option("--scenarios", help="Scenario TFRecord files, directories or globs (repeatable)."),
    ],
    submission: Annotated[
        list[str],
        typer.Option(help="Rollouts (binproto, shard directory or glob, .tar.gz); give one or two."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("view.html"),
    label: Annotated[
        str | None, typer.Option(help="Comma-separated names of the submissions, e.g. pretrain,final.")
    ] = None,
    max_scenarios: Annotated[int, typer.Option(min=0, help="Show at most this many (0 = all).")] = 0,
    config: Annotated[str, typer.Option(help="Metric config: 2025 (default) or 2024.")] = "2025",
) -> Path:
    """Write ONE self-contained HTML viewer (opens from disk, nothing fetched): scenario list sorted by
    realism, map and agents over time, one or all rollouts, two models side by side, and per agent
    its WOSAC component likelihoods and the rollouts in which it collides, leaves the road or runs a
    red light."""
    from smartr1.reports.view import write_view  # on use: `smartr1 --help` must not load torch

    labels = [x.strip() for x in label.split(",")] if label else None
    path = write_view(scenarios, submission, labels, out, max_scenarios=max_scenarios or None, config=config)
    size = path.stat().st_size / 1e6
    typer.echo(f"wrote {path} ({size:.2f} MB); open it in a browser")
    return path
