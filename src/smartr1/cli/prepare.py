"""`smartr1 prepare FILES --vocab V --cache-dir DIR [--ray]`: tokenize scenario shards into the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import RayAddress, scenario_files


def prepare_command(
    files: Annotated[list[str], typer.Argument(help="Scenario TFRecord files, directories or globs.")],
    vocab: Annotated[Path, typer.Option(help="The motion vocabulary (.pt) training will use.")],
    cache_dir: Annotated[Path, typer.Option(help="Token cache directory (shared storage on a cluster).")],
    skip_bad: Annotated[bool, typer.Option(help="Skip corrupt records instead of failing.")] = False,
    ray: RayAddress = None,
) -> None:
    """Tokenize every shard once (motion tokens, map segments, loss agents) so that training only reads
    the cache; shards already cached are skipped."""
    from rich.console import Console

    from smartr1.distributed.datasets import prepare_dataset

    console = Console()
    results = prepare_dataset(
        scenario_files(files), vocab, cache_dir, ray_address=ray, console=console, skip_bad=skip_bad
    )
    n = sum(r["scenarios"] for r in results)
    bad = sum(r["bad_records"] for r in results)
    console.print(
        f"{len(results)} shard(s), {n} scenarios in {cache_dir}"
        + (f"; skipped {bad} bad record(s)" if bad else "")
    )
