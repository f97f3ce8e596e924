"""Options that several verbs share, declared once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

Threads = Annotated[
    int | None, typer.Option(help="torch intra-op threads (1 is often faster on a busy machine).")
]


RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="[ADDRESS]",
        help="Spread the per-shard jobs over Ray: --ray alone (or --ray local) starts a local instance, "
        "--ray auto joins the running cluster, or give an address (ray://host:10001). "
        "Needs `pip install smartr1\\[ray]`.",
    ),
]
OPTIONAL_VALUES = {"--ray": "local"}  # options whose value may be left out (see `fill_optional_values`)


def fill_optional_values(argv: list[str]) -> list[str]:
    """Typer options always take a value; `--ray` alone means `--ray local`."""
    out = []
    for i, a in enumerate(argv):
        out.append(a)
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in OPTIONAL_VALUES and (nxt is None or nxt.startswith("-")):
            out.append(OPTIONAL_VALUES[a])
    return out


def apply_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def scenario_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """`smartr1.data.womd.scenario_files`, loaded on use so that `smartr1 --help` stays light."""
    from smartr1.data.womd import scenario_files as files

    return files(paths)
