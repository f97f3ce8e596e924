"""A training data order that a resumed run reproduces exactly.

Epoch e visits the scenes in `randperm(n)` seeded by (seed, e), each rank of a distributed run taking
every world_size-th of them (padded by wrapping, as torch's DistributedSampler does). The order thus
depends only on (seed, epoch, rank), and the position inside it only on how many batches training has
consumed, which Lightning restores as `global_step`; the loader reports that count in its checkpoint
state (not the batches it has prefetched) and skips to it on resume.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler[int]):
    def __init__(
        self, n: int, batch_size: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ):
        if n <= 0:
            raise ValueError("EpochSampler needs at least one sample")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.skip = 0  # batches to skip at the start of the next iteration

    @property
    def per_rank(self) -> int:
        return math.ceil(self.n / self.world_size)

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(self.per_rank / self.batch_size)

    def order(self, epoch: int) -> list[int]:
        """This rank's samples of `epoch`, in order."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        total = self.per_rank * self.world_size
        perm = (perm * math.ceil(total / self.n))[:total]
        return perm[self.rank :: self.world_size]

    def seek(self, batches: int) -> None:
        """Make the next iteration start after `batches` consumed batches (counted from the start)."""
        self.epoch, self.skip = divmod(int(batches), self.batches_per_epoch)

    def __iter__(self) -> Iterator[int]:
        epoch, start = self.epoch, self.skip * self.batch_size
        self.epoch, self.skip = epoch + 1, 0
        yield from self.order(epoch)[start:]

    def __len__(self) -> int:
        return self.per_rank


class ResumableLoader(DataLoader):
    """A DataLoader over an `EpochSampler` with Lightning's `state_dict` / `load_state_dict` interface.

    `consumed()` returns the batches training has used so far (the trainer's global step, one batch per
    optimizer step); that, not the iterator's own count, is saved, so prefetched batches are not lost.
    """

    def __init__(self, dataset, sampler: EpochSampler, consumed: Callable[[], int], **kwargs):
        super().__init__(dataset, batch_size=sampler.batch_size, sampler=sampler, **kwargs)
        self.consumed = consumed

    def _identity(self) -> dict:
        s = self.sampler
        return {"n": s.n, "batch_size": s.batch_size, "seed": s.seed, "world_size": s.world_size}

    def state_dict(self) -> dict:
        return {**self._identity(), "batches": int(self.consumed())}

    def load_state_dict(self, state: dict) -> None:
        ident = {k: state.get(k) for k in self._identity()}
        if ident != self._identity():
            raise ValueError(
                f"cannot resume the training data order: the checkpoint was made with {ident}, "
                f"this run has {self._identity()} (different data, batch size, seed or devices)"
            )
        self.sampler.seek(state["batches"])
