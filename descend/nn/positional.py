"""Positional encodings for sequence models — descend-only helpers (PyTorch has no such modules).

Both add a position-dependent vector to each step of a (T, N, E) input ((N, T, E) with ``batch_first``,
or (T, E) unbatched), then apply dropout:

* :class:`SinusoidalPositionalEncoding` (Vaswani et al., 2017), fixed:
  PE[t, 2i] = sin(t / 10000^{2i/E}),  PE[t, 2i+1] = cos(t / 10000^{2i/E});
  kept as a non-persistent buffer, so it is not in the state dict.
* :class:`LearnedPositionalEncoding`: a trainable table ``weight`` (max_len, E), initialised N(0, 0.02²).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..ops.dropout import check_probability, dropout
from ..tensor import Tensor
from . import init
from .linear import _positive_int
from .module import Module, Parameter

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int, dtype=np.float32) -> np.ndarray:
    """The (max_len, d_model) table PE[t, 2i] = sin(t·ω_i), PE[t, 2i+1] = cos(t·ω_i), ω_i = 10000^{−2i/d}."""
    t = np.arange(max_len, dtype=np.float64)[:, None]
    omega = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(t * omega)
    pe[:, 1::2] = np.cos(t * omega[: d_model // 2])
    return pe.astype(dtype)


class _PositionalBase(Module):
    def __init__(self, d_model, max_len, dropout_p, batch_first):
        super().__init__()
        owner = type(self).__name__
        self.d_model = _positive_int(d_model, "d_model", owner)
        self.max_len = _positive_int(max_len, "max_len", owner)
        self.p = check_probability(dropout_p, owner)
        self.batch_first = bool(batch_first)

    def _table(self, x) -> Tensor:
        raise NotImplementedError

    def forward(self, x):
        owner = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"{owner}: input must be (T, N, {self.d_model}), (N, T, {self.d_model}) with "
                             f"batch_first, or (T, {self.d_model}); got {tuple(x.shape)}")
        T = x.shape[1] if (self.batch_first and x.ndim == 3) else x.shape[0]
        if T > self.max_len:
            raise ValueError(f"{owner}: a sequence of {T} steps is longer than max_len={self.max_len}; "
                             "build the module with a larger max_len")
        pe = self._table(T)
        if x.ndim == 3:
            pe = pe.unsqueeze(0) if self.batch_first else pe.unsqueeze(1)
        return dropout(x + pe, self.p, self.training)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.p}"


class SinusoidalPositionalEncoding(_PositionalBase):
    """``SinusoidalPositionalEncoding(d_model, max_len=5000, dropout=0.0, batch_first=False)``:
    x + PE[:T] (fixed sin/cos table), then dropout. descend-only."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False, dtype=None):
        super().__init__(d_model, max_len, dropout, batch_first)
        table = sinusoidal_table(max_len, d_model, backend.resolve_dtype(dtype) or backend.DEFAULT_FLOAT)
        self.register_buffer("pe", Tensor.from_array(table), persistent=False)

    def _table(self, T):
        return self.pe[:T]


class LearnedPositionalEncoding(_PositionalBase):
    """``LearnedPositionalEncoding(d_model, max_len=512, dropout=0.0, batch_first=False)``: x + W[:T]
    with a trainable ``weight`` (max_len, d_model) ~ N(0, 0.02²), then dropout. descend-only."""

    def __init__(self, d_model, max_len=512, dropout=0.0, batch_first=False, dtype=None, generator=None):
        super().__init__(d_model, max_len, dropout, batch_first)
        self.weight = Parameter(backend.empty((max_len, d_model), dtype), dtype=dtype)
        init.normal_(self.weight, 0.0, 0.02, generator)

    def _table(self, T):
        return self.weight[:T]
