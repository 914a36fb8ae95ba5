"""Matrix products: 1-D, 2-D, batched and broadcast matmul, and the fused linear layer, against PyTorch."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import descend
import descend.nn.functional as F

SETTINGS = settings(max_examples=25, deadline=None)


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a_kind, b_kind = draw(st.sampled_from(["1d", "2d", "batched"])), draw(st.sampled_from(["1d", "2d", "batched"]))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    a_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)
    b_batch = tuple(draw(st.sampled_from([b, 1])) for b in batch)[draw(st.integers(0, len(batch))):]
    a = (k,) if a_kind == "1d" else (n, k) if a_kind == "2d" else a_batch + (n, k)
    b = (k,) if b_kind == "1d" else (k, m) if b_kind == "2d" else b_batch + (k, m)
    return a, b, draw(st.integers(0, 2**16))


@SETTINGS
@given(case=matmul_shapes())
def test_matmul_matches_torch_for_1d_2d_batched_and_broadcast(torch_check, case):
    a_shape, b_shape, seed = case
    torch_check(lambda a, b: a @ b, torch.matmul, _x(a_shape, seed), _x(b_shape, seed + 1), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("a_shape,b_shape", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                                             ((2, 1, 2, 3), (3, 3, 2)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,))])
def test_matmul_passes_gradcheck(grad_check, a_shape, b_shape):
    grad_check(descend.matmul, _x(a_shape, 1), _x(b_shape, 2))


def test_matmul_with_one_side_constant_and_reflected(torch_check):
    w = _x((4, 3), 3)
    torch_check(lambda a: a.matmul(descend.tensor(w)), lambda t: t @ torch.tensor(w), _x((2, 4)))
    torch_check(lambda a: w.T @ a.T, lambda t: torch.tensor(w.T) @ t.T, _x((2, 4)))  # ndarray @ Tensor
    torch_check(lambda a: descend.matmul(w.T, a.T), lambda t: torch.tensor(w.T) @ t.T, _x((2, 4)))


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 5\) do not fit.*\(3\).*\(4\)"):
        descend.ones(2, 3) @ descend.ones(4, 5)
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\) do not fit"):
        descend.ones(3) @ descend.ones(2)
    with pytest.raises(ValueError, match="at least one dimension"):
        descend.matmul(descend.tensor(2.0), descend.ones(2))


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_torch_and_gradcheck(torch_check, grad_check, x_shape, with_bias):
    arrays = [_x(x_shape), _x((3, 4), 1)] + ([_x((3,), 2)] if with_bias else [])
    torch_check(F.linear, torch.nn.functional.linear, *arrays)
    grad_check(F.linear, *arrays)


def test_linear_mismatch_names_the_feature_counts():
    with pytest.raises(ValueError, match=r"input of shape \(2, 5\) has 5 features but the weight of shape \(3, 4\)"):
        F.linear(descend.ones(2, 5), descend.ones(3, 4))


def test_batched_matmul_with_mismatched_batches_names_the_batch_dimensions():
    with pytest.raises(ValueError, match=r"shapes \(2, 3, 4\) and \(5, 4, 2\) do not fit: the batch dimensions "
                                         r"\(2,\) and \(5,\) cannot be broadcast"):
        descend.ones(2, 3, 4) @ descend.ones(5, 4, 2)


@pytest.mark.parametrize("shape", [(1024, 512), (1000, 300), (300, 1000), (257, 256), (128, 256), (64, 4)])
def test_add_bias_rows_equals_the_broadcast_add_bit_for_bit(shape):
    from descend.ops.linalg import add_bias_rows
    out, b = _x(shape, 8), _x(shape[-1:], 9)
    b[0] = np.nan
    expected = out + b
    add_bias_rows(out, b)
    np.testing.assert_array_equal(out, expected)


def test_add_bias_rows_falls_back_to_broadcasting_for_other_layouts_and_dtypes():
    from descend.ops.linalg import add_bias_rows
    base = _x((600, 300), 10)
    b = _x((300,), 11)
    cases = [np.asfortranarray(base), base[::2], base.astype(np.float64)]
    for out in cases:
        expected = out + b
        add_bias_rows(out, b)
        np.testing.assert_array_equal(out, expected)


def test_linear_with_many_rows_matches_torch_and_sees_a_bias_changed_in_place(torch_check):
    x, w, b = _x((512, 300), 12), _x((200, 300), 13) / np.float32(300 ** 0.5), _x((200,), 14)
    # sums over 300 features and 512 rows in float32: two summation orders differ by ~1e-5 absolute
    torch_check(F.linear, torch.nn.functional.linear, x, w, b, atol=1e-4)
    bias = descend.tensor(b)
    first = F.linear(descend.tensor(x), descend.tensor(w), bias).array.copy()
    bias.array += 1.0
    second = F.linear(descend.tensor(x), descend.tensor(w), bias).array
    np.testing.assert_allclose(second - first, 1.0, rtol=0, atol=1e-5)


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (64, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_relu_matches_torch_and_gradcheck(torch_check, grad_check, x_shape, with_bias):
    from descend.ops.linalg import linear_relu
    arrays = [_x(x_shape), _x((3, 4), 1)] + ([_x((3,), 2)] if with_bias else [])
    torch_check(linear_relu, lambda *t: torch.relu(torch.nn.functional.linear(*t)), *arrays)
    grad_check(linear_relu, *arrays)


def test_linear_relu_equals_relu_of_linear_bit_for_bit_with_nan_and_zero_preactivations():
    from descend.ops.linalg import linear_relu
    x = _x((40, 6), 4)
    x[3, 2] = np.nan
    w, b = _x((5, 6), 5), _x((5,), 6)
    b[1] = 0.0
    x[7] = 0.0  # row 7's pre-activations are exactly the bias: 0 in column 1
    leaves = [[descend.tensor(a, requires_grad=True) for a in (x, w, b)] for _ in range(2)]
    fused = linear_relu(*leaves[0])
    plain = F.linear(*leaves[1]).relu()
    np.testing.assert_array_equal(fused.array, plain.array)
    assert fused._node.name == "linear_relu"
    g = _x((40, 5), 7)
    fused.backward(descend.tensor(g))
    plain.backward(descend.tensor(g))
    for a, c in zip(leaves[0], leaves[1]):
        np.testing.assert_array_equal(a.grad.array, c.grad.array)
    assert np.isnan(fused.array[3]).all() and fused.array[7, 1] == 0.0


def _mlp():
    descend.manual_seed(0)
    return descend.nn.Sequential(descend.nn.Linear(6, 16), descend.nn.ReLU(), descend.nn.Linear(16, 16),
                                 descend.nn.ReLU(), descend.nn.Linear(16, 3))


def _graph_names(t):
    names, stack = [], [t._node]
    while stack:
        node = stack.pop()
        if node is None or not hasattr(node, "name"):
            continue
        names.append(node.name)
        stack.extend(getattr(p, "_node", p) for p in node.inputs)
    return names


def test_sequential_fuses_linear_then_relu_with_the_same_values_and_gradients():
    x = _x((32, 6), 8)
    fused, ref = _mlp(), _mlp()
    out = fused(descend.tensor(x))
    h = descend.tensor(x)
    for m in ref:  # module by module, as Sequential ran before the fusion
        h = m(h)
    np.testing.assert_array_equal(out.array, h.array)
    assert _graph_names(out).count("linear_relu") == 2 and "relu" not in _graph_names(out)
    out.sum().backward()
    h.sum().backward()
    for p, q in zip(fused.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.array, q.grad.array)


@pytest.mark.parametrize("hook_on", ["linear", "relu", "pre", "subclass", "replaced"])
def test_sequential_runs_linear_and_relu_apart_when_either_is_hooked_or_not_plain(hook_on):
    model, seen = _mlp(), []
    if hook_on == "linear":
        model[0].register_forward_hook(lambda m, i, o: seen.append(o))
    elif hook_on == "relu":
        model[1].register_forward_hook(lambda m, i, o: seen.append(o))
    elif hook_on == "pre":
        model[1].register_forward_pre_hook(lambda m, i: seen.append(i[0]))
    elif hook_on == "subclass":
        class MyReLU(descend.nn.ReLU):
            pass
        model[1] = MyReLU()
    else:
        model[1].forward = lambda x: x.relu() * 1.0
    out = model(descend.tensor(_x((4, 6), 9)))
    names = _graph_names(out)
    assert names.count("linear_relu") == 1  # the second pair still fuses
    assert "relu" in names
    if hook_on in ("linear", "relu", "pre"):
        assert len(seen) == 1 and seen[0].shape == (4, 16)
