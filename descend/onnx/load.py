"""``descend.onnx.load(path)``: an ONNX file as a descend module that runs its graph with descend ops.

:class:`OnnxModule` keeps every finite float initializer as a trainable ``Parameter`` (``p0``, ``p1``, ... in
graph order; ``onnx_names`` maps them back) and, in ``forward``, evaluates the nodes in order with descend's
differentiable ops, so a loaded model can be evaluated, fine-tuned or exported again. Integer initializers
(shapes, axes) and non-finite ones (the −∞ of masks, which training must not touch) stay constants. The ops
understood are those :func:`descend.onnx.export` writes: Gemm, MatMul, Add, Sub, Mul, Div, Conv, MaxPool,
AveragePool, GlobalAveragePool, BatchNormalization, LayerNormalization, Relu, LeakyRelu, Elu, Sigmoid, Tanh,
Softmax, LogSoftmax, Erf, Flatten, Reshape, Identity, Gather, Transpose, Shape, Slice, Unsqueeze, Concat, RNN,
LSTM, GRU (with initial states), and those of masks, several inputs,
``proj_size`` and the sequence blocks (:mod:`descend.onnx.load_ops`: Where, Range, Greater, IsInf, Cast, Pad,
Expand, Squeeze, ReduceMean, ReduceMin, ConstantOfShape, Split, Scan, Gather on any axis). Any other op raises
a one-line error naming the node. A graph may have several inputs: ``forward`` takes them in order.
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
from .load_ops import run_more
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


def _row(state, d):
    """Direction d's initial state (N, H) of an ONNX (D, N, H) state, or None."""
    if state is None:
        return None
    return state[d] if isinstance(state, Tensor) else Tensor.from_array(np.ascontiguousarray(_np(state)[d]))


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

    h0 = args[5] if len(args) > 5 else None
    c0 = args[6] if len(args) > 6 else None
    outs, hs, cs = [], [], []
    direction = at.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    for d in range(w.shape[0]):
        gh = w.shape[1]
        b_ih = b_hh = None
        if b is not None:
            b_ih, b_hh = torch_rows(b[d, :gh]), torch_rows(b[d, gh:])
        reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
        out, h_n, c_n = recurrent_sequence(mode, x, _row(h0, d), _row(c0, d), Tensor.from_array(torch_rows(w[d])),
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


def _run_node(node, args, run_graph):
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
        perm = at.get("perm", list(range(args[0].ndim))[::-1])
        return args[0].permute(*perm) if isinstance(args[0], Tensor) else np.transpose(args[0], perm)
    if op == "Shape":
        shape = np.asarray(args[0].shape, dtype=np.int64)
        return shape[at.get("start", 0):at.get("end", len(shape))]
    if op == "Slice":
        return _slice(*args)
    if op == "Unsqueeze":
        out = args[0]
        axes = np.ravel(_np(args[1])).tolist()
        for a in sorted(int(v) % (out.ndim + len(axes)) for v in axes):
            out = out.unsqueeze(a) if isinstance(out, Tensor) else np.expand_dims(out, a)
        return out
    if op == "Concat":
        if not any(isinstance(a, Tensor) for a in args):
            return np.concatenate([np.asarray(a) for a in args], axis=at["axis"])
        return concatenate(list(args), axis=at["axis"])
    if op == "Gather" and at.get("axis", 0) == 0 and isinstance(args[0], Tensor) and _np(args[1]).ndim:
        from ..nn.embedding import embedding
        return embedding(_np(args[1]).astype(np.int64), args[0])
    if op in ("RNN", "LSTM", "GRU"):
        return _recurrent(node, at, args)
    return run_more(node, at, args, run_graph)


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
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)):   # −∞ of masks: a constant, never trained
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

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise ValueError(f"this ONNX graph takes {len(self.input_names)} input"
                             f"{'s' if len(self.input_names) > 1 else ''} ({', '.join(self.input_names)}), "
                             f"got {len(inputs)}")
        env = dict(self._constants)
        env.update({onnx: getattr(self, attr) for attr, onnx in self.onnx_names.items()})
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else Tensor.from_array(np.asarray(x))
        _run_nodes(self._nodes, env)
        results = [env[n] for n in self.output_names]
        return results[0] if len(results) == 1 else tuple(results)


def _run_nodes(nodes, env):
    """Evaluate ``nodes`` in order, reading and writing the name → value dict ``env``."""
    def run_graph(graph, bindings):      # a subgraph (Scan's body) sees the outer values
        inner = {**env, **bindings}
        _run_nodes(graph.node, inner)
        return [inner[o.name] for o in graph.output]
    for node in nodes:
        args = [env[n] if n else None for n in node.input]
        try:
            out = _run_node(node, args, run_graph)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"node {node.name or node.output[0]!r} ({node.op_type}): {exc}") from None
        outs = out if isinstance(out, list) else [out]
        env.update(zip(node.output, outs))


SUPPORTED_OPS = frozenset("""Gemm MatMul Add Sub Mul Div Conv MaxPool AveragePool GlobalAveragePool BatchNormalization
LayerNormalization Relu LeakyRelu Elu Sigmoid Tanh Softmax LogSoftmax Erf Flatten Reshape Identity Gather Transpose
Shape Slice Unsqueeze Concat RNN LSTM GRU Where Range Greater Equal Not IsInf Cast Pad Expand Squeeze ReduceMean
ReduceMin ConstantOfShape Split Scan""".split())


def load(path) -> OnnxModule:
    """The ONNX model at ``path`` (a file name, bytes, or a binary file object) as an :class:`OnnxModule`
    in eval mode; its ``forward`` takes the graph's inputs in order and returns one Tensor, or a tuple for
    several outputs."""
    import onnx
    if isinstance(path, (bytes, bytearray)):
        proto = onnx.load_from_string(bytes(path))
    elif isinstance(path, (str, os.PathLike)) or hasattr(path, "read"):
        proto = onnx.load(path)
    else:
        raise TypeError(f"path must be a file name, bytes or a binary file object, got {type(path).__name__}")
    return OnnxModule(proto).eval()
