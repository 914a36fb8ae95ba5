"""ONNX converters for descend's feed-forward layers (one function per layer class).

A converter ``fn(g, module, x, path, convert)`` appends the nodes computing ``module(x)`` in eval mode to
the :class:`~descend.onnx.graph.GraphBuilder` ``g`` and returns the output :class:`Value`; ``convert`` converts
a child module (containers use it). The mapping:

- Linear: ``Gemm(x, W, b, transB=1)`` for 2-D input, else ``MatMul(x, Wᵀ) + b``.
- Conv2d: ``Conv`` (pads, strides, dilations; groups=1). MaxPool2d / AvgPool2d: ``MaxPool`` /
  ``AveragePool`` (``count_include_pad``). AdaptiveAvgPool2d: ``GlobalAveragePool`` for output 1×1, else
  ``Aₕ · x · A_wᵀ`` with the bin-averaging matrices (bins [⌊iH/Hₒ⌋, ⌈(i+1)H/Hₒ⌉), PyTorch's edges).
- BatchNorm1d/2d/3d (eval): ``BatchNormalization`` with the running statistics; LayerNorm:
  ``LayerNormalization`` (axis = −len(normalized_shape)).
- Dropout / Dropout2d / Identity: no node (identity in eval mode).
- ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softmax, LogSoftmax: the ONNX op of that name; SiLU: x·σ(x);
  GELU: x·½(1 + erf(x/√2)), or ½x(1 + tanh(√(2/π)(x + 0.044715x³))) for ``approximate='tanh'``.
- Flatten: ``Flatten(axis=1)`` for (start_dim=1, end_dim=−1), else ``Reshape`` (leading dims copied with 0).
- Sequential: its children in order; Residual: ``Add(x, block(x))``; Embedding: ``Gather(W, indices)``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..ops.conv import pair
from .graph import ExportError, Value


def run_eval(module, example):
    """``module(example)`` as an array (``module``: an eval-mode module or a function of a Tensor)."""
    from ..autograd import no_grad
    from ..tensor import Tensor
    with no_grad():
        out = module(Tensor.from_array(np.ascontiguousarray(example)))
    return out.array if hasattr(out, "array") else out


def _leaf(g, m, x, hint, op, inputs=None, **attrs):
    return Value(g.node(op, [x.name] if inputs is None else inputs, hint, **attrs), run_eval(m, x.example))


def linear(g, m, x, path, convert):
    w = m.weight.array
    if x.example.ndim == 2:
        ins = [x.name, g.const(w, f"{path}.weight")]
        if m.bias is not None:
            ins.append(g.const(m.bias.array, f"{path}.bias"))
        return _leaf(g, m, x, path, "Gemm", ins, transB=1)
    out = g.node("MatMul", [x.name, g.const(w.T, f"{path}.weight_t")], path)
    if m.bias is not None:
        out = g.node("Add", [out, g.const(m.bias.array, f"{path}.bias")], path)
    return Value(out, run_eval(m, x.example))


def conv2d(g, m, x, path, convert):
    if m.groups != 1:
        raise ExportError(f"{path} (Conv2d): groups={m.groups} has no export; only groups=1")
    ins = [x.name, g.const(m.weight.array, f"{path}.weight")]
    if m.bias is not None:
        ins.append(g.const(m.bias.array, f"{path}.bias"))
    ph, pw = m.padding
    return _leaf(g, m, x, path, "Conv", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                 pads=[ph, pw, ph, pw], dilations=list(m.dilation), group=1)


def _pool_attrs(m):
    k, s, p = pair(m.kernel_size, "kernel_size", 1), pair(m.stride, "stride", 1), pair(m.padding, "padding", 0)
    return dict(kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]])


def max_pool2d(g, m, x, path, convert):
    return _leaf(g, m, x, path, "MaxPool", **_pool_attrs(m))


def avg_pool2d(g, m, x, path, convert):
    return _leaf(g, m, x, path, "AveragePool", count_include_pad=int(m.count_include_pad), **_pool_attrs(m))


def adaptive_matrix(size: int, out: int) -> np.ndarray:
    """(out, size) matrix averaging bin i = [⌊i·size/out⌋, ⌈(i+1)·size/out⌉) of a length-``size`` axis."""
    a = np.zeros((out, size))
    for i in range(out):
        lo, hi = (i * size) // out, -((-(i + 1) * size) // out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def adaptive_avg_pool2d(g, m, x, path, convert):
    out = run_eval(m, x.example)
    (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
    if (oh, ow) == (1, 1):
        return Value(g.node("GlobalAveragePool", [x.name], path), out)
    t = g.node("MatMul", [g.const(adaptive_matrix(h, oh), f"{path}.rows"), x.name], path)
    return Value(g.node("MatMul", [t, g.const(adaptive_matrix(w, ow).T, f"{path}.cols")], path), out)


def batch_norm(g, m, x, path, convert):
    if m.running_mean is None:
        raise ExportError(f"{path} ({type(m).__name__}): track_running_stats=False uses batch statistics in "
                          "eval mode, which has no inference-form export")
    c = m.num_features
    scale = m.weight.array if m.weight is not None else np.ones(c)
    bias = m.bias.array if m.bias is not None else np.zeros(c)
    ins = [x.name, g.const(scale, f"{path}.weight"), g.const(bias, f"{path}.bias"),
           g.const(m.running_mean.array, f"{path}.running_mean"), g.const(m.running_var.array, f"{path}.running_var")]
    return _leaf(g, m, x, path, "BatchNormalization", ins, epsilon=m.eps)


def layer_norm(g, m, x, path, convert):
    shape = m.normalized_shape
    scale = m.weight.array if m.weight is not None else np.ones(shape)
    ins = [x.name, g.const(scale, f"{path}.weight")]
    if m.bias is not None:
        ins.append(g.const(m.bias.array, f"{path}.bias"))
    return _leaf(g, m, x, path, "LayerNormalization", ins, axis=-len(shape), epsilon=m.eps)


def identity(g, m, x, path, convert):
    return x


def _simple(op, **attrs_of):
    def fn(g, m, x, path, convert):
        return _leaf(g, m, x, path, op, **{k: get(m) for k, get in attrs_of.items()})
    fn.__doc__ = f"The ONNX ``{op}`` op."
    return fn


def silu(g, m, x, path, convert):
    return _leaf(g, m, x, path, "Mul", [x.name, g.node("Sigmoid", [x.name], path)])


def gelu(g, m, x, path, convert):
    half = g.const(0.5, f"{path}.half")
    one = g.const(1.0, f"{path}.one")
    if m.approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x.name, x.name], path), x.name], path)
        inner = g.node("Add", [x.name, g.node("Mul", [cube, g.const(0.044715, f"{path}.c")], path)], path)
        t = g.node("Tanh", [g.node("Mul", [inner, g.const(math.sqrt(2 / math.pi), f"{path}.k")], path)], path)
    else:
        t = g.node("Erf", [g.node("Mul", [x.name, g.const(1 / math.sqrt(2), f"{path}.k")], path)], path)
    gate = g.node("Mul", [g.node("Add", [t, one], path), half], path)
    return _leaf(g, m, x, path, "Mul", [x.name, gate])


def flatten(g, m, x, path, convert):
    nd = x.example.ndim
    start, end = m.start_dim % nd, m.end_dim % nd
    if start == 1 and end == nd - 1:
        return _leaf(g, m, x, path, "Flatten", axis=1)
    target = [0] * start + [-1] + list(x.shape[end + 1:])
    if start == 0:
        target = [-1] + list(x.shape[end + 1:])
    return _leaf(g, m, x, path, "Reshape", [x.name, g.ints(target, f"{path}.shape")])


def sequential(g, m, x, path, convert):
    for name, child in m.named_children():
        x = convert(child, x, f"{path}.{name}")
    return x


def residual(g, m, x, path, convert):
    fx = convert(m.block, x, f"{path}.block")
    return Value(g.node("Add", [x.name, fx.name], path), x.example + fx.example)


def embedding(g, m, x, path, convert):
    if x.example.dtype.kind not in "iu":
        raise ExportError(f"{path} (Embedding): the input must be integer indices, got dtype {x.example.dtype}")
    return _leaf(g, m, x, path, "Gather", [g.const(m.weight.array, f"{path}.weight"), x.name], axis=0)


CONVERTERS = {
    nn.Linear: linear, nn.Conv2d: conv2d, nn.MaxPool2d: max_pool2d, nn.AvgPool2d: avg_pool2d,
    nn.AdaptiveAvgPool2d: adaptive_avg_pool2d, nn.BatchNorm1d: batch_norm, nn.BatchNorm2d: batch_norm,
    nn.BatchNorm3d: batch_norm,
    nn.LayerNorm: layer_norm, nn.Dropout: identity, nn.Dropout2d: identity, nn.Identity: identity,
    nn.ReLU: _simple("Relu"), nn.LeakyReLU: _simple("LeakyRelu", alpha=lambda m: m.negative_slope),
    nn.ELU: _simple("Elu", alpha=lambda m: m.alpha), nn.Sigmoid: _simple("Sigmoid"), nn.Tanh: _simple("Tanh"),
    nn.Softmax: _simple("Softmax", axis=lambda m: m.dim), nn.LogSoftmax: _simple("LogSoftmax", axis=lambda m: m.dim),
    nn.GELU: gelu, nn.SiLU: silu, nn.Flatten: flatten, nn.Sequential: sequential, nn.Residual: residual,
    nn.Embedding: embedding,
}
