"""Scaled dot-product attention (Vaswani et al., 2017), composed from primitive ops (its backward is theirs).

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + B) V,   scale = 1/√E by default,

over the last two dimensions: Q (..., L, E), K (..., S, E), V (..., S, Ev). B is an additive bias of shape
broadcastable to (..., L, S) built from the masks: a boolean mask contributes 0 where attention is allowed
and −∞ where it is not; a float mask is added as it is.

:func:`multi_head_attention` and :func:`packed_self_attention` compute the same thing for every head of a
multi-head layer as **one** graph node (float, no dropout): the heads are split and merged as views inside
it, and its backward is written out,

    dV = Pᵀ dO,   dP = dO Vᵀ,   dS = P ⊙ (dP − Σ_j dP_j P_j),   dQ = dS K · scale,   dK = dSᵀ Q · scale,

with the products batched over (batch, heads) (``np.matmul``) and, for float32, the softmax row passes
compiled (:mod:`descend.kernels.attention`).
"""

from __future__ import annotations

import math

import numpy as np

from .. import buffers, kernels
from ..tensor import Tensor, record
from ._util import operand
from .dropout import check_probability, dropout
from .linalg import matmul
from .arithmetic import where
from .reduction import softmax

__all__ = ["scaled_dot_product_attention", "attention_with_weights", "additive_mask", "causal_mask",
           "multi_head_attention", "packed_self_attention"]


def causal_mask(L: int, S: int) -> np.ndarray:
    """Booleans (L, S): True where query i may attend to key j, i.e. j ≤ i (top-left aligned)."""
    return np.tril(np.ones((L, S), dtype=bool))


def additive_mask(mask, dtype, allowed_when_true: bool):
    """A mask as an additive bias: a boolean mask gives 0 / −∞ (``allowed_when_true`` says which value of
    the mask allows attention: True in ``scaled_dot_product_attention``, False in MultiheadAttention's
    masks); a float mask is returned as it is (an array, or the Tensor itself when it requires grad)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.requires_grad:
        return mask
    m = np.asarray(mask.array if isinstance(mask, Tensor) else mask)
    if m.dtype == bool:
        blocked = ~m if allowed_when_true else m
        return np.where(blocked, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"attention masks must be boolean or floating, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def attention_with_weights(query, key, value, bias=None, dropout_p: float = 0.0, scale=None, generator=None,
                           masked_rows_to_zero: bool = False):
    """``(softmax(Q Kᵀ·scale + bias) V, weights)``: the attention output and the attention weights (after
    dropout with probability ``dropout_p``, which is applied whenever it is non-zero).

    A query whose bias row is −∞ everywhere (every key masked) gets NaN weights, or with
    ``masked_rows_to_zero=True`` zero weights and a zero output (PyTorch's scaled_dot_product_attention
    does the latter, MultiheadAttention with need_weights=True the former)."""
    query = query if isinstance(query, Tensor) else operand(query)
    E = query.shape[-1]
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)
    scores = matmul(query * scale, key.swapaxes(-1, -2))
    dead = None
    if masked_rows_to_zero and isinstance(bias, np.ndarray):
        dead = np.all(np.isneginf(bias), axis=-1, keepdims=True)
        if dead.any():
            bias = np.where(dead, 0.0, bias).astype(bias.dtype)  # finite scores: no NaN in the backward
        else:
            dead = None
    if bias is not None:
        scores = scores + bias
    weights = softmax(scores, axis=-1)
    if dead is not None:
        weights = where(~dead, weights, 0.0)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True, generator)
    return matmul(weights, value), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
                                 scale=None, enable_gqa: bool = False):
    """PyTorch's ``F.scaled_dot_product_attention``: softmax(Q Kᵀ·scale + mask) V with Q (..., L, E),
    K (..., S, E), V (..., S, Ev). A boolean ``attn_mask`` marks with True the pairs that take part; a float
    one is added to the scores. ``is_causal=True`` lets query i see keys j ≤ i (no attn_mask then).
    ``dropout_p`` drops attention weights (always, as PyTorch's: pass 0.0 in evaluation)."""
    dropout_p = check_probability(dropout_p, "scaled_dot_product_attention")
    if enable_gqa:
        raise ValueError("scaled_dot_product_attention: enable_gqa=True is not supported; repeat the key/value "
                         "heads to the query's number of heads instead")
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must be a Tensor of at least 2 dimensions "
                             f"(..., seq, features), got {getattr(t, 'shape', type(t).__name__)}")
    L, S = query.shape[-2], key.shape[-2]
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key {tuple(key.shape)} and "
                         f"value {tuple(value.shape)} do not fit: need (..., L, E), (..., S, E), (..., S, Ev)")
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        attn_mask = causal_mask(L, S)
    bias = additive_mask(attn_mask, query.array.dtype, allowed_when_true=True)
    return attention_with_weights(query, key, value, bias, dropout_p, scale, masked_rows_to_zero=True)[0]


