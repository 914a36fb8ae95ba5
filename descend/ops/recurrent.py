"""Recurrent layers over a whole sequence, each layer-direction one autograd node.

``recurrent_sequence`` runs an Elman RNN, an LSTM or a GRU over all T steps of a (T, N, F) input and
records ONE node whose backward is backpropagation through time written out in NumPy. The input
projection of every step is one matmul over (T·N, F); each step then does one matmul for the hidden
projection of all gates. Gate order and formulas are PyTorch's:

* RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
* LSTM: [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh;  i, f, o = σ(·), g = tanh(·);
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
* GRU:  [r, z] = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z});
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));  h' = (1 − z) ⊙ n + z ⊙ h

Backward, per step from the last to the first (δ = dL/dh' from the output and the later step):
RNN  da = δ ⊙ act'(a);  LSTM  dc = dc' + δ ⊙ o ⊙ (1 − tanh²c'), di = dc ⊙ g, df = dc ⊙ c, dg = dc ⊙ i,
do = δ ⊙ tanh c', each through its activation's derivative; GRU  dn = δ ⊙ (1 − z), dz = δ ⊙ (h − n),
dr = dn ⊙ (1 − n²) ⊙ (W_hn h + b_hn). Then dh = dgates_h W_hh (+ the direct path z ⊙ δ for GRU, f ⊙ dc for
LSTM's cell). dW_hh, dW_ih and dx come after the loop as single matmuls over all steps.

Variable lengths: ``lengths`` (one per sample) masks steps t ≥ length: the state is carried unchanged
and the output is zero, so h_n is each sample's state at its last valid step (PyTorch's packed
semantics). With ``reverse=True`` each sample's valid prefix is read backwards.
"""

from __future__ import annotations

import numpy as np

from ..tensor import record

__all__ = ["recurrent_sequence", "scatter_rows", "MODES"]

