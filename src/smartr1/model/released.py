"""Checkpoints that ship inside the package, so that simulation works before any training.

A released checkpoint is an exported (weights-only) model file in `smartr1/model/released/<name>.pt`
with a card beside it (`<name>.json`: how it was trained, on what, and its held-out scores). Every
place that takes a checkpoint path also takes one of these names.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

DEFAULT_RELEASE = "smartr1-nano-sumo"


def _folder() -> Path:
    return Path(str(resources.files("smartr1.model") / "released"))


def released_names() -> list[str]:
    folder = _folder()
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """The file behind a released name; anything else is taken as a path."""
    name = str(path_or_name)
    candidate = _folder() / f"{name}.pt"
    if "/" not in name and not name.endswith((".pt", ".ckpt")) and candidate.is_file():
        return candidate
    return Path(path_or_name)


def model_card(name: str = DEFAULT_RELEASE) -> dict:
    """The card of a released checkpoint (training recipe, data, held-out scores)."""
    path = _folder() / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no released checkpoint {name!r}; shipped: {released_names()}")
    return json.loads(path.read_text())
