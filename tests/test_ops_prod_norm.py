"""prod (with zeros in the slice: one, two) and the norms (torch.norm, Tensor.norm, linalg.vector_norm,
linalg.norm, linalg.matrix_norm): values, dtypes and gradients against torch, gradcheck in float64, errors."""

import math

import numpy as np
import pytest
import torch

import descend

R = np.random.default_rng(3)
X = R.standard_normal((3, 4)).astype(np.float32)
X3 = R.standard_normal((2, 3, 4)).astype(np.float32)
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [0.5, -2.0, 1.0, 4.0]], np.float32)  # 1, 2, 0 zeros
INF = math.inf

PROD = {
    "all": (lambda a: a.prod(), lambda a: a.prod()),
    "dim1": (lambda a: a.prod(1), lambda a: a.prod(1)),
    "dim0_keepdim": (lambda a: descend.prod(a, 0, keepdim=True), lambda a: torch.prod(a, 0, keepdim=True)),
    "dim_negative": (lambda a: a.prod(dim=-1), lambda a: a.prod(dim=-1)),
}


@pytest.mark.parametrize("name", sorted(PROD))
@pytest.mark.parametrize("data", ["random", "zeros"])
def test_prod_matches_torch_values_and_gradients_with_zeros(torch_check, name, data):
    torch_check(*PROD[name], X if data == "random" else ZEROS)


@pytest.mark.parametrize("name", sorted(PROD))
def test_prod_passes_gradcheck(grad_check, name):
    grad_check(PROD[name][0], X)


def test_prod_gradient_at_zeros_is_the_product_of_the_others_as_torch():
    x = descend.tensor(ZEROS, requires_grad=True)
    x.prod(1).sum().backward()
    # row 0 has one zero: only it gets a gradient (1.5·2·−1 = −3); row 1 has two zeros: all 0
    assert x.grad.tolist()[0] == [0.0, -3.0, 0.0, 0.0] and x.grad.tolist()[1] == [0.0] * 4


def test_prod_of_integers_and_bools_is_int64_as_torch():
    for data in ([1, 2, 3], [True, False, True]):
        d, t = descend.tensor(data).prod(), torch.tensor(data).prod()
        assert d.dtype == np.int64 and d.item() == t.item()
    assert descend.tensor([[1, 2], [3, 4]]).prod(1).tolist() == [2, 12]
    assert descend.tensor([1, 2]).prod(dtype=descend.float64).dtype == np.float64


NORMS = {
    "norm_default": (lambda a: a.norm(), lambda a: a.norm()),
    "norm_p1_dim": (lambda a: a.norm(p=1, dim=1), lambda a: a.norm(p=1, dim=1)),
    "norm_fro_dims": (lambda a: descend.norm(a, "fro", dim=(1, 2)), lambda a: torch.norm(a, "fro", dim=(1, 2))),
    "norm_inf_keepdim": (lambda a: a.norm(INF, 2, keepdim=True), lambda a: a.norm(INF, 2, keepdim=True)),
    "norm_p3": (lambda a: descend.norm(a, 3, dim=0), lambda a: torch.norm(a, 3, dim=0)),
    "vector_norm": (lambda a: descend.linalg.vector_norm(a), lambda a: torch.linalg.vector_norm(a)),
    "vector_norm_dims": (lambda a: descend.linalg.vector_norm(a, 2, dim=(0, 2), keepdim=True),
                         lambda a: torch.linalg.vector_norm(a, 2, dim=(0, 2), keepdim=True)),
    "vector_norm_neg_inf": (lambda a: descend.linalg.vector_norm(a, -INF, dim=-1),
                            lambda a: torch.linalg.vector_norm(a, -INF, dim=-1)),
    "vector_norm_p0": (lambda a: descend.linalg.vector_norm(a, 0, dim=1),
                       lambda a: torch.linalg.vector_norm(a, 0, dim=1)),
    "linalg_norm_default": (lambda a: descend.linalg.norm(a), lambda a: torch.linalg.norm(a)),
    "linalg_norm_dim": (lambda a: descend.linalg.norm(a, dim=-1), lambda a: torch.linalg.norm(a, dim=-1)),
    "linalg_norm_matrix_fro": (lambda a: descend.linalg.norm(a, "fro", dim=(1, 2)),
                               lambda a: torch.linalg.norm(a, "fro", dim=(1, 2))),
    "matrix_norm_1": (lambda a: descend.linalg.matrix_norm(a, 1), lambda a: torch.linalg.matrix_norm(a, 1)),
    "matrix_norm_inf": (lambda a: descend.linalg.matrix_norm(a, INF, keepdim=True),
                        lambda a: torch.linalg.matrix_norm(a, INF, keepdim=True)),
    "matrix_norm_neg1": (lambda a: descend.linalg.matrix_norm(a, -1), lambda a: torch.linalg.matrix_norm(a, -1)),
    "matrix_norm_spectral": (lambda a: descend.linalg.matrix_norm(a, 2), lambda a: torch.linalg.matrix_norm(a, 2)),
    "matrix_norm_smallest_singular": (lambda a: descend.linalg.matrix_norm(a, -2, dim=(0, 2), keepdim=True),
                                      lambda a: torch.linalg.matrix_norm(a, -2, dim=(0, 2), keepdim=True)),
    "matrix_norm_nuclear": (lambda a: descend.linalg.matrix_norm(a, "nuc"),
                            lambda a: torch.linalg.matrix_norm(a, "nuc")),
    "norm_nuclear_dims": (lambda a: descend.norm(a, "nuc", dim=(2, 1)), lambda a: torch.norm(a, "nuc", dim=(2, 1))),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_matches_torch_values_and_gradients(torch_check, name):
    torch_check(*NORMS[name], X3)


@pytest.mark.parametrize("name", [n for n in sorted(NORMS) if "p0" not in n])
def test_norm_passes_gradcheck(grad_check, name):
    grad_check(NORMS[name][0], X3)


def test_tensor_norm_method_takes_dtype_fourth_as_torch():
    d = descend.tensor(X).norm(2, 1, False, descend.float64)
    t = torch.tensor(X).norm(2, 1, False, torch.float64)
    assert d.dtype == np.float64
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)