#: Gates per mode: rows of W_ih / W_hh are (gates · hidden_size).
MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x}) = (1 + tanh(x/2)) / 2, in place (no overflow for large |x|)."""
    x *= 0.5
    np.tanh(x, out=x)
    x += 1
    x *= 0.5
    return x


def _reverse_index(lengths, T, N):
    """Index (T, N) reading each sample's valid prefix backwards and leaving its padding in place (an
    involution: applying it twice gives the identity)."""
    t = np.arange(T)[:, None]
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t), np.arange(N)[None, :]


def recurrent_sequence(mode, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
    """Run one recurrent layer-direction over x (T, N, F); returns one tensor of shape (T + k, N, H):
    rows [:T] the outputs, row T the final hidden state h_n and (LSTM, k = 2) row T + 1 the final cell
    state c_n. ``h0``/``c0`` are (N, H) tensors or None (zeros); ``lengths`` an int array (N,) or None."""
    if mode not in MODES:
        raise ValueError(f"recurrent_sequence: mode must be one of {sorted(MODES)}, got {mode!r}")
    X = x.data
    T, N, F = X.shape
    Wih, Whh = w_ih.data, w_hh.data
    G, H = Whh.shape
    dtype = X.dtype
    lstm, gru = mode == "LSTM", mode == "GRU"
    mask = None
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.int64)
        mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
    if reverse:
        rev = (slice(None, None, -1),) if lengths is None else _reverse_index(lengths, T, N)
        X = X[rev]
    XP = (X.reshape(T * N, F) @ Wih.T).reshape(T, N, G)
    if b_ih is not None:
        XP += b_ih.data
    bhh = None if b_hh is None else b_hh.data
    if bhh is not None and not gru:
        XP += bhh
    Hs = np.empty((T + 1, N, H), dtype)  # carried states (masked), Hs[t] is the state before step t
    Hs[0] = 0 if h0 is None else h0.data
    Hnew = np.empty((T, N, H), dtype) if mask is not None else None
    A = np.empty((T, N, G), dtype) if (lstm or gru) else None
    if lstm:
        Cs = np.empty((T + 1, N, H), dtype)
        Cs[0] = 0 if c0 is None else c0.data
        TC = np.empty((T, N, H), dtype)
    if gru:
        HPN = np.empty((T, N, H), dtype)
    relu = mode == "RNN_RELU"
    for t in range(T):
        hp = Hs[t] @ Whh.T
        if lstm:
            a = A[t]
            np.add(XP[t], hp, out=a)
            g = np.tanh(a[:, 2 * H:3 * H])
            _sigmoid(a)
            a[:, 2 * H:3 * H] = g
            c = a[:, H:2 * H] * Cs[t] + a[:, :H] * a[:, 2 * H:3 * H]
            tc = TC[t]
            np.tanh(c, out=tc)
            h = a[:, 3 * H:] * tc
        elif gru:
            if bhh is not None:
                hp += bhh
            a = A[t]
            np.add(XP[t, :, :2 * H], hp[:, :2 * H], out=a[:, :2 * H])
            _sigmoid(a[:, :2 * H])
            HPN[t] = hp[:, 2 * H:]
            n = a[:, 2 * H:]
            np.tanh(XP[t, :, 2 * H:] + a[:, :H] * hp[:, 2 * H:], out=n)
            h = n + a[:, H:2 * H] * (Hs[t] - n)
        else:
            h = XP[t] + hp
            np.maximum(h, 0, out=h) if relu else np.tanh(h, out=h)
        if mask is None:
            Hs[t + 1] = h
            if lstm:
                Cs[t + 1] = c
        else:
            Hnew[t] = h
            np.copyto(Hs[t + 1], np.where(mask[t], h, Hs[t]))
            if lstm:
                Cs[t + 1] = np.where(mask[t], c, Cs[t])
    out = Hs[1:] if mask is None else Hnew * mask
    if reverse:
        out = out[rev]
    parts = [out, Hs[T:]] + ([Cs[T:]] if lstm else [])
    Y = np.concatenate(parts, axis=0)
    parents = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    present = tuple(p for p in parents if p is not None)

    def backward(gY):
        dout = gY[:T]
        if reverse:
            dout = dout[rev]
        if mask is not None:
            dout = dout * mask
        dh = gY[T].copy()
        dc = gY[T + 1].copy() if lstm else None
        dG = np.empty((T, N, G), dtype)
        dHP = np.empty((T, N, G), dtype) if gru else dG
        for t in range(T - 1, -1, -1):
            if mask is None:
                delta = dh + dout[t]
                direct = None
            else:
                m = mask[t]
                delta = np.where(m, dh + dout[t], 0).astype(dtype, copy=False)
                direct = np.where(m, 0, dh).astype(dtype, copy=False)
            if lstm:
                a = A[t]
                i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
                tc = TC[t]
                if mask is None:
                    dct = dc + delta * o * (1 - tc * tc)
                    dc_direct = None
                else:
                    dct = np.where(m, dc, 0) + delta * o * (1 - tc * tc)
                    dc_direct = np.where(m, 0, dc)
                d = dG[t]
                d[:, :H] = dct * g * i * (1 - i)
                d[:, H:2 * H] = dct * Cs[t] * f * (1 - f)
                d[:, 2 * H:3 * H] = dct * i * (1 - g * g)
                d[:, 3 * H:] = delta * tc * o * (1 - o)
                dc = dct * f
                if dc_direct is not None:
                    dc += dc_direct
                dh = d @ Whh
            elif gru:
                a = A[t]
                r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
                dan = delta * (1 - z) * (1 - n * n)
                daz = delta * (Hs[t] - n) * z * (1 - z)
                dar = dan * HPN[t] * r * (1 - r)
                dG[t, :, :H] = dar
                dG[t, :, H:2 * H] = daz
                dG[t, :, 2 * H:] = dan
                dHP[t, :, :2 * H] = dG[t, :, :2 * H]
                dHP[t, :, 2 * H:] = dan * r
                dh = dHP[t] @ Whh + delta * z
            else:
                hn = Hnew[t] if Hnew is not None else Hs[t + 1]
                d = dG[t]
                if relu:
                    np.multiply(delta, hn > 0, out=d)
                else:
                    np.multiply(delta, 1 - hn * hn, out=d)
                dh = d @ Whh
            if direct is not None:
                dh += direct
        grads = {}
        flatG = dG.reshape(T * N, G)
        if x.requires_grad:
            dX = (flatG @ Wih).reshape(T, N, F)
            grads[0] = dX[rev] if reverse else dX
        grads[1] = dh
        grads[2] = dc
        if w_ih.requires_grad:
            grads[3] = flatG.T @ X.reshape(T * N, F)
        if w_hh.requires_grad:
            grads[4] = dHP.reshape(T * N, G).T @ Hs[:T].reshape(T * N, H)
        if b_ih is not None:
            grads[5] = flatG.sum(axis=0)
        if b_hh is not None:
            grads[6] = dHP.reshape(T * N, G).sum(axis=0)
        return tuple(grads.get(k) for k, p in enumerate(parents) if p is not None)

    return record(Y, present, backward, mode.lower() + "_sequence")


def scatter_rows(data, mask, padding_value=0.0):
    """Place the rows of ``data`` (K, *F) at the True positions of the boolean ``mask`` (T, N), in the
    mask's row-major order, in a (T, N, *F) tensor filled with ``padding_value`` elsewhere (the inverse
    of ``padded[mask]``). Backward: dL/ddata = g[mask]."""
    d = data.data
    mask = np.asarray(mask, dtype=bool)
    if int(mask.sum()) != d.shape[0]:
        raise ValueError(f"scatter_rows: the mask has {int(mask.sum())} True positions but data has "
                         f"{d.shape[0]} rows; they must match")
    out = np.full(mask.shape + d.shape[1:], padding_value, dtype=d.dtype)
    out[mask] = d
    return record(out, (data,), lambda g: (g[mask],), "scatter_rows")

