"""max/min along a dim, sort, argsort and topk against torch: named tuples (values, indices), int64 indices,
keepdim, gradients that follow the indices (one element at ties, unlike the full max), gradcheck in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def shape_and_dim(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    return shape, draw(st.integers(-len(shape), len(shape) - 1)), draw(st.integers(0, 2**16))


def _distinct(shape, seed):
    """Values without ties (so every index is unique) as float32."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.5 - n / 4).astype(np.float32)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
@SETTINGS
@given(case=shape_and_dim())
def test_max_min_along_dim_return_values_and_indices_like_torch(torch_check, name, keepdim, case):
    shape, dim, seed = case
    x = _distinct(shape, seed)
    d = getattr(descend.tensor(x), name)(dim, keepdim=keepdim)
    t = getattr(torch.tensor(x), name)(dim, keepdim=keepdim)
    assert type(d).__name__ == name and d._fields == ("values", "indices")
    assert d.indices.dtype == t.indices.numpy().dtype == np.int64
    np.testing.assert_array_equal(d.indices.numpy(), t.indices.numpy())
    values, indices = d  # unpacks as a pair
    np.testing.assert_array_equal(values.numpy(), t.values.numpy())
    torch_check(lambda a: getattr(a, name)(dim=dim, keepdim=keepdim).values,
                lambda a: getattr(a, name)(dim=dim, keepdim=keepdim).values, x)
    torch_check(lambda a: getattr(descend, name)(a, dim, keepdim)[0], lambda a: getattr(torch, name)(a, dim, keepdim)[0], x)


def test_max_along_dim_gives_the_tied_gradient_to_the_first_index_like_torch(torch_check):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    out = torch_check(lambda a: a.max(dim=1).values, lambda t: t.max(dim=1).values, x)
    assert out.shape == (2,)
    np.testing.assert_array_equal(descend.tensor(x).max(1).indices.numpy(), torch.tensor(x).max(1).indices.numpy())
    np.testing.assert_array_equal(descend.tensor(x).min(1).indices.numpy(), torch.tensor(x).min(1).indices.numpy())
    torch_check(lambda a: a.max(), lambda t: t.max(), x)  # the full reduction still shares ties


def test_max_of_two_tensors_is_elementwise_like_torch(torch_check):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4,)).astype(np.float32)
    torch_check(lambda x, y: descend.max(x, y), lambda x, y: torch.max(x, y), a, b)
    torch_check(lambda x, y: x.min(y), lambda x, y: x.min(y), a, b)


def test_max_with_several_dims_points_at_amax():
    x = descend.ones(2, 3)
    with pytest.raises(TypeError, match="amax"):
        x.max(dim=(0, 1))
    assert x.max(axis=(0, 1)).item() == 1.0  # NumPy's axis= keeps returning the values


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_pass_gradcheck(grad_check, name):
    x = _distinct((3, 4, 2), 1)
    grad_check(lambda a: getattr(a, name)(1).values, x)
    grad_check(lambda a: getattr(a, name)(-1, keepdim=True).values, x)


@pytest.mark.parametrize("descending", [False, True])
@SETTINGS
@given(case=shape_and_dim())
def test_sort_and_argsort_match_torch(torch_check, descending, case):
    shape, dim, seed = case
    x = _distinct(shape, seed)
    d, t = descend.tensor(x).sort(dim, descending=descending), torch.tensor(x).sort(dim, descending=descending)
    np.testing.assert_array_equal(d.indices.numpy(), t.indices.numpy())
    np.testing.assert_array_equal(descend.argsort(descend.tensor(x), dim, descending).numpy(),
                                  torch.argsort(torch.tensor(x), dim, descending).numpy())
    torch_check(lambda a: descend.sort(a, dim, descending)[0], lambda a: torch.sort(a, dim, descending)[0], x)


def test_stable_sort_keeps_equal_elements_in_order_like_torch():
    x = np.array([2, 1, 2, 0, 1, 2], np.int64)
    for descending in (False, True):
        d = descend.tensor(x).sort(descending=descending, stable=True)
        t = torch.tensor(x).sort(descending=descending, stable=True)
        np.testing.assert_array_equal(d.indices.numpy(), t.indices.numpy())
        np.testing.assert_array_equal(d.values.numpy(), t.values.numpy())


@pytest.mark.parametrize("largest", [True, False])
@SETTINGS
@given(case=shape_and_dim(), frac=st.floats(0, 1))
def test_topk_matches_torch(torch_check, largest, case, frac):
    shape, dim, seed = case
    x = _distinct(shape, seed)
    k = int(round(frac * shape[dim]))
    d, t = descend.tensor(x).topk(k, dim, largest), torch.tensor(x).topk(k, dim, largest)
    np.testing.assert_array_equal(d.indices.numpy(), t.indices.numpy())
    torch_check(lambda a: descend.topk(a, k, dim, largest).values, lambda a: torch.topk(a, k, dim, largest).values, x)


def test_sort_and_topk_pass_gradcheck_and_check_k(grad_check):
    x = _distinct((4, 5), 3)
    grad_check(lambda a: a.sort(dim=0, descending=True).values, x)
    grad_check(lambda a: a.topk(2).values, x)
    with pytest.raises(ValueError, match="k=6"):
        descend.tensor(x).topk(6)
