"""ONNX converters for descend's recurrent layers: RNN, LSTM and GRU as ONNX ``RNN`` / ``LSTM`` / ``GRU``.

Per layer k and direction d the PyTorch-layout weights become ONNX's: W = weight_ih (G·H, F), R = weight_hh
(G·H, H), B = [bias_ih, bias_hh] (2·G·H), stacked over directions (``direction='bidirectional'``), with the
gate blocks reordered — LSTM: PyTorch [i, f, g, o] → ONNX [i, o, f, c]; GRU: [r, z, n] → [z, r, h] with
``linear_before_reset=1`` (PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))); RNN: one block,
activation Tanh or Relu. ONNX's Y (T, D, N, H) is transposed and reshaped to (T, N, D·H) to feed the next
layer; h_n (and c_n) stack every layer's final states, (L·D, N, H) as in PyTorch. ``batch_first`` inputs
are transposed to time-major and back; an unbatched (T, F) input is given a batch axis of 1. Given initial
states ``hx`` (``h0``, LSTM ``(h0, c0)``: graph inputs or Constants, (L·D, N, H)) are sliced per layer into
ONNX's ``initial_h`` / ``initial_c``. ``LSTM(proj_size>0)`` has no ONNX op and is written as a ``Scan``
(:mod:`descend.onnx.projection`). The module returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``);
the ONNX graph has one output per tensor (default names ``output``, ``h_n``, ``c_n``).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .graph import ExportError, Value
from .layers import run_call

GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(w, mode, hidden):
    """Rows of a (G·H, ...) weight or (G·H,) bias in ONNX's gate order."""
    blocks = [w[g * hidden:(g + 1) * hidden] for g in GATE_ORDER[mode]]
    return np.concatenate(blocks, axis=0)


def _layer_weights(m, k):
    """ONNX W, R, B for layer k, stacked over the directions (from the public ``all_weights``)."""
    ws, rs, bs = [], [], []
    D, H = m.num_directions, m.hidden_size
    for params in m.all_weights[k * D:(k + 1) * D]:
        w_ih, w_hh = params[0].array, params[1].array
        ws.append(_reorder(w_ih, m.mode, H))
        rs.append(_reorder(w_hh, m.mode, H))
        if m.bias:
            bs.append(np.concatenate([_reorder(params[2].array, m.mode, H), _reorder(params[3].array, m.mode, H)]))
        else:
            bs.append(np.zeros(2 * w_ih.shape[0], dtype=w_ih.dtype))
    return np.stack(ws), np.stack(rs), np.stack(bs)


def _states(g, hx, lstm, batched, path):
    """The graph names of the given initial states (h0, c0), each (L·D, N, H) (unbatched: given an axis)."""
    if hx is None:
        return None, None
    given = list(hx) if lstm else [hx]
    names = [g.name_of(h, f"{path}.{('h0', 'c0')[j]}") for j, h in enumerate(given)]
    if not batched:
        names = [g.unsqueeze(n, [1], path) for n in names]
    return names[0], (names[1] if lstm else None)


def _layer_state(g, state, k, D, L, hint):
    if state is None:
        return ""
    if L == 1:
        return state
    return g.node("Slice", [state, g.ints([k * D], f"{hint}.lo"), g.ints([(k + 1) * D], f"{hint}.hi"),
                            g.ints([0], f"{hint}.axis")], hint)


def recurrent(g, m, args, path, convert):
    """``forward(input, hx=None)``: one ONNX RNN/LSTM/GRU per layer (an LSTM with ``proj_size`` as a Scan,
    :mod:`descend.onnx.projection`), the given states sliced per layer."""
    x, hx = args["input"], args["hx"]
    if not isinstance(x, Value):
        raise ExportError(f"{path} ({type(m).__name__}): the input must be a tensor, got {type(x).__name__}")
    out = run_call(m, x, hx)
    lstm = m.mode == "LSTM"
    y_ex, h_ex = out[0], (out[1][0] if lstm else out[1])
    c_ex = out[1][1] if lstm else None
    batched = x.example.ndim == 3
    h0, c0 = _states(g, hx, lstm, batched, path)
    if m.proj_size:
        from .projection import lstm_projected
        y, h_n, c_n = lstm_projected(g, m, x.name, h0, c0, batched, path)
    else:
        y, h_n, c_n = _onnx_layers(g, m, x.name, h0, c0, batched, path)
    y_val, h_val = Value(y, y_ex), Value(h_n, h_ex)
    if lstm:
        return y_val, (h_val, Value(c_n, c_ex))
    return y_val, h_val


