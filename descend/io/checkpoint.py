"""Checkpoints: ``descend.save(obj, path)`` and ``descend.load(path)``, one safetensors file, no pickle.

``obj`` is a (possibly nested) structure of dicts, lists and tuples whose leaves are arrays (NumPy
arrays or descend Tensors), NumPy scalars, Python numbers (ints of any size), strings, bools and None:
a model's ``state_dict()``, an optimiser's (integer keys, lists), a whole run's (model, optimiser,
scheduler, callbacks, RNG states whose 128-bit integers must come back exactly).

File layout: a standard safetensors file. Every array is one tensor, named by its key path in the
structure (``model/fc1.weight``, ``optimizer/state/0/exp_avg``; a suffix ``~2`` makes a name unique
if two paths spell the same). The header's ``__metadata__`` holds

* ``format``: ``"descend.checkpoint"`` and ``format_version``: ``"1"``;
* ``tree``: the structure as JSON, in which every JSON object is one tagged node:
  ``{"$dict": [[key, value], ...]}`` (keys keep their type: str or int, order kept),
  ``{"$tuple": [...]}``, ``{"$tensor": name}`` (an array; a Tensor comes back as an array),
  ``{"$scalar": name}`` (a NumPy scalar stored as a 0-d tensor, so its dtype survives),
  ``{"$int": "0x..."}`` (an int outside ±2**53, in hex so no reader rounds it),
  ``{"$float": "nan" | "inf" | "-inf"}``. Lists, finite floats, small ints, strings, bools and
  null are plain JSON. Finite floats are written with ``repr``, which round-trips bit for bit.

The whole file is built in memory and written atomically (see :mod:`descend.io.atomic`), so a crash
leaves the previous checkpoint intact. Loading parses JSON and raw tensor bytes only — it never
executes code — and any other tool that reads safetensors can read the arrays.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

from ..tensor import Tensor
from .atomic import atomic_write_bytes

__all__ = ["save", "load", "CheckpointError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "descend.checkpoint"
FORMAT_VERSION = 1
_SAFE_INT = 2 ** 53
_ARRAY_KINDS = "biufc"   # bool, signed, unsigned, float, complex: what safetensors stores
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


class CheckpointError(ValueError):
    """A file that cannot be read as a descend checkpoint (wrong format, truncated, corrupt)."""


# --------------------------------------------------------------------------------------- save
def _path_str(parts) -> str:
    return "/".join(str(p) for p in parts) if parts else "<root>"


class _Encoder:
    def __init__(self):
        self.tensors: dict[str, np.ndarray] = {}
        self._active: set[int] = set()   # ids of containers on the current path (cycle check)

    def _store(self, parts, array: np.ndarray) -> str:
        name = base = _path_str(parts)
        n = 1
        while name in self.tensors or name == "__metadata__":
            n += 1
            name = f"{base}~{n}"
        if array.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot save the array at {_path_str(parts)!r}: dtype {array.dtype} is not "
                            "numeric; checkpoints hold bool, integer, float and complex arrays")
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        self.tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return name

    def _key(self, parts, key):
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int, np.integer)):
            raise TypeError(f"cannot save the dict at {_path_str(parts)!r}: key {key!r} has type "
                            f"{type(key).__name__}; checkpoint dict keys must be str or int")
        return key if isinstance(key, str) else self.encode(int(key), parts)

    def encode(self, obj, parts=()):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):   # after bool: True is an int
            return obj if -_SAFE_INT < obj < _SAFE_INT else {"$int": hex(obj)}
        if isinstance(obj, float):
            if math.isfinite(obj):
                return obj
            return {"$float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if isinstance(obj, Tensor):
            return {"$tensor": self._store(parts, obj.data)}
        if isinstance(obj, np.ndarray):
            return {"$tensor": self._store(parts, obj)}
        if isinstance(obj, np.generic):
            return {"$scalar": self._store(parts, np.asarray(obj))}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"cannot save: the structure refers to itself at {_path_str(parts)!r}")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    return {"$dict": [[self._key(parts, k), self.encode(v, parts + (k,))]
                                      for k, v in obj.items()]}
                items = [self.encode(v, parts + (i,)) for i, v in enumerate(obj)]
                return items if isinstance(obj, list) else {"$tuple": items}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"cannot save the value at {_path_str(parts)!r}: unsupported type "
                        f"{type(obj).__module__}.{type(obj).__qualname__}; checkpoints hold dicts, lists, "
                        "tuples, arrays/Tensors, numbers, strings, bools and None (call .state_dict() "
                        "on modules, optimisers and schedulers)")


def save(obj, path) -> Path:
    """Save ``obj`` (nested dicts/lists of arrays, numbers, strings, None) to ``path``, atomically.

    The file is a safetensors file with the non-array structure as JSON in its metadata (see the
    module docstring). Raises ``TypeError`` naming the key path of an unsupported value; nothing is
    written in that case. Returns the path.

    >>> descend.save({"model": model.state_dict(), "epoch": 3}, "run/ckpt.safetensors")  # doctest: +SKIP
    """
    encoder = _Encoder()
    tree = encoder.encode(obj)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "tree": json.dumps(tree, allow_nan=False, separators=(",", ":"))}
    blob = safetensors.numpy.save(encoder.tensors, metadata=metadata)
    return atomic_write_bytes(path, blob)


# --------------------------------------------------------------------------------------- load
def _not_checkpoint(path, why: str) -> CheckpointError:
    return CheckpointError(f"{str(path)!r} is not a descend checkpoint: {why}. Checkpoints are written "
                           "by descend.save; descend.load never unpickles (torch.save/pickle files are "
                           "refused on purpose)")


def _read_header(data: bytes, path) -> dict:
    if data[:1] == b"\x80" or data[:2] == b"PK":
        kind = "a pickle" if data[:1] == b"\x80" else "a zip archive (e.g. torch.save or .npz)"
        raise _not_checkpoint(path, f"it looks like {kind}")
    if len(data) < 8:
        raise _not_checkpoint(path, f"it is only {len(data)} bytes long (empty or truncated)")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER or data[8:9] != b"{":
        raise _not_checkpoint(path, "it has no safetensors header")
    if len(data) < 8 + n:
        raise CheckpointError(f"{str(path)!r} is truncated: its header needs {n} bytes, the file has "
                              f"{len(data) - 8}; the write was probably interrupted, use an earlier checkpoint")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _not_checkpoint(path, f"its header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _not_checkpoint(path, "its header is not a JSON object")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        raise _not_checkpoint(path, "it is a safetensors file without descend metadata (read plain "
                              "safetensors files with safetensors.numpy.load_file)")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise _not_checkpoint(path, f"bad format_version {meta.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{str(path)!r} has checkpoint format version {version}; this descend reads "
                              f"up to {FORMAT_VERSION}. Upgrade descend to load it")
    return meta


def _decode(node, tensors, path):
    if isinstance(node, list):
        return [_decode(v, tensors, path) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise CheckpointError(f"{str(path)!r} is corrupt: unexpected node {node!r:.80} in its structure")
    (tag, value), = node.items()
    if tag == "$dict":
        return {_decode(k, tensors, path): _decode(v, tensors, path) for k, v in value}
    if tag == "$tuple":
        return tuple(_decode(v, tensors, path) for v in value)
    if tag in ("$tensor", "$scalar"):
        if value not in tensors:
            raise CheckpointError(f"{str(path)!r} is corrupt: tensor {value!r} is missing")
        arr = tensors[value]
        if not arr.flags.writeable:
            arr = arr.copy()
        return arr if tag == "$tensor" else arr[()]
    if tag == "$int":
        return int(value, 16)
    if tag == "$float":
        return float(value)
    raise CheckpointError(f"{str(path)!r} is corrupt: unknown node tag {tag!r}")


def load(path) -> dict:
    """Load a checkpoint written by :func:`save`. Arrays come back as NumPy arrays with their dtypes.

    Never executes code from the file. Raises :class:`CheckpointError` (a ``ValueError``) for a file
    that is not a descend checkpoint, is truncated or is corrupt; ``FileNotFoundError`` if it is missing.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    with open(path, "rb") as f:
        data = f.read()
    meta = _read_header(data, path)
    try:
        tensors = safetensors.numpy.load(data)
    except (safetensors.SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{str(path)!r} is truncated or corrupt ({exc}); the write was probably "
                              "interrupted, use an earlier checkpoint") from None
    try:
        tree = json.loads(meta["tree"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r} is corrupt: its structure is not valid JSON ({exc})") from None
    try:
        return _decode(tree, tensors, path)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{str(path)!r} is corrupt: {exc}") from None
