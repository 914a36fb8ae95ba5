"""Checkpoints: ``descend.save(obj, f)`` and ``descend.load(f)``, one safetensors file, no pickle.

``obj`` is a (possibly nested) structure of dicts, lists and tuples whose leaves are arrays (NumPy
arrays, descend Tensors and Parameters, or another library's tensors, read with
``.detach().cpu().numpy()``), NumPy scalars, Python numbers (ints of any size), strings, bools and
None: a model's ``state_dict()``, an optimiser's (integer keys, lists), a whole run's (model,
optimiser, scheduler, callbacks, RNG states whose 128-bit integers must come back exactly). ``f`` is a
path (written atomically) or a binary file object (``io.BytesIO``, ``open(path, 'wb')``).

File layout: a standard safetensors file. Every array is one tensor, named by its key path in the
structure (``model/fc1.weight``, ``optimizer/state/0/exp_avg``; a suffix ``~2`` makes a name unique
if two paths spell the same). The header's ``__metadata__`` holds

* ``format``: ``"descend.checkpoint"`` and ``format_version``: ``"2"`` (version 1, read as well, had no
  ``$Tensor``/``$Parameter`` nodes: Tensors were saved as arrays);
* ``tree``: the structure as JSON, in which every JSON object is one tagged node:
  ``{"$dict": [[key, value], ...]}`` (keys keep their type: str or int, order kept),
  ``{"$OrderedDict": [[key, value], ...]}`` (a ``state_dict()``, comes back as an OrderedDict),
  ``{"$tuple": [...]}``, ``{"$tensor": name}`` (a NumPy array), ``{"$Tensor": [name, requires_grad]}``
  (a Tensor, comes back as a descend Tensor), ``{"$Parameter": [name, requires_grad]}`` (an
  ``nn.Parameter``, comes back as one),
  ``{"$scalar": name}`` (a NumPy scalar stored as a 0-d tensor, so its dtype survives),
  ``{"$int": "0x..."}`` (an int outside ±2**53, in hex so no reader rounds it),
  ``{"$float": "nan" | "inf" | "-inf"}``. Lists, finite floats, small ints, strings, bools and
  null are plain JSON. Finite floats are written with ``repr``, which round-trips bit for bit.

The whole file is built in memory and written atomically to a path (see :mod:`descend.io.atomic`), so a
crash leaves the previous checkpoint intact. Loading parses JSON and raw tensor bytes only — it never
executes code — and any other tool that reads safetensors can read the arrays.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

from ..tensor import Tensor
from .atomic import atomic_write_bytes

__all__ = ["save", "load", "CheckpointError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "descend.checkpoint"
FORMAT_VERSION = 2   # written; versions up to it are read (1: Tensors were stored as plain arrays)
_SAFE_INT = 2 ** 53
_ARRAY_KINDS = "biufc"   # bool, signed, unsigned, float, complex: what safetensors stores
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header
_CONVERT = ("convert it once where PyTorch is installed with "
            "descend.save(torch.load(path, map_location='cpu'), 'model.safetensors')")


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
            tag = "$Parameter" if type(obj).__name__ == "Parameter" else "$Tensor"
            return {tag: [self._store(parts, obj.array), bool(obj.requires_grad)]}
        if isinstance(obj, np.ndarray):
            return {"$tensor": self._store(parts, obj)}
        if _foreign_tensor(obj):   # e.g. a torch.Tensor: saved as its array, loaded as a descend Tensor
            return {"$Tensor": [self._store(parts, np.asarray(obj.detach().cpu().numpy())), False]}
        if isinstance(obj, np.generic):
            return {"$scalar": self._store(parts, np.asarray(obj))}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"cannot save: the structure refers to itself at {_path_str(parts)!r}")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    tag = "$OrderedDict" if isinstance(obj, OrderedDict) else "$dict"
                    return {tag: [[self._key(parts, k), self.encode(v, parts + (k,))] for k, v in obj.items()]}
                items = [self.encode(v, parts + (i,)) for i, v in enumerate(obj)]
                return items if isinstance(obj, list) else {"$tuple": items}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"cannot save the value at {_path_str(parts)!r}: unsupported type "
                        f"{type(obj).__module__}.{type(obj).__qualname__}; checkpoints hold dicts, lists, "
                        "tuples, arrays/Tensors, numbers, strings, bools and None (call .state_dict() "
                        "on modules, optimisers and schedulers)")


def _foreign_tensor(obj) -> bool:
    """A tensor of another array library (PyTorch's API): has ``detach`` and ``numpy`` methods."""
    return callable(getattr(obj, "detach", None)) and callable(getattr(obj, "numpy", None)) \
        and hasattr(obj, "shape") and hasattr(obj, "dtype")


def save(obj, f):
    """Save ``obj`` (nested dicts/lists of arrays/Tensors, numbers, strings, None) to ``f``.

    ``f``: a path (str or os.PathLike), written atomically, or a binary file object with ``write``
    (written at its position, not closed). The file is a safetensors file with the non-array
    structure as JSON in its metadata (see the module docstring). Raises ``TypeError`` naming the key
    path of an unsupported value; nothing is written in that case. Returns the path for a path
    (``None`` for a file object, as PyTorch's ``torch.save``).

    >>> descend.save({"model": model.state_dict(), "epoch": 3}, "run/ckpt.safetensors")  # doctest: +SKIP
    """
    is_file = callable(getattr(f, "write", None))
    if not is_file and not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"f must be a path (str or os.PathLike) or a binary file object, got {type(f).__name__}")
    if is_file and isinstance(f, io.TextIOBase):
        raise TypeError("f is a text file; open it in binary mode: open(path, 'wb')")
    encoder = _Encoder()
    tree = encoder.encode(obj)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "tree": json.dumps(tree, allow_nan=False, separators=(",", ":"))}
    blob = safetensors.numpy.save(encoder.tensors, metadata=metadata)
    if is_file:
        f.write(blob)
        return None
    return atomic_write_bytes(f, blob)


