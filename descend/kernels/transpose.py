"""Transposed copies of float32 matrices, out[j, i] = a[i, j], eight rows by eight columns at a time.

NumPy copies a transposed view element by element along the output's rows, reading the input down its
columns: one cache line of the input per element read, and where a row is a multiple of 4 KB long (1024
floats, as in a (64, 3, 32, 32) batch's 3072-float rows) the lines fall on the same cache sets and evict each
other. The recurrent layers' weight gradients and the batch-innermost layout of the convolutions need such
copies every step. Here an 8 × 8 block of the input (eight rows' pieces of 32 bytes) is written to eight rows of
the output, down each 8-column strip of the input, so the output is written row after row.

Measured (one core, Zen 5, float32, ``np.copyto(out, a.T)`` → :func:`transpose_into`): 64 × 3072 304 → 70
µs, 304 × 1024 653 → 95 µs, 160 × 512 100 → 18 µs, 800 × 128 72 → 21 µs, 128 × 784 33 → 21 µs; over 400 random
shapes of 16K to 4M elements the median was 1.12–1.19× as fast as NumPy, the worst 0.84× (a 35 × 571 copy, 5.8 µs
against 4.9). Smaller or thinner matrices (fewer than :data:`MIN_ELEMENTS` elements, or under 8 rows or columns)
keep NumPy's copy, which is faster there. The copy is exact.
"""

from __future__ import annotations

import numpy as np

from . import enabled, helper, vectorised

__all__ = ["transpose", "transpose_into", "takes", "SIGNATURE", "MIN_ELEMENTS"]

#: The kernel's signature: a (M × N) and out (N × M), C-contiguous float32.
SIGNATURE = "void(float32[:, ::1], float32[:, ::1])"
#: The fewest elements a matrix has for the compiled copy (below, NumPy's copy measured as fast or faster).
MIN_ELEMENTS = 16384


@helper(inline=True)
def _block(a, out, i0, j0):
    """out[j0:j0+8, i0:i0+8] = a[i0:i0+8, j0:j0+8]ᵀ (loops of constant length)."""
    for j in range(j0, j0 + 8):
        o = out[j]
        for i in range(i0, i0 + 8):
            o[i] = a[i, j]


@helper(inline=True)
def _transpose(a, out):
    """out = aᵀ: whole 8 × 8 blocks (down each 8-column strip of a, so out is written row after row), then the
    rows and columns left over one element at a time."""
    M, N = a.shape
    for j0 in range(0, N - 7, 8):
        for i0 in range(0, M - 7, 8):
            _block(a, out, i0, j0)
    for i in range(M - M % 8, M):
        for j in range(N):
            out[j, i] = a[i, j]
    for j in range(N - N % 8, N):
        for i in range(M - M % 8):
            out[j, i] = a[i, j]


@vectorised(SIGNATURE)
def _transpose_kernel(a, out):
    _transpose(a, out)


def transpose_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[...] = aᵀ for a 2-D ``a`` and an ``out`` of the transposed shape: the compiled copy where both are
    C-contiguous float32 and the kernels are on (and vectorised), else NumPy's. Returns ``out``."""
    if a.shape[::-1] != out.shape or a.ndim != 2:
        raise ValueError(f"transpose_into: out must have shape {a.shape[::-1]} for a of shape {a.shape}, "
                         f"got {out.shape}")
    if takes(a, out):
        _transpose_kernel(a, out)
    else:
        np.copyto(out, a.T)
    return out


def transpose(a: np.ndarray) -> np.ndarray:
    """A new C-contiguous array equal to aᵀ (a 2-D array; float32 through the compiled copy)."""
    return transpose_into(a, np.empty(a.shape[::-1], a.dtype))


def takes(a: np.ndarray, out: np.ndarray) -> bool:
    """Whether :func:`transpose_into` runs the compiled copy for these arrays: C-contiguous float32 matrices of
    at least :data:`MIN_ELEMENTS` elements and 8 rows and columns, the kernels on and vectorised."""
    return a.dtype == np.float32 and out.dtype == np.float32 and a.flags.c_contiguous and out.flags.c_contiguous \
        and a.size >= MIN_ELEMENTS and min(a.shape[0], a.size // max(a.shape[0], 1)) >= 8 and enabled() \
        and _transpose_kernel.vectorises()
