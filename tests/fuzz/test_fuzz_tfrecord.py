"""TFRecord framing under random bytes, flipped bits, truncation at every offset and lying length
fields: a `DataError` naming the file (or, with skip_bad, a counted skip), never anything else."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from smartr1.data.errors import DataError
from smartr1.data.tfrecord import iter_records, masked_crc32c
from tests.fuzz.harness import budgets, count, flip_bits, fuzz_settings, offsets, peak_allocation, run_case

T = "tfrecord reader"


def _read(path):
    return list(iter_records(path))


def _skip(path, fault):
    stats: dict = {}
    list(iter_records(path, skip_bad=True, stats=stats))  # must never raise
    count(T + " (skip_bad)", fault, "skipped (counted)" if stats["bad_records"] else "accepted")


@budgets(ci=40, long=3000)
def test_random_bytes(tmp_path, budget):
    path = tmp_path / "random.tfrecord"

    @fuzz_settings(budget)
    @given(st.binary(max_size=4096))
    def case(raw):
        path.write_bytes(raw)
        out = run_case(T, "random bytes", _read, path)
        if raw:  # an empty file is an empty TFRecord file
            assert isinstance(out, DataError) and str(path) in str(out)
        _skip(path, "random bytes")

    case()


@budgets(ci=40, long=3000)
def test_flipped_bits(tmp_path, small, budget):
    raw = small.scenario_file.read_bytes()
    path = tmp_path / "flipped.tfrecord"

    @fuzz_settings(budget)
    @given(st.lists(st.integers(0, 8 * len(raw) - 1), min_size=1, max_size=8))
    def case(bits):
        bad = flip_bits(raw, bits)
        path.write_bytes(bad)
        out = run_case(T, "flipped bits", _read, path)
        assert isinstance(out, DataError) or bad == raw  # CRC-32C catches every few-bit error
        _skip(path, "flipped bits")

    case()


@budgets(ci=509, long=1)  # the budget here is the step between cut points: 1 = every offset
def test_truncated_at_every_offset(tmp_path, small, budget):
    raw = small.scenario_file.read_bytes()
    path = tmp_path / "cut.tfrecord"
    for n in offsets(len(raw), budget):
        path.write_bytes(raw[:n])
        out = run_case(T, "truncated", _read, path)
        assert (n == 0) != isinstance(out, DataError)
        _skip(path, "truncated")


@budgets(ci=30, long=2000)
def test_oversized_length_never_allocates(tmp_path, budget):
    path = tmp_path / "huge.tfrecord"

    @fuzz_settings(budget)
    @given(st.integers(5000, 2**64 - 1), st.binary(max_size=4096))
    def case(length, tail):
        header = struct.pack("<Q", length)
        path.write_bytes(header + struct.pack("<I", masked_crc32c(header)) + tail)
        out, peak = peak_allocation(lambda: run_case(T, "oversized length field", _read, path))
        assert isinstance(out, DataError) and "truncated" in str(out)
        assert peak < 1 << 20, f"{peak} bytes allocated for a {len(tail)}-byte record"

    case()
