"""Tensor factories against torch: shapes from varargs or a tuple, dtypes (including torch's rules for
full and arange), values of the deterministic ones, reproducible seeded draws with the right distribution,
from_numpy sharing memory, and dtype/device/requires_grad keywords."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend

SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def _same(d, t):
    assert d.shape == tuple(t.shape) and d.dtype == t.numpy().dtype
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(shape=SHAPES)
def test_shape_factories_take_varargs_or_a_tuple_like_torch(shape):
    for name in ("zeros", "ones", "empty", "randn", "rand"):
        for args in ((shape,), shape) if shape else ((shape,),):  # torch.zeros() with no size is an error
            d, t = getattr(descend, name)(*args), getattr(torch, name)(*args)
            assert d.shape == tuple(t.shape) and d.dtype == t.numpy().dtype, (name, args)
    _same(descend.zeros(shape), torch.zeros(shape))
    _same(descend.ones(shape), torch.ones(shape))
    _same(descend.full(shape, 2.5), torch.full(shape, 2.5))
    assert descend.randint(0, 5, shape).shape == tuple(torch.randint(0, 5, shape).shape)


@pytest.mark.parametrize("fill", [7, 2.5, True, -3])
def test_full_and_full_like_take_their_dtype_from_the_value_like_torch(fill):
    _same(descend.full((2, 3), fill), torch.full((2, 3), fill))
    base = np.zeros((2, 2), np.float32)
    _same(descend.full_like(descend.tensor(base), fill), torch.full_like(torch.tensor(base), fill))
    _same(descend.full((2,), fill, dtype=descend.float64), torch.full((2,), fill, dtype=torch.float64))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_like_factories_keep_shape_and_dtype_like_torch(name, dtype):
    base = np.arange(6, dtype=np.int64).reshape(2, 3)
    kw_d = {} if dtype is None else {"dtype": getattr(descend, dtype)}
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    _same(getattr(descend, name)(descend.tensor(base), **kw_d), getattr(torch, name)(torch.tensor(base), **kw_t))


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 10, 3), (0.0, 1.0, 0.1), (-1, 1, 0.25), (3.0,), (10, 0, -2)])
def test_arange_values_and_dtype_match_torch(args):
    _same(descend.arange(*args), torch.arange(*args))
    _same(descend.arange(*args, dtype=descend.float64), torch.arange(*args, dtype=torch.float64))


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 7), (1, 1, 1), (0, 10, 0)])
def test_linspace_matches_torch(args):
    _same(descend.linspace(*args), torch.linspace(*args))


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2)])
def test_eye_matches_torch(args):
    _same(descend.eye(*args), torch.eye(*args))
    _same(descend.eye(*args, dtype=descend.int64), torch.eye(*args, dtype=torch.int64))


def test_tensor_keywords_dtype_device_requires_grad():
    x = descend.tensor([[1, 2], [3, 4]], dtype=descend.float32, device="cpu", requires_grad=True)
    t = torch.tensor([[1, 2], [3, 4]], dtype=torch.float32, requires_grad=True)
    _same(x.detach(), t.detach())
    assert x.requires_grad and descend.zeros(2, requires_grad=True).requires_grad
    assert descend.tensor([1, 2]).dtype == torch.tensor([1, 2]).numpy().dtype
    assert descend.tensor(3.5).shape == () and descend.tensor([True]).dtype == np.bool_
    assert descend.tensor([descend.tensor(1.0), descend.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_numpy_float64_data_becomes_float32_unless_asked_and_from_numpy_keeps_it():
    arr = np.arange(4, dtype=np.float64)
    assert descend.tensor(arr).dtype == descend.float32  # documented difference (torch keeps float64)
    assert descend.tensor(arr, dtype=descend.float64).dtype == descend.float64
    t = descend.from_numpy(arr)
    assert t.dtype == torch.from_numpy(arr).numpy().dtype == np.float64
    arr[0] = 42.0
    assert t[0].item() == 42.0  # shared memory
    t.array[1] = -1.0
    assert arr[1] == -1.0
    with pytest.raises(TypeError, match="NumPy array"):
        descend.from_numpy([1.0, 2.0])


def test_as_tensor_shares_memory_when_no_conversion_is_needed():
    arr = np.ones(3, np.float32)
    t = descend.as_tensor(arr)
    arr[0] = 9.0
    assert t[0].item() == 9.0
    x = descend.ones(2)
    assert descend.as_tensor(x) is x and descend.as_tensor(x, dtype=descend.float64).dtype == np.float64


def test_random_draws_follow_manual_seed():
    for draw in (lambda: descend.randn(3, 4), lambda: descend.rand(5), lambda: descend.randint(0, 10, (6,)),
                 lambda: descend.randperm(8), lambda: descend.randn_like(descend.zeros(2, 2))):
        descend.manual_seed(123)
        a = draw()
        descend.manual_seed(123)
        b = draw()
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(draw().numpy(), a.numpy()) or a.numel() < 2


def test_random_draws_have_the_right_distribution_and_dtype():
    descend.manual_seed(0)
    z = descend.randn(200_000)
    assert z.dtype == torch.randn(1).numpy().dtype
    assert abs(z.mean().item()) < 0.01 and abs(z.std().item() - 1.0) < 0.01
    u = descend.rand(200_000, dtype=descend.float64)
    assert u.dtype == np.float64 and 0.0 <= u.min().item() and u.max().item() < 1.0
    assert abs(u.mean().item() - 0.5) < 0.005 and abs(u.var().item() - 1 / 12) < 0.002
    k = descend.randint(3, 7, (100_000,))
    assert k.dtype == torch.randint(3, 7, (1,)).numpy().dtype
    assert set(np.unique(k.numpy())) == {3, 4, 5, 6}
    assert descend.randint(5, (4, 2)).shape == (4, 2)
    p = descend.randperm(50)
    assert p.dtype == torch.randperm(3).numpy().dtype and sorted(p.tolist()) == list(range(50))
    assert descend.randn(2, dtype=descend.float16).dtype == np.float16


def test_factories_reject_bad_arguments_in_one_line():
    with pytest.raises(ValueError, match="low"):
        descend.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        descend.randint(5)
    with pytest.raises(ValueError, match="non-negative"):
        descend.zeros(-1, 2)
    with pytest.raises(ValueError, match="steps"):
        descend.linspace(0, 1, -3)
    with pytest.raises(ValueError, match="step"):
        descend.arange(0, 3, 0)
