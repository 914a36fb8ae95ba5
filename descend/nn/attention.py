"""Multi-head attention (Vaswani et al., 2017) with PyTorch's arguments, parameters and masks.

    head_i = softmax((Q W_q,i)(K W_k,i)ᵀ / √d + B) (V W_v,i),   out = concat(head_1..head_h) W_oᵀ + b_o,

d = embed_dim / num_heads. Parameters as PyTorch's ``nn.MultiheadAttention``: ``in_proj_weight``
(3E, E) and ``in_proj_bias`` (3E,) holding [W_q; W_k; W_v] (or ``q_proj_weight`` (E, E),
``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E), ``out_proj``
(a Linear E → E), and with ``add_bias_kv`` the (1, 1, E) ``bias_k`` / ``bias_v`` appended to the keys and
values. Masks: in ``attn_mask`` (L, S) or (N·heads, L, S) and ``key_padding_mask`` (N, S) a True entry
means "do not attend"; float masks are added to the scores.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..ops.attention import additive_mask, attention_with_weights, multi_head_attention, packed_self_attention
from ..ops.dropout import check_probability
from ..ops.linalg import linear
from ..ops.shape import concatenate
from ..creation import tensor
from ..tensor import Tensor
from . import init
from .linear import Linear, _positive_int
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


def _pad_last(mask, extra):
    """Append ``extra`` zero (float) / False (bool) columns to a mask's last dimension."""
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.requires_grad:
        return concatenate([mask, tensor(np.zeros(mask.shape[:-1] + (extra,), mask.array.dtype))], axis=-1)
    m = np.asarray(mask.array if isinstance(mask, Tensor) else mask)
    return np.concatenate([m, np.zeros(m.shape[:-1] + (extra,), m.dtype)], axis=-1)


def _needs_grad(mask) -> bool:
    return isinstance(mask, Tensor) and mask.requires_grad


def _batched(query, key, value, key_padding_mask, swap: bool):
    """The inputs with a batch axis: unbatched (L, E) inputs (and their (S,) key_padding_mask) get a batch of
    one, at axis 1; batched ones with ``swap`` go from (N, L, E) to (L, N, E). Inputs that were one tensor stay
    one (self-attention is recognised by identity)."""
    same = query is key, key is value
    if query.ndim == 2:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = np.asarray(getattr(key_padding_mask, "array", key_padding_mask))[None]
    elif swap:
        query, key, value = query.swapaxes(0, 1), key.swapaxes(0, 1), value.swapaxes(0, 1)
    if same[0]:
        key = query
    if same[1]:
        value = key
    return query, key, value, key_padding_mask


def _returned_weights(weights, need_weights: bool, average: bool, batched: bool):
    """The attention weights forward returns: None unless ``need_weights``; averaged over the heads when
    ``average``; without the batch axis for an unbatched input."""
    if not need_weights:
        return None
    if average:
        weights = weights.mean(axis=1)
    return weights if batched else weights.squeeze(0)


