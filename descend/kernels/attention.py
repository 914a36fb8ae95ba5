"""Attention kernels (float32): the softmax row passes of scaled dot-product attention.

Forward, for the raw scores R = Q Kᵀ of every (batch, head) at once, laid out (A, B, L, S), and an additive
bias M broadcast to that shape (zero strides where it repeats):

    x = R·scale + M,   P = exp(x − max_j x) / Σ_j exp(x − max_j x)      (row by row, in place on R).

A row whose x are all −∞ (every key masked) gives NaN, as a softmax does, or with ``zero_dead`` a row of
zeros (PyTorch's ``scaled_dot_product_attention``). Backward, in place on dP = dO Vᵀ:

    dR = scale · P ⊙ (dP − Σ_j dP_j P_j),

the gradient of the raw scores (the scale folded in, so dQ = dR K and dK = dRᵀ Q follow as plain products).

Numba's exp is a scalar library call here (no vector maths library), about 8× slower per element than
NumPy's vectorised float32 ``exp``; the forward therefore runs as a kernel for x − max (one pass), NumPy's
``exp`` in place, and a kernel for the row sums and the division (one pass).
"""

from __future__ import annotations

import numpy as np

from . import kernel

__all__ = ["softmax_rows", "softmax_backward_rows"]


@kernel
def _shift_rows(s, bias, scale, zero_dead):
    """s ← s·scale + bias − (row max of that). A row of all −∞ becomes NaN, or −∞ (zeros after exp) when
    ``zero_dead``."""
    A, B, L, S = s.shape
    for a in range(A):
        for b in range(B):
            for i in range(L):
                m = -np.inf
                for j in range(S):
                    x = s[a, b, i, j] * scale + bias[a, b, i, j]
                    s[a, b, i, j] = x
                    if x > m:
                        m = x
                if zero_dead and m == -np.inf:
                    continue
                for j in range(S):
                    s[a, b, i, j] = s[a, b, i, j] - m


@kernel(reassociate=True)
def _normalise_rows(e):
    """e ← e / Σ_j e per row (e = exp of the shifted scores, whose largest is 1 unless the row is dead: a
    row of zeros, left as it is)."""
    A, B, L, S = e.shape
    for a in range(A):
        for b in range(B):
            for i in range(L):
                total = np.float32(0.0)
                for j in range(S):
                    total += e[a, b, i, j]
                if total == np.float32(0.0):
                    continue
                r = np.float32(1.0) / total
                for j in range(S):
                    e[a, b, i, j] = e[a, b, i, j] * r


@kernel(reassociate=True)
def _softmax_grad_rows(dp, p, scale):
    A, B, L, S = dp.shape
    for a in range(A):
        for b in range(B):
            for i in range(L):
                t = np.float32(0.0)
                for j in range(S):
                    t += dp[a, b, i, j] * p[a, b, i, j]
                for j in range(S):
                    dp[a, b, i, j] = scale * p[a, b, i, j] * (dp[a, b, i, j] - t)


def softmax_rows(s: np.ndarray, bias: np.ndarray, scale: float, zero_dead: bool) -> None:
    """In place on the float32 (A, B, L, S) scores ``s``: softmax(s·scale + bias) along the last axis;
    ``bias`` is float32 of the same shape (a broadcast view is fine)."""
    _shift_rows(s, bias, np.float32(scale), zero_dead)
    np.exp(s, out=s)
    _normalise_rows(s)


def softmax_backward_rows(dp: np.ndarray, p: np.ndarray, scale: float) -> None:
    """In place on the float32 (A, B, L, S) ``dp``: scale · p ⊙ (dp − Σ_j dp_j p_j)."""
    _softmax_grad_rows(dp, p, np.float32(scale))
