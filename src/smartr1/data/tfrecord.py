"""TFRecord framing without TensorFlow.

Each record is `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`,
little-endian. Both checksums are verified on read. Writes are atomic (`smartr1.data.atomic`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record with its framing."""
    header = _U64.pack(len(data))
    return header + _U32.pack(masked_crc32c(header)) + data + _U32.pack(masked_crc32c(data))


def iter_records(path: str | Path, skip_bad: bool = False, stats: dict | None = None) -> Iterator[bytes]:
    """Yield the payloads of a TFRecord file, verifying both checksums of every record.

    With `skip_bad`, a record whose data checksum fails is skipped and counted in
    `stats["bad_records"]`; a broken length header or a truncated tail ends the file (nothing after
    it can be framed) and is counted too. Without it, any of these raises `DataError`.
    """
    path = Path(path)
    if stats is not None:
        stats.setdefault("bad_records", 0)
        stats.setdefault("records", 0)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataError(path, f"cannot open: {e.strerror}") from e
    with f:
        index = 0
        while True:
            header = f.read(12)
            if not header:
                return
            problem = None
            if len(header) < 12:
                problem = f"truncated record header ({len(header)} of 12 bytes)"
            else:
                (length,) = _U64.unpack_from(header)
                (crc,) = _U32.unpack_from(header, 8)
                if masked_crc32c(header[:8]) != crc:
                    problem = "length checksum mismatch (corrupt file, or not a TFRecord file)"
            if problem is None:
                data = f.read(length)
                footer = f.read(4)
                if len(data) < length or len(footer) < 4:
                    problem = f"truncated record: expected {length} bytes of data, file ends early"
            if problem is not None:
                if not skip_bad:
                    raise DataError(path, problem, index)
                if stats is not None:
                    stats["bad_records"] += 1
                return
            if masked_crc32c(data) != _U32.unpack(footer)[0]:
                if not skip_bad:
                    raise DataError(path, "data checksum mismatch (corrupt record)", index)
                if stats is not None:
                    stats["bad_records"] += 1
            else:
                if stats is not None:
                    stats["records"] += 1
                yield data
            index += 1


def write_records(path: str | Path, payloads: Iterable[bytes]) -> int:
    """Atomically write payloads as a TFRecord file; returns the number of records."""
    count = 0

    def framed():
        nonlocal count
        for p in payloads:
            count += 1
            yield frame(p)

    atomic_write_bytes(path, framed())
    return count