def time_major(g, m, x, batched, path):
    """The (T, N, F) graph name of a recurrent layer's input (batch_first transposed, unbatched given N=1)."""
    if not batched:
        return g.unsqueeze(x, [1], path)
    return g.node("Transpose", [x], path, perm=[1, 0, 2]) if m.batch_first else x


def back_to_layout(g, m, seq, finals, batched, path):
    """The output (T, N, D·H) and final states (L·D, N, H) in the layer's layout (batch_first, unbatched)."""
    if not batched:
        return g.squeeze(seq, [1], path), [None if f is None else g.squeeze(f, [1], path) for f in finals]
    if m.batch_first:
        seq = g.node("Transpose", [seq], path, perm=[1, 0, 2])
    return seq, finals


def _onnx_layers(g, m, x, h0, c0, batched, path):
    lstm = m.mode == "LSTM"
    D, H, L = m.num_directions, m.hidden_size, m.num_layers
    attrs = {"hidden_size": H, "direction": "bidirectional" if m.bidirectional else "forward"}
    if m.mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if m.mode == "RNN_TANH" else "Relu"] * D
    if m.mode == "GRU":
        attrs["linear_before_reset"] = 1
    seq = time_major(g, m, x, batched, path)
    finals_h, finals_c = [], []
    for k in range(L):
        w, r, b = _layer_weights(m, k)
        hint = f"{path}.l{k}"
        ins = [seq, g.const(w, f"{hint}.W"), g.const(r, f"{hint}.R"), g.const(b, f"{hint}.B"), "",
               _layer_state(g, h0, k, D, L, hint)]
        if lstm:
            ins.append(_layer_state(g, c0, k, D, L, hint))
        while ins[-1] == "":
            ins.pop()
        outs = g.node(ONNX_OP[m.mode], ins, hint, n_outputs=3 if lstm else 2, **attrs)
        y = g.node("Transpose", [outs[0]], hint, perm=[0, 2, 1, 3])               # (T, N, D, H)
        seq = g.node("Reshape", [y, g.ints([0, 0, D * H], f"{hint}.shape")], hint)  # (T, N, D·H)
        finals_h.append(outs[1])
        if lstm:
            finals_c.append(outs[2])

    def stacked(names, hint):
        return names[0] if len(names) == 1 else g.node("Concat", names, hint, axis=0)
    h_n = stacked(finals_h, f"{path}.h_n")
    c_n = stacked(finals_c, f"{path}.c_n") if lstm else None
    seq, (h_n, c_n) = back_to_layout(g, m, seq, [h_n, c_n], batched, path)
    return seq, h_n, c_n


CALLS = {nn.RNN: recurrent, nn.LSTM: recurrent, nn.GRU: recurrent}


CELL_MODE = {nn.LSTMCell: "LSTM", nn.GRUCell: "GRU"}


def cell(g, m, args, path, convert):
    """RNNCell / LSTMCell / GRUCell ``forward(input, hx=None)``: the ONNX RNN / LSTM / GRU op over one time
    step (input (N, F) → (1, N, F), states (N, H) → (1, N, H)), its final state(s) squeezed back."""
    x, hx = args["input"], args["hx"]
    mode = CELL_MODE.get(type(m)) or ("RNN_TANH" if m.nonlinearity == "tanh" else "RNN_RELU")
    lstm = mode == "LSTM"
    out = run_call(m, x, hx)
    batched = x.example.ndim == 2
    lead = [0] if batched else [0, 1]
    H = m.hidden_size
    w = _reorder(m.weight_ih.array, mode, H)[None]
    r = _reorder(m.weight_hh.array, mode, H)[None]
    if m.bias:
        b = np.concatenate([_reorder(m.bias_ih.array, mode, H), _reorder(m.bias_hh.array, mode, H)])[None]
    else:
        b = np.zeros((1, 2 * w.shape[1]), w.dtype)
    given = [] if hx is None else (list(hx) if lstm else [hx])
    states = [g.unsqueeze(g.name_of(h, f"{path}.state"), lead, path) for h in given]
    attrs = {"hidden_size": H}
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"]
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    ins = [g.unsqueeze(x.name, lead, path), g.const(w, f"{path}.W"), g.const(r, f"{path}.R"),
           g.const(b, f"{path}.B"), "", *states]
    while ins[-1] == "":
        ins.pop()
    outs = g.node(ONNX_OP[mode], ins, path, n_outputs=3 if lstm else 2, **attrs)
    h = Value(g.squeeze(outs[1], lead, path), out[0] if lstm else out)
    return (h, Value(g.squeeze(outs[2], lead, path), out[1])) if lstm else h


CALLS.update({nn.RNNCell: cell, nn.LSTMCell: cell, nn.GRUCell: cell})
