"""Normalisation layers: BatchNorm1d/2d/3d and LayerNorm, over :mod:`descend.ops.normalization`.

Parameter and buffer names match PyTorch's (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), so state dicts move between the two.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..ops import normalization as _F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm"]


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy 2015): y = γ·(x − μ)/√(var + eps) + β per channel (dim 1).

    In training mode μ and var are the batch's (biased) statistics and the running estimates are updated
    with momentum m: running ← (1 − m)·running + m·batch (var: the unbiased batch variance), or, with
    ``momentum=None``, as the cumulative average (m = 1/num_batches_tracked). In eval mode the running
    estimates are used. ``track_running_stats=False`` keeps no estimates and always uses batch statistics.
    """

    _expected_dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive integer, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(backend.ones((num_features,), dtype), dtype=dtype)
            self.bias = Parameter(backend.zeros((num_features,), dtype), dtype=dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", backend.zeros((num_features,), dtype))
            self.register_buffer("running_var", backend.ones((num_features,), dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, γ to 1 and β to 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            self.bias.array[...] = 0

    def _check_input(self, x) -> None:
        ndim = len(x.shape)
        if ndim not in self._expected_dims:
            want = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__} expects {want} input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got input of shape {tuple(x.shape)} with "
                             f"{x.shape[1]} channels in dimension 1; num_features must equal the channel count")

    def forward(self, x):
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return _F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                             self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C."""

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) volumes, per channel C."""

    _expected_dims = (5,)


class LayerNorm(Module):
    """Layer normalisation (Ba, Kiros & Hinton 2016) over the trailing ``normalized_shape`` dimensions:

        y = γ·(x − μ)/√(var + eps) + β,   μ, var (biased) per sample over those dimensions,

    γ (``weight``, ones) and β (``bias``, zeros) of shape ``normalized_shape`` when
    ``elementwise_affine=True``. The same computation in training and evaluation.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        normalized_shape = tuple(int(s) for s in normalized_shape)
        if not normalized_shape or any(s < 1 for s in normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a non-empty shape of positive sizes, got "
                             f"{normalized_shape}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.normalized_shape = normalized_shape
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(backend.ones(normalized_shape, dtype), dtype=dtype)
            if bias:
                self.bias = Parameter(backend.zeros(normalized_shape, dtype), dtype=dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, x):
        return _F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
