"""The ops :func:`descend.onnx.load` reads beyond the feed-forward set: those the exports of attention masks,
several inputs, recurrent states, ``proj_size`` and the sequence blocks write.

Values in the graph are descend Tensors (differentiable: the data path) or NumPy arrays (shapes, indices and
masks built from them); an op on arrays only stays in NumPy. Where, Pad, Expand, Squeeze, ReduceMean,
ReduceMin, Split, Gather and Cast to a float type keep Tensors differentiable; Range, Greater, IsInf, Equal,
Not and ConstantOfShape compute arrays. Scan runs its body once per step (reverse directions backwards) and
stacks the scan outputs.
"""

from __future__ import annotations

import numpy as np

from ..ops import getitem, pad, stack, where
from ..tensor import Tensor


def _np(v) -> np.ndarray:
    return np.asarray(v.array if isinstance(v, Tensor) else v)


def _axes(at, args, position):
    """A reduction's or squeeze's axes: the ``axes`` attribute (up to opset 17) or input ``position``."""
    if len(args) > position and args[position] is not None:
        return [int(a) for a in _np(args[position]).ravel()]
    return None if "axes" not in at else [int(a) for a in at["axes"]]


def _dtype(to):
    from onnx import helper
    return helper.tensor_dtype_to_np_dtype(int(to))


def _reduce(op, x, at, args):
    axes = _axes(at, args, 1)
    keep = bool(at.get("keepdims", 1))
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    if isinstance(x, Tensor):
        return x.mean(axis=axes, keepdims=keep) if op == "ReduceMean" else x.amin(axis=axes, keepdims=keep)
    return (np.mean if op == "ReduceMean" else np.min)(x, axis=axes, keepdims=keep)


def _pad(x, pads, value):
    n = x.ndim
    pads = [int(p) for p in _np(pads)]
    widths = tuple((pads[i], pads[i + n]) for i in range(n))
    if isinstance(x, Tensor):
        return pad(x, widths, value=float(value))
    return np.pad(x, widths, constant_values=value)


def _gather(data, index, axis):
    idx = _np(index).astype(np.int64)
    key = (slice(None),) * (axis % data.ndim) + (idx,)
    return getitem(data, key) if isinstance(data, Tensor) else _np(data)[key]


def run_more(node, at, args, run_graph):
    """The outputs of ``node`` (one value, or a list), or raise KeyError when the op is unknown here."""
    op = node.op_type
    if op == "Where":
        cond = _np(args[0]).astype(bool)
        if not any(isinstance(a, Tensor) for a in args[1:]):
            return np.where(cond, args[1], args[2])
        return where(cond, *args[1:])
    if op == "Range":
        start, limit, delta = (_np(a).item() for a in args)
        return np.arange(start, limit, delta, dtype=_np(args[0]).dtype)
    if op in ("Greater", "Equal"):
        a, b = _np(args[0]), _np(args[1])
        return a > b if op == "Greater" else a == b
    if op == "Not":
        return ~_np(args[0]).astype(bool)
    if op == "IsInf":
        x = _np(args[0])
        pos = np.isposinf(x) if at.get("detect_positive", 1) else np.zeros(x.shape, bool)
        neg = np.isneginf(x) if at.get("detect_negative", 1) else np.zeros(x.shape, bool)
        return pos | neg
    if op == "Cast":
        dtype = _dtype(at["to"])
        x = args[0]
        if isinstance(x, Tensor) and dtype.kind == "f":
            return x if x.array.dtype == dtype else x.astype(dtype)
        return _np(x).astype(dtype)
    if op in ("ReduceMean", "ReduceMin"):
        return _reduce(op, args[0], at, args)
    if op == "Pad":
        value = 0.0 if len(args) < 3 or args[2] is None else _np(args[2]).item()
        return _pad(args[0], args[1], value)
    if op == "Expand":
        x = args[0]
        shape = np.broadcast_shapes(tuple(x.shape), tuple(int(s) for s in _np(args[1])))
        return x.expand(*shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape).copy()
    if op == "Squeeze":
        x = args[0]
        axes = _axes(at, args, 1)
        axes = [i for i, s in enumerate(x.shape) if s == 1] if axes is None else [a % x.ndim for a in axes]
        for a in sorted(axes, reverse=True):
            x = x.squeeze(a) if isinstance(x, Tensor) else np.squeeze(x, a)
        return x
    if op == "ConstantOfShape":
        from onnx import numpy_helper
        value = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
        return np.full(tuple(int(s) for s in _np(args[0])), value.ravel()[0], dtype=value.dtype)
    if op == "Split":
        x, axis = args[0], at.get("axis", 0) % args[0].ndim
        sizes = [int(s) for s in _np(args[1])]
        edges = np.cumsum([0] + sizes)
        return [_gather_slice(x, axis, int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    if op == "Gather":
        return _gather(args[0], args[1], int(at.get("axis", 0)))
    if op == "Scan":
        return _scan(node, at, args, run_graph)
    raise KeyError(op)


def _gather_slice(x, axis, lo, hi):
    key = (slice(None),) * axis + (slice(lo, hi),)
    return getitem(x, key) if isinstance(x, Tensor) else x[key]


def _scan(node, at, args, run_graph):
    """ONNX Scan with scan inputs and outputs on axis 0 (the form descend's export writes)."""
    body = at["body"]
    m = int(at["num_scan_inputs"])
    n = len(args) - m
    if any(at.get(k) and any(at[k]) for k in ("scan_input_axes", "scan_output_axes")):
        raise ValueError("Scan over an axis other than 0 is not supported")
    in_dirs = list(at.get("scan_input_directions", [0] * m))
    out_dirs = list(at.get("scan_output_directions", [0] * (len(body.output) - n)))
    states, scans = list(args[:n]), list(args[n:])
    steps = scans[0].shape[0]
    collected = [[] for _ in range(len(body.output) - n)]
    for t in range(steps):
        xs = [s[steps - 1 - t] if d else s[t] for s, d in zip(scans, in_dirs)]
        outs = run_graph(body, dict(zip([i.name for i in body.input], states + xs)))
        states = outs[:n]
        for c, o in zip(collected, outs[n:]):
            c.append(o)
    stacked = [stack(c[::-1] if d else c, axis=0) for c, d in zip(collected, out_dirs)]
    return states + stacked
