"""A small ONNX graph builder over ``onnx.helper``: unique names, weights as initializers, nodes.

Each value in the graph under construction is a :class:`Value`: its ONNX name plus the example array it
holds when the model runs on the export's example input (the shapes of later layers come from it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass
class Value:
    """A graph value: its ONNX ``name`` and ``example``, the array it holds for the example input."""

    name: str
    example: np.ndarray

    @property
    def shape(self) -> tuple:
        return tuple(self.example.shape)


class ExportError(ValueError):
    """A model (or one of its layers) that cannot be written as ONNX; the message names the layer path."""


class Constant:
    """An entry of ``example_input`` that is baked into the graph as a constant instead of becoming a graph
    input, e.g. ``Constant(mask)`` for an ``attn_mask`` fixed at export (a causal mask given with the
    ``is_causal`` hint is rebuilt from the sequence length at run time, so the lengths stay symbolic)."""

    def __init__(self, value):
        arr = np.asarray(getattr(value, "array", value))
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"Constant needs a numeric or boolean Tensor or array, got dtype {arr.dtype}")
        self.array = arr

    def __repr__(self) -> str:
        return f"Constant(shape={self.array.shape}, dtype={self.array.dtype})"


def example_of(item):
    """The example array of a converter argument: a :class:`Value`'s example, a :class:`Constant`'s array, or
    the item itself (None, a Python number or flag)."""
    if isinstance(item, Value):
        return item.example
    if isinstance(item, Constant):
        return item.array
    if isinstance(item, tuple):
        return tuple(example_of(i) for i in item)
    return item


class GraphBuilder:
    """Collects nodes and initializers; ``node`` returns the name of the node's (first) output."""

    def __init__(self, opset: int, dtype):
        self.opset = opset
        self.dtype = np.dtype(dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._used: dict[str, int] = {}

    def fresh(self, hint: str) -> str:
        """A name not used before, built from ``hint`` (layer paths keep their dots)."""
        hint = hint or "v"
        n = self._used.get(hint, 0)
        self._used[hint] = n + 1
        return hint if n == 0 else f"{hint}_{n}"

    def const(self, array, hint: str, dtype=None) -> str:
        """An initializer holding ``array`` (cast to the model's float dtype unless ``dtype`` is given)."""
        arr = np.asarray(array, dtype=self.dtype if dtype is None else dtype)
        arr = np.ascontiguousarray(arr) if arr.ndim else arr      # a 0-d array stays a scalar
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def ints(self, values, hint: str) -> str:
        """An int64 initializer (shapes, axes, indices)."""
        return self.const(np.asarray(values, dtype=np.int64), hint, dtype=np.int64)

    def name_of(self, item, hint: str) -> str:
        """The graph name of a :class:`Value` or :class:`Constant` (a float constant takes the model's dtype,
        a boolean or integer one keeps its own)."""
        if isinstance(item, Value):
            return item.name
        arr = item.array if isinstance(item, Constant) else np.asarray(item)
        return self.const(arr, hint, dtype=None if arr.dtype.kind == "f" else arr.dtype)

    def reduce(self, op: str, x: str, axes, hint: str, keepdims: int = 1) -> str:
        """``op`` (ReduceMean, ReduceMin, ...) over ``axes``: an attribute up to opset 17, an input from 18."""
        if self.opset >= 18:
            return self.node(op, [x, self.ints(list(axes), f"{hint}.axes")], hint, keepdims=keepdims)
        return self.node(op, [x], hint, axes=list(axes), keepdims=keepdims)

    def unsqueeze(self, x: str, axes, hint: str) -> str:
        return self.node("Unsqueeze", [x, self.ints(list(axes), f"{hint}.axes")], hint)

    def squeeze(self, x: str, axes, hint: str) -> str:
        return self.node("Squeeze", [x, self.ints(list(axes), f"{hint}.axes")], hint)

    def node(self, op: str, inputs, hint: str, n_outputs: int = 1, **attrs):
        """Append an ``op`` node; returns its output name (or a list of names when ``n_outputs > 1``)."""
        outputs = [self.fresh(f"{hint}/{op}" if n_outputs == 1 else f"{hint}/{op}:{i}") for i in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op, list(inputs), outputs, name=self.fresh(f"{hint}#{op}"), **attrs))
        return outputs[0] if n_outputs == 1 else outputs


def elem_type(dtype) -> int:
    """The ONNX TensorProto element type of a NumPy dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def value_info(name: str, example: np.ndarray, dynamic: dict) -> onnx.ValueInfoProto:
    """A typed graph input/output; ``dynamic`` maps axis → symbolic dimension name."""
    dims = [dynamic.get(i, d) for i, d in enumerate(example.shape)]
    return helper.make_tensor_value_info(name, elem_type(example.dtype), dims)
