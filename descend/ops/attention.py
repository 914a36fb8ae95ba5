"""Scaled dot-product attention (Vaswani et al., 2017), composed from primitive ops (its backward is theirs).

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + B) V,   scale = 1/√E by default,

over the last two dimensions: Q (..., L, E), K (..., S, E), V (..., S, Ev). B is an additive bias of shape
broadcastable to (..., L, S) built from the masks: a boolean mask contributes 0 where attention is allowed
and −∞ where it is not; a float mask is added as it is.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._util import operand
from .dropout import check_probability, dropout
from .linalg import matmul
from .arithmetic import where
from .reduction import softmax

__all__ = ["scaled_dot_product_attention", "attention_with_weights", "additive_mask", "causal_mask"]


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