class MultiheadAttention(Module):
    """``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(attn_output, attn_weights)``: output (L, N, E)
    ((N, L, E) with batch_first, (L, E) unbatched), weights (N, L, S) averaged over heads or
    (N, heads, L, S), or None when ``need_weights=False``. ``is_causal`` is a hint, as in PyTorch: the
    causal mask itself must be given as ``attn_mask``. Initialisation as PyTorch's: xavier_uniform_ input
    projections, zero biases, xavier_normal_ bias_k / bias_v."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, dtype=None, generator=None):
        super().__init__()
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "MultiheadAttention")
        self.num_heads = _positive_int(num_heads, "num_heads", "MultiheadAttention")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.kdim = embed_dim if kdim is None else _positive_int(kdim, "kdim", "MultiheadAttention")
        self.vdim = embed_dim if vdim is None else _positive_int(vdim, "vdim", "MultiheadAttention")
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.dropout = check_probability(dropout, "MultiheadAttention")
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(backend.empty((3 * E, E), dtype), dtype=dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(backend.empty((E, E), dtype), dtype=dtype)
            self.k_proj_weight = Parameter(backend.empty((E, self.kdim), dtype), dtype=dtype)
            self.v_proj_weight = Parameter(backend.empty((E, self.vdim), dtype), dtype=dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(backend.empty((3 * E,), dtype), dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype, generator=generator)
        if add_bias_kv:
            self.bias_k = Parameter(backend.empty((1, 1, E), dtype), dtype=dtype)
            self.bias_v = Parameter(backend.empty((1, 1, E), dtype), dtype=dtype)
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's: xavier_uniform_ on the input projection(s), zero in_proj_bias and out_proj.bias,
        xavier_normal_ on bias_k and bias_v (out_proj.weight keeps Linear's default)."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b, generator=generator)

    def _project(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                qkv = linear(query, w, b)
                return qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
            return linear(query, w[:E], bq), linear(key, w[E:2 * E], bk), linear(value, w[2 * E:], bv)
        return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                linear(value, self.v_proj_weight, bv))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is a hint and needs the causal attn_mask too; "
                             "pass attn_mask=nn.Transformer.generate_square_subsequent_mask(L)")
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor) or t.ndim not in (2, 3):
                raise ValueError(f"MultiheadAttention: {name} must be a 3-D (batched) or 2-D (unbatched) Tensor, "
                                 f"got {getattr(t, 'shape', type(t).__name__)}")
        batched = query.ndim == 3
        p = self.dropout if self.training else 0.0
        if p == 0.0 and self.bias_k is None and not self.add_zero_attn and not _needs_grad(attn_mask) \
                and not _needs_grad(key_padding_mask):
            return self._forward_fused(query, key, value, key_padding_mask, need_weights, attn_mask,
                                       average_attn_weights)
        query, key, value, key_padding_mask = _batched(query, key, value, key_padding_mask, self.batch_first)
        L, N, E = query.shape
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {E} features but embed_dim is {self.embed_dim}")
        H, d = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = concatenate([k, self.bias_k.expand(1, N, E)], axis=0)
            v = concatenate([v, self.bias_v.expand(1, N, E)], axis=0)
            attn_mask, key_padding_mask = _pad_last(attn_mask, 1), _pad_last(key_padding_mask, 1)
        S = k.shape[0]
        # (L, N, E) -> (N, H, L, d)
        q = q.reshape(L, N, H, d).permute(1, 2, 0, 3)
        k = k.reshape(S, N, H, d).permute(1, 2, 0, 3)
        v = v.reshape(S, N, H, d).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            zeros = tensor(np.zeros((N, H, 1, d), q.array.dtype))
            k, v = concatenate([k, zeros], axis=2), concatenate([v, zeros], axis=2)
            attn_mask, key_padding_mask = _pad_last(attn_mask, 1), _pad_last(key_padding_mask, 1)
            S += 1
        bias = self._bias(attn_mask, key_padding_mask, N, L, S, q.array.dtype)
        out, weights = attention_with_weights(q, k, v, bias, p, masked_rows_to_zero=not need_weights)
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, N, E))
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.swapaxes(0, 1)
        return out, _returned_weights(weights, need_weights, average_attn_weights, batched)

    def _forward_fused(self, query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights):
        """forward without dropout, bias_k/bias_v or a zero key: the heads as one node
        (:func:`~descend.ops.attention.multi_head_attention`), in the inputs' own layout (no transposes)."""
        batched = query.ndim == 3
        query, key, value, key_padding_mask = _batched(query, key, value, key_padding_mask, swap=False)
        bf = self.batch_first and batched
        seq = 1 if bf else 0
        L, N, E = query.shape[seq], query.shape[1 - seq], query.shape[2]
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {E} features but embed_dim is {self.embed_dim}")
        S = key.shape[seq]
        bias = self._bias(attn_mask, key_padding_mask, N, L, S, query.array.dtype)
        options = dict(batch_first=bf, need_weights=need_weights, masked_rows_to_zero=not need_weights)
        if self._qkv_same_embed_dim and query is key and key is value:
            qkv = linear(query, self.in_proj_weight, self.in_proj_bias)
            out, weights = packed_self_attention(qkv, self.num_heads, bias, **options)
        else:
            q, k, v = self._project(query, key, value)
            out, weights = multi_head_attention(q, k, v, self.num_heads, bias, **options)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        return out, _returned_weights(weights, need_weights, average_attn_weights, batched)

    def _bias(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """The additive score bias (N, H, L, S)-broadcastable from attn_mask and key_padding_mask."""
        H = self.num_heads
        bias = additive_mask(attn_mask, dtype, allowed_when_true=False)
        if bias is not None:
            if bias.ndim == 3:
                if tuple(bias.shape) != (N * H, L, S):
                    raise ValueError(f"MultiheadAttention: a 3-D attn_mask must be {(N * H, L, S)} "
                                     f"(batch·num_heads, L, S), got {tuple(bias.shape)}")
                bias = bias.reshape(N, H, L, S)
            elif tuple(bias.shape) != (L, S):
                raise ValueError(f"MultiheadAttention: a 2-D attn_mask must be {(L, S)}, got {tuple(bias.shape)}")
        kpm = additive_mask(key_padding_mask, dtype, allowed_when_true=False)
        if kpm is not None:
            if tuple(kpm.shape) != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be {(N, S)} (batch, S), got "
                                 f"{tuple(kpm.shape)}")
            kpm = kpm.reshape(N, 1, 1, S)
            bias = kpm if bias is None else bias + kpm
        return bias

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
