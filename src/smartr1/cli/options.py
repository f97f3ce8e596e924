"""Options that several verbs share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

Threads = Annotated[
    int | None, typer.Option(help="torch intra-op threads (1 is often faster on a busy machine).")
]


def apply_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)
