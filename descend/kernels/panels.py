"""Matrix products one 8 × 16 block at a time over column panels: the recurrent layers' step product, and the
Winograd convolutions' batched channel products where the BLAS runs narrower vectors than this CPU has.

A recurrent layer multiplies a small batch of states by the same weight at every step (per step
(N × H) · (H × G), N the batch chunk, T steps in a row). A BLAS call packs the weight anew each call and is
built for large products: OpenBLAS took 21 µs for the (16 × 128) · (128 × 512) product of an LSTM(128) step on
one core (98 GFLOP/s, about half of what that core can do). Here the weight is packed once per sequence
(:func:`pack`) into panels of 16 columns,

    P[b, k, j] = B[k, 16 b + j]   (zero past B's last column),

and :func:`product` computes C = A · B one 8 × 16 block of C at a time: 128 accumulators held in registers
over the whole sum c_ij = Σ_k a_ik b_kj, each step of k loading one row of a panel (16 contiguous floats) and
8 values of A, and 8 × 16 fused multiply-adds; the last rows of an A whose row count is not a multiple of 8
go through a 1 × 16 block. The accumulators are written out as scalars so that LLVM's SLP (straight-line)
vectoriser packs them into vector registers; Numba leaves that vectoriser off by default (since its issue
#8705, a miscompilation elsewhere), so this one kernel is compiled with it switched on
(:func:`descend.kernels.vectorised`), and a test checks that its machine code has packed fused
multiply-adds. The sums run in k order per element like BLAS's, rounded once per step (fused).

Measured (one core, Intel Xeon with AVX-512, float32): (16 × 128) · (128 × 512) 17.7–18.9 µs against OpenBLAS's
21.5–23.8 µs, (16 × 512) · (512 × 128) 16.8–19.3 against 23.6–24.9 µs; from about 50 rows OpenBLAS is faster
(LLVM uses 256-bit vectors on this CPU, OpenBLAS 512-bit ones). docs/kernels.md has the table.

:func:`planes_product` runs the same blocks over a batch of products C[p] = A[p] · B[p] (or A[p] · B[p]ᵀ) whose
B is used once: each 16-column panel of B[p] is copied into a (K × 16) buffer when it is reached and serves all
of A[p]'s rows. The Winograd convolutions' products ((O × C) · (C × t) per plane, t tile columns) take it through
:func:`planes_matmul` on the CPUs where it measured faster (:func:`wider_than_blas`): on Zen 5, one core, with
OpenBLAS on its Haswell kernels, 36 planes of (32 × 32) · (32 × 256) in 155 µs against NumPy's 187, (64 × 64) ·
(64 × 256) 506 against 661; with OpenBLAS's own choice there (SkylakeX, 512-bit) NumPy's took 84 and 390.
"""

from __future__ import annotations

import numpy as np

from . import enabled, helper, threads, vectorised
from .blas import numpy_blas_info
from .transpose import transpose

__all__ = ["pack", "product", "planes_product", "fits", "planes_matmul", "matmul", "takes_matrix", "takes_planes",
           "wider_than_blas", "PANEL", "SIGNATURE", "PLANES_SIGNATURE", "PLANES"]

#: Columns per panel.
PANEL = 16
#: The kernel's one signature: A (M × K), the panels (⌈N/16⌉ × K × 16), C (M × N), all C-contiguous float32.
SIGNATURE = "void(float32[:, ::1], float32[:, :, ::1], float32[:, ::1])"
#: :func:`planes_product`'s kernel: A (P × M × K), B (P × K × N or P × N × K), C (P × M × N), whether B is
#: transposed.
PLANES_SIGNATURE = "void(float32[:, :, ::1], float32[:, :, ::1], float32[:, :, ::1], boolean)"
#: The most terms summed in one run of accumulators by :func:`planes_product` (a longer sum runs as equal
#: segments of at most this many, added: K = 800 as 4 × 200, not 3 × 256 + 32, whose short last run cost
#: 4–12 % of the product's time on such shapes): one accumulator per output over a whole 1092-term sum rounded
#: 1.2·10⁻⁶ of the scale off float64, twice the error of OpenBLAS's blocked sums; in segments it rounds as they do.
SEGMENT = 256
_ZERO = np.float32(0.0)


