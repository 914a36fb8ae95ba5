"""Batch and layer normalisation, each one fused node with a closed-form backward.

Both standardise x over some axes (n elements per statistic) and apply an affine map:

    x̂ = (x − μ) / σ,   σ = √(var + eps)  (biased variance),   y = γ·x̂ + β

and share the backward (g = dL/dy, sums over the normalised axes):

    dx = (1/n)·(γ/σ)·(n·g − Σg − x̂·Σ(g·x̂)),   dγ = Σ g·x̂,   dβ = Σ g

(with γ inside the sums for layer norm, whose γ varies along the normalised axes).
"""

from __future__ import annotations

import numpy as np

from .. import backend, kernels
from ..kernels import normalization as norm_kernels
from ..tensor import Tensor, record


def _array(t):
    return None if t is None else (t.array if isinstance(t, Tensor) else np.asarray(t))


def _param_tensor(t):
    if t is None or isinstance(t, Tensor):
        return t
    return Tensor.from_array(backend.as_array(t))


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
                    momentum: float = 0.1, eps: float = 1e-5):
    """max(0, batch_norm(...)) as one node where the compiled training-mode kernels apply (values bit for bit
    those of ``relu(batch_norm(...))``, which it computes otherwise); see :meth:`BatchNorm2d.fuse_next
    <descend.nn.BatchNorm2d.fuse_next>`."""
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu=True)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalisation (Ioffe & Szegedy 2015) of x (N, C, *) per channel C.

    ``training=True``: μ and var are the batch statistics over N and the spatial axes, and the running
    statistics (when given) are updated in place with the *unbiased* batch variance, as PyTorch does:
    running ← (1 − momentum)·running + momentum·batch_stat.
    ``training=False``: the running statistics are used (a per-channel affine map; dx = g·γ/σ).
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu=False)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu: bool):
    """:func:`batch_norm`, followed by max(0, ·) when ``relu`` (:func:`batch_norm_relu`)."""
    x = input if isinstance(input, Tensor) else Tensor.from_array(backend.as_array(input))
    xd = x.array
    if xd.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C) or (N, C, ...), got shape {xd.shape}")
    if not eps > 0:
        raise ValueError(f"batch_norm: eps must be > 0, got {eps!r}")
    C = xd.shape[1]
    weight, bias = _param_tensor(weight), _param_tensor(bias)
    for label, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                     ("running_var", running_var)):
        a = _array(p)
        if a is not None and a.shape != (C,):
            raise ValueError(f"batch_norm: {label} has shape {a.shape} but the input of shape {xd.shape} has "
                             f"{C} channels (dimension 1); it must have shape ({C},)")
    axes = (0,) + tuple(range(2, xd.ndim))
    n = xd.size // C if C else 0
    bshape = (1, C) + (1,) * (xd.ndim - 2)

    if training and n <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                         f"shape {xd.shape}; use a larger batch, or call model.eval()")
    if training and xd.ndim >= 3 and xd.dtype == np.float32 and kernels.enabled() and all(
            p is None or p.array.dtype == np.float32 for p in (weight, bias)):
        view = norm_kernels.channel_view(xd)
        if view is not None:
            return _batch_norm_compiled(x, xd, view, running_mean, running_var, weight, bias, momentum, eps, relu)
    if relu:
        from .activation import relu as rectify
        return rectify(_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, False))
    if training:
        mean = xd.mean(axis=axes, keepdims=True)
        centred = xd - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        _update_running(running_mean, running_var, momentum, mean.reshape(C), var.reshape(C), n)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = centred
        x_hat *= inv_std
    else:
        rm, rv = _array(running_mean), _array(running_var)
        if rm is None or rv is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False; pass "
                             "them, or training=True to normalise with the batch statistics")
        inv_std = (1.0 / np.sqrt(rv.reshape(bshape) + eps)).astype(xd.dtype, copy=False)
        x_hat = (xd - rm.reshape(bshape).astype(xd.dtype, copy=False)) * inv_std

    gamma = None if weight is None else weight.array.reshape(bshape)
    out = x_hat if gamma is None else x_hat * gamma
    if bias is not None:
        if out is x_hat:
            out = out + bias.array.reshape(bshape)
        else:
            out += bias.array.reshape(bshape)
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)

    def backward(g):
        # per-channel sums: Σg = dβ and Σ g·x̂ = dγ; γ is constant per channel, so it factors out of dx
        need_gamma = weight is not None and weight.requires_grad
        sum_g = g.sum(axis=axes) if (training and x.requires_grad) or (bias is not None and bias.requires_grad) \
            else None
        sum_gx = (g * x_hat).sum(axis=axes) if (training and x.requires_grad) or need_gamma else None
        gx = None
        if x.requires_grad:
            scale = inv_std if gamma is None else inv_std * gamma  # γ/σ, shape (1, C, 1, ...)
            if training:  # dx = (γ/σ)·(g − Σg/n − x̂·Σ(g·x̂)/n)
                gx = x_hat * (sum_gx / n).reshape(bshape)
                np.subtract(g, gx, out=gx)
                gx -= (sum_g / n).reshape(bshape)
                gx *= scale
            else:  # running statistics are constants: dx = g·γ/σ
                gx = g * scale
            gx = gx.astype(xd.dtype, copy=False)
        grads = [gx]
        if weight is not None:
            grads.append(sum_gx.astype(weight.array.dtype, copy=False) if need_gamma else None)
        if bias is not None:
            grads.append(sum_g.astype(bias.array.dtype, copy=False) if bias.requires_grad else None)
        return tuple(grads)

    return record(out.astype(xd.dtype, copy=False), parents, backward, "batch_norm")


