"""ONNX converter for multi-head attention, decomposed into MatMul / Softmax, with its masks:

    q, k, v = query W_qᵀ + b_q, key W_kᵀ + b_k, value W_vᵀ + b_v,   split into heads (N, h, ·, d)
    B = attn_mask′ + key_padding_mask′   (a boolean mask as 0 / −∞ where True; a float mask added as it is)
    out = concat_heads(softmax((q/√d) kᵀ + B) v) W_oᵀ + b_o

``in_proj_weight`` (or ``q/k/v_proj_weight`` when kdim/vdim ≠ embed_dim), ``add_bias_kv`` (``bias_k``/
``bias_v`` appended to the keys and values: ``Expand`` + ``Concat``, the masks padded with a 0 column) and
``add_zero_attn`` (a zero key and value: ``Pad``) are all exported. Masks may be graph inputs or constants
(:class:`~descend.onnx.Constant`); ``attn_mask`` is (L, S) or (N·h, L, S), ``key_padding_mask`` (N, S). A
causal constant mask given with the ``is_causal`` hint is rebuilt from the run-time lengths
(``Range`` → ``Greater``: key j > query i is blocked), so L and S stay symbolic. With ``need_weights=False`` a
query row whose keys are all masked gets zero weights (as descend's and PyTorch's fast path); with
``need_weights=True`` it is NaN, as in descend. The weights (second output) are averaged over heads
(``ReduceMean``) or per head. Unbatched (L, E) inputs are given a batch axis of 1 and lose it at the end.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from .graph import Constant, Value, elem_type, example_of
from .layers import run_call


def additive(g, mask, hint):
    """A mask (Value / Constant / None) as an additive float bias: boolean → Where(mask, −∞, 0)."""
    if mask is None:
        return None
    name = g.name_of(mask, f"{hint}.mask")
    dtype = example_of(mask).dtype
    if dtype == bool:
        return g.node("Where", [name, g.const(-np.inf, f"{hint}.neg_inf"), g.const(0.0, f"{hint}.zero")], hint)
    if dtype.kind != "f":
        raise TypeError(f"{hint}: attention masks must be boolean or floating, got dtype {dtype}")
    if dtype == g.dtype or isinstance(mask, Constant):      # a Constant is stored in the model's dtype
        return name
    return g.node("Cast", [name], hint, to=int(elem_type(g.dtype)))


def causal_bias(g, q_seq, k_seq, hint):
    """The (L, S) additive causal mask: −∞ where key j > query i, from the run-time lengths of the
    batch-major (N, L, ·) and (N, S, ·) tensors ``q_seq`` and ``k_seq``."""
    def steps(x):
        n = g.squeeze(g.node("Shape", [x], hint, start=1, end=2), [0], hint)
        return g.node("Range", [g.ints(0, f"{hint}.start"), n, g.ints(1, f"{hint}.delta")], hint)
    rows = g.unsqueeze(steps(q_seq), [1], hint)
    cols = g.unsqueeze(steps(k_seq), [0], hint)
    blocked = g.node("Greater", [cols, rows], hint)
    return g.node("Where", [blocked, g.const(-np.inf, f"{hint}.neg_inf"), g.const(0.0, f"{hint}.zero")], hint)


def _pad_last(g, x, hint, ndim):
    """``x`` (``ndim`` axes) with one 0 appended on its last axis."""
    pads = [0] * (2 * ndim - 1) + [1]
    return g.node("Pad", [x, g.ints(pads, f"{hint}.pads")], hint)


def _project(g, m, x, which, path):
    """x (N, ·, F) W_whichᵀ + b_which."""
    E = m.embed_dim
    i = "qkv".index(which)
    if m.in_proj_weight is not None:
        w = m.in_proj_weight.array[i * E:(i + 1) * E]
    else:
        w = getattr(m, f"{which}_proj_weight").array
    t = g.node("MatMul", [x, g.const(w.T, f"{path}.W{which}")], path)
    if m.in_proj_bias is not None:
        t = g.node("Add", [t, g.const(m.in_proj_bias.array[i * E:(i + 1) * E], f"{path}.b{which}")], path)
    return t


def _append_bias(g, t, bias, path):
    """Concat(t (N, S, E), bias expanded to (N, 1, E)) on axis 1."""
    shape = g.node("Concat", [g.node("Shape", [t], path, start=0, end=1), g.ints([1, bias.shape[-1]],
                                                                                 f"{path}.one_e")], path, axis=0)
    b = g.node("Expand", [g.const(bias.reshape(1, 1, -1), f"{path}.bias_kv"), shape], path)
    return g.node("Concat", [t, b], path, axis=1)


def attention(g, m, query, key, value, path, attn_mask=None, key_padding_mask=None, need_weights=True,
              average_attn_weights=True, causal=False):
    """The output names ``(out, weights or None)`` of ``m(query, key, value, ...)`` (query/key/value:
    Values, masks: Values, Constants or None; ``causal``: rebuild ``attn_mask`` as the causal mask)."""
    batched = query.example.ndim == 3
    E, H, d = m.embed_dim, m.num_heads, m.head_dim

    def batch_major(v):
        if not batched:
            return g.unsqueeze(v.name, [0], path)                                   # (1, L, F)
        return v.name if m.batch_first else g.node("Transpose", [v.name], path, perm=[1, 0, 2])
    xq = batch_major(query)
    xk = xq if key is query else batch_major(key)
    xv = xk if value is key else batch_major(value)
    q, k, v = _project(g, m, xq, "q", path), _project(g, m, xk, "k", path), _project(g, m, xv, "v", path)
    bias_attn = causal_bias(g, xq, xk, f"{path}.causal") if causal else additive(g, attn_mask, f"{path}.attn_mask")
    attn_nd = 2 if causal or attn_mask is None else example_of(attn_mask).ndim
    bias_kpm = additive(g, key_padding_mask, f"{path}.key_padding_mask")
    if bias_kpm is not None and not batched:
        bias_kpm = g.unsqueeze(bias_kpm, [0], path)                                  # (1, S)
    if m.bias_k is not None:
        k, v = _append_bias(g, k, m.bias_k.array, path), _append_bias(g, v, m.bias_v.array, path)
        bias_attn = None if bias_attn is None else _pad_last(g, bias_attn, path, attn_nd)
        bias_kpm = None if bias_kpm is None else _pad_last(g, bias_kpm, path, 2)
    heads = g.ints([0, 0, H, d], f"{path}.heads")
    q = g.node("Transpose", [g.node("Reshape", [q, heads], path)], path, perm=[0, 2, 1, 3])     # (N, h, L, d)
    k = g.node("Transpose", [g.node("Reshape", [k, heads], path)], path, perm=[0, 2, 3, 1])     # (N, h, d, S)
    v = g.node("Transpose", [g.node("Reshape", [v, heads], path)], path, perm=[0, 2, 1, 3])     # (N, h, S, d)
    if m.add_zero_attn:
        k = _pad_last(g, k, path, 4)
        v = g.node("Pad", [v, g.ints([0, 0, 0, 0, 0, 0, 1, 0], f"{path}.zero_attn")], path)
        bias_attn = None if bias_attn is None else _pad_last(g, bias_attn, path, attn_nd)
        bias_kpm = None if bias_kpm is None else _pad_last(g, bias_kpm, path, 2)
    if bias_attn is not None and attn_nd == 3:                                       # (N·h, L, S) -> (N, h, L, S)
        shape = g.node("Concat", [g.ints([-1, H], f"{path}.nh"), g.node("Shape", [bias_attn], path, start=1)],
                       path, axis=0)
        bias_attn = g.node("Reshape", [bias_attn, shape], path)
    if bias_kpm is not None:
        bias_kpm = g.unsqueeze(bias_kpm, [1, 2], path)                               # (N, 1, 1, S)
    bias = bias_attn if bias_kpm is None else (bias_kpm if bias_attn is None else
                                               g.node("Add", [bias_attn, bias_kpm], path))
    scores = g.node("MatMul", [g.node("Mul", [q, g.const(1.0 / math.sqrt(d), f"{path}.scale")], path), k], path)
    dead = None
    if bias is not None and not need_weights:
        neg = g.node("Cast", [g.node("IsInf", [bias], path, detect_positive=0)], path, to=int(elem_type(g.dtype)))
        dead = g.node("Cast", [g.reduce("ReduceMin", neg, [-1], path)], path, to=int(elem_type(np.bool_)))
        bias = g.node("Where", [dead, g.const(0.0, f"{path}.zero"), bias], path)
    if bias is not None:
        scores = g.node("Add", [scores, bias], path)
    p = g.node("Softmax", [scores], path, axis=-1)                                   # (N, h, L, S)
    if dead is not None:
        p = g.node("Where", [dead, g.const(0.0, f"{path}.zero"), p], path)
    o = g.node("Transpose", [g.node("MatMul", [p, v], path)], path, perm=[0, 2, 1, 3])
    o = g.node("Reshape", [o, g.ints([0, 0, E], f"{path}.merge")], path)             # (N, L, E)
    o = g.node("MatMul", [o, g.const(m.out_proj.weight.array.T, f"{path}.out_proj.weight_t")], path)
    if m.out_proj.bias is not None:
        o = g.node("Add", [o, g.const(m.out_proj.bias.array, f"{path}.out_proj.bias")], path)
    if not batched:
        o = g.squeeze(o, [0], path)
    elif not m.batch_first:
        o = g.node("Transpose", [o], path, perm=[1, 0, 2])
    if not need_weights:
        return o, None
    w = g.reduce("ReduceMean", p, [1], path, keepdims=0) if average_attn_weights else p
    return o, (w if batched else g.squeeze(w, [0], path))


def mha(g, m, args, path, convert):
    """``MultiheadAttention.forward(query, key, value, ...)``: ``(output, weights)`` or ``(output,)``."""
    from .signature import causal_constants
    causal = "attn_mask" in causal_constants(m, args)
    out = run_call(m, args["query"], args["key"], args["value"], key_padding_mask=args["key_padding_mask"],
                   need_weights=args["need_weights"], attn_mask=args["attn_mask"],
                   average_attn_weights=args["average_attn_weights"], is_causal=args["is_causal"])
    o, w = attention(g, m, args["query"], args["key"], args["value"], path, args["attn_mask"],
                     args["key_padding_mask"], bool(args["need_weights"]), bool(args["average_attn_weights"]),
                     causal)
    return Value(o, out[0]), (None if w is None else Value(w, out[1]))


def self_attention(g, m, x, path, mask=None, key_padding_mask=None, is_causal=False):
    """The Value of ``m(x, x, x, attn_mask=mask, key_padding_mask=..., need_weights=False)[0]``: the
    self-attention block of a transformer layer (``mask`` may be a causal Constant under ``is_causal``)."""
    from .signature import is_causal_pattern
    causal = bool(is_causal) and isinstance(mask, Constant) and is_causal_pattern(mask.array)
    out = run_call(lambda t, a, kpm: m(t, t, t, attn_mask=a, key_padding_mask=kpm, need_weights=False,
                                       is_causal=bool(is_causal))[0], x, mask, key_padding_mask)
    o, _ = attention(g, m, x, x, x, path, mask, key_padding_mask, False, True, causal)
    return Value(o, out)


def cross_attention(g, m, x, memory, path, mask=None, key_padding_mask=None, is_causal=False):
    """The Value of ``m(x, memory, memory, attn_mask=mask, ..., need_weights=False)[0]``."""
    from .signature import is_causal_pattern
    causal = bool(is_causal) and isinstance(mask, Constant) and is_causal_pattern(mask.array)
    out = run_call(lambda t, mem, a, kpm: m(t, mem, mem, attn_mask=a, key_padding_mask=kpm, need_weights=False,
                                            is_causal=bool(is_causal))[0], x, memory, mask, key_padding_mask)
    o, _ = attention(g, m, x, memory, memory, path, mask, key_padding_mask, False, True, causal)
    return Value(o, out)


CALLS = {nn.MultiheadAttention: mha}
__all__ = ["attention", "mha", "self_attention", "cross_attention", "CALLS"]
