"""Float64 references for the convolution tests (test_kernels.py, test_kernels_winograd4.py)."""

import numpy as np


def conv3x3_f64(x, w, p):
    """The convolution of (N, C, H, W) x with (O, C, 3, 3) w, zero padding p, in float64, by its definition."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = xp.shape[2] - 2, xp.shape[3] - 2
    return sum(np.einsum("oc,nchw->nohw", w[:, :, u, v].astype(np.float64), xp[:, :, u:u + ho, v:v + wo])
               for u in range(3) for v in range(3))
