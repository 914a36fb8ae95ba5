"""``LSTM(proj_size=P)`` as ONNX ``Scan`` loops: ONNX's LSTM op has no projection, so each layer-direction
is a Scan over time whose body is one cell step (PyTorch's gate order, weights as they are):

    [i, f, g, o] = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh,   i, f, o = σ(·), g = tanh(·)
    c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = (o ⊙ tanh c_t) W_hrᵀ     (h: P features, c: H)

The reverse direction scans the input backwards and writes its outputs backwards
(``scan_input_directions`` / ``scan_output_directions`` = 1), so both directions' outputs line up in time
before they are concatenated. The initial states are the given ``h0``/``c0`` rows (``Gather``) or zeros
shaped from the batch size at run time (``ConstantOfShape``), so the batch and sequence axes stay symbolic.
The body reads the weights from the outer graph.
"""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from .graph import elem_type


def _zeros(g, x, size, hint):
    """A (N, size) zero state, N read from the time-major input x (T, N, F) at run time."""
    shape = g.node("Concat", [g.node("Shape", [x], hint, start=1, end=2), g.ints([size], f"{hint}.size")], hint,
                   axis=0)
    value = numpy_helper.from_array(np.zeros(1, g.dtype), "zero")
    return g.node("ConstantOfShape", [shape], hint, value=value)


def _initial(g, state, idx, x, size, hint):
    if state is None:
        return _zeros(g, x, size, hint)
    return g.node("Gather", [state, g.ints(idx, f"{hint}.index")], hint, axis=0)


def _body(g, params, hint):
    """The Scan body graph of one LSTM cell step with projection: (h, c, x_t) -> (h', c', h')."""
    w_ih, w_hh, b_ih, b_hh, w_hr = params
    H, P = w_hh.shape[0] // 4, w_hr.shape[0]
    outer, g.nodes = g.nodes, []
    h, c, x = g.fresh(f"{hint}.h"), g.fresh(f"{hint}.c"), g.fresh(f"{hint}.x_t")
    gates = g.node("Add", [g.node("MatMul", [x, g.const(w_ih.T, f"{hint}.w_ih_t")], hint),
                           g.node("MatMul", [h, g.const(w_hh.T, f"{hint}.w_hh_t")], hint)], hint)
    if b_ih is not None:
        gates = g.node("Add", [gates, g.const(b_ih + b_hh, f"{hint}.bias")], hint)
    i, f, gg, o = g.node("Split", [gates, g.ints([H] * 4, f"{hint}.split")], hint, n_outputs=4, axis=1)
    i, f, o = (g.node("Sigmoid", [t], hint) for t in (i, f, o))
    c_new = g.node("Add", [g.node("Mul", [f, c], hint), g.node("Mul", [i, g.node("Tanh", [gg], hint)], hint)], hint)
    h_new = g.node("MatMul", [g.node("Mul", [o, g.node("Tanh", [c_new], hint)], hint),
                              g.const(w_hr.T, f"{hint}.w_hr_t")], hint)
    y = g.node("Identity", [h_new], hint)
    nodes, g.nodes = g.nodes, outer
    t = elem_type(g.dtype)
    inputs = [helper.make_tensor_value_info(h, t, [None, P]), helper.make_tensor_value_info(c, t, [None, H]),
              helper.make_tensor_value_info(x, t, [None, w_ih.shape[1]])]
    outputs = [helper.make_tensor_value_info(h_new, t, [None, P]), helper.make_tensor_value_info(c_new, t, [None, H]),
               helper.make_tensor_value_info(y, t, [None, P])]
    return helper.make_graph(nodes, f"{hint}.body", inputs, outputs)


def lstm_projected(g, m, x, h0, c0, batched, path):
    """Graph names ``(output, h_n, c_n)`` of ``m`` (an LSTM with ``proj_size``) on the input ``x``, with the
    initial states ``h0``/``c0`` (names of (L·D, N, ·) tensors, or None for zeros)."""
    from .sequence import back_to_layout, time_major
    D, H, P = m.num_directions, m.hidden_size, m.proj_size
    seq = time_major(g, m, x, batched, path)
    finals_h, finals_c = [], []
    for k in range(m.num_layers):
        outs = []
        for d in range(D):
            idx = k * D + d
            hint = f"{path}.l{k}{'_reverse' if d else ''}"
            body = _body(g, _params(m, k, d), hint)
            ins = [_initial(g, h0, idx, seq, P, hint), _initial(g, c0, idx, seq, H, hint), seq]
            h_n, c_n, y = g.node("Scan", ins, hint, n_outputs=3, body=body, num_scan_inputs=1,
                                 scan_input_directions=[d], scan_output_directions=[d])
            outs.append(y)
            finals_h.append(g.unsqueeze(h_n, [0], hint))
            finals_c.append(g.unsqueeze(c_n, [0], hint))
        seq = outs[0] if D == 1 else g.node("Concat", outs, f"{path}.l{k}", axis=2)

    def stacked(names, hint):
        return names[0] if len(names) == 1 else g.node("Concat", names, hint, axis=0)
    seq, (h_n, c_n) = back_to_layout(g, m, seq, [stacked(finals_h, f"{path}.h_n"), stacked(finals_c, f"{path}.c_n")],
                                     batched, path)
    return seq, h_n, c_n


def _params(m, k, d):
    """(w_ih, w_hh, b_ih, b_hh, w_hr) arrays of layer k, direction d, from the public ``all_weights``."""
    ps = [p.array for p in m.all_weights[k * m.num_directions + d]]
    if m.bias:
        return ps[0], ps[1], ps[2], ps[3], ps[4]
    return ps[0], ps[1], None, None, ps[2]