def _update_running(running_mean, running_var, momentum, mean, var, n):
    """running ← (1 − momentum)·running + momentum·batch statistic (the variance unbiased), in place."""
    if running_mean is None and running_var is None:
        return
    if momentum is None or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must be in [0, 1], got {momentum!r}")
    rm, rv = _array(running_mean), _array(running_var)
    if rm is not None:
        rm *= 1 - momentum
        rm += (momentum * mean).astype(rm.dtype, copy=False)
    if rv is not None:
        rv *= 1 - momentum
        rv += (momentum * var * (n / (n - 1))).astype(rv.dtype, copy=False)


def _batch_norm_compiled(x, xd, view, running_mean, running_var, weight, bias, momentum, eps, relu=False):
    """Training-mode :func:`batch_norm` through the compiled per-channel kernels, keeping the input's layout
    (batch-innermost or row-major; :func:`descend.kernels.normalization.channel_view`)."""
    x3, order = view
    inverse = tuple(np.argsort(order))
    laid_out = tuple(xd.shape[i] for i in order)
    mean, var, inv_std = norm_kernels.batch_norm_train(x3, eps)
    _update_running(running_mean, running_var, momentum, mean.astype(np.float64), var.astype(np.float64),
                    x3.shape[0] * x3.shape[2])
    gamma = None if weight is None else weight.array
    out3 = norm_kernels.batch_norm_apply(x3, mean, inv_std, gamma, None if bias is None else bias.array, relu)
    out = out3.reshape(laid_out).transpose(inverse)
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)

    def backward(g):
        g3 = np.ascontiguousarray(g.transpose(order), dtype=np.float32).reshape(x3.shape)
        gx3, d_gamma, d_beta = norm_kernels.batch_norm_backward(g3, x3, mean, inv_std, gamma, x.requires_grad,
                                                                out3 if relu else None)
        grads = [None if gx3 is None else gx3.reshape(laid_out).transpose(inverse)]
        if weight is not None:
            grads.append(d_gamma if weight.requires_grad else None)
        if bias is not None:
            grads.append(d_beta if bias.requires_grad else None)
        return tuple(grads)

    return record(out, parents, backward, "batch_norm_relu" if relu else "batch_norm")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Layer normalisation (Ba, Kiros & Hinton 2016) over the trailing ``normalized_shape`` dimensions.

    μ and var (biased) are taken per sample over those dimensions; ``weight`` γ and ``bias`` β have shape
    ``normalized_shape``. Backward with gh = g·γ:  dx = (1/σ)·(gh − mean(gh) − x̂·mean(gh·x̂)),
    dγ = Σ_batch g·x̂, dβ = Σ_batch g. Float32: one compiled pass over each row each way
    (:mod:`descend.kernels.normalization`).
    """
    x = input if isinstance(input, Tensor) else Tensor.from_array(backend.as_array(input))
    xd = x.array
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or xd.shape[xd.ndim - k:] != normalized_shape or xd.ndim < k:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must equal the trailing dimensions "
                         f"of the input, whose shape is {xd.shape}")
    if not eps > 0:
        raise ValueError(f"layer_norm: eps must be > 0, got {eps!r}")
    weight, bias = _param_tensor(weight), _param_tensor(bias)
    for label, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.array.shape != normalized_shape:
            raise ValueError(f"layer_norm: {label} has shape {p.array.shape}, expected normalized_shape "
                             f"{normalized_shape}")
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    if xd.dtype == np.float32 and kernels.enabled() and all(
            p is None or p.array.dtype == np.float32 for p in (weight, bias)):
        return _layer_norm_compiled(x, xd, normalized_shape, weight, bias, eps, parents)
    axes = tuple(range(xd.ndim - k, xd.ndim))
    batch_axes = tuple(range(xd.ndim - k))
    mean = xd.mean(axis=axes, keepdims=True)
    centred = xd - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centred * inv_std
    gamma = None if weight is None else weight.array
    out = x_hat if gamma is None else x_hat * gamma
    if bias is not None:
        out = out + bias.array

    def backward(g):
        gx = None
        if x.requires_grad:  # dx = (1/σ)·(gh − mean(gh) − x̂·mean(gh·x̂)), in place where possible
            gh = g if gamma is None else g * gamma
            mean_gh = gh.mean(axis=axes, keepdims=True)
            gx = gh * x_hat
            gx = x_hat * gx.mean(axis=axes, keepdims=True)
            np.subtract(gh, gx, out=gx)
            gx -= mean_gh
            gx *= inv_std
            gx = gx.astype(xd.dtype, copy=False)
        grads = [gx]
        if weight is not None:
            grads.append((g * x_hat).sum(axis=batch_axes) if weight.requires_grad else None)
        if bias is not None:
            grads.append(g.sum(axis=batch_axes) if bias.requires_grad else None)
        return tuple(grads)

    return record(out.astype(xd.dtype, copy=False), parents, backward, "layer_norm")


def _layer_norm_compiled(x, xd, normalized_shape, weight, bias, eps, parents):
    """:func:`layer_norm` through the compiled row kernels (:mod:`descend.kernels.normalization`)."""
    d = int(np.prod(normalized_shape))
    x2 = np.ascontiguousarray(xd).reshape(-1, d)
    gamma = None if weight is None else weight.array
    out, x_hat, inv_std = norm_kernels.layer_norm_forward(x2, gamma, None if bias is None else bias.array, eps)

    def backward(g):
        gx, d_gamma, d_beta = norm_kernels.layer_norm_backward(g.reshape(-1, d), x_hat, inv_std, gamma,
                                                               x.requires_grad)
        grads = [None if gx is None else gx.reshape(xd.shape)]
        if weight is not None:
            grads.append(d_gamma.reshape(normalized_shape) if weight.requires_grad else None)
        if bias is not None:
            grads.append(d_beta.reshape(normalized_shape) if bias.requires_grad else None)
        return tuple(grads)

    return record(out.reshape(xd.shape), parents, backward, "layer_norm")


__all__ = ["batch_norm", "batch_norm_relu", "layer_norm"]
