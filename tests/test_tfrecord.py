import struct

import pytest

from smartr1.data.errors import DataError
from smartr1.data.tfrecord import frame, iter_records, masked_crc32c, write_records
from tests.conftest import scenario_file


def test_masked_crc_known_value():
    # CRC-32C("123456789") = 0xE3069283 (RFC 3720 check value); masking per the TFRecord format.
    import google_crc32c

    assert google_crc32c.value(b"123456789") == 0xE3069283
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_round_trip_bytes_identical(tmp_path):
    src = scenario_file("637f20cafde22ff8")
    payloads = list(iter_records(src))
    out = tmp_path / "copy.tfrecord"
    assert write_records(out, payloads) == 1
    assert out.read_bytes() == src.read_bytes()
    assert list(iter_records(out)) == payloads


@pytest.mark.parametrize("offset", [3, 9, 40, -2])
def test_flipped_byte_is_caught(tmp_path, offset):
    raw = bytearray(frame(b"hello world" * 10) + frame(b"second"))
    raw[offset] ^= 0x01
    path = tmp_path / "bad.tfrecord"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as e:
        list(iter_records(path))
    assert "bad.tfrecord" in str(e.value) and "record" in str(e.value) and "checksum" in str(e.value)


def test_skip_bad_counts_and_keeps_good_records(tmp_path):
    good, bad = frame(b"a" * 50), bytearray(frame(b"b" * 50))
    bad[20] ^= 0xFF  # inside the data: only this record is lost
    path = tmp_path / "mixed.tfrecord"
    path.write_bytes(good + bytes(bad) + good)
    stats: dict = {}
    assert list(iter_records(path, skip_bad=True, stats=stats)) == [b"a" * 50, b"a" * 50]
    assert stats == {"bad_records": 1, "records": 2}


def test_truncated_record(tmp_path):
    path = tmp_path / "trunc.tfrecord"
    path.write_bytes(frame(b"x" * 100)[:-10])
    with pytest.raises(DataError, match=r"trunc.tfrecord, record 0: truncated"):
        list(iter_records(path))
    stats: dict = {}
    assert list(iter_records(path, skip_bad=True, stats=stats)) == []
    assert stats["bad_records"] == 1


def test_not_a_tfrecord(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is plain text, not a TFRecord file at all")
    with pytest.raises(DataError, match="not a TFRecord"):
        list(iter_records(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot open"):
        list(iter_records(tmp_path / "nope.tfrecord"))


def test_failed_write_leaves_target_untouched(tmp_path):
    out = tmp_path / "keep.tfrecord"
    out.write_bytes(b"old content")

    def payloads():
        yield b"first"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        write_records(out, payloads())
    assert out.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tfrecord"]


def test_length_header_layout():
    rec = frame(b"abc")
    assert struct.unpack("<Q", rec[:8])[0] == 3 and len(rec) == 8 + 4 + 3 + 4


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    out = tmp_path / "perm.tfrecord"
    write_records(out, [b"x"])
    mask = os.umask(0)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_a_data_directory_skips_its_readme_and_markers_but_a_named_file_is_read(tmp_path):
    import shutil

    from smartr1.data.womd import expand_paths, read_scenarios

    shutil.copy(scenario_file("637f20cafde22ff8"), tmp_path / "shard-00000")
    (tmp_path / "README.md").write_text("# provenance\n")
    (tmp_path / "done.json").write_text("{}")
    assert [p.name for p in expand_paths(tmp_path)] == ["shard-00000"]
    assert len(list(read_scenarios(tmp_path))) == 1
    with pytest.raises(DataError, match="README.md"):  # named explicitly: read, and it fails naming itself
        list(read_scenarios(tmp_path / "README.md"))