# --------------------------------------------------------------------------------------------------
# All heads as one node


def _heads(x: np.ndarray, heads: int, batch_first: bool) -> np.ndarray:
    """A (L, N, H·d) array — (N, L, H·d) when ``batch_first`` — as its (N, H, L, d) view (no copy)."""
    if batch_first:
        N, L, E = x.shape
        return x.reshape(N, L, heads, E // heads).transpose(0, 2, 1, 3)
    L, N, E = x.shape
    return x.reshape(L, N, heads, E // heads).transpose(1, 2, 0, 3)


def _softmax(s: np.ndarray, bias, scale: float, zero_dead: bool) -> None:
    """In place on the (N, H, L, S) raw scores: softmax(s·scale + bias) over the last axis; a row of all −∞
    gives NaN, or zeros with ``zero_dead``."""
    if s.dtype == np.float32 and kernels.enabled():
        from ..kernels.attention import softmax_rows
        b = np.zeros((1, 1, 1, 1), s.dtype) if bias is None else np.asarray(bias, s.dtype)
        softmax_rows(s, np.broadcast_to(b.reshape((1,) * (4 - b.ndim) + b.shape), s.shape), scale, zero_dead)
        return
    s *= s.dtype.type(scale)
    if bias is not None:
        s += bias
    m = s.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):  # a row of all −∞: −∞ − (−∞) = NaN, as a softmax gives
        s -= m
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    if zero_dead:
        dead = np.isneginf(m)
        if dead.any():
            s[np.broadcast_to(dead, s.shape)] = 0.0


def _softmax_backward(dp: np.ndarray, p: np.ndarray, scale: float) -> None:
    """In place on dP: scale · P ⊙ (dP − Σ_j dP_j P_j), the gradient of the raw scores Q Kᵀ."""
    if dp.dtype == np.float32 and kernels.enabled():
        from ..kernels.attention import softmax_backward_rows
        softmax_backward_rows(dp, p, scale)
        return
    t = (dp * p).sum(axis=-1, keepdims=True)
    dp -= t
    dp *= p
    dp *= dp.dtype.type(scale)


def _broadcasts_to(shape, full) -> bool:
    try:
        return np.broadcast_shapes(shape, full) == full
    except ValueError:
        return False


def _attention_node(parents, q, k, v, heads, bias, batch_first, scale, need_weights, zero_dead, targets):
    """The node(s) of :func:`multi_head_attention` / :func:`packed_self_attention`. ``q``, ``k``, ``v`` are
    the arrays (views) in the (L, N, E) layout; ``targets(with_v)`` gives the arrays to write their
    gradients into (dq, dk and dv, None unless ``with_v``) and the parents' gradients they are part of."""
    dtype = q.dtype
    scale = 1.0 / math.sqrt(q.shape[-1] // heads) if scale is None else float(scale)
    q4, k4, v4 = _heads(q, heads, batch_first), _heads(k, heads, batch_first), _heads(v, heads, batch_first)
    N, H, L, _ = q4.shape
    S = k4.shape[2]
    if bias is not None and (bias.ndim > 4 or not _broadcasts_to(bias.shape, (N, H, L, S))):
        raise ValueError(f"multi_head_attention: bias of shape {bias.shape} does not broadcast to (N, H, L, S) = "
                         f"{(N, H, L, S)}")
    p = np.matmul(q4, k4.swapaxes(-1, -2), out=buffers.empty((N, H, L, S), dtype))
    _softmax(p, bias, scale, zero_dead)
    out = buffers.empty(q.shape[:-1] + (v.shape[-1],), dtype)
    np.matmul(p, v4, out=_heads(out, heads, batch_first))

    def scores_backward(dp, dq, dk):
        """dQ, dK from dL/dP (in place on it), written into dq and dk."""
        _softmax_backward(dp, p, scale)
        np.matmul(dp, k4, out=_heads(dq, heads, batch_first))
        np.matmul(dp.swapaxes(-1, -2), q4, out=_heads(dk, heads, batch_first))

    def backward(g):
        g4 = _heads(g, heads, batch_first)
        dq, dk, dv, grads = targets(True)
        np.matmul(p.swapaxes(-1, -2), g4, out=_heads(dv, heads, batch_first))
        scores_backward(np.matmul(g4, v4.swapaxes(-1, -2), out=buffers.empty((N, H, L, S), dtype)), dq, dk)
        return grads

    output = record(out, parents, backward, "multi_head_attention")
    if not need_weights:
        return output, None

    def weights_backward(g):
        dq, dk, _, grads = targets(False)
        scores_backward(np.array(g, dtype=dtype), dq, dk)
        return grads

    return output, record(p, parents, weights_backward, "attention_weights")


def _check_fused(name, heads, tensors, bias, batch_first):
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ValueError(f"{name}: num_heads must be a positive int, got {heads!r}")
    for label, t in tensors:
        if not isinstance(t, Tensor) or t.ndim != 3 or t.array.dtype.kind != "f":
            layout = "(N, L, E)" if batch_first else "(L, N, E)"
            raise ValueError(f"{name}: {label} must be a 3-D float Tensor {layout}, got "
                             f"{getattr(t, 'shape', type(t).__name__)}")
    if bias is not None and (isinstance(bias, Tensor) or not isinstance(bias, np.ndarray)):
        raise TypeError(f"{name}: bias must be a NumPy array (a mask needing its gradient goes through "
                        f"attention_with_weights), got {type(bias).__name__}")


def multi_head_attention(query, key, value, num_heads: int, bias=None, *, batch_first: bool = False, scale=None,
                         need_weights: bool = False, masked_rows_to_zero: bool = False):
    """``(out, weights)`` of multi-head attention on projected inputs, one node for all heads:

        out_h = softmax(Q_h K_hᵀ · scale + bias) V_h,   out = concat_h(out_h),   scale = 1/√d by default,

    with Q (L, N, H·d), K (S, N, H·d), V (S, N, H·dv) — (N, L, ·), (N, S, ·) with ``batch_first`` — split into
    ``num_heads`` heads along the last axis, ``bias`` an additive array broadcastable to (N, H, L, S) (see
    :func:`additive_mask`), ``out`` in the query's layout (L, N, H·dv) and ``weights`` the (N, H, L, S)
    attention weights (a second node) when ``need_weights``, else None. A query row with every key masked
    gets NaN, or zeros with ``masked_rows_to_zero``. No dropout: :func:`attention_with_weights` has it."""
    _check_fused("multi_head_attention", num_heads, (("query", query), ("key", key), ("value", value)), bias,
                 batch_first)
    q, k, v = query.array, key.array, value.array
    seq = 1 if batch_first else 0
    if (q.shape[-1] != k.shape[-1] or k.shape[:2] != v.shape[:2] or q.shape[1 - seq] != k.shape[1 - seq]
            or q.shape[-1] % num_heads or v.shape[-1] % num_heads or not (q.dtype == k.dtype == v.dtype)):
        raise ValueError(f"multi_head_attention: query {q.shape}, key {k.shape} and value {v.shape} do not fit "
                         f"{num_heads} heads: need one dtype and the same batch, E = Eₖ, Eₖ and Eᵥ divisible by "
                         "num_heads, S the same for key and value")

    def targets(with_v):
        dq, dk = buffers.empty(q.shape, q.dtype), buffers.empty(k.shape, q.dtype)
        dv = buffers.empty(v.shape, q.dtype) if with_v else None
        return dq, dk, dv, (dq, dk, dv)

    return _attention_node((query, key, value), q, k, v, num_heads, bias, batch_first, scale, need_weights,
                           masked_rows_to_zero, targets)


def packed_self_attention(qkv, num_heads: int, bias=None, *, batch_first: bool = False, scale=None,
                          need_weights: bool = False, masked_rows_to_zero: bool = False):
    """:func:`multi_head_attention` of the three thirds of one (L, N, 3E) Tensor (the output of a shared
    in-projection [W_q; W_k; W_v]: self-attention) as Q, K and V, without splitting it in the graph: the
    gradient comes back as one (L, N, 3E) array."""
    _check_fused("packed_self_attention", num_heads, (("qkv", qkv),), bias, batch_first)
    x = qkv.array
    E = x.shape[-1] // 3
    if x.shape[-1] != 3 * E or E % num_heads:
        raise ValueError(f"packed_self_attention: qkv's last dimension {x.shape[-1]} must be 3·E with E divisible "
                         f"by num_heads {num_heads}")

    def targets(with_v):
        g = buffers.empty(x.shape, x.dtype)
        dv = g[..., 2 * E:]
        if not with_v:
            dv[...] = 0.0
        return g[..., :E], g[..., E:2 * E], dv, (g,)

    return _attention_node((qkv,), x[..., :E], x[..., E:2 * E], x[..., 2 * E:], num_heads, bias, batch_first,
                           scale, need_weights, masked_rows_to_zero, targets)
