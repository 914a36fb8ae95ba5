"""Reductions and the softmax family: values and gradients against PyTorch over random shapes and axes,
NumPy (axis/keepdims) and PyTorch (dim/keepdim) spellings, stability for large logits, gradcheck."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend
import descend.nn.functional as F

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def shape_and_axis(draw, min_dims=1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 2**16))


def _torch_dim(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


REDUCTIONS = {
    "sum": (lambda x, ax, k: x.sum(axis=ax, keepdims=k), lambda t, ax, k: t.sum(dim=ax, keepdim=k)),
    "mean": (lambda x, ax, k: x.mean(dim=ax, keepdim=k), lambda t, ax, k: t.mean(dim=ax, keepdim=k)),
    "max": (lambda x, ax, k: x.max(axis=ax, keepdims=k), lambda t, ax, k: t.amax(dim=ax, keepdim=k)),
    "min": (lambda x, ax, k: descend.ops.amin(x, dim=ax, keepdim=k), lambda t, ax, k: t.amin(dim=ax, keepdim=k)),
    "logsumexp": (lambda x, ax, k: descend.logsumexp(x, axis=ax, keepdims=k),
                  lambda t, ax, k: t.logsumexp(dim=ax, keepdim=k)),
    "var": (lambda x, ax, k: x.var(axis=ax, keepdims=k), lambda t, ax, k: t.var(dim=ax, keepdim=k)),
    "var_pop": (lambda x, ax, k: x.var(dim=ax, keepdim=k, correction=0),
                lambda t, ax, k: t.var(dim=ax, keepdim=k, correction=0)),
    "std": (lambda x, ax, k: x.std(axis=ax, keepdims=k, unbiased=False),
            lambda t, ax, k: t.std(dim=ax, keepdim=k, unbiased=False)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(case=shape_and_axis())
def test_reduction_matches_torch_for_any_axis_and_keepdims(torch_check, name, case):
    shape, axis, keepdims, seed = case
    d_fn, t_fn = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    ndim = len(shape)
    if name.startswith("var") or name == "std":
        axes = _torch_dim(axis, ndim)
        n = int(np.prod([shape[a] for a in ((axes,) if isinstance(axes, int) else axes)]))
        if n < 2:
            return  # the unbiased variance of one element divides by zero (checked below)
    torch_check(lambda a: d_fn(a, axis, keepdims), lambda t: t_fn(t, _torch_dim(axis, ndim), keepdims), x,
                atol=2e-5, rtol=2e-4)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, True), ((0, 2), False), (-1, False)])
def test_reduction_passes_gradcheck(grad_check, name, axis, keepdims):
    d_fn, _ = REDUCTIONS[name]
    x = np.random.default_rng(5).standard_normal((3, 4, 2))
    grad_check(lambda a: d_fn(a, axis, keepdims), x)


def test_reductions_of_a_0d_tensor(torch_check):
    x = np.array(1.5, np.float32)
    torch_check(lambda a: a.sum(), lambda t: t.sum(), x)
    torch_check(lambda a: a.mean(), lambda t: t.mean(), x)
    torch_check(lambda a: a.max(), lambda t: t.max(), x)
    for name in ("sum", "mean", "amax", "amin", "logsumexp"):
        torch_check(lambda a: getattr(a, name)(dim=-1), lambda t: getattr(t, name)(dim=-1), x)


def test_max_ties_share_the_gradient_like_amax(torch_check):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    torch_check(lambda a: a.amax(dim=1), lambda t: t.amax(dim=1), x)
    torch_check(lambda a: a.min(), lambda t: t.amin(), x)


def test_var_over_one_element_explains_the_division_by_zero():
    with pytest.raises(ValueError, match="correction=1 divides by 0"):
        descend.tensor([[1.0], [2.0]]).var(axis=1)


def test_axis_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 dimensions"):
        descend.ones(2, 3).sum(axis=2)
    with pytest.raises(TypeError, match="either axis"):
        descend.ones(2, 3).sum(axis=0, dim=1)


SOFTMAX = {
    "softmax": (lambda a, ax: a.softmax(ax), lambda t, ax: torch.softmax(t, ax)),
    "log_softmax": (lambda a, ax: F.log_softmax(a, dim=ax), lambda t, ax: torch.log_softmax(t, ax)),
    "F.softmax": (lambda a, ax: F.softmax(a, axis=ax), lambda t, ax: torch.softmax(t, ax)),
}


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@SETTINGS
@given(case=shape_and_axis())
def test_softmax_family_matches_torch(torch_check, name, case):
    shape, axis, _, seed = case
    if not isinstance(axis, int):
        axis = -1
    d_fn, t_fn = SOFTMAX[name]
    x = (3 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)
    torch_check(lambda a: d_fn(a, axis), lambda t: t_fn(t, axis), x)


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_passes_gradcheck(grad_check, name, axis):
    d_fn, _ = SOFTMAX[name]
    grad_check(lambda a: d_fn(a, axis), np.random.default_rng(2).standard_normal((3, 4)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_is_stable_for_large_logits(torch_check, name):
    x = np.array([[1000.0, 999.0, -1000.0], [-5e4, -5e4 + 1, -5e4 + 2], [88.0, 89.0, 90.0]], np.float32)
    d_fn, t_fn = SOFTMAX[name]
    out = torch_check(lambda a: d_fn(a, -1), lambda t: t_fn(t, -1), x)
    assert np.all(np.isfinite(out.numpy()))


def test_logsumexp_is_stable_for_large_and_infinite_inputs(torch_check):
    x = np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4]], np.float32)
    out = torch_check(lambda a: a.logsumexp(dim=1), lambda t: t.logsumexp(1), x)
    np.testing.assert_allclose(out.numpy(), [1e4 + np.log1p(np.exp(-1.0)), -1e4 + np.log(2.0)], rtol=1e-6)
    y = descend.tensor([-np.inf, -np.inf])
    assert descend.logsumexp(y).item() == -np.inf


def test_amax_and_amin_aliases_match_torch(torch_check):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    torch_check(lambda a: a.amax(dim=0), lambda t: t.amax(dim=0), x)
    torch_check(lambda a: F.amin(a, axis=1, keepdims=True), lambda t: t.amin(dim=1, keepdim=True), x)


def test_reduction_gradient_is_a_fresh_writable_array():
    x = descend.tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()
    x.grad.numpy()[0, 0] = 5.0  # the leaf owns its gradient
    assert x.grad.numpy().sum() == 10.0
