"""``SyncBatchNorm``: batch normalisation whose statistics are those of the *global* batch (all processes).

Forward, per channel c, over the M = Σ_r m_r values of all processes (m_r on rank r)::

    S1 = Σ_r Σ_i x,   S2 = Σ_r Σ_i x²   (one allreduce of [S1, S2, m] in float64)
    μ = S1 / M,   σ² = S2 / M − μ²,   x̂ = (x − μ)/√(σ² + eps),   y = γ·x̂ + β

Backward (dL/dy = g on each rank; a second allreduce of [Σ g, Σ g·x̂])::

    dx = (γ/√(σ² + eps))·(g − (1/M)·Σ_all g − x̂·(1/M)·Σ_all g·x̂),   dγ = Σ_local g·x̂,   dβ = Σ_local g

which is the gradient of the sum of every rank's loss with respect to this rank's x; DDP's averaging
of dγ, dβ and the upstream gradients then gives exactly the single-process gradient of the global batch.
The running estimates use the global mean and the unbiased global variance σ²·M/(M − 1). In eval
mode, or when no process group (or one of size 1) is initialised, it is a plain BatchNorm.
"""

from __future__ import annotations

import numpy as np

from .. import distributed as dist
from ..autograd import Function
from .module import Module
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _global_sums(*arrays) -> np.ndarray:
    """Stack per-channel float64 sums and add them up over all processes."""
    stacked = np.stack([np.asarray(a, np.float64) for a in arrays])
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(stacked, dist.ReduceOp.SUM)
    return stacked


class _SyncBatchNormOp(Function):
    """The global-batch normalisation of x (N, C, *) with γ, β; updates the running estimates in place."""

    @staticmethod
    def forward(ctx, x, weight, bias, layer, factor):
        C = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        count = x.size // C
        x64 = x.astype(np.float64)
        s1, s2, m = _global_sums(x64.sum(axis=axes), (x64 * x64).sum(axis=axes), np.full(C, count))
        total = m[0]
        if total <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all processes when "
                             f"training, got {int(total)}; use a larger batch")
        mean = s1 / total
        var = np.maximum(s2 / total - mean * mean, 0.0)
        if layer.track_running_stats:
            rm, rv = layer.running_mean.array, layer.running_var.array
            rm *= 1 - factor
            rm += (factor * mean).astype(rm.dtype)
            rv *= 1 - factor
            rv += (factor * var * total / (total - 1)).astype(rv.dtype)
        bshape = (1, C) + (1,) * (x.ndim - 2)
        inv_std = (1.0 / np.sqrt(var + layer.eps)).astype(x.dtype).reshape(bshape)
        xhat = (x - mean.astype(x.dtype).reshape(bshape)) * inv_std
        ctx.save_for_backward(xhat, inv_std, weight, total)
        ctx.axes = axes
        if weight is None:
            return xhat
        return xhat * weight.reshape(bshape) + bias.reshape(bshape)

    @staticmethod
    def backward(ctx, grad):
        xhat, inv_std, weight, total = ctx.saved_arrays
        axes = ctx.axes
        bshape = inv_std.shape
        g = grad.astype(xhat.dtype, copy=False)
        local_gxhat = (g * xhat).sum(axis=axes, dtype=np.float64)
        local_g = g.sum(axis=axes, dtype=np.float64)
        sum_g, sum_gxhat = _global_sums(local_g, local_gxhat)
        scale = inv_std if weight is None else inv_std * weight.reshape(bshape)
        mean_g = (sum_g / total).astype(g.dtype).reshape(bshape)
        mean_gxhat = (sum_gxhat / total).astype(g.dtype).reshape(bshape)
        dx = scale * (g - mean_g - xhat * mean_gxhat)
        if weight is None:
            return dx, None, None, None, None
        return dx, local_gxhat.astype(weight.dtype), local_g.astype(weight.dtype), None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the global batch of all processes (input (N, C, *)), as
    ``torch.nn.SyncBatchNorm``; parameters and buffers as BatchNorm's, so state dicts move between them."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, dtype=None):
        if process_group is not None:
            raise ValueError(f"SyncBatchNorm: only the default group is supported, pass process_group=None "
                             f"(got {process_group!r})")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def _check_input(self, x) -> None:
        if len(x.shape) < 2:
            raise ValueError(f"SyncBatchNorm expects input of shape (N, C, *), got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}) got input of shape {tuple(x.shape)} with "
                             f"{x.shape[1]} channels in dimension 1; num_features must equal the channel count")

    def forward(self, x):
        distributed = dist.is_initialized() and dist.get_world_size() > 1
        if not (self.training and distributed):
            return super().forward(x)
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        return _SyncBatchNormOp.apply(x, self.weight, self.bias, self, factor)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Return ``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm sharing its
        parameters and buffers (the module itself when it is a BatchNorm)."""
        if not isinstance(module, Module):
            raise TypeError(f"convert_sync_batchnorm needs a descend.nn.Module, got {type(module).__name__}")
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out.register_buffer(name, getattr(module, name))
            out.train(module.training)
        for name, child in list(module.named_children()):
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                setattr(out, name, new)
        return out