def test_linalg_norm_of_a_matrix_with_ord_is_the_matrix_norm_as_torch():
    for ord in (1, -1, INF, -INF, "fro", 2, -2, "nuc"):
        d = descend.linalg.norm(descend.tensor(X), ord)
        t = torch.linalg.norm(torch.tensor(X), ord)
        np.testing.assert_allclose(d.item(), t.item(), rtol=1e-6)


def test_norm_gradient_is_zero_at_zero_and_shared_at_ties_as_torch():
    data = np.array([[0.0, 0.0, 0.0], [3.0, -3.0, 1.0]], np.float32)
    for p in (2, 1, INF, 3):
        d = descend.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        d.norm(p, dim=1).sum().backward()
        t.norm(p, dim=1).sum().backward()
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=1e-7)
        assert np.isfinite(d.grad.numpy()).all()


@pytest.mark.parametrize("call,error,match", [
    (lambda: descend.tensor([1, 2]).norm(), TypeError, "floating point"),
    (lambda: descend.ones(3).norm(p="nuc"), ValueError, "nuc"),
    (lambda: descend.ones(3).norm(p="max"), ValueError, "'fro', 'nuc' or a number"),
    (lambda: descend.linalg.vector_norm(descend.ones(3), ord="fro"), ValueError, "ord must be a number"),
    (lambda: descend.linalg.matrix_norm(descend.ones(3, 3), 3), ValueError, "ord must be 'fro', 'nuc'"),
    (lambda: descend.linalg.matrix_norm(descend.ones(3)), ValueError, "at least 2"),
    (lambda: descend.ones(2, 3).prod(dim=(0, 1)), TypeError, "dim must be an int"),
    (lambda: descend.ones(2, 3).prod(dim=2), ValueError, "out of range"),
    (lambda: descend.linalg.svd, descend.UnsupportedError, "torch.linalg.svd"),
])
def test_prod_and_norm_reject_bad_arguments_in_one_line(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)


from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_prod_matches_torch_for_any_shape_with_zeros(torch_check, shape, data):
    x = np.random.default_rng(data.draw(st.integers(0, 99))).uniform(0.5, 1.5, shape).astype(np.float32)
    x.reshape(-1)[data.draw(st.lists(st.integers(0, x.size - 1), max_size=3))] = 0.0
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    if dim is None:
        torch_check(lambda a: a.prod(), lambda a: a.prod(), x)
    else:
        keep = data.draw(st.booleans())
        torch_check(lambda a: a.prod(dim, keep), lambda a: a.prod(dim, keep), x)


@settings(max_examples=30, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_vector_norm_matches_torch_for_any_shape_and_order(torch_check, shape, data):
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape).astype(np.float32)
    ord = data.draw(st.sampled_from([2, 1, 3, 0.5, INF, -INF]))
    dims = data.draw(st.none() | st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple))
    keep = data.draw(st.booleans())
    torch_check(lambda a: descend.linalg.vector_norm(a, ord, dims, keep),
                lambda a: torch.linalg.vector_norm(a, ord, dims, keep), x)
