"""unique (flattened and along a dim, inverse and counts), multinomial (shapes, seeding, the distribution with
and without replacement, errors) and the one-argument where, against torch or closed forms."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import descend

UNIQUE_CASES = [
    dict(), dict(return_inverse=True), dict(return_counts=True), dict(return_inverse=True, return_counts=True),
    dict(sorted=False, return_counts=True), dict(dim=0, return_inverse=True, return_counts=True),
    dict(dim=1, return_inverse=True),
]


@pytest.mark.parametrize("kwargs", UNIQUE_CASES, ids=str)
def test_unique_matches_torch(kwargs):
    data = np.array([[3, 1, 3], [1, 1, 2], [3, 1, 3], [0, 5, 2]], np.int64)
    d = descend.unique(descend.tensor(data), **kwargs)
    t = torch.unique(torch.tensor(data), **kwargs)
    d, t = (d, t) if isinstance(t, tuple) else ((d,), (t,))
    assert len(d) == len(t)
    for a, b in zip(d, t):
        assert a.dtype == b.numpy().dtype and a.tolist() == b.tolist()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-3, 3, width=32).map(lambda v: round(v, 1)), min_size=1, max_size=20))
def test_unique_method_matches_torch_for_any_float_values(values):
    data = np.array(values, np.float32)
    d = descend.tensor(data).unique(return_inverse=True, return_counts=True)
    t = torch.tensor(data).unique(return_inverse=True, return_counts=True)
    assert [x.tolist() for x in d] == [x.tolist() for x in t] and d[0].dtype == np.float32


def test_multinomial_shapes_and_dtype_follow_torch():
    w = descend.tensor([[0.1, 0.5, 0.4], [1.0, 1.0, 0.0]])
    assert descend.multinomial(w, 2).shape == (2, 2) == tuple(torch.multinomial(torch.tensor(w.numpy()), 2).shape)
    out = w.multinomial(5, replacement=True)
    assert out.shape == (2, 5) and out.dtype == np.int64
    assert descend.multinomial(descend.tensor([1.0, 2.0]), 1).shape == (1,)


def test_multinomial_is_reproducible_under_manual_seed():
    w = descend.tensor([0.2, 0.3, 0.5])
    descend.manual_seed(4)
    a = descend.multinomial(w, 20, replacement=True).tolist()
    descend.manual_seed(4)
    assert descend.multinomial(w, 20, replacement=True).tolist() == a
    own = [descend.multinomial(w, 20, True, generator=np.random.default_rng(9)).tolist() for _ in range(2)]
    descend.manual_seed(4)
    before = descend.random.get_rng_state()
    descend.multinomial(w, 20, True, generator=np.random.default_rng(9))
    assert own[0] == own[1] and descend.random.get_rng_state() == before  # a generator of its own leaves the default


def test_multinomial_with_replacement_draws_the_normalised_weights():
    w = np.array([[1.0, 0.0, 3.0, 6.0], [5.0, 5.0, 0.0, 0.0]], np.float32)  # unnormalised, zero weights
    descend.manual_seed(0)
    out = descend.multinomial(descend.tensor(w), 20000, replacement=True).numpy()
    for row in range(2):
        freq = np.bincount(out[row], minlength=4) / out.shape[1]
        p = w[row] / w[row].sum()
        np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(0.25 / out.shape[1]))  # 4 binomial std. errors
        assert freq[p == 0].sum() == 0  # a zero-weight category is never drawn


def test_multinomial_without_replacement_has_no_repeats_and_the_sequential_first_and_second_draw_law():
    w = np.array([0.5, 0.3, 0.2], np.float32)
    descend.manual_seed(1)
    draws = descend.multinomial(descend.tensor(np.tile(w, (20000, 1))), 2).numpy()
    assert (draws[:, 0] != draws[:, 1]).all()
    first = np.bincount(draws[:, 0], minlength=3) / len(draws)
    np.testing.assert_allclose(first, w, atol=0.015)
    # P(second = j) = Σ_i w_i · w_j / (1 − w_i), i ≠ j (one draw at a time, each drawn category removed)
    second = np.array([sum(w[i] * w[j] / (1 - w[i]) for i in range(3) if i != j) for j in range(3)])
    np.testing.assert_allclose(np.bincount(draws[:, 1], minlength=3) / len(draws), second, atol=0.015)
    full = descend.multinomial(descend.tensor([1.0, 2.0, 0.0, 3.0]), 3).tolist()
    assert sorted(full) == [0, 1, 3]  # every category of non-zero weight, the zero one never


@pytest.mark.parametrize("call,error,match", [
    (lambda: descend.multinomial(descend.tensor([0.5, -0.1]), 1), ValueError, "non-negative"),
    (lambda: descend.multinomial(descend.tensor([0.0, 0.0]), 1), ValueError, "positive sum"),
    (lambda: descend.multinomial(descend.tensor([1.0, 0.0, 1.0]), 3), ValueError, "replacement=True"),
    (lambda: descend.multinomial(descend.tensor([1.0]), 0), ValueError, "num_samples"),
    (lambda: descend.multinomial(descend.ones(2, 2, 2), 1), ValueError, "1-D or 2-D"),
    (lambda: descend.multinomial(descend.tensor([1, 2]), 1), TypeError, "floating point"),
    (lambda: descend.unique(descend.ones(2, 2), dim=2), ValueError, "out of range"),
    (lambda: descend.where(descend.ones(2) > 0, descend.ones(2)), TypeError, "condition alone"),
])
def test_sampling_and_unique_reject_bad_arguments_in_one_line(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_where_with_the_condition_alone_is_nonzero_as_tuple_like_torch():
    data = np.array([[0, 1, 0], [2, 0, 3]], np.int64)
    d = descend.where(descend.tensor(data) > 0)
    t = torch.where(torch.tensor(data) > 0)
    assert len(d) == len(t) == 2
    assert all(a.dtype == np.int64 and a.tolist() == b.tolist() for a, b in zip(d, t))
    x = descend.tensor([1.0, -2.0, 3.0])
    assert descend.where(x > 0, x, 0.0).tolist() == [1.0, 0.0, 3.0]  # the three-argument form is unchanged
