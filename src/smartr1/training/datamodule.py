"""LightningDataModule over Scenario TFRecord shards (WOMD or generated: the same format).

Scenarios are tokenized once into the token cache (`smartr1.training.cache`) in `prepare_data` (one
process), so that distributed ranks only read the cache. The training order is resumable
(`smartr1.training.data_order`): a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch.utils.data import DataLoader

from smartr1.tokens.batch import collate, collate_cropped
from smartr1.tokens.scene import TokenizedScene
from smartr1.training.cache import TokenizedDataset
from smartr1.training.config import DataConfig
from smartr1.training.data_order import EpochSampler, ResumableLoader


def _every_agent_trains(collate_fn, scenes: list[TokenizedScene]):
    """`data.loss_agents: all`: every agent carries a loss wherever it has a logged next token."""
    return collate_fn([s._replace(train_mask=torch.ones_like(s.agents.sim_mask)) for s in scenes])


class SceneDataModule(L.LightningDataModule):
    def __init__(self, cfg: DataConfig, vocab, seed: int = 0, map_crop_radius: float | None = None):
        """`map_crop_radius`: drop map segments beyond the model's reach (see `crop_map`)."""
        super().__init__()
        self.cfg = cfg
        self.map_crop_radius = map_crop_radius
        self.vocab = vocab
        self.seed = seed
        self.train_set = None
        self.val_set = None

    def _dataset(self, files):
        return TokenizedDataset(files, self.vocab, cache_dir=self.cfg.cache_dir, skip_bad=self.cfg.skip_bad)

    def prepare_data(self):
        for files in (self.cfg.train, self.cfg.val):
            if files:
                self._dataset(files)

    def setup(self, stage: str | None = None):
        if self.train_set is None:
            if not self.cfg.train:
                raise ValueError("no training data given (data.train is empty)")
            self.train_set = self._dataset(self.cfg.train)
            if len(self.train_set) == 0:
                raise ValueError(f"no usable scenarios in {self.cfg.train}")
        if self.val_set is None and self.cfg.val:
            self.val_set = self._dataset(self.cfg.val)

    def _ranks(self) -> tuple[int, int]:
        t = self.trainer
        return (t.global_rank, t.world_size) if t is not None else (0, 1)

    def consumed_batches(self) -> int:
        """Training batches used so far: one per optimizer step."""
        return self.trainer.global_step if self.trainer is not None else 0

    def _loader(self, ds, shuffle: bool):
        fn = (
            collate if self.map_crop_radius is None else partial(collate_cropped, radius=self.map_crop_radius)
        )
        if self.cfg.loss_agents == "all":
            fn = partial(_every_agent_trains, fn)
        rank, world = self._ranks()
        sampler = EpochSampler(len(ds), self.cfg.batch_size, self.seed, shuffle, rank, world)
        kw = dict(
            collate_fn=fn, num_workers=self.cfg.num_workers, persistent_workers=self.cfg.num_workers > 0
        )
        if shuffle:
            return ResumableLoader(ds, sampler, self.consumed_batches, **kw)
        return DataLoader(ds, batch_size=self.cfg.batch_size, sampler=sampler, **kw)

    def train_dataloader(self):
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self):
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        return batch.to(device)
