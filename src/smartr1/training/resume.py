"""Where a run keeps its checkpoints, and what it takes for a resumed run to equal an uninterrupted one."""

from __future__ import annotations

import io
import random
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from smartr1.data.atomic import atomic_write_bytes


def last_checkpoint(out_dir: str | Path) -> Path | None:
    p = Path(out_dir) / "checkpoints" / "last.ckpt"
    return p if p.exists() else None


class RandomState(L.Callback):
    """Saves the random generators (torch, CUDA, NumPy, Python) in every checkpoint and restores them
    when training resumes, so dropout and temporal-edge drop continue exactly as without the stop."""

    def __init__(self):
        self._pending: dict | None = None

    def state_dict(self) -> dict:
        name, keys, pos, has_gauss, cached = np.random.get_state()
        state = {  # plain types and tensors only, so checkpoints still load with weights_only=True
            "torch": torch.get_rng_state(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "python": random.getstate(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict  # applied when training starts, after everything else is set up

    def on_train_start(self, trainer, pl_module) -> None:
        if self._pending is None:
            return
        s, self._pending = self._pending, None
        torch.set_rng_state(s["torch"])
        name, keys, pos, has_gauss, cached = s["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        random.setstate(s["python"])
        if "cuda" in s and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(s["cuda"])


class SaveLastOnEnd(L.Callback):
    """Step-based checkpointing skips the final steps when max_steps is not a multiple of the period;
    this makes `last.ckpt` always the end state."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_end(self, trainer, pl_module):
        trainer.save_checkpoint(self.path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written like every other smartr1 file: complete under their final name or not at
    all (temporary file, fsync, rename), so a job killed mid-save resumes from the previous one.
    Remote URLs (s3://, ...) go through Lightning's own writer."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if "://" in str(path) or storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, [buf.getvalue()])
