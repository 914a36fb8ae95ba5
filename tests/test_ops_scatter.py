"""scatter / scatter_add and their in-place forms: values, dtypes and the gradients of input and src against
torch, gradcheck in float64, the one-hot idiom, in-place rules and one-line errors."""

import numpy as np
import pytest
import torch

import descend

R = np.random.default_rng(7)
X = R.standard_normal((3, 5)).astype(np.float32)
SRC33 = R.standard_normal((3, 3)).astype(np.float32)
SRC24 = R.standard_normal((2, 4)).astype(np.float32)
IDX1 = np.array([[0, 2, 4], [1, 3, 0], [4, 4, 2]], np.int64)      # distinct per row along dim 1? row 2 repeats 4
IDX1_DISTINCT = np.array([[0, 2, 4], [1, 3, 0], [4, 1, 2]], np.int64)
IDX0 = np.array([[0, 1, 2, 0, 1], [2, 0, 1, 1, 0]], np.int64)


# (descend form, torch form, src); PyTorch's own backward needs src of the index's shape, so the oracle cases use it
CASES = {
    "scatter_dim1": (lambda a, s: a.scatter(1, descend.tensor(IDX1_DISTINCT), s),
                     lambda a, s: a.scatter(1, torch.tensor(IDX1_DISTINCT), s), SRC33),
    "scatter_dim0_module": (lambda a, s: descend.scatter(a, 0, descend.tensor(IDX0[:, :4] % 3), s),
                            lambda a, s: torch.scatter(a, 0, torch.tensor(IDX0[:, :4] % 3), s), SRC24),
    "scatter_add_dim1_repeats": (lambda a, s: a.scatter_add(1, descend.tensor(IDX1), s),
                                 lambda a, s: a.scatter_add(1, torch.tensor(IDX1), s), SRC33),
    "scatter_add_dim0_module": (lambda a, s: descend.scatter_add(a, 0, descend.tensor(IDX0[:, :4]), s),
                                lambda a, s: torch.scatter_add(a, 0, torch.tensor(IDX0[:, :4]), s), SRC24),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scatter_matches_torch_values_and_both_gradients(torch_check, name):
    d_fn, t_fn, src = CASES[name]
    torch_check(d_fn, t_fn, X, src)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scatter_passes_gradcheck(grad_check, name):
    grad_check(CASES[name][0], X, CASES[name][2])


def test_scatter_add_reads_only_the_index_block_of_a_larger_src():
    src = descend.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    out = descend.zeros(3, 5).scatter_add(1, descend.tensor(IDX1), src)
    t = torch.zeros(3, 5).scatter_add(1, torch.tensor(IDX1), torch.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(out.numpy(), t.numpy())  # torch's forward reads the same block
    out.backward(descend.tensor(np.arange(15, dtype=np.float32).reshape(3, 5)))
    expected = np.zeros((3, 4), np.float32)
    expected[:, :3] = np.take_along_axis(np.arange(15.0).reshape(3, 5), IDX1, 1)  # g gathered, 0 outside
    np.testing.assert_array_equal(src.grad.numpy(), expected)


def test_scatter_of_a_number_matches_torch_and_gives_input_the_unwritten_gradient(torch_check):
    torch_check(lambda a: a.scatter(1, descend.tensor(IDX1), 2.5), lambda a: a.scatter(1, torch.tensor(IDX1), 2.5), X)
    torch_check(lambda a: a.scatter(1, descend.tensor(IDX1), value=-1.0),
                lambda a: a.scatter(1, torch.tensor(IDX1), value=-1.0), X)


def test_one_hot_by_scatter_in_place_matches_torch():
    labels = np.array([2, 0, 3, 3], np.int64)
    d = descend.zeros(4, 5).scatter_(1, descend.tensor(labels).unsqueeze(1), 1.0)
    t = torch.zeros(4, 5).scatter_(1, torch.tensor(labels).unsqueeze(1), 1.0)
    np.testing.assert_array_equal(d.numpy(), t.numpy())


def test_scatter_add_in_place_counts_repeats_like_torch_bincount():
    idx = np.array([0, 2, 2, 1, 2], np.int64)
    d = descend.zeros(4).scatter_add_(0, descend.tensor(idx), descend.ones(5))
    t = torch.zeros(4).scatter_add_(0, torch.tensor(idx), torch.ones(5))
    assert d.tolist() == t.tolist() == [1.0, 1.0, 3.0, 0.0]


def test_scatter_in_place_returns_self_and_changes_it():
    x = descend.zeros(2, 3)
    y = x.scatter_(0, descend.tensor([[1, 0, 1]]), descend.tensor([[5.0, 6.0, 7.0]]))
    assert y is x and x.tolist() == [[0.0, 6.0, 0.0], [5.0, 0.0, 7.0]]


def test_scatter_in_place_on_a_tensor_that_requires_grad_raises_outside_no_grad():
    w = descend.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.scatter_(0, descend.tensor([[1, 0, 1]]), 1.0)
    with descend.no_grad():
        w.scatter_(0, descend.tensor([[1, 0, 1]]), 1.0)
    assert w.numpy().sum() == 3.0


@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.scatter(1, descend.tensor([[0.5]]), 1.0), TypeError, "integer"),
    (lambda x: x.scatter(1, descend.tensor([0, 1]), 1.0), ValueError, "dimensions"),
    (lambda x: x.scatter(1, descend.tensor([[0, 7]]), 1.0), ValueError, r"\[0, 5\)"),
    (lambda x: x.scatter(2, descend.tensor([[0]]), 1.0), ValueError, "out of range"),
    (lambda x: x.scatter(1, descend.tensor([[0]]), descend.ones(1, 1, dtype=descend.float64)), TypeError, "dtype"),
    (lambda x: x.scatter(1, descend.tensor([[0, 1, 2]]), descend.ones(1, 2)), ValueError, "src shape"),
    (lambda x: x.scatter(1, descend.tensor([[0]]), 1.0, reduce="multiply"), ValueError, "reduce"),
    (lambda x: x.scatter(1, descend.tensor([[0]])), TypeError, "missing src"),
])
def test_scatter_rejects_bad_arguments_in_one_line(call, error, match):
    with pytest.raises(error, match=match) as info:
        call(descend.zeros(3, 5))
    assert "\n" not in str(info.value)


from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_scatter_add_matches_torch_for_any_shape_and_dim(torch_check, shape, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    dim = data.draw(st.integers(0, len(shape) - 1))
    idx_shape = tuple(data.draw(st.integers(1, n)) if i != dim else data.draw(st.integers(1, 5))
                      for i, n in enumerate(shape))
    idx = rng.integers(0, shape[dim], idx_shape)
    x = rng.standard_normal(shape).astype(np.float32)
    src = rng.standard_normal(idx_shape).astype(np.float32)
    torch_check(lambda a, s: a.scatter_add(dim, descend.tensor(idx), s),
                lambda a, s: a.scatter_add(dim, torch.tensor(idx), s), x, src)
