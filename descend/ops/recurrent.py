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

Float32 layers without ``lengths`` or a projection run the same loops compiled
(:mod:`descend.kernels.recurrent`, the batch split over threads by :mod:`descend.kernels.threads`) unless
kernels are off (:func:`descend.kernels.disabled`); the code below is the fallback and the general case.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels import panels
from ..kernels.transpose import transpose, transpose_into
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


def recurrent_sequence(mode, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None, reverse=False,
                       w_hr=None):
    """Run one recurrent layer-direction over x (T, N, F); returns ``(output, h_n, c_n)``: output (T, N, P),
    the final states h_n (N, P) and, for LSTM, c_n (N, H) (None otherwise); P = H, or for an LSTM with a
    projection ``w_hr`` (P, H) (PyTorch's ``proj_size``) h = (o ⊙ tanh c) W_hrᵀ. ``h0`` (N, P) / ``c0``
    (N, H) are tensors or None (zeros); ``lengths`` an int array (N,) or None. One autograd node computes
    all three (they are slices of its flat output)."""
    if mode not in MODES:
        raise ValueError(f"recurrent_sequence: mode must be one of {sorted(MODES)}, got {mode!r}")
    X = x.array
    T, N, F = X.shape
    Wih, Whh = w_ih.array, w_hh.array
    G, P = Whh.shape  # P: size of the carried h (= H but for a projected LSTM)
    H = G // MODES[mode]
    dtype = X.dtype
    lstm, gru = mode == "LSTM", mode == "GRU"
    Whr = None if w_hr is None else w_hr.array
    if Whr is not None and (not lstm or Whr.shape != (P, H)):
        raise ValueError(f"recurrent_sequence: w_hr must be an LSTM projection of shape {(P, H)}, got "
                         f"{Whr.shape} for mode {mode}")
    mask = None
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.int64)
        mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
    if reverse:
        rev = (slice(None, None, -1),) if lengths is None else _reverse_index(lengths, T, N)
        X = X[rev]
    if mask is None and Whr is None and dtype == np.float32 and kernels.enabled():
        return _compiled_sequence(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, X, reverse)
    XP = _input_projection(X, Wih, b_ih, b_hh, gru)
    bhh = None if b_hh is None else b_hh.array
    Hs = np.empty((T + 1, N, P), dtype)  # carried states (masked), Hs[t] is the state before step t
    Hs[0] = 0 if h0 is None else h0.array
    Hnew = np.empty((T, N, P), dtype) if mask is not None else None
    A = np.empty((T, N, G), dtype) if (lstm or gru) else None
    if lstm:
        Cs = np.empty((T + 1, N, H), dtype)
        Cs[0] = 0 if c0 is None else c0.array
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
            if Whr is not None:
                h = h @ Whr.T
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
    parts = [out, Hs[T]] + ([Cs[T]] if lstm else [])
    Y = np.concatenate([part.reshape(-1) for part in parts])
    parents = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
    present = tuple(p for p in parents if p is not None)

    def backward(gY):
        dout = gY[:T * N * P].reshape(T, N, P)
        if reverse:
            dout = dout[rev]
        if mask is not None:
            dout = dout * mask
        dh = gY[T * N * P:(T + 1) * N * P].reshape(N, P).copy()
        dc = gY[(T + 1) * N * P:].reshape(N, H).copy() if lstm else None
        Delta = np.empty((T, N, P), dtype) if Whr is not None else None
        dG = np.empty((T, N, G), dtype)
        dHP = np.empty((T, N, G), dtype) if gru else dG
        # the activations' derivatives for all steps at once (few large NumPy calls, not many small ones)
        if lstm:
            dA = A * (1 - A)  # σ' = σ(1 − σ) for i, f, o ...
            gates = A[:, :, 2 * H:3 * H]
            dA[:, :, 2 * H:3 * H] = 1 - gates * gates  # ... tanh' = 1 − g² for g
            K = A[:, :, 3 * H:] * (1 - TC * TC)  # dh'/dc' = o ⊙ (1 − tanh² c')
        elif gru:
            r_, z_, n_ = A[:, :, :H], A[:, :, H:2 * H], A[:, :, 2 * H:]
            Q_n = (1 - z_) * (1 - n_ * n_)  # dL/d(pre-n) = δ Q_n
            Q_z = (Hs[:T] - n_) * z_ * (1 - z_)  # dL/d(pre-z) = δ Q_z
            Q_r = HPN * r_ * (1 - r_)  # dL/d(pre-r) = dL/d(pre-n) Q_r
        elif relu:
            dact = (Hnew if Hnew is not None else Hs[1:]) > 0
        else:
            hn_ = Hnew if Hnew is not None else Hs[1:]
            dact = 1 - hn_ * hn_
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
                if Whr is not None:  # h = (o ⊙ tanh c) W_hrᵀ: back through the projection first
                    Delta[t] = delta
                    delta = delta @ Whr
                if mask is None:
                    dct = delta * K[t]
                    dct += dc
                    dc_direct = None
                else:
                    dct = np.where(m, dc, 0) + delta * K[t]
                    dc_direct = np.where(m, 0, dc)
                d = dG[t]
                np.multiply(dct, g, out=d[:, :H])
                np.multiply(dct, Cs[t], out=d[:, H:2 * H])
                np.multiply(dct, i, out=d[:, 2 * H:3 * H])
                np.multiply(delta, tc, out=d[:, 3 * H:])
                d *= dA[t]
                dc = dct * f
                if dc_direct is not None:
                    dc += dc_direct
                dh = d @ Whh
            elif gru:
                d, dp = dG[t], dHP[t]
                dan = np.multiply(delta, Q_n[t], out=d[:, 2 * H:])
                np.multiply(delta, Q_z[t], out=d[:, H:2 * H])
                np.multiply(dan, Q_r[t], out=d[:, :H])
                dp[:, :2 * H] = d[:, :2 * H]
                np.multiply(dan, r_[t], out=dp[:, 2 * H:])
                dh = dp @ Whh
                dh += delta * z_[t]
            else:
                d = dG[t]
                np.multiply(delta, dact[t], out=d)
                dh = d @ Whh
            if direct is not None:
                dh += direct
        grads = _parameter_grads(x, w_ih, w_hh, b_ih, b_hh, X, dG, dHP, Hs, rev if reverse else None)
        grads[1] = dh
        grads[2] = dc
        if Whr is not None and w_hr.requires_grad:
            grads[7] = Delta.reshape(T * N, P).T @ (A[:, :, 3 * H:] * TC).reshape(T * N, H)
        return tuple(grads.get(k) for k, p in enumerate(parents) if p is not None)

    Y = record(Y, present, backward, mode.lower() + "_sequence")
    sizes = np.cumsum([part.size for part in parts])
    output = Y[:sizes[0]].reshape(T, N, P)
    h_n = Y[sizes[0]:sizes[1]].reshape(N, P)
    c_n = Y[sizes[1]:].reshape(N, H) if lstm else None
    return output, h_n, c_n