def pack(b: np.ndarray) -> np.ndarray:
    """The panels of ``b`` (K × N, any strides): a C-contiguous float32 (⌈N/16⌉, K, 16) array, zero past
    column N (one copy when N is a multiple of 16)."""
    k, n = b.shape
    full = n // PANEL
    if n % PANEL == 0:
        return np.ascontiguousarray(b.reshape(k, full, PANEL).transpose(1, 0, 2), dtype=np.float32)
    out = np.zeros((full + 1, k, PANEL), np.float32)
    out[:full] = b[:, :full * PANEL].reshape(k, full, PANEL).transpose(1, 0, 2)
    out[full, :, :n % PANEL] = b[:, full * PANEL:]
    return out


@helper(inline=True)
def _block8(A, i, panel, C, j0, k0, depth):
    """C[i:i+8, j0:j0+16] = A[i:i+8, k0:k0+depth] · the panel's first ``depth`` rows: 128 accumulators."""
    c0_0 = _ZERO; c0_1 = _ZERO; c0_2 = _ZERO; c0_3 = _ZERO; c0_4 = _ZERO; c0_5 = _ZERO; c0_6 = _ZERO
    c0_7 = _ZERO; c0_8 = _ZERO; c0_9 = _ZERO; c0_10 = _ZERO; c0_11 = _ZERO; c0_12 = _ZERO; c0_13 = _ZERO
    c0_14 = _ZERO; c0_15 = _ZERO
    c1_0 = _ZERO; c1_1 = _ZERO; c1_2 = _ZERO; c1_3 = _ZERO; c1_4 = _ZERO; c1_5 = _ZERO; c1_6 = _ZERO
    c1_7 = _ZERO; c1_8 = _ZERO; c1_9 = _ZERO; c1_10 = _ZERO; c1_11 = _ZERO; c1_12 = _ZERO; c1_13 = _ZERO
    c1_14 = _ZERO; c1_15 = _ZERO
    c2_0 = _ZERO; c2_1 = _ZERO; c2_2 = _ZERO; c2_3 = _ZERO; c2_4 = _ZERO; c2_5 = _ZERO; c2_6 = _ZERO
    c2_7 = _ZERO; c2_8 = _ZERO; c2_9 = _ZERO; c2_10 = _ZERO; c2_11 = _ZERO; c2_12 = _ZERO; c2_13 = _ZERO
    c2_14 = _ZERO; c2_15 = _ZERO
    c3_0 = _ZERO; c3_1 = _ZERO; c3_2 = _ZERO; c3_3 = _ZERO; c3_4 = _ZERO; c3_5 = _ZERO; c3_6 = _ZERO
    c3_7 = _ZERO; c3_8 = _ZERO; c3_9 = _ZERO; c3_10 = _ZERO; c3_11 = _ZERO; c3_12 = _ZERO; c3_13 = _ZERO
    c3_14 = _ZERO; c3_15 = _ZERO
    c4_0 = _ZERO; c4_1 = _ZERO; c4_2 = _ZERO; c4_3 = _ZERO; c4_4 = _ZERO; c4_5 = _ZERO; c4_6 = _ZERO
    c4_7 = _ZERO; c4_8 = _ZERO; c4_9 = _ZERO; c4_10 = _ZERO; c4_11 = _ZERO; c4_12 = _ZERO; c4_13 = _ZERO
    c4_14 = _ZERO; c4_15 = _ZERO
    c5_0 = _ZERO; c5_1 = _ZERO; c5_2 = _ZERO; c5_3 = _ZERO; c5_4 = _ZERO; c5_5 = _ZERO; c5_6 = _ZERO
    c5_7 = _ZERO; c5_8 = _ZERO; c5_9 = _ZERO; c5_10 = _ZERO; c5_11 = _ZERO; c5_12 = _ZERO; c5_13 = _ZERO
    c5_14 = _ZERO; c5_15 = _ZERO
    c6_0 = _ZERO; c6_1 = _ZERO; c6_2 = _ZERO; c6_3 = _ZERO; c6_4 = _ZERO; c6_5 = _ZERO; c6_6 = _ZERO
    c6_7 = _ZERO; c6_8 = _ZERO; c6_9 = _ZERO; c6_10 = _ZERO; c6_11 = _ZERO; c6_12 = _ZERO; c6_13 = _ZERO
    c6_14 = _ZERO; c6_15 = _ZERO
    c7_0 = _ZERO; c7_1 = _ZERO; c7_2 = _ZERO; c7_3 = _ZERO; c7_4 = _ZERO; c7_5 = _ZERO; c7_6 = _ZERO
    c7_7 = _ZERO; c7_8 = _ZERO; c7_9 = _ZERO; c7_10 = _ZERO; c7_11 = _ZERO; c7_12 = _ZERO; c7_13 = _ZERO
    c7_14 = _ZERO; c7_15 = _ZERO
    for k in range(depth):
        b = panel[k]
        a0 = A[i + 0, k0 + k]
        c0_0 += a0 * b[0]; c0_1 += a0 * b[1]; c0_2 += a0 * b[2]; c0_3 += a0 * b[3]; c0_4 += a0 * b[4]
        c0_5 += a0 * b[5]; c0_6 += a0 * b[6]; c0_7 += a0 * b[7]; c0_8 += a0 * b[8]; c0_9 += a0 * b[9]
        c0_10 += a0 * b[10]; c0_11 += a0 * b[11]; c0_12 += a0 * b[12]; c0_13 += a0 * b[13]
        c0_14 += a0 * b[14]; c0_15 += a0 * b[15]
        a1 = A[i + 1, k0 + k]
        c1_0 += a1 * b[0]; c1_1 += a1 * b[1]; c1_2 += a1 * b[2]; c1_3 += a1 * b[3]; c1_4 += a1 * b[4]
        c1_5 += a1 * b[5]; c1_6 += a1 * b[6]; c1_7 += a1 * b[7]; c1_8 += a1 * b[8]; c1_9 += a1 * b[9]
        c1_10 += a1 * b[10]; c1_11 += a1 * b[11]; c1_12 += a1 * b[12]; c1_13 += a1 * b[13]
        c1_14 += a1 * b[14]; c1_15 += a1 * b[15]
        a2 = A[i + 2, k0 + k]
        c2_0 += a2 * b[0]; c2_1 += a2 * b[1]; c2_2 += a2 * b[2]; c2_3 += a2 * b[3]; c2_4 += a2 * b[4]
        c2_5 += a2 * b[5]; c2_6 += a2 * b[6]; c2_7 += a2 * b[7]; c2_8 += a2 * b[8]; c2_9 += a2 * b[9]
        c2_10 += a2 * b[10]; c2_11 += a2 * b[11]; c2_12 += a2 * b[12]; c2_13 += a2 * b[13]
        c2_14 += a2 * b[14]; c2_15 += a2 * b[15]
        a3 = A[i + 3, k0 + k]
        c3_0 += a3 * b[0]; c3_1 += a3 * b[1]; c3_2 += a3 * b[2]; c3_3 += a3 * b[3]; c3_4 += a3 * b[4]
        c3_5 += a3 * b[5]; c3_6 += a3 * b[6]; c3_7 += a3 * b[7]; c3_8 += a3 * b[8]; c3_9 += a3 * b[9]
        c3_10 += a3 * b[10]; c3_11 += a3 * b[11]; c3_12 += a3 * b[12]; c3_13 += a3 * b[13]
        c3_14 += a3 * b[14]; c3_15 += a3 * b[15]
        a4 = A[i + 4, k0 + k]
        c4_0 += a4 * b[0]; c4_1 += a4 * b[1]; c4_2 += a4 * b[2]; c4_3 += a4 * b[3]; c4_4 += a4 * b[4]
        c4_5 += a4 * b[5]; c4_6 += a4 * b[6]; c4_7 += a4 * b[7]; c4_8 += a4 * b[8]; c4_9 += a4 * b[9]
        c4_10 += a4 * b[10]; c4_11 += a4 * b[11]; c4_12 += a4 * b[12]; c4_13 += a4 * b[13]
        c4_14 += a4 * b[14]; c4_15 += a4 * b[15]
        a5 = A[i + 5, k0 + k]
        c5_0 += a5 * b[0]; c5_1 += a5 * b[1]; c5_2 += a5 * b[2]; c5_3 += a5 * b[3]; c5_4 += a5 * b[4]
        c5_5 += a5 * b[5]; c5_6 += a5 * b[6]; c5_7 += a5 * b[7]; c5_8 += a5 * b[8]; c5_9 += a5 * b[9]
        c5_10 += a5 * b[10]; c5_11 += a5 * b[11]; c5_12 += a5 * b[12]; c5_13 += a5 * b[13]
        c5_14 += a5 * b[14]; c5_15 += a5 * b[15]
        a6 = A[i + 6, k0 + k]
        c6_0 += a6 * b[0]; c6_1 += a6 * b[1]; c6_2 += a6 * b[2]; c6_3 += a6 * b[3]; c6_4 += a6 * b[4]
        c6_5 += a6 * b[5]; c6_6 += a6 * b[6]; c6_7 += a6 * b[7]; c6_8 += a6 * b[8]; c6_9 += a6 * b[9]
        c6_10 += a6 * b[10]; c6_11 += a6 * b[11]; c6_12 += a6 * b[12]; c6_13 += a6 * b[13]
        c6_14 += a6 * b[14]; c6_15 += a6 * b[15]
        a7 = A[i + 7, k0 + k]
        c7_0 += a7 * b[0]; c7_1 += a7 * b[1]; c7_2 += a7 * b[2]; c7_3 += a7 * b[3]; c7_4 += a7 * b[4]
        c7_5 += a7 * b[5]; c7_6 += a7 * b[6]; c7_7 += a7 * b[7]; c7_8 += a7 * b[8]; c7_9 += a7 * b[9]
        c7_10 += a7 * b[10]; c7_11 += a7 * b[11]; c7_12 += a7 * b[12]; c7_13 += a7 * b[13]
        c7_14 += a7 * b[14]; c7_15 += a7 * b[15]
    out = C[i + 0]
    out[j0 + 0] = c0_0; out[j0 + 1] = c0_1; out[j0 + 2] = c0_2; out[j0 + 3] = c0_3; out[j0 + 4] = c0_4
    out[j0 + 5] = c0_5; out[j0 + 6] = c0_6; out[j0 + 7] = c0_7; out[j0 + 8] = c0_8; out[j0 + 9] = c0_9
    out[j0 + 10] = c0_10; out[j0 + 11] = c0_11; out[j0 + 12] = c0_12; out[j0 + 13] = c0_13
    out[j0 + 14] = c0_14; out[j0 + 15] = c0_15
    out = C[i + 1]
    out[j0 + 0] = c1_0; out[j0 + 1] = c1_1; out[j0 + 2] = c1_2; out[j0 + 3] = c1_3; out[j0 + 4] = c1_4
    out[j0 + 5] = c1_5; out[j0 + 6] = c1_6; out[j0 + 7] = c1_7; out[j0 + 8] = c1_8; out[j0 + 9] = c1_9
    out[j0 + 10] = c1_10; out[j0 + 11] = c1_11; out[j0 + 12] = c1_12; out[j0 + 13] = c1_13
    out[j0 + 14] = c1_14; out[j0 + 15] = c1_15
    out = C[i + 2]
    out[j0 + 0] = c2_0; out[j0 + 1] = c2_1; out[j0 + 2] = c2_2; out[j0 + 3] = c2_3; out[j0 + 4] = c2_4
    out[j0 + 5] = c2_5; out[j0 + 6] = c2_6; out[j0 + 7] = c2_7; out[j0 + 8] = c2_8; out[j0 + 9] = c2_9
    out[j0 + 10] = c2_10; out[j0 + 11] = c2_11; out[j0 + 12] = c2_12; out[j0 + 13] = c2_13
    out[j0 + 14] = c2_14; out[j0 + 15] = c2_15
    out = C[i + 3]
    out[j0 + 0] = c3_0; out[j0 + 1] = c3_1; out[j0 + 2] = c3_2; out[j0 + 3] = c3_3; out[j0 + 4] = c3_4
    out[j0 + 5] = c3_5; out[j0 + 6] = c3_6; out[j0 + 7] = c3_7; out[j0 + 8] = c3_8; out[j0 + 9] = c3_9
    out[j0 + 10] = c3_10; out[j0 + 11] = c3_11; out[j0 + 12] = c3_12; out[j0 + 13] = c3_13
    out[j0 + 14] = c3_14; out[j0 + 15] = c3_15
    out = C[i + 4]
    out[j0 + 0] = c4_0; out[j0 + 1] = c4_1; out[j0 + 2] = c4_2; out[j0 + 3] = c4_3; out[j0 + 4] = c4_4
    out[j0 + 5] = c4_5; out[j0 + 6] = c4_6; out[j0 + 7] = c4_7; out[j0 + 8] = c4_8; out[j0 + 9] = c4_9
    out[j0 + 10] = c4_10; out[j0 + 11] = c4_11; out[j0 + 12] = c4_12; out[j0 + 13] = c4_13
    out[j0 + 14] = c4_14; out[j0 + 15] = c4_15
    out = C[i + 5]
    out[j0 + 0] = c5_0; out[j0 + 1] = c5_1; out[j0 + 2] = c5_2; out[j0 + 3] = c5_3; out[j0 + 4] = c5_4
    out[j0 + 5] = c5_5; out[j0 + 6] = c5_6; out[j0 + 7] = c5_7; out[j0 + 8] = c5_8; out[j0 + 9] = c5_9
    out[j0 + 10] = c5_10; out[j0 + 11] = c5_11; out[j0 + 12] = c5_12; out[j0 + 13] = c5_13
    out[j0 + 14] = c5_14; out[j0 + 15] = c5_15
    out = C[i + 6]
    out[j0 + 0] = c6_0; out[j0 + 1] = c6_1; out[j0 + 2] = c6_2; out[j0 + 3] = c6_3; out[j0 + 4] = c6_4
    out[j0 + 5] = c6_5; out[j0 + 6] = c6_6; out[j0 + 7] = c6_7; out[j0 + 8] = c6_8; out[j0 + 9] = c6_9
    out[j0 + 10] = c6_10; out[j0 + 11] = c6_11; out[j0 + 12] = c6_12; out[j0 + 13] = c6_13
    out[j0 + 14] = c6_14; out[j0 + 15] = c6_15
    out = C[i + 7]
    out[j0 + 0] = c7_0; out[j0 + 1] = c7_1; out[j0 + 2] = c7_2; out[j0 + 3] = c7_3; out[j0 + 4] = c7_4
    out[j0 + 5] = c7_5; out[j0 + 6] = c7_6; out[j0 + 7] = c7_7; out[j0 + 8] = c7_8; out[j0 + 9] = c7_9
    out[j0 + 10] = c7_10; out[j0 + 11] = c7_11; out[j0 + 12] = c7_12; out[j0 + 13] = c7_13
    out[j0 + 14] = c7_14; out[j0 + 15] = c7_15


