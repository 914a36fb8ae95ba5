"""Recurrent layers under PyTorch's names, arguments, parameter names and shapes: RNN, LSTM, GRU and
their single-step cells.

Parameters of layer k (``_reverse`` appended for the backward direction): ``weight_ih_l{k}``
(G·H, F_k), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G·H,), with G = 1 (RNN),
4 (LSTM: gates i, f, g, o) or 3 (GRU: r, z, n) and F_k the input size (layer 0) or H·directions. All are
initialised U(±1/√H) as in PyTorch. The formulas are in :mod:`descend.ops.recurrent`; each
layer-direction's whole time loop is one autograd node.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..ops.activation import relu, sigmoid, tanh
from ..ops.dropout import check_probability, dropout
from ..ops.linalg import linear
from ..ops.recurrent import recurrent_sequence, scatter_rows
from ..ops.shape import concatenate, getitem, stack
from ..creation import tensor
from ..tensor import Tensor
from . import init
from .linear import _positive_int
from .module import Module, Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


def _as_input(x, owner):
    if isinstance(x, Tensor):
        return x
    try:
        return tensor(x)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: input must be a Tensor or array, got {type(x).__name__}") from None


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (multi-layer, bidirectional,
    batch_first, inter-layer dropout, packed sequences)."""

    _gates = 1

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None, generator=None):
        super().__init__()
        owner = type(self).__name__
        self.mode = mode
        self.input_size = _positive_int(input_size, "input_size", owner)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", owner)
        self.num_layers = _positive_int(num_layers, "num_layers", owner)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, owner)
        self.bidirectional = bool(bidirectional)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or not 0 <= proj_size < hidden_size:
            raise ValueError(f"{owner}: proj_size must be an int in [0, hidden_size={hidden_size}), got {proj_size!r}")
        self.proj_size = proj_size
        G = self._gates * hidden_size
        P = proj_size or hidden_size  # size of h (the output features per direction)
        for k in range(num_layers):
            layer_in = input_size if k == 0 else P * self.num_directions
            for suffix in self._suffixes():
                shapes = {"weight_ih": (G, layer_in), "weight_hh": (G, P)}
                if bias:
                    shapes.update(bias_ih=(G,), bias_hh=(G,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{k}{suffix}",
                                            Parameter(backend.empty(shape, dtype), dtype=dtype))
        self.reset_parameters(generator)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: every weight and bias U(−1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator)

    def _layer_params(self, k, suffix):
        get = lambda name, present: getattr(self, f"{name}_l{k}{suffix}") if present else None  # noqa: E731
        return (get("weight_ih", True), get("weight_hh", True), get("bias_ih", self.bias), get("bias_hh", self.bias),
                get("weight_hr", self.proj_size))

    def _check_state(self, h, name, batch):
        size = self.proj_size if (self.proj_size and name == "h0") else self.hidden_size
        expected = (self.num_layers * self.num_directions, batch, size)
        if tuple(h.shape) != expected:
            raise ValueError(f"{type(self).__name__}: {name} must have shape {expected} (num_layers·directions, "
                             f"batch, hidden_size), got {tuple(h.shape)}")

    def forward(self, input, hx=None):
        owner = type(self).__name__
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        lengths = sorted_idx = unsorted_idx = None
        if packed:
            mask = input.mask()
            lengths = input.lengths()
            x = scatter_rows(input.data, mask)
            sorted_idx = None if input.sorted_indices is None else np.asarray(input.sorted_indices.array)
            unsorted_idx = None if input.unsorted_indices is None else np.asarray(input.unsorted_indices.array)
            batched = True
        else:
            x = _as_input(input, owner)
            if x.ndim not in (2, 3):
                raise ValueError(f"{owner}: input must be 3-D (seq, batch, features) or 2-D unbatched "
                                 f"(seq, features), got shape {tuple(x.shape)}")
            batched = x.ndim == 3
            if not batched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.swapaxes(0, 1)
        if x.shape[2] != self.input_size:
            raise ValueError(f"{owner}: input has {x.shape[2]} features but input_size is {self.input_size}")
        states = [None, None]
        if hx is not None:
            if lstm and not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError("LSTM: hx must be a tuple (h0, c0)")
            given = list(hx) if lstm else [hx]
            for j, h in enumerate(given):
                h = _as_input(h, owner)
                if not batched:
                    h = h.unsqueeze(1)
                self._check_state(h, ("h0", "c0")[j], x.shape[1])
                if sorted_idx is not None:
                    h = getitem(h, (slice(None), sorted_idx))
                states[j] = h
        layer_in = x
        finals_h, finals_c = [], []
        for k in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes()):
                idx = k * self.num_directions + d
                h0 = None if states[0] is None else states[0][idx]
                c0 = None if states[1] is None else states[1][idx]
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(k, suffix)
                out, h_n, c_n = recurrent_sequence(self.mode, layer_in, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths,
                                                   d == 1, w_hr)
                outs.append(out)
                finals_h.append(h_n)
                if lstm:
                    finals_c.append(c_n)
            layer_in = outs[0] if len(outs) == 1 else concatenate(outs, axis=2)
            if self.dropout and self.training and k < self.num_layers - 1:
                layer_in = dropout(layer_in, self.dropout, True)
        output = layer_in
        h_n = stack(finals_h, axis=0)
        c_n = stack(finals_c, axis=0) if lstm else None
        if packed:
            output = PackedSequence(getitem(output, mask), input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
            if unsorted_idx is not None:
                h_n = getitem(h_n, (slice(None), unsorted_idx))
                c_n = None if c_n is None else getitem(c_n, (slice(None), unsorted_idx))
        elif not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.swapaxes(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch's call re-packs the weights for cuDNN; descend's are always usable as they are."""

    @property
    def all_weights(self):
        """The parameters per layer-direction, as PyTorch's: [[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...]."""
        return [[p for p in self._layer_params(k, suffix) if p is not None]
                for k in range(self.num_layers) for suffix in self._suffixes()]


class RNN(RNNBase):
    """``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``: h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), act tanh or
    relu. ``forward(input, h0=None)`` returns ``(output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None, generator=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, dtype, generator)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``: gates [i, f, g, o], c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t)
    (Hochreiter & Schmidhuber 1997, with PyTorch's forget-gate form). ``forward(input, (h0, c0)=None)``
    returns ``(output, (h_n, c_n))``. With ``proj_size=P > 0`` (Sak et al. 2014) h_t = (o ⊙ tanh c_t) W_hrᵀ
    with ``weight_hr_l{k}`` (P, H): h and the output have P features, c keeps H."""

    _gates = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None, generator=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype, generator)


class GRU(RNNBase):
    """``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``: r, z = σ(W_i· x + b_i· + W_h· h + b_h·), n = tanh(W_in x + b_in + r ⊙ (W_hn h +
    b_hn)), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} (Cho et al. 2014). ``forward(input, h0=None)`` returns
    ``(output, h_n)``."""

    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None, generator=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, dtype, generator)