def _input_projection(X, Wih, b_ih, b_hh, gru):
    """XP = X W_ihᵀ + b_ih (+ b_hh but for GRU, which adds b_hn inside r ⊙ (·)), for all steps as one
    product: X (T, N, F) → (T, N, G)."""
    T, N, F = X.shape
    XP = panels.matmul(X.reshape(T * N, F), Wih.T).reshape(T, N, Wih.shape[0])
    bias = b_ih.array if b_ih is not None else None
    if b_hh is not None and not gru:
        bias = b_hh.array if bias is None else bias + b_hh.array  # one pass over XP for both biases
    if bias is not None:
        XP += bias
    return XP


def _kernel_bias(b_ih, b_hh, G, gru):
    """The bias a compiled kernel adds in its gate pass (G,): b_ih + b_hh, but for GRU's n gate b_in alone (b_hn
    is added inside r ⊙ (·)); zeros for a layer without biases."""
    bias = np.zeros(G, np.float32) if b_ih is None else b_ih.array.astype(np.float32, copy=True)
    if b_hh is not None:
        shared = 2 * G // 3 if gru else G  # the gates whose two biases simply add
        bias[:shared] += b_hh.array[:shared]
    return bias


def _parameter_grads(x, w_ih, w_hh, b_ih, b_hh, X, dG, dHP, Hs, rev):
    """The gradients that are single products over all steps, by parent position: dx = dG W_ih (in the
    input's order: ``rev`` undoes a reversal), dW_ih = dGᵀ X, dW_hh = dHPᵀ h_{t−1}, db_ih = Σ dG,
    db_hh = Σ dHP (dHP is the hidden projection's gradient: dG but for GRU)."""
    T, N, G = dG.shape
    flatG, flatHP = dG.reshape(T * N, G), dHP.reshape(T * N, G)
    grads = {}
    if x.requires_grad:
        dX = panels.matmul(flatG, w_ih.array).reshape(T, N, -1)
        grads[0] = dX if rev is None else dX[rev]
    X2, H2 = X.reshape(T * N, -1), Hs[:T].reshape(T * N, -1)
    if panels.takes_matrix(flatG):  # transposed, dWᵀ = Aᵀ dG, so that dG (T·N × G) is the product's panels
        F = X2.shape[1]
        if dHP is dG and w_ih.requires_grad and w_hh.requires_grad:  # [X | h_{t−1}]ᵀ dG: one pass over dG
            stacked = np.empty((F + H2.shape[1], T * N), np.float32)
            transpose_into(X2, stacked[:F])
            transpose_into(H2, stacked[F:])
            both = panels.matmul(stacked, flatG)
            grads[3], grads[4] = transpose(both[:F]), transpose(both[F:])
        else:
            if w_ih.requires_grad:
                grads[3] = transpose(panels.matmul(transpose(X2), flatG))
            if w_hh.requires_grad:
                grads[4] = transpose(panels.matmul(transpose(H2), flatHP))
    else:
        if w_ih.requires_grad:
            grads[3] = flatG.T @ X2
        if w_hh.requires_grad:
            grads[4] = flatHP.T @ H2
    if b_ih is not None:
        grads[5] = flatG.sum(axis=0)
    if b_hh is not None:  # the same sum when dHP is dG (RNN, LSTM): copied, as the chunks' sums add in place
        grads[6] = grads[5].copy() if b_ih is not None and dHP is dG else flatHP.sum(axis=0)
    return grads


