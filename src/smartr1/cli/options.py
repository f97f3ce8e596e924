"""Options that several verbs share, declared once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Annotated

import typer

Threads = Annotated[
    int | None, typer.Option(help="torch intra-op threads (1 is often faster on a busy machine).")
]


def apply_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def chunks(items: Iterable, n: int) -> Iterator[list]:
    """Consecutive lists of up to n items (itertools.batched arrives only in Python 3.12)."""
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk
