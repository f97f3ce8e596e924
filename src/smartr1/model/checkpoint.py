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
from smartr1.model.released import resolve_checkpoint
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
    if not isinstance(meta, dict) or not isinstance(meta.get("model_config"), dict):
        raise DataError(path, "not a smartr1 checkpoint (no 'smartr1' entry with a model config)")
    fmt = meta.get("format", FORMAT)
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise DataError(path, f"checkpoint format {fmt!r} is newer than this smartr1 reads ({FORMAT})")
    sd = ckpt.get("state_dict", {})
    if not isinstance(sd, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()
    ):
        raise DataError(path, "checkpoint 'state_dict' is not a mapping of names to tensors")
    if any(k.startswith(MODEL_PREFIX) for k in sd):
        sd = {k[len(MODEL_PREFIX) :]: v for k, v in sd.items() if k.startswith(MODEL_PREFIX)}
    return meta, sd


def load_model(path: str | Path, map_location: str | torch.device = "cpu"):
    """(SMART in eval mode, MotionVocab) from a Lightning checkpoint, an exported model file or the name
    of a shipped one (`smartr1.model.released`)."""
    path = resolve_checkpoint(path)
    meta, sd = model_state(_load(path, map_location), path)
    cfg = _checked_config(meta["model_config"], sd, path)
    model = SMART(cfg)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise DataError(path, f"checkpoint weights do not fit its model config ({e})") from e
    try:
        vocab = MotionVocab.from_poses(model.vocab_poses.detach().cpu(), meta.get("vocab_config"))
    except (TypeError, ValueError, KeyError) as e:
        raise DataError(path, f"unusable vocab_config in checkpoint ({type(e).__name__}: {e})") from e
    return model.to(map_location).eval(), vocab


def _checked_config(config: dict, sd: dict, path) -> ModelConfig:
    """The model config, once a weightless (meta-device) model built from it has exactly the weights'
    names and shapes: a config declaring absurd sizes fails here, before anything is allocated."""
    try:
        cfg = ModelConfig.from_dict(config)
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in SMART(cfg).state_dict().items()}
    except (RuntimeError, TypeError, ValueError, ArithmeticError) as e:
        raise DataError(path, f"unusable model config in checkpoint ({type(e).__name__}: {e})") from e
    have = {k: tuple(v.shape) for k, v in sd.items()}
    missing, extra = sorted(set(shapes) - set(have)), sorted(set(have) - set(shapes))
    wrong = sorted(k for k in set(shapes) & set(have) if shapes[k] != have[k])
    if missing or extra or wrong:
        raise DataError(
            path,
            f"checkpoint weights do not fit its model config (missing {missing[:3]}, unexpected "
            f"{extra[:3]}, wrong shape {wrong[:3]})",
        )
    bad = [k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise DataError(path, f"non-finite (NaN or inf) weights in {bad[:3]}")
    return cfg


def export_model(checkpoint: str | Path, out: str | Path) -> Path:
    """A weights-only copy (config + model state, no optimizer) of a checkpoint."""
    meta, sd = model_state(_load(checkpoint, "cpu"), checkpoint)
    buf = io.BytesIO()
    torch.save({"smartr1": meta, "state_dict": sd}, buf)
    atomic_write_bytes(out, [buf.getvalue()])
    return Path(out)
