"""ONNX converters for descend's recurrent layers: RNN, LSTM and GRU as ONNX ``RNN`` / ``LSTM`` / ``GRU``.

Per layer k and direction d the PyTorch-layout weights become ONNX's: W = weight_ih (G·H, F), R = weight_hh
(G·H, H), B = [bias_ih, bias_hh] (2·G·H), stacked over directions (``direction='bidirectional'``), with the
gate blocks reordered — LSTM: PyTorch [i, f, g, o] → ONNX [i, o, f, c]; GRU: [r, z, n] → [z, r, h] with
``linear_before_reset=1`` (PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))); RNN: one block,
activation Tanh or Relu. ONNX's Y (T, D, N, H) is transposed and reshaped to (T, N, D·H) to feed the next
layer; h_n (and c_n) stack every layer's final states, (L·D, N, H) as in PyTorch. ``batch_first`` inputs
are transposed to time-major and back. Not exported: ``proj_size > 0``, unbatched 2-D input, given h0.
The module returns ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``); the ONNX graph has one output per
tensor (default names ``output``, ``h_n``, ``c_n``).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .graph import ExportError, Value

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


def recurrent(g, m, x, path, convert):
    owner = type(m).__name__
    if m.proj_size:
        raise ExportError(f"{path} ({owner}): proj_size={m.proj_size} has no ONNX export")
    if x.example.ndim != 3:
        raise ExportError(f"{path} ({owner}): only batched 3-D input exports, got shape {x.shape}")
    from ..autograd import no_grad
    from ..tensor import Tensor
    with no_grad():
        out = m(Tensor.from_array(x.example))
    lstm = m.mode == "LSTM"
    y_ex, h_ex = out[0].array, (out[1][0].array if lstm else out[1].array)
    c_ex = out[1][1].array if lstm else None
    D, H = m.num_directions, m.hidden_size
    attrs = {"hidden_size": H, "direction": "bidirectional" if m.bidirectional else "forward"}
    if m.mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if m.mode == "RNN_TANH" else "Relu"] * D
    if m.mode == "GRU":
        attrs["linear_before_reset"] = 1
    seq = g.node("Transpose", [x.name], path, perm=[1, 0, 2]) if m.batch_first else x.name
    finals_h, finals_c = [], []
    for k in range(m.num_layers):
        w, r, b = _layer_weights(m, k)
        hint = f"{path}.l{k}"
        ins = [seq, g.const(w, f"{hint}.W"), g.const(r, f"{hint}.R"), g.const(b, f"{hint}.B")]
        outs = g.node(ONNX_OP[m.mode], ins, hint, n_outputs=3 if lstm else 2, **attrs)
        y = g.node("Transpose", [outs[0]], hint, perm=[0, 2, 1, 3])               # (T, N, D, H)
        seq = g.node("Reshape", [y, g.ints([0, 0, D * H], f"{hint}.shape")], hint)  # (T, N, D·H)
        finals_h.append(outs[1])
        if lstm:
            finals_c.append(outs[2])
    if m.batch_first:
        seq = g.node("Transpose", [seq], path, perm=[1, 0, 2])

    def stacked(names, hint):
        return names[0] if len(names) == 1 else g.node("Concat", names, hint, axis=0)

    y_val, h_val = Value(seq, y_ex), Value(stacked(finals_h, f"{path}.h_n"), h_ex)
    if lstm:
        return y_val, (h_val, Value(stacked(finals_c, f"{path}.c_n"), c_ex))
    return y_val, h_val


CONVERTERS = {nn.RNN: recurrent, nn.LSTM: recurrent, nn.GRU: recurrent}


def output_names(model, n: int) -> list:
    """Default names of a model's ``n`` graph outputs."""
    if n == 1:
        return ["output"]
    if isinstance(model, nn.RNNBase) and n in (2, 3):
        return ["output", "h_n", "c_n"][:n]
    return ["output"] + [f"output_{i}" for i in range(1, n)]


def sequence_layout(model):
    """True/False when ``model`` reads sequences batch-first/time-major (a recurrent layer, a transformer
    encoder (layer), a positional encoding, or a Sequential holding one: its first); None otherwise."""
    if isinstance(model, nn.Sequential):
        return next((lay for lay in map(sequence_layout, model) if lay is not None), None)
    if isinstance(model, (nn.RNNBase, nn.SinusoidalPositionalEncoding, nn.LearnedPositionalEncoding)):
        return model.batch_first
    if isinstance(model, nn.TransformerEncoderLayer):
        return model.self_attn.batch_first
    if isinstance(model, nn.TransformerEncoder) and len(model.layers):
        return sequence_layout(model.layers[0])
    return None


def default_axes(model, position: int, ndim: int) -> dict:
    """The default symbolic axes of a graph value: ``position`` −1 is the input, i ≥ 0 the i-th output.
    Axis 0 is ``batch``; for a sequence model (:func:`sequence_layout`) the 3-D sequences have ``seq`` and
    ``batch`` axes (time-major or batch-first), and a recurrent layer's final states (L·D, N, H) ``batch``
    on axis 1."""
    if ndim == 0:
        return {}
    layout = sequence_layout(model)
    if layout is not None and ndim == 3:
        if position >= 1 and isinstance(model, nn.RNNBase):
            return {1: "batch"}
        return {0: "batch", 1: "seq"} if layout else {0: "seq", 1: "batch"}
    return {0: "batch"}
