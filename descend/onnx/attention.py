"""ONNX converters for self-attention blocks, decomposed into MatMul / Softmax (no masks):

    q, k, v = x W_qᵀ + b_q, x W_kᵀ + b_k, x W_vᵀ + b_v,  split into heads (N, h, L, d)
    out = concat_heads(softmax((q/√d) kᵀ) v) W_oᵀ + b_o

- TransformerEncoderLayer (post-norm and ``norm_first``; activation relu or gelu) and TransformerEncoder
  (its layers, then ``norm``): the self-attention above, the feed-forward block and LayerNorms.
- SinusoidalPositionalEncoding / LearnedPositionalEncoding: x + table[:T], T read from the input's shape
  at run time (``Shape`` → ``Slice``), so the sequence axis may stay symbolic.

Not exported: masks (the graph has one input), ``add_bias_kv`` / ``add_zero_attn``, kdim/vdim ≠ embed_dim,
a MultiheadAttention or decoder used on its own (they take several inputs).
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..ops.activation import gelu, relu
from .graph import ExportError, Value
from .layers import run_eval


def _mha_self_attention(g, m, x, path):
    """The output name of ``m(x, x, x)[0]`` (x: (L, N, E), or (N, L, E) with batch_first)."""
    owner = type(m).__name__
    if m.bias_k is not None or m.add_zero_attn or m.in_proj_weight is None:
        raise ExportError(f"{path} ({owner}): add_bias_kv, add_zero_attn and kdim/vdim != embed_dim have no export")
    E, H, d = m.embed_dim, m.num_heads, m.head_dim
    xb = x if m.batch_first else g.node("Transpose", [x], path, perm=[1, 0, 2])    # (N, L, E)
    w = m.in_proj_weight.array
    b = None if m.in_proj_bias is None else m.in_proj_bias.array
    heads = []
    for i, name in enumerate("qkv"):
        t = g.node("MatMul", [xb, g.const(w[i * E:(i + 1) * E].T, f"{path}.W{name}")], path)
        if b is not None:
            t = g.node("Add", [t, g.const(b[i * E:(i + 1) * E], f"{path}.b{name}")], path)
        t = g.node("Reshape", [t, g.ints([0, 0, H, d], f"{path}.heads")], path)      # (N, L, h, d)
        heads.append(g.node("Transpose", [t], path, perm=[0, 2, 3, 1] if name == "k" else [0, 2, 1, 3]))
    q = g.node("Mul", [heads[0], g.const(1.0 / math.sqrt(d), f"{path}.scale")], path)
    p = g.node("Softmax", [g.node("MatMul", [q, heads[1]], path)], path, axis=-1)   # (N, h, L, L)
    o = g.node("Transpose", [g.node("MatMul", [p, heads[2]], path)], path, perm=[0, 2, 1, 3])
    o = g.node("Reshape", [o, g.ints([0, 0, E], f"{path}.merge")], path)             # (N, L, E)
    o = g.node("MatMul", [o, g.const(m.out_proj.weight.array.T, f"{path}.out_proj.weight_t")], path)
    if m.out_proj.bias is not None:
        o = g.node("Add", [o, g.const(m.out_proj.bias.array, f"{path}.out_proj.bias")], path)
    return o if m.batch_first else g.node("Transpose", [o], path, perm=[1, 0, 2])


def encoder_layer(g, m, x, path, convert):
    if m.activation is relu:
        act = nn.ReLU()
    elif m.activation is gelu:
        act = nn.GELU()
    else:
        raise ExportError(f"{path} ({type(m).__name__}): activation {m.activation!r} has no export; use 'relu' "
                          "or 'gelu'")

    def attend(v):
        out = _mha_self_attention(g, m.self_attn, v.name, f"{path}.self_attn")
        return Value(out, run_eval(lambda t: m.self_attn(t, t, t, need_weights=False)[0], v.example))

    def ff(v):
        h = convert(act, convert(m.linear1, v, f"{path}.linear1"), f"{path}.activation")
        return convert(m.linear2, h, f"{path}.linear2")

    def add(a, b):
        return Value(g.node("Add", [a.name, b.name], path), a.example + b.example)

    if m.norm_first:
        x = add(x, attend(convert(m.norm1, x, f"{path}.norm1")))
        return add(x, ff(convert(m.norm2, x, f"{path}.norm2")))
    x = convert(m.norm1, add(x, attend(x)), f"{path}.norm1")
    return convert(m.norm2, add(x, ff(x)), f"{path}.norm2")


def encoder(g, m, x, path, convert):
    for i, layer in enumerate(m.layers):
        x = convert(layer, x, f"{path}.layers.{i}")
    return x if m.norm is None else convert(m.norm, x, f"{path}.norm")


def positional(g, m, x, path, convert):
    nd = x.example.ndim
    table = m.pe.array if isinstance(m, nn.SinusoidalPositionalEncoding) else m.weight.array
    axis = 1 if (m.batch_first and nd == 3) else 0
    steps = g.node("Shape", [x.name], path, start=axis, end=axis + 1)
    pe = g.node("Slice", [g.const(table, f"{path}.table"), g.ints([0], f"{path}.zero"), steps,
                          g.ints([0], f"{path}.axis")], path)
    if nd == 3:
        pe = g.node("Unsqueeze", [pe, g.ints([0 if m.batch_first else 1], f"{path}.unsqueeze")], path)
    return Value(g.node("Add", [x.name, pe], path), run_eval(m, x.example))


CONVERTERS = {nn.TransformerEncoderLayer: encoder_layer, nn.TransformerEncoder: encoder,
              nn.SinusoidalPositionalEncoding: positional, nn.LearnedPositionalEncoding: positional}
