"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).

Layout (all integers big-endian):

    bytes 0–1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4·d bytes   each dimension's size as uint32
    then        prod(dims) elements, row-major, big-endian

(LeCun, Cortes & Burges, "The MNIST database of handwritten digits".)
"""

from __future__ import annotations

import gzip
import os

import numpy as np

_CODES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_TYPES = {np.dtype(v).newbyteorder("=").str if v.itemsize > 1 else v.str: k for k, v in _CODES.items()}


def _read_bytes(path) -> bytes:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip data ({exc}); download the file again") from None
    return raw


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-byte-order array of the stored shape."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{source}: not an IDX file (the first two bytes must be zero, got {raw[:4]!r})")
    code, ndim = raw[2], raw[3]
    if code not in _CODES:
        raise ValueError(f"{source}: unknown IDX element type 0x{code:02X}; "
                         f"known: {', '.join(f'0x{c:02X}' for c in _CODES)}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{source}: truncated IDX header ({len(raw)} bytes, {header} needed for {ndim} dims)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _CODES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        raise ValueError(f"{source}: IDX data size mismatch: dims {dims} of {dtype.name} need {expected} bytes, "
                         f"the file holds {found}; the file is truncated or corrupt")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)  # native order, writable, owns its memory


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not: gzip is detected from the content) into a NumPy array."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    return parse_idx(_read_bytes(path), path)


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``compress`` is True or the name ends in .gz."""
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str if arr.dtype.itemsize > 1 else arr.dtype.str
    if key not in _TYPES:
        raise TypeError(f"IDX cannot store dtype {arr.dtype}; use uint8, int8, int16, int32, float32 or float64")
    if arr.ndim > 255:
        raise ValueError(f"IDX stores at most 255 dimensions, got {arr.ndim}")
    code = _TYPES[key]
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(arr, dtype=_CODES[code]).tobytes()
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(payload, compresslevel=6) if compress else payload)
