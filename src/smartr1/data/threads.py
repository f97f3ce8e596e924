"""Temporarily limiting torch's intra-op threads.

Tokenizing and the metric run many small ops, for which extra threads only add synchronisation: on
a small shared CPU, OpenMP barriers under load cost far more than they save (see
benchmarks/results/metrics.md), so these paths run on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Run the block with `n` intra-op threads (None: leave as is); restored on exit."""
    old = torch.get_num_threads()
    change = n is not None and n != old
    if change:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(old)