@helper(inline=True)
def _block1(A, i, panel, C, j0, k0, depth):
    """C[i, j0:j0+16] = A[i, k0:k0+depth] · the panel: one row (the rows past A's last whole 8-row block)."""
    c0_0 = _ZERO; c0_1 = _ZERO; c0_2 = _ZERO; c0_3 = _ZERO; c0_4 = _ZERO; c0_5 = _ZERO; c0_6 = _ZERO
    c0_7 = _ZERO; c0_8 = _ZERO; c0_9 = _ZERO; c0_10 = _ZERO; c0_11 = _ZERO; c0_12 = _ZERO; c0_13 = _ZERO
    c0_14 = _ZERO; c0_15 = _ZERO
    for k in range(depth):
        b = panel[k]
        a0 = A[i, k0 + k]
        c0_0 += a0 * b[0]; c0_1 += a0 * b[1]; c0_2 += a0 * b[2]; c0_3 += a0 * b[3]; c0_4 += a0 * b[4]
        c0_5 += a0 * b[5]; c0_6 += a0 * b[6]; c0_7 += a0 * b[7]; c0_8 += a0 * b[8]; c0_9 += a0 * b[9]
        c0_10 += a0 * b[10]; c0_11 += a0 * b[11]; c0_12 += a0 * b[12]; c0_13 += a0 * b[13]
        c0_14 += a0 * b[14]; c0_15 += a0 * b[15]
    out = C[i]
    out[j0 + 0] = c0_0; out[j0 + 1] = c0_1; out[j0 + 2] = c0_2; out[j0 + 3] = c0_3; out[j0 + 4] = c0_4
    out[j0 + 5] = c0_5; out[j0 + 6] = c0_6; out[j0 + 7] = c0_7; out[j0 + 8] = c0_8; out[j0 + 9] = c0_9
    out[j0 + 10] = c0_10; out[j0 + 11] = c0_11; out[j0 + 12] = c0_12; out[j0 + 13] = c0_13
    out[j0 + 14] = c0_14; out[j0 + 15] = c0_15


