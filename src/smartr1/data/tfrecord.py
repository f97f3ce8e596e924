"""TFRecord framing without TensorFlow.

Each record is `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`,
little-endian. Both checksums are verified on read. Writes are atomic (`smartr1.data.atomic`).
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_CHUNK = 1 << 24  # read long records 16 MiB at a time


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record with its framing."""
    header = _U64.pack(len(data))
    return header + _U32.pack(masked_crc32c(header)) + data + _U32.pack(masked_crc32c(data))


def _read_up_to(f, n: int) -> bytes:
    """At most n bytes, read in chunks: memory grows with what the file holds, not with what a
    (possibly corrupt) length field claims."""
    if n <= _CHUNK:
        return f.read(n)
    parts, left = [], n
    while left:
        part = f.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def iter_records(
    path: str | Path,
    skip_bad: bool = False,
    stats: dict | None = None,
    errors: list[DataError] | None = None,
) -> Iterator[bytes]:
    """Yield the payloads of a TFRecord file, verifying both checksums of every record.

    With `skip_bad`, a record whose data checksum fails is skipped and counted in
    `stats["bad_records"]` (and its `DataError` appended to `errors`, if given); a broken length
    header or a truncated tail ends the file (nothing after it can be framed) and is counted too.
    Without it, any of these raises `DataError`. A length field is checked against the bytes left in
    the file before anything is read, so a corrupt length (say 2**60) never allocates.
    """
    for _, data in iter_records_at(path, skip_bad, stats, errors):
        yield data


def read_record_at(path: str | Path, offset: int, index: int | None = None) -> bytes:
    """The payload of the one record that starts at byte `offset` (from `iter_records_at`), checked
    as `iter_records` checks every record; `index` names it in errors."""
    for _, data in iter_records_at(path, start=offset, first_index=index or 0):
        return data
    raise DataError(path, f"no record at byte {offset} (the file ends there)", index)


def iter_records_at(
    path: str | Path,
    skip_bad: bool = False,
    stats: dict | None = None,
    errors: list[DataError] | None = None,
    start: int = 0,
    first_index: int = 0,
) -> Iterator[tuple[int, bytes]]:
    """(byte offset of the record, payload) for the records of a TFRecord file from byte `start`:
    `iter_records` with positions, so that one record can be read again later (`read_record_at`)."""
    path = Path(path)
    if stats is not None:
        stats.setdefault("bad_records", 0)
        stats.setdefault("records", 0)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataError(path, f"cannot open: {e.strerror}") from e

    def bad(problem: str, index: int) -> None:
        err = DataError(path, problem, index)
        if not skip_bad:
            raise err
        if stats is not None:
            stats["bad_records"] += 1
        if errors is not None:
            errors.append(err)

    with f:
        st = os.fstat(f.fileno())
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        if start:
            f.seek(start)
        pos, index = start, first_index
        while True:
            at = pos
            header = f.read(12)
            pos += len(header)
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
                elif size is not None and length + 4 > size - pos:
                    problem = (
                        f"truncated record: expected {length} bytes of data, "
                        f"file ends early ({max(size - pos, 0)} bytes left)"
                    )
            if problem is None:
                data = _read_up_to(f, length)
                footer = f.read(4)
                pos += len(data) + len(footer)
                if len(data) < length or len(footer) < 4:
                    problem = f"truncated record: expected {length} bytes of data, file ends early"
            if problem is not None:
                bad(problem, index)
                return
            if masked_crc32c(data) != _U32.unpack(footer)[0]:
                bad("data checksum mismatch (corrupt record)", index)
            else:
                if stats is not None:
                    stats["records"] += 1
                yield at, data
            index += 1


def looks_like_tfrecord(path: str | Path) -> bool:
    """True when the file starts with a TFRecord length header whose checksum matches."""
    try:
        with open(path, "rb") as f:
            header = f.read(12)
    except OSError:
        return False
    return len(header) == 12 and masked_crc32c(header[:8]) == _U32.unpack_from(header, 8)[0]


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