# --------------------------------------------------------------------------------------- load
def _not_checkpoint(path, why: str, hint: str = "") -> CheckpointError:
    return CheckpointError(f"{str(path)!r} is not a descend checkpoint: {why}. Checkpoints are written "
                           "by descend.save; descend.load never unpickles (torch.save/pickle files are "
                           f"refused on purpose){'; ' + hint if hint else ''}")


def _read_header(data: bytes, path) -> dict:
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER or data[8:9] != b"{":   # (a header of 128 bytes also starts with 0x80: test this first)
        if data[:1] == b"\x80" or data[:2] == b"PK":
            kind = "a pickle" if data[:1] == b"\x80" else "a zip archive (e.g. torch.save or .npz)"
            raise _not_checkpoint(path, f"it looks like {kind}", _CONVERT)
        if len(data) < 8:
            raise _not_checkpoint(path, f"it is only {len(data)} bytes long (empty or truncated)")
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
    if tag in ("$dict", "$OrderedDict"):
        items = ((_decode(k, tensors, path), _decode(v, tensors, path)) for k, v in value)
        return dict(items) if tag == "$dict" else OrderedDict(items)
    if tag == "$tuple":
        return tuple(_decode(v, tensors, path) for v in value)
    if tag in ("$Tensor", "$Parameter"):
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], bool)):
            raise CheckpointError(f"{str(path)!r} is corrupt: bad {tag} node {value!r:.80}")
        arr = _decode({"$tensor": value[0]}, tensors, path)
        if tag == "$Parameter":
            from ..nn import Parameter
            return Parameter(Tensor.from_array(arr), requires_grad=value[1])   # keeps the dtype
        return Tensor.from_array(arr).requires_grad_(value[1]) if value[1] else Tensor.from_array(arr)
    if tag in ("$tensor", "$scalar"):
        if not isinstance(value, str) or value not in tensors:
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


def _location_map(map_location):
    """descend runs on the CPU: accept the map_location values that mean the CPU; a callable is applied
    to every loaded Tensor as ``map_location(tensor, 'cpu')`` (``None`` keeps it), as PyTorch does."""
    if map_location is None or callable(map_location) and not isinstance(map_location, (str, dict)):
        return map_location
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        if str(target).split(":")[0] != "cpu":
            raise ValueError(f"map_location {map_location!r} names a device other than the CPU; descend runs "
                             "on the CPU only, so use map_location=None or 'cpu'")
    return None


def _apply_location(obj, fn):
    if isinstance(obj, Tensor):
        out = fn(obj, "cpu")
        return obj if out is None else out
    if isinstance(obj, dict):
        return {k: _apply_location(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_apply_location(v, fn) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def load(f, map_location=None, weights_only: bool | None = True, *, mmap: bool | None = None):
    """Load a checkpoint written by :func:`save` from a path or a binary file object (read from its position).

    Arrays come back as NumPy arrays, Tensors as descend Tensors and Parameters as ``nn.Parameter``,
    with their dtypes, shapes and ``requires_grad``; OrderedDicts (state dicts) as OrderedDicts.
    Never executes code from the file: whatever ``weights_only`` says (PyTorch's switch between its
    restricted and its full unpickler), there is no unpickling at all. ``map_location``: ``None``,
    ``'cpu'`` (or a device / dict naming only the CPU), or a callable ``(tensor, 'cpu') -> tensor``.
    ``mmap`` is accepted; the file is read into memory.
    Raises :class:`CheckpointError` (a ``ValueError``) for a file that is not a descend checkpoint,
    is truncated or is corrupt; ``FileNotFoundError`` if it is missing.
    """
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be a bool or None, got {weights_only!r}")
    if mmap is not None and not isinstance(mmap, bool):
        raise TypeError(f"mmap must be a bool or None, got {mmap!r}")
    location = _location_map(map_location)
    if callable(getattr(f, "read", None)):
        data = f.read()
        path = getattr(f, "name", "<file object>")
        if isinstance(data, str):
            raise TypeError("f is a text file; open it in binary mode: open(path, 'rb')")
    elif isinstance(f, (str, os.PathLike)):
        path = f
        with open(f, "rb") as file:
            data = file.read()
    else:
        raise TypeError(f"f must be a path (str or os.PathLike) or a binary file object, got {type(f).__name__}")
    data = bytes(data)
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
        obj = _decode(tree, tensors, path)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{str(path)!r} is corrupt: {exc}") from None
    return obj if location is None else _apply_location(obj, location)
