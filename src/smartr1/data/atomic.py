"""Atomic file output: every file smartr1 writes appears complete under its final name or not at all.

Content goes to a hidden temporary file beside the target (same file system), is flushed to disk,
and is renamed over the target only once complete; on any failure the temporary file is removed and
the target left untouched. Temporary files get ordinary permissions (0666 less the umask).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path


def temp_path(target: str | Path) -> Path:
    """A fresh hidden name beside `target` (same suffix, so tools that look at it still work)."""
    target = Path(target)
    return target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}"


def write_synced(path: str | Path, chunks: Iterable[bytes]) -> int:
    """Create `path` (it must not exist), write the chunks and fsync; returns the byte count."""
    written = 0
    with open(path, "xb") as f:
        for chunk in chunks:
            f.write(chunk)
            written += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    return written


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; it replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, chunks: Iterable[bytes]) -> int:
    """Write chunks to `path` atomically; returns the byte count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        written = write_synced(tmp, chunks)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return written
