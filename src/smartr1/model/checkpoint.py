"""Checkpoint helpers: what a smartr1 checkpoint carries and how to get a model back from it.

A Lightning checkpoint of any training stage stores, besides the state dict, a `smartr1` entry with
the model config, the stage and the parent checkpoint (written by `smartr1.training`). The motion vocabulary travels inside the state dict
(`model.vocab_poses`), so a checkpoint alone is enough to simulate. `export_model` writes a small
weights-only file with the same content for sharing.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.model.config import ModelConfig
from smartr1.model.smart import SMART
from smartr1.tokens.vocabulary import MotionVocab

FORMAT = 1
MODEL_PREFIX = "model."


def smartr1_meta(
    model: SMART, stage: str, parent: str | None = None, vocab_config: dict | None = None
) -> dict:
    return {
        "format": FORMAT,
        "stage": stage,
        "parent": parent,
        "model_config": model.cfg.to_dict(),
        "vocab_config": dict(vocab_config or {}),
    }


def _load(path: str | Path, map_location) -> dict:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as e:
        raise DataError(path, "checkpoint not found") from e
    except Exception as e:  # noqa: BLE001 - any unreadable file is bad input
        raise DataError(path, f"not a readable checkpoint ({type(e).__name__}: {e})") from e


def model_state(ckpt: dict, path) -> tuple[dict, dict]:
    """(smartr1 meta, model state dict without the LightningModule prefix)."""
    meta = ckpt.get("smartr1") if isinstance(ckpt, dict) else None
    if not meta or "model_config" not in meta:
        raise DataError(path, "not a smartr1 checkpoint (no 'smartr1' entry with a model config)")
    sd = ckpt.get("state_dict", {})
    if any(k.startswith(MODEL_PREFIX) for k in sd):
        sd = {k[len(MODEL_PREFIX) :]: v for k, v in sd.items() if k.startswith(MODEL_PREFIX)}
    return meta, sd


def load_model(path: str | Path, map_location: str | torch.device = "cpu"):
    """(SMART in eval mode, MotionVocab) from a Lightning checkpoint or an exported model file."""
    meta, sd = model_state(_load(path, map_location), path)
    cfg = ModelConfig.from_dict(meta["model_config"])
    model = SMART(cfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise DataError(path, f"checkpoint weights do not fit its model config ({e})") from e
    vocab = MotionVocab.from_poses(model.vocab_poses.detach().cpu(), meta.get("vocab_config"))
    return model.to(map_location).eval(), vocab


def export_model(checkpoint: str | Path, out: str | Path) -> Path:
    """A weights-only copy (config + model state, no optimizer) of a checkpoint."""
    meta, sd = model_state(_load(checkpoint, "cpu"), checkpoint)
    buf = io.BytesIO()
    torch.save({"smartr1": meta, "state_dict": sd}, buf)
    atomic_write_bytes(out, [buf.getvalue()])
    return Path(out)
