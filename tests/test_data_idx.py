"""The IDX reader/writer: round trips for every element type, compressed or not, and corrupt files."""

import gzip
import os

import numpy as np
import pytest

from descend.data import read_idx, write_idx
from descend.data.idx import parse_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((7, 3, 5)) * 50).astype(dtype)
    path = tmp_path / f"a-idx3-ubyte{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.shape == (7, 3, 5)
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


def test_idx_header_is_big_endian_by_hand(tmp_path):
    """Bytes written by hand per the format spec (not by write_idx) decode to the intended array."""
    raw = bytes([0, 0, 0x0B, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    raw += b"".join(v.to_bytes(2, "big", signed=True) for v in [1, -2, 300, 4, 5, -600])
    (tmp_path / "h").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "h"), [[1, -2, 300], [4, 5, -600]])


def test_gzip_detected_from_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "plain-name", arr, compress=True)
    with open(tmp_path / "plain-name", "rb") as fh:
        assert fh.read(2) == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), arr)


def test_corrupt_files_give_clear_errors(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "ok", arr)
    raw = (tmp_path / "ok").read_bytes()
    with pytest.raises(ValueError, match=r"need 24 bytes, the file holds 20"):
        parse_idx(raw[:-4], "cut")
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x01\x02" + raw[2:], "x")
    with pytest.raises(ValueError, match="unknown IDX element type 0x07"):
        parse_idx(raw[:2] + b"\x07" + raw[3:], "x")
    with pytest.raises(ValueError, match="truncated IDX header"):
        parse_idx(raw[:9], "x")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-10])
    with pytest.raises(ValueError, match="corrupt gzip"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(os.path.join(tmp_path, "missing"))
    with pytest.raises(TypeError, match="cannot store dtype int64"):
        write_idx(tmp_path / "z", np.zeros(3, np.int64))
