"""`smartr1 vocab build FILES --out vocab.pt`: cluster a motion vocabulary from scenario shards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def vocab_build_command(
    files: Annotated[list[str], typer.Argument(help="Scenario TFRecord files, directories or globs.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the vocabulary (.pt).")],
    size: Annotated[int, typer.Option(help="Tokens per agent class (published SMART: 2048).")] = 512,
    seed: Annotated[int, typer.Option(help="Seed of segment sampling and clustering order.")] = 0,
    max_segments: Annotated[int, typer.Option(help="Segments per class used for clustering.")] = 200_000,
    coverage: Annotated[float, typer.Option(help="Fraction of segments the disks must cover.")] = 0.995,
    prior_fraction: Annotated[
        float, typer.Option(help="Share of tokens reserved for synthetic motions the data does not cover.")
    ] = 0.125,
    skip_bad: Annotated[bool, typer.Option(help="Skip corrupt records instead of failing.")] = False,
) -> None:
    """Build a k-disk motion vocabulary (deterministic for a seed) and save it atomically."""
    from rich.console import Console
    from rich.table import Table

    from smartr1.cli.options import scenario_files
    from smartr1.data.errors import DataError
    from smartr1.data.womd import read_scenarios
    from smartr1.tokens.vocab_build import build_vocab

    console = Console()
    stats: dict = {}
    try:
        paths = scenario_files(files)
        with console.status("reading scenarios and clustering ..."):
            vocab = build_vocab(
                read_scenarios(paths, skip_bad=skip_bad),
                size=size,
                seed=seed,
                max_segments=max_segments,
                coverage=coverage,
                prior_fraction=prior_fraction,
                stats=stats,
            )
    except DataError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from e
    if stats.get("scenarios", 0) == 0:
        console.print(f"[red]error:[/red] {', '.join(files)}: no scenario found (every record was bad)")
        raise typer.Exit(1)
    vocab.save(out)
    table = Table(
        title=f"motion vocabulary {vocab.hash} ({size} tokens per class, {stats['scenarios']} scenarios)"
    )
    for col in ("class", "segments", "data tokens", "prior tokens", "disk radius m", "coverage", "seconds"):
        table.add_column(col, justify="right")
    for name, c in stats["classes"].items():
        table.add_row(
            name,
            str(c["segments"]),
            str(c["data_tokens"]),
            str(c["prior_tokens"]),
            f"{c['tol_m']:.3f}",
            f"{c['coverage']:.3f}",
            f"{c['cluster_s']:.1f}",
        )
    console.print(table)
    console.print(f"wrote {out} in {stats['total_s']:.1f} s")
