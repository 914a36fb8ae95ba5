"""Module-level functions with PyTorch's names and argument order (descend.X(tensor, ...) == torch.X(...)),
values and gradients against torch; the new shape ops (tril/triu/split/chunk/narrow/t) with gradcheck;
inference_mode, the thread count and F.one_hot."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend
import descend.nn.functional as F

R = np.random.default_rng(7)
X = R.standard_normal((3, 4)).astype(np.float32)
P = (np.abs(R.standard_normal((3, 4))) + 0.1).astype(np.float32)

UNARY = {  # name: (descend call, torch call, input)
    "exp": (lambda a: descend.exp(a), lambda a: torch.exp(a), X),
    "log": (lambda a: descend.log(a), lambda a: torch.log(a), P),
    "sqrt": (lambda a: descend.sqrt(a), lambda a: torch.sqrt(a), P),
    "sin": (lambda a: descend.sin(a), lambda a: torch.sin(a), X),
    "cos": (lambda a: descend.cos(a), lambda a: torch.cos(a), X),
    "tanh": (lambda a: descend.tanh(a), lambda a: torch.tanh(a), X),
    "sigmoid": (lambda a: descend.sigmoid(a), lambda a: torch.sigmoid(a), X),
    "relu": (lambda a: descend.relu(a), lambda a: torch.relu(a), X),
    "abs": (lambda a: descend.abs(a), lambda a: torch.abs(a), X),
    "pow": (lambda a: descend.pow(a, 3), lambda a: torch.pow(a, 3), X),
    "softmax": (lambda a: descend.softmax(a, 1), lambda a: torch.softmax(a, 1), X),
    "log_softmax": (lambda a: descend.log_softmax(a, 0), lambda a: torch.log_softmax(a, 0), X),
    "clamp": (lambda a: descend.clamp(a, -0.5, 0.5), lambda a: torch.clamp(a, -0.5, 0.5), X),
    "clamp_min": (lambda a: descend.clamp(a, min=0.1), lambda a: torch.clamp(a, min=0.1), X),
    "sum": (lambda a: descend.sum(a, 1), lambda a: torch.sum(a, 1), X),
    "sum_keepdim": (lambda a: descend.sum(a, dim=0, keepdim=True), lambda a: torch.sum(a, dim=0, keepdim=True), X),
    "mean": (lambda a: descend.mean(a, 0), lambda a: torch.mean(a, 0), X),
    "std": (lambda a: descend.std(a, 1), lambda a: torch.std(a, 1), X),
    "var": (lambda a: descend.var(a), lambda a: torch.var(a), X),
    "max": (lambda a: descend.max(a), lambda a: torch.max(a), X),
    "max_dim": (lambda a: descend.max(a, 1).values, lambda a: torch.max(a, 1).values, X),
    "min_dim": (lambda a: descend.min(a, 0, True)[0], lambda a: torch.min(a, 0, True)[0], X),
    "transpose": (lambda a: descend.transpose(a, 0, 1), lambda a: torch.transpose(a, 0, 1), X),
    "t": (lambda a: descend.t(a), lambda a: torch.t(a), X),
    "reshape": (lambda a: descend.reshape(a, (2, 6)), lambda a: torch.reshape(a, (2, 6)), X),
    "flatten": (lambda a: descend.flatten(a), lambda a: torch.flatten(a), X),
    "squeeze": (lambda a: descend.squeeze(descend.unsqueeze(a, 1), 1),
                lambda a: torch.squeeze(torch.unsqueeze(a, 1), 1), X),
    "tril": (lambda a: descend.tril(a), lambda a: torch.tril(a), X),
    "triu_1": (lambda a: descend.triu(a, 1), lambda a: torch.triu(a, 1), X),
    "tril_-1": (lambda a: a.tril(-1), lambda a: a.tril(-1), X),
    "narrow": (lambda a: descend.narrow(a, 1, 1, 2), lambda a: torch.narrow(a, 1, 1, 2), X),
    "where": (lambda a: descend.where(a > 0, a, a * 2), lambda a: torch.where(a > 0, a, a * 2), X),
    "view_as": (lambda a: a.view_as(descend.zeros(4, 3)), lambda a: a.view_as(torch.zeros(4, 3)), X),
    "contiguous_t": (lambda a: a.t().contiguous() * 2, lambda a: a.t().contiguous() * 2, X),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_module_level_function_matches_torch(torch_check, name):
    d_fn, t_fn, x = UNARY[name]
    torch_check(d_fn, t_fn, x)


@pytest.mark.parametrize("name", ["sin", "cos", "tril", "triu_1", "narrow", "max_dim", "contiguous_t"])
def test_new_operations_pass_gradcheck(grad_check, name):
    grad_check(UNARY[name][0], UNARY[name][2])


def test_binary_module_functions_match_torch(torch_check):
    a = R.standard_normal((2, 3, 4)).astype(np.float32)
    b = R.standard_normal((2, 4, 5)).astype(np.float32)
    torch_check(lambda x, y: descend.bmm(x, y), lambda x, y: torch.bmm(x, y), a, b)
    torch_check(lambda x, y: descend.mm(x, y), lambda x, y: torch.mm(x, y), a[0], b[0])
    torch_check(lambda x, y: descend.matmul(x, y), lambda x, y: torch.matmul(x, y), a, b)
    torch_check(lambda x, y: descend.cat([x, y], 2), lambda x, y: torch.cat([x, y], 2), a, a)
    torch_check(lambda x, y: descend.stack([x, y], 1), lambda x, y: torch.stack([x, y], 1), a, a)
    with pytest.raises(ValueError, match="2-D"):
        descend.mm(descend.tensor(a), descend.tensor(b))
    with pytest.raises(ValueError, match="3-D"):
        descend.bmm(descend.tensor(a[0]), descend.tensor(b[0]))


def test_argmax_argmin_and_comparisons_match_torch():
    d, t = descend.tensor(X), torch.tensor(X)
    for dim, keep in [(None, False), (1, False), (0, True), (None, True)]:
        for name in ("argmax", "argmin"):
            expected = getattr(torch, name)(t, dim, keep).numpy()
            for got in (getattr(descend, name)(d, dim, keep), getattr(d, name)(dim, keep)):
                assert got.dtype == expected.dtype and got.shape == expected.shape
                np.testing.assert_array_equal(got.numpy(), expected)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        for other in (0.0, X[0]):
            expected = getattr(torch, name)(t, torch.tensor(other)).numpy()
            np.testing.assert_array_equal(getattr(d, name)(other).numpy(), expected)
            np.testing.assert_array_equal(getattr(descend, name)(d, other).numpy(), expected)


def test_allclose_equal_numel_is_tensor_match_torch():
    a, b = X, X + 1e-6
    assert descend.allclose(descend.tensor(a), descend.tensor(b)) == torch.allclose(torch.tensor(a), torch.tensor(b))
    assert descend.allclose(descend.tensor(a), descend.tensor(a + 1e-3)) is False
    assert descend.equal(descend.tensor(a), descend.tensor(a)) is True
    assert descend.equal(descend.tensor(a), descend.tensor(a[:2])) == torch.equal(torch.tensor(a), torch.tensor(a[:2]))
    assert descend.numel(descend.tensor(a)) == 12 and descend.is_tensor(descend.tensor(a))
    assert not descend.is_tensor(a)


@settings(max_examples=30, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7), size=st.integers(1, 8),
       data=st.data())
def test_split_and_chunk_match_torch(shape, size, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    for d_parts, t_parts in [(descend.tensor(x).split(size, dim), torch.tensor(x).split(size, dim)),
                             (descend.tensor(x).chunk(size, dim), torch.tensor(x).chunk(size, dim)),
                             (descend.split(descend.tensor(x), size, dim), torch.split(torch.tensor(x), size, dim))]:
        assert len(d_parts) == len(t_parts)
        for dp, tp in zip(d_parts, t_parts):
            np.testing.assert_array_equal(dp.numpy(), tp.numpy())
    n = shape[dim]
    sections = [n // 2, n - n // 2]
    for dp, tp in zip(descend.tensor(x).split(sections, dim), torch.tensor(x).split(sections, dim)):
        np.testing.assert_array_equal(dp.numpy(), tp.numpy())


def test_split_pieces_carry_gradients_back_like_torch(torch_check):
    def d_fn(a):
        p, q, r = a.split([1, 2, 1], dim=1)
        return p * 2 + q.sum(dim=1, keepdim=True) - r
    def t_fn(a):
        p, q, r = a.split([1, 2, 1], dim=1)
        return p * 2 + q.sum(dim=1, keepdim=True) - r
    torch_check(d_fn, t_fn, X)
    with pytest.raises(ValueError, match="add up to 4"):
        descend.tensor(X).split([1, 1], dim=1)


def test_inference_mode_records_no_graph_as_context_and_decorator():
    x = descend.ones(2, requires_grad=True)
    with descend.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @descend.inference_mode()
    def f(v):
        return v * 3

    assert not f(x).requires_grad and descend.is_grad_enabled()
    with descend.inference_mode(False):
        assert (x * 2).requires_grad


def test_set_num_threads_limits_the_blas_pool():
    before = descend.get_num_threads()
    try:
        descend.set_num_threads(2)
        assert descend.get_num_threads() == 2
        descend.set_num_threads(1)
        assert descend.get_num_threads() == 1
    finally:
        descend.set_num_threads(before)
    with pytest.raises(ValueError, match="positive"):
        descend.set_num_threads(0)


@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot_matches_torch(num_classes):
    idx = np.array([[0, 3], [2, 1]], np.int64)
    d = F.one_hot(descend.tensor(idx), num_classes)
    t = torch.nn.functional.one_hot(torch.tensor(idx), num_classes)
    assert d.dtype == t.numpy().dtype and d.shape == tuple(t.shape)
    np.testing.assert_array_equal(d.numpy(), t.numpy())
    np.testing.assert_array_equal(F.one_hot(descend.tensor([2, 0])).numpy(), np.eye(3, dtype=np.int64)[[2, 0]])


def test_one_hot_rejects_bad_indices():
    with pytest.raises(ValueError, match="out of range"):
        F.one_hot(descend.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(descend.tensor([-1]), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(descend.tensor([0.5]), 3)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos"])
def test_transcendental_functions_of_integer_tensors_are_float32_like_torch(name):
    ints = np.array([1, 2, 3], np.int64)
    d, t = getattr(descend, name)(descend.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
    assert d.dtype == t.numpy().dtype == np.float32
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)


def test_split_chunk_pass_gradcheck(grad_check):
    grad_check(lambda a: a.split([1, 3], dim=1)[1] * a.chunk(2, dim=0)[0].sum(), X)
