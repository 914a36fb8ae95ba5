"""gather, repeat, flip, cumsum, masked_fill (values and gradients against torch, gradcheck) and the
non-differentiable lookups (nonzero, isnan, sign, floor, ...) against torch; in-place random fills."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend

R = np.random.default_rng(11)
X = R.standard_normal((3, 4)).astype(np.float32)
IDX = np.array([[0, 2, 2], [1, 0, 3], [3, 3, 3]], np.int64)

CASES = {
    "gather_1": (lambda a: a.gather(1, descend.tensor(IDX)), lambda a: a.gather(1, torch.tensor(IDX))),
    "gather_0": (lambda a: descend.gather(a, 0, descend.tensor(IDX[:2] % 3)),
                 lambda a: torch.gather(a, 0, torch.tensor(IDX[:2] % 3))),
    "repeat": (lambda a: a.repeat(2, 3), lambda a: a.repeat(2, 3)),
    "repeat_new_dim": (lambda a: a.repeat((2, 1, 2)), lambda a: a.repeat((2, 1, 2))),
    "flip": (lambda a: a.flip(1), lambda a: a.flip(1)),
    "flip_both": (lambda a: descend.flip(a, (0, 1)), lambda a: torch.flip(a, (0, 1))),
    "cumsum": (lambda a: a.cumsum(1), lambda a: a.cumsum(1)),
    "cumsum_0": (lambda a: descend.cumsum(a, dim=0), lambda a: torch.cumsum(a, dim=0)),
    "masked_fill": (lambda a: a.masked_fill(a > 0.3, -1e9), lambda a: a.masked_fill(a > 0.3, -1e9)),
    "masked_fill_causal": (lambda a: a.masked_fill(descend.triu(descend.ones(3, 4), 1) == 1, float("-inf"))
                           .softmax(-1),
                           lambda a: a.masked_fill(torch.triu(torch.ones(3, 4), 1) == 1, float("-inf")).softmax(-1)),
    "square": (lambda a: descend.square(a), lambda a: torch.square(a)),
    "masked_fill_small": (lambda a: a.masked_fill(a > 0.3, 0.5), lambda a: a.masked_fill(a > 0.3, 0.5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_indexing_op_matches_torch(torch_check, name):
    torch_check(*CASES[name], X)


@pytest.mark.parametrize("name", ["gather_1", "repeat", "repeat_new_dim", "flip_both", "cumsum", "masked_fill_small"])
def test_indexing_op_passes_gradcheck(grad_check, name):
    grad_check(CASES[name][0], X)


@settings(max_examples=25, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_repeat_matches_torch_for_any_shape(torch_check, shape, data):
    reps = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1)))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    torch_check(lambda a: a.repeat(*reps), lambda a: a.repeat(*reps), x)


def test_lookups_match_torch():
    x = np.array([[-1.5, 0.0, np.nan], [2.5, np.inf, -0.5]], np.float32)
    d, t = descend.tensor(x), torch.tensor(x)
    for name in ("isnan", "isfinite", "isinf", "sign", "floor", "ceil", "round"):
        expected = getattr(torch, name)(t).numpy()
        got = getattr(d, name)()
        assert got.dtype == expected.dtype, name
        np.testing.assert_array_equal(got.numpy(), expected)
    m = np.array([[0, 1, 0], [2, 0, 3]], np.int64)
    np.testing.assert_array_equal(descend.nonzero(descend.tensor(m)).numpy(), torch.nonzero(torch.tensor(m)).numpy())
    for dg, tg in zip(descend.tensor(m).nonzero(as_tuple=True), torch.tensor(m).nonzero(as_tuple=True)):
        np.testing.assert_array_equal(dg.numpy(), tg.numpy())


def test_gather_and_masked_fill_check_their_arguments():
    with pytest.raises(TypeError, match="integer"):
        descend.tensor(X).gather(1, descend.tensor(IDX.astype(np.float32)))
    with pytest.raises(TypeError, match="boolean"):
        descend.tensor(X).masked_fill(descend.ones(3, 4), 0.0)


def test_in_place_random_fills_follow_the_seed_and_distribution():
    descend.manual_seed(5)
    a = descend.empty(100_000).normal_(2.0, 0.5)
    descend.manual_seed(5)
    b = descend.empty(100_000).normal_(2.0, 0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32 and abs(a.mean().item() - 2.0) < 0.01 and abs(a.std().item() - 0.5) < 0.01
    u = descend.zeros(100_000).uniform_(-1, 3)
    assert -1 <= u.min().item() and u.max().item() < 3 and abs(u.mean().item() - 1.0) < 0.02
    w = descend.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.normal_()
