"""Where a run keeps its checkpoints, and what it takes for a resumed run to equal an uninterrupted one."""

from __future__ import annotations

from pathlib import Path


def last_checkpoint(out_dir: str | Path) -> Path | None:
    p = Path(out_dir) / "checkpoints" / "last.ckpt"
    return p if p.exists() else None
