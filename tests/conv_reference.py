"""Float64 references for the convolution tests (test_kernels.py, test_kernels_winograd4.py), and a descend
layer run beside its PyTorch twin (test_nn_conv.py too)."""

import numpy as np
import torch

import descend


def conv3x3_f64(x, w, p):
    """The convolution of (N, C, H, W) x with (O, C, 3, 3) w, zero padding p, in float64, by its definition."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = xp.shape[2] - 2, xp.shape[3] - 2
    return sum(np.einsum("oc,nchw->nohw", w[:, :, u, v].astype(np.float64), xp[:, :, u:u + ho, v:v + wo])
               for u in range(3) for v in range(3))


def run_beside_torch(ours, ref, x, rng, requires_grad=True):
    """ours(x) and ref(x) with their weights loaded from ``ref``, then backward from one random gradient of the
    output's shape: (descend output, torch output, descend input, torch input)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    xt, tx = descend.tensor(x, requires_grad=requires_grad), torch.tensor(x, requires_grad=requires_grad)
    y, ty = ours(xt), ref(tx)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(descend.tensor(g))
    ty.backward(torch.tensor(g))
    return y, ty, xt, tx