@helper(inline=True)
def _panel_columns(A, panel, C, j0, k0, depth):
    """C[:, j0:j0+16] = A[:, k0:k0+depth] · the panel's first ``depth`` rows, 8 rows at a time, then the rows
    left one at a time."""
    M = A.shape[0]
    for i in range(0, M - 7, 8):
        _block8(A, i, panel, C, j0, k0, depth)
    for i in range(M - M % 8, M):
        _block1(A, i, panel, C, j0, k0, depth)


@vectorised(SIGNATURE)
def product(A, P, C):
    """C = A · B with B given as its panels ``P`` (:func:`pack`); C's columns must be a multiple of 16 wide
    (the caller takes BLAS otherwise). A's K columns must match the panels' K rows."""
    for jb in range(C.shape[1] // PANEL):
        _panel_columns(A, P[jb], C, jb * PANEL, 0, A.shape[1])


@vectorised(PLANES_SIGNATURE)
def _planes_product(A, B, C, transpose_b):
    M, K = A.shape[1], A.shape[2]
    segments = -(-K // SEGMENT)
    step = -(-K // segments)  # equal segments of at most SEGMENT terms (no short one left at the end)
    panel = np.empty((min(K, step), PANEL), np.float32)
    part = np.empty((M, PANEL), np.float32)
    for p in range(A.shape[0]):
        a, b, c = A[p], B[p], C[p]
        for jb in range(c.shape[1] // PANEL):
            j0 = jb * PANEL
            for k0 in range(0, K, step):
                k1 = min(K, k0 + step)
                if transpose_b:  # the panel is columns j0…j0+15 of Bᵀ: rows j0…j0+15 of B, transposed
                    rows = b[j0:j0 + PANEL]
                    for k in range(k1 - k0):
                        line = panel[k]
                        for j in range(PANEL):
                            line[j] = rows[j, k0 + k]
                else:
                    for k in range(k1 - k0):
                        line, row = panel[k], b[k0 + k, j0:j0 + PANEL]
                        for j in range(PANEL):
                            line[j] = row[j]
                first = k0 == 0  # the first segment writes C; a later one is computed apart, then added
                _panel_columns(a, panel, c if first else part, j0 if first else 0, k0, k1 - k0)
                if not first:
                    for i in range(M):
                        for j in range(PANEL):
                            c[i, j0 + j] += part[i, j]


def planes_product(a: np.ndarray, b: np.ndarray, out: np.ndarray, transpose_b: bool = False) -> np.ndarray:
    """out[p] = a[p] · b[p] (``transpose_b``: a[p] · b[p]ᵀ) for every plane p: a batch of products whose B is
    row-major, each 16-column panel of it copied into a (K × 16) buffer as it is reached and used for all of
    A's rows (what :func:`pack` and :func:`product` do for a weight reused over many calls). All three C-contiguous
    float32 (P × M × K), (P × K × N) or (P × N × K), (P × M × N); N a multiple of 16 (:func:`fits`)."""
    _planes_product(a, b, out, bool(transpose_b))
    return out


def fits(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """Whether :func:`planes_product` takes these arrays: C-contiguous float32, three dimensions, whole panels."""
    return all(x.dtype == np.float32 and x.ndim == 3 and x.flags.c_contiguous for x in (a, b, out)) \
        and out.shape[2] % PANEL == 0


#: Whether batched products (:func:`planes_matmul`) take :func:`planes_product`: None decides by
#: :func:`wider_than_blas`, True and False force it (tests).
PLANES = None
#: CPUs (LLVM's names) on which this module's kernels measured faster than NumPy's BLAS whenever that runs
#: 256-bit kernels: Zen 5 computes 512-bit vectors at full width and LLVM emits them there (on Intel's AVX-512
#: CPUs LLVM prefers 256-bit vectors, and the kernels measured no faster than OpenBLAS).
WIDE_CPUS = ("znver5",)
#: OpenBLAS's kernel sets (threadpoolctl's ``architecture``) that use 512-bit vectors.
WIDE_BLAS = ("skylakex", "cooperlake", "sapphirerapids")
_wider = []


def wider_than_blas() -> bool:
    """Whether this CPU is one of :data:`WIDE_CPUS` and NumPy's BLAS runs narrower kernels there (OpenBLAS told
    by ``OPENBLAS_CORETYPE``, say, to run its Haswell kernels): then :func:`planes_product` beats NumPy's
    batched products (docs/kernels.md). Decided once per process; False when either cannot be told."""
    if not _wider:
        _wider.append(_cpu_name() in WIDE_CPUS and _blas_architecture() not in WIDE_BLAS + ("", "unknown"))
    return _wider[0]


def _cpu_name() -> str:
    try:
        import llvmlite.binding as llvm
        return llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover - llvmlite missing
        return ""


def _blas_architecture() -> str:
    info = numpy_blas_info()
    if not info or info[0].get("internal_api") != "openblas":
        return "unknown"  # none found, or MKL and others: their own widest kernels
    return str(info[0].get("architecture") or "unknown").lower()


def takes_planes() -> bool:
    """Whether :func:`planes_matmul` takes :func:`planes_product` for arrays it :func:`fits`: :data:`PLANES`, else
    :func:`wider_than_blas` where NumPy's product would run on one thread too, the kernels on
    (:func:`descend.kernels.enabled`) (:func:`~descend.kernels.threads
    .one_blas_thread`: a convolution's or recurrent layer's work shared out among threads, or a one-thread BLAS;
    measured: a 48-channel CNN whose convolutions were not shared out ran 10 % slower with the one-thread panels
    than with OpenBLAS's two-thread products), and the kernels were compiled vectorised."""
    if not enabled():
        return False
    use = wider_than_blas() and threads.one_blas_thread() if PLANES is None else PLANES
    return bool(use) and product.vectorises()


def takes_matrix(b: np.ndarray) -> bool:
    """Whether :func:`matmul` of anything by ``b`` takes the panels: float32 with whole 16-column panels, and
    :func:`takes_planes`."""
    return b.dtype == np.float32 and b.shape[-1] % PANEL == 0 and takes_planes()


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for float32 matrices: by :func:`planes_product` (one plane) where :func:`takes_matrix`, else
    NumPy's."""
    if a.dtype != np.float32 or not takes_matrix(b):
        return a @ b
    a3, b3 = _contiguous(a)[None], _contiguous(b)[None]
    return planes_product(a3, b3, np.empty((1, a.shape[0], b.shape[1]), np.float32))[0]


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` C-contiguous: itself, or a copy; the transpose of a C-contiguous matrix by :func:`.transpose.transpose`
    (NumPy's copy of such a view was 2-5× slower, docs/kernels.md)."""
    if a.flags.c_contiguous:
        return a
    if a.ndim == 2 and a.T.flags.c_contiguous:
        return transpose(a.T)
    return np.ascontiguousarray(a)


def planes_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, transpose_b: bool = False) -> np.ndarray:
    """out = a @ b (``transpose_b``: a @ bᵀ per plane) for 3-D float32 arrays: :func:`planes_product` where it
    is faster (:func:`takes_planes`) and :func:`fits`, else NumPy's batched product."""
    if fits(a, b, out) and takes_planes():
        return planes_product(a, b, out, transpose_b)
    return np.matmul(a, b.transpose(0, 2, 1) if transpose_b else b, out=out)