def _compiled_sequence(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, X, reverse):
    """:func:`recurrent_sequence` through the compiled kernels of :mod:`descend.kernels.recurrent` (float32,
    every sample of full length, no projection): the same node, outputs and gradients. The batch is split
    over the BLAS's threads (:mod:`descend.kernels.threads`): each chunk's input projection, recurrence and
    parameter-gradient products run on one thread (every BLAS held to one thread meanwhile), and the chunks'
    weight and bias gradients are summed."""
    from ..kernels import recurrent as compiled, threads

    T, N, _ = X.shape
    Wih, Whh = w_ih.array, w_hh.array
    H = Whh.shape[1]
    lstm, gru, relu = mode == "LSTM", mode == "GRU", mode == "RNN_RELU"
    zeros = np.zeros((N, H), np.float32)
    h_0 = zeros if h0 is None else h0.array
    c_0 = zeros if c0 is None else c0.array
    bhh = np.zeros(Whh.shape[0], np.float32) if b_hh is None else b_hh.array
    parts = threads.chunks(N, threads.blas_threads())
    spread = len(parts) > 1  # several chunks call NumPy's products at once: hold every BLAS to one thread

    bias = _kernel_bias(b_ih, b_hh, Whh.shape[0], gru)

    def forward(s):
        Xs = X if not spread else np.ascontiguousarray(X[:, s])
        XP = _input_projection(Xs, Wih, None, None, gru)  # the biases are added by the kernel's gate pass
        if lstm:
            return (Xs,) + compiled.lstm_forward(XP, bias, Whh, h_0[s], c_0[s])
        if gru:
            return (Xs,) + compiled.gru_forward(XP, bias, Whh, bhh, h_0[s])
        return (Xs, compiled.rnn_forward(XP, bias, Whh, h_0[s], relu))

    with threads.serial_blas(every=spread):
        saved = threads.map_chunks(forward, parts)  # per chunk: (X, Hs, Cs, A, TC) / (X, Hs, A, HPN) / (X, Hs)
    size = T * N * H
    # the node's flat output [output | h_n | c_n], each chunk's states copied straight into its columns
    Y = np.empty(size + N * H * (2 if lstm else 1), np.float32)
    outputs = [r[1][1:][::-1] if reverse else r[1][1:] for r in saved]
    finals = [[r[1][T] for r in saved]] + ([[r[2][T] for r in saved]] if lstm else [])
    np.concatenate(outputs, axis=1, out=Y[:size].reshape(T, N, H))
    for k, final in enumerate(finals):
        np.concatenate(final, axis=0, out=Y[size + k * N * H:size + (k + 1) * N * H].reshape(N, H))
    parents = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    present = tuple(p for p in parents if p is not None)

    def backward(gY):
        dout = gY[:size].reshape(T, N, H)
        if reverse:
            dout = dout[::-1]
        dh_n = gY[size:size + N * H].reshape(N, H)
        dc_n = gY[size + N * H:].reshape(N, H) if lstm else None

        def chunk_backward(k):
            s, r = parts[k], saved[k]
            dc = None
            if lstm:
                dG, dh, dc = compiled.lstm_backward(dout[:, s], dh_n[s], dc_n[s], Whh, r[3], r[4], r[2])
                dHP = dG
            elif gru:
                dG, dHP, dh = compiled.gru_backward(dout[:, s], dh_n[s], Whh, r[2], r[3], r[1])
            else:
                dG, dh = compiled.rnn_backward(dout[:, s], dh_n[s], Whh, r[1], relu)
                dHP = dG
            grads = _parameter_grads(x, w_ih, w_hh, b_ih, b_hh, r[0], dG, dHP, r[1], None)
            grads[1], grads[2] = dh, dc
            return grads

        with threads.serial_blas(every=spread):
            res = threads.map_chunks(chunk_backward, list(range(len(parts))))
        grads = res[0]
        if spread:
            for key in grads:
                if key in (0, 1, 2):  # per-sample: the chunks' rows side by side
                    if grads[key] is not None:
                        grads[key] = np.concatenate([r[key] for r in res], axis=1 if key == 0 else 0)
                else:  # parameters: the chunks' sums added
                    for r in res[1:]:
                        grads[key] += r[key]
        if reverse and 0 in grads:
            grads[0] = grads[0][::-1]
        return tuple(grads.get(k) for k, p in enumerate(parents) if p is not None)

    Y = record(Y, present, backward, mode.lower() + "_sequence")
    output = Y[:size].reshape(T, N, H)
    h_n = Y[size:size + N * H].reshape(N, H)
    c_n = Y[size + N * H:].reshape(N, H) if lstm else None
    return output, h_n, c_n


def scatter_rows(data, mask, padding_value=0.0):
    """Place the rows of ``data`` (K, *F) at the True positions of the boolean ``mask`` (T, N), in the
    mask's row-major order, in a (T, N, *F) tensor filled with ``padding_value`` elsewhere (the inverse
    of ``padded[mask]``). Backward: dL/ddata = g[mask]."""
    d = data.array
    mask = np.asarray(mask, dtype=bool)
    if int(mask.sum()) != d.shape[0]:
        raise ValueError(f"scatter_rows: the mask has {int(mask.sum())} True positions but data has "
                         f"{d.shape[0]} rows; they must match")
    out = np.full(mask.shape + d.shape[1:], padding_value, dtype=d.dtype)
    out[mask] = d
    return record(out, (data,), lambda g: (g[mask],), "scatter_rows")

