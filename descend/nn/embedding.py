"""Embedding lookup: y[..., :] = W[i, :] for each integer index i.

Backward: dL/dW[i] = Σ of the output gradients of every position holding index i (a scatter-add);
the row ``padding_idx`` gets no gradient. Default initialisation (PyTorch's): W ~ N(0, 1), with the
``padding_idx`` row zero.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor, record
from . import init
from .linear import _positive_int
from .module import Module, Parameter

__all__ = ["Embedding", "embedding"]


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer tensor ``input``: shape input.shape + (dim,)."""
    idx = np.asarray(input.array if isinstance(input, Tensor) else input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}; use .long()")
    num = weight.array.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].flat[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for {num} embeddings (valid 0 … {num - 1})")
    w = weight.array
    out = w[idx]

    def backward(g):
        gw = np.zeros_like(w)
        flat_idx = idx.reshape(-1)
        g2 = g.reshape(-1, w.shape[1])
        if flat_idx.size:
            # scatter-add rows: sort indices once, then sum runs of equal index (reduceat)
            order = np.argsort(flat_idx, kind="stable")
            sorted_idx = flat_idx[order]
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            gw[sorted_idx[starts]] = np.add.reduceat(g2[order], starts, axis=0)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    return record(out, (weight,), backward, "embedding")


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim, padding_idx=None)``: a trainable lookup table ``weight``
    of shape (num_embeddings, embedding_dim), initialised N(0, 1) (padding row zero)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, dtype=None, generator=None):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be in [-{num_embeddings}, "
                                 f"{num_embeddings - 1}]")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(backend.empty((num_embeddings, embedding_dim), dtype), dtype=dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, 0.0, 1.0, generator)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