# --------------------------------------------------------------------------------------------------
# Single-step cells (built from primitive ops: their backward is the ops')


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, generator=None):
        super().__init__()
        owner = type(self).__name__
        self.input_size = _positive_int(input_size, "input_size", owner)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", owner)
        self.bias = bool(bias)
        G = self._gates * hidden_size
        self.weight_ih = Parameter(backend.empty((G, input_size), dtype), dtype=dtype)
        self.weight_hh = Parameter(backend.empty((G, hidden_size), dtype), dtype=dtype)
        if bias:
            self.bias_ih = Parameter(backend.empty((G,), dtype), dtype=dtype)
            self.bias_hh = Parameter(backend.empty((G,), dtype), dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: every weight and bias U(−1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator)

    def _prepare(self, input, hx):
        owner = type(self).__name__
        x = _as_input(input, owner)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: input must be (batch, {self.input_size}) or ({self.input_size},), "
                             f"got shape {tuple(x.shape)}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        states = []
        for h in (hx if isinstance(hx, tuple) else (hx,)):
            if h is None:
                h = Tensor.from_array(np.zeros((x.shape[0], self.hidden_size), x.array.dtype))
            else:
                h = _as_input(h, owner)
                if not batched:
                    h = h.unsqueeze(0)
                if tuple(h.shape) != (x.shape[0], self.hidden_size):
                    raise ValueError(f"{owner}: the state must have shape {(x.shape[0], self.hidden_size)}, "
                                     f"got {tuple(h.shape)}")
            states.append(h)
        return x, states, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``: one step
    h' = act(W_ih x + b_ih + W_hh h + b_hh); ``forward(input, hx=None)`` returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None, generator=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype, generator)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        a = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        out = tanh(a) if self.nonlinearity == "tanh" else relu(a)
        return out if batched else out.squeeze(0)


class LSTMCell(_CellBase):
    """``LSTMCell(input_size, hidden_size, bias=True)``: one LSTM step (gates i, f, g, o);
    ``forward(input, (h, c)=None)`` returns ``(h', c')``."""

    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, (None, None) if hx is None else tuple(hx))
        H = self.hidden_size
        a = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c2 = f * c + i * g
        h2 = o * tanh(c2)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(_CellBase):
    """``GRUCell(input_size, hidden_size, bias=True)``: one GRU step (gates r, z, n);
    ``forward(input, hx=None)`` returns h'."""

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        H = self.hidden_size
        xi = linear(x, self.weight_ih, self.bias_ih)
        hh = linear(h, self.weight_hh, self.bias_hh)
        r = sigmoid(xi[:, :H] + hh[:, :H])
        z = sigmoid(xi[:, H:2 * H] + hh[:, H:2 * H])
        n = tanh(xi[:, 2 * H:] + r * hh[:, 2 * H:])
        out = n + z * (h - n)
        return out if batched else out.squeeze(0)
