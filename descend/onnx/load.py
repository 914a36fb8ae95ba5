"""``descend.onnx.load(path)``: an ONNX file as a descend module that runs its graph with descend ops.

:class:`OnnxModule` keeps every float initializer as a trainable ``Parameter`` (``p0``, ``p1``, ... in graph
order; ``onnx_names`` maps them back) and, in ``forward``, evaluates the nodes in order with descend's
differentiable ops, so a loaded model can be evaluated, fine-tuned or exported again. Integer initializers
(shapes, axes) stay constants. The ops understood are those :func:`descend.onnx.export` writes: Gemm, MatMul,
Add, Sub, Mul, Div, Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, LayerNormalization,
Relu, LeakyRelu, Elu, Sigmoid, Tanh, Softmax, LogSoftmax, Erf, Flatten, Reshape, Identity, Gather, Transpose,
Shape, Slice, Unsqueeze, Concat, RNN, LSTM, GRU. Any other op raises a one-line error naming the node.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..autograd import Function
from ..nn import Module, Parameter
from ..ops import activation as A
from ..ops import concatenate
from ..ops.conv import conv2d
from ..ops.linalg import matmul
from ..ops.normalization import batch_norm, layer_norm
from ..ops.pooling import avg_pool2d, max_pool2d
from ..ops.recurrent import recurrent_sequence
from ..ops.reduction import log_softmax, softmax
from ..tensor import Tensor
from .graph import ExportError
from .sequence import GATE_ORDER


class _Erf(Function):
    """erf(x); d/dx = 2/√π · e^{−x²}."""

    @staticmethod
    def forward(ctx, x):
        from scipy import special
        ctx.save_for_backward(x)
        return special.erf(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _np(v) -> np.ndarray:
    return np.asarray(v.array if isinstance(v, Tensor) else v)


def _pool_args(at):
    pads = list(at.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise ValueError(f"asymmetric pads {pads} are not supported")
    return tuple(at["kernel_shape"]), tuple(at.get("strides", [1, 1])), tuple(pads[:2])


def _slice(x, starts, ends, axes=None, steps=None):
    starts, ends = _np(starts).tolist(), _np(ends).tolist()
    ndim = len(x.shape)
    axes = list(range(len(starts))) if axes is None else _np(axes).tolist()
    steps = [1] * len(starts) if steps is None else _np(steps).tolist()
    index = [slice(None)] * ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a % ndim] = slice(int(s), int(min(e, 2**62)), int(st))
    return x[tuple(index)]


def _recurrent(node, at, args):
    op = node.op_type
    x, w, r = args[0], _np(args[1]), _np(args[2])
    b = _np(args[3]) if len(args) > 3 and args[3] is not None else None
    H = int(at["hidden_size"])
    if op == "RNN":
        mode = "RNN_RELU" if at.get("activations", [b"Tanh"])[0] in (b"Relu", "Relu") else "RNN_TANH"
    else:
        mode = op
        if op == "GRU" and not at.get("linear_before_reset", 0):
            raise ValueError("GRU with linear_before_reset=0 has no descend equivalent")
    back = np.argsort(GATE_ORDER[mode])   # ONNX gate order -> PyTorch's

    def torch_rows(m):
        return np.concatenate([m[g * H:(g + 1) * H] for g in back], axis=0)

    outs, hs, cs = [], [], []
    direction = at.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    for d in range(w.shape[0]):
        gh = w.shape[1]
        b_ih = b_hh = None
        if b is not None:
            b_ih, b_hh = torch_rows(b[d, :gh]), torch_rows(b[d, gh:])
        reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
        out, h_n, c_n = recurrent_sequence(mode, x, None, None, Tensor.from_array(torch_rows(w[d])),
                                           Tensor.from_array(torch_rows(r[d])),
                                           None if b_ih is None else Tensor.from_array(b_ih),
                                           None if b_hh is None else Tensor.from_array(b_hh), None, reverse, None)
        outs.append(out.unsqueeze(1))
        hs.append(h_n.unsqueeze(0))
        cs.append(None if c_n is None else c_n.unsqueeze(0))
    cat = (lambda ts: ts[0] if len(ts) == 1 else concatenate(ts, axis=0))  # noqa: E731
    y = outs[0] if len(outs) == 1 else concatenate(outs, axis=1)
    results = [y, cat(hs)]
    if op == "LSTM":
        results.append(cat(cs))
    return results


def _run_node(node, args):
    op, at = node.op_type, _attrs(node)
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = args
        return {"Add": lambda: a + b, "Sub": lambda: a - b, "Mul": lambda: a * b, "Div": lambda: a / b}[op]()
    if op == "MatMul":
        return matmul(*args)
    if op == "Gemm":
        a, w = args[0], args[1]
        if at.get("transA", 0):
            a = a.T
        if at.get("transB", 0):
            w = w.T
        out = matmul(a, w) * float(at.get("alpha", 1.0))
        return out if len(args) < 3 else out + args[2] * float(at.get("beta", 1.0))
    if op == "Conv":
        if at.get("group", 1) != 1:
            raise ValueError(f"group={at['group']} is not supported")
        k, s, p = _pool_args({**at, "kernel_shape": at.get("kernel_shape", _np(args[1]).shape[2:])})
        return conv2d(args[0], args[1], args[2] if len(args) > 2 else None, s, p, tuple(at.get("dilations", [1, 1])))
    if op == "MaxPool":
        return max_pool2d(args[0], *_pool_args(at))
    if op == "AveragePool":
        return avg_pool2d(args[0], *_pool_args(at), bool(at.get("count_include_pad", 0)))
    if op == "GlobalAveragePool":
        return args[0].mean(axis=(2, 3), keepdims=True)
    if op == "BatchNormalization":
        x, scale, bias, mean, var = args
        return batch_norm(x, Tensor.from_array(_np(mean)), Tensor.from_array(_np(var)), scale, bias, False, 0.0,
                          float(at.get("epsilon", 1e-5)))
    if op == "LayerNormalization":
        x, scale = args[0], args[1]
        axis = at.get("axis", -1) % x.ndim
        return layer_norm(x, tuple(x.shape[axis:]), scale, args[2] if len(args) > 2 else None,
                          float(at.get("epsilon", 1e-5)))
    simple = {"Relu": A.relu, "Sigmoid": A.sigmoid, "Tanh": A.tanh, "Erf": _Erf.apply, "Identity": lambda t: t}
    if op in simple:
        return simple[op](args[0])
    if op == "LeakyRelu":
        return A.leaky_relu(args[0], float(at.get("alpha", 0.01)))
    if op == "Elu":
        return A.elu(args[0], float(at.get("alpha", 1.0)))
    if op in ("Softmax", "LogSoftmax"):
        return (softmax if op == "Softmax" else log_softmax)(args[0], axis=at.get("axis", -1))
    if op == "Flatten":
        x, axis = args[0], at.get("axis", 1)
        return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)
    if op == "Reshape":
        x, shape = args[0], _np(args[1]).tolist()
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(*shape)
    if op == "Transpose":
        return args[0].permute(*at.get("perm", list(range(args[0].ndim))[::-1]))
    if op == "Shape":
        shape = np.asarray(args[0].shape, dtype=np.int64)
        return shape[at.get("start", 0):at.get("end", len(shape))]
    if op == "Slice":
        return _slice(*args)
    if op == "Unsqueeze":
        out = args[0]
        for a in sorted(int(v) % (out.ndim + len(_np(args[1]))) for v in _np(args[1]).tolist()):
            out = out.unsqueeze(a)
        return out
    if op == "Concat":
        return concatenate(list(args), axis=at["axis"])
    if op == "Gather":
        from ..nn.embedding import embedding
        if at.get("axis", 0) != 0:
            raise ValueError("Gather is supported on axis 0 only")
        return embedding(_np(args[1]).astype(np.int64), args[0])
    if op in ("RNN", "LSTM", "GRU"):
        return _recurrent(node, at, args)
    raise KeyError(op)


class OnnxModule(Module):
    """A descend module evaluating a (descend-exportable) ONNX graph; see :func:`load`."""

    def __init__(self, proto):
        super().__init__()
        from onnx import numpy_helper
        graph = proto.graph
        self.input_names = [i.name for i in graph.input]
        self.output_names = [o.name for o in graph.output]
        self.onnx_names = {}
        object.__setattr__(self, "_constants", {})
        for init in graph.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype.kind == "f":
                attr = f"p{len(self.onnx_names)}"
                self.register_parameter(attr, Parameter(arr.copy()))
                self.onnx_names[attr] = init.name
            else:
                self._constants[init.name] = arr
        object.__setattr__(self, "_nodes", list(graph.node))
        for node in self._nodes:
            if node.op_type not in SUPPORTED_OPS:
                where = node.name or node.output[0]
                raise ExportError(f"node {where!r} ({node.op_type}) has no descend equivalent; descend.onnx.load "
                                  "reads the ops descend.onnx.export writes")

    def forward(self, x):
        env = dict(self._constants)
        env.update({onnx: getattr(self, attr) for attr, onnx in self.onnx_names.items()})
        env[self.input_names[0]] = x if isinstance(x, Tensor) else Tensor.from_array(np.asarray(x))
        for node in self._nodes:
            args = [env[n] if n else None for n in node.input]
            try:
                out = _run_node(node, args)
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"node {node.name or node.output[0]!r} ({node.op_type}): {exc}") from None
            outs = out if isinstance(out, list) else [out]
            env.update(zip(node.output, outs))
        results = [env[n] for n in self.output_names]
        return results[0] if len(results) == 1 else tuple(results)


SUPPORTED_OPS = frozenset("""Gemm MatMul Add Sub Mul Div Conv MaxPool AveragePool GlobalAveragePool BatchNormalization
LayerNormalization Relu LeakyRelu Elu Sigmoid Tanh Softmax LogSoftmax Erf Flatten Reshape Identity Gather Transpose
Shape Slice Unsqueeze Concat RNN LSTM GRU""".split())


def load(path) -> OnnxModule:
    """The ONNX model at ``path`` (a file name, bytes, or a binary file object) as an :class:`OnnxModule`
    in eval mode, with one input; its ``forward`` returns one Tensor, or a tuple for several outputs."""
    import onnx
    if isinstance(path, (bytes, bytearray)):
        proto = onnx.load_from_string(bytes(path))
    elif isinstance(path, (str, os.PathLike)) or hasattr(path, "read"):
        proto = onnx.load(path)
    else:
        raise TypeError(f"path must be a file name, bytes or a binary file object, got {type(path).__name__}")
    if len(proto.graph.input) != 1:
        raise ValueError(f"descend.onnx.load reads graphs with one input, this one has {len(proto.graph.input)}")
    return OnnxModule(proto).eval()
