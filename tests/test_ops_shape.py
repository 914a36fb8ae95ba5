"""Shape and indexing operations: values and gradients against PyTorch, scatter-add for repeated integer
indices, gradcheck, and the error messages."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import descend
import descend.nn.functional as F

SETTINGS = settings(max_examples=25, deadline=None)


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CASES = {
    "reshape": ((2, 3, 4), lambda a: a.reshape(4, -1), lambda t: t.reshape(4, -1)),
    "reshape_tuple": ((2, 3, 4), lambda a: F.reshape(a, (6, 4)), lambda t: t.reshape(6, 4)),
    "view": ((2, 3, 4), lambda a: a.view(-1), lambda t: t.view(-1)),
    "flatten": ((2, 3, 4), lambda a: a.flatten(1), lambda t: t.flatten(1)),
    "T": ((3, 5), lambda a: a.T, lambda t: t.T),
    "transpose_pair": ((2, 3, 4), lambda a: a.transpose(0, 2), lambda t: t.transpose(0, 2)),
    "transpose_neg": ((2, 3, 4), lambda a: a.transpose(-1, -2), lambda t: t.transpose(-1, -2)),
    "permute": ((2, 3, 4), lambda a: a.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    "permute_tuple": ((2, 3, 4), lambda a: F.permute(a, (1, 2, 0)), lambda t: t.permute(1, 2, 0)),
    "squeeze_all": ((1, 3, 1, 2), lambda a: a.squeeze(), lambda t: t.squeeze()),
    "squeeze_dim": ((1, 3, 1, 2), lambda a: a.squeeze(dim=2), lambda t: t.squeeze(2)),
    "squeeze_not_one": ((1, 3, 1, 2), lambda a: a.squeeze(1), lambda t: t.squeeze(1)),
    "unsqueeze": ((3, 2), lambda a: a.unsqueeze(1), lambda t: t.unsqueeze(1)),
    "unsqueeze_neg": ((3, 2), lambda a: a.unsqueeze(dim=-1), lambda t: t.unsqueeze(-1)),
    "broadcast_to": ((3, 1), lambda a: a.broadcast_to(2, 3, 4), lambda t: t.broadcast_to(2, 3, 4)),
    "expand": ((3, 1), lambda a: a.expand(3, 5), lambda t: t.expand(3, 5)),
    "expand_keep": ((3, 1), lambda a: a.expand(2, -1, 4), lambda t: t.expand(2, -1, 4)),
    "slice": ((5, 6), lambda a: a[1:4, ::2], lambda t: t[1:4, ::2]),
    "int_index": ((5, 6), lambda a: a[2], lambda t: t[2]),
    "neg_int_ellipsis": ((3, 4, 5), lambda a: a[..., -1], lambda t: t[..., -1]),
    "none_index": ((3, 4), lambda a: a[:, None, 1:], lambda t: t[:, None, 1:]),
    "int_array_repeated": ((5, 3), lambda a: a[[0, 2, 2, 4, 0]], lambda t: t[[0, 2, 2, 4, 0]]),
    "int_array_pairs": ((4, 5), lambda a: a[np.array([0, 1, 1, 3]), np.array([4, 2, 2, 0])],
                        lambda t: t[torch.tensor([0, 1, 1, 3]), torch.tensor([4, 2, 2, 0])]),
    "tensor_index": ((6, 2), lambda a: a[descend.tensor([5, 5, 1])], lambda t: t[torch.tensor([5, 5, 1])]),
    "mixed_index": ((3, 4, 5), lambda a: a[1:, [0, 3, 3], 2], lambda t: t[1:, [0, 3, 3], 2]),
    "bool_mask": ((4, 3), lambda a: a[np.array([True, False, True, True])],
                  lambda t: t[torch.tensor([True, False, True, True])]),
    "pad_last": ((2, 3), lambda a: F.pad(a, (1, 2)), lambda t: torch.nn.functional.pad(t, (1, 2))),
    "pad_two": ((2, 3, 4), lambda a: a.pad((1, 0, 2, 1), value=0.5),
                lambda t: torch.nn.functional.pad(t, (1, 0, 2, 1), value=0.5)),
    "pad_numpy": ((2, 3), lambda a: F.pad(a, ((1, 1), (0, 2))), lambda t: torch.nn.functional.pad(t, (0, 2, 1, 1))),
    "swapaxes": ((2, 3, 4), lambda a: a.swapaxes(0, 1), lambda t: t.swapaxes(0, 1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_op_matches_torch(torch_check, name):
    shape, d_fn, t_fn = CASES[name]
    torch_check(d_fn, t_fn, _x(shape))


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_op_passes_gradcheck(grad_check, name):
    shape, d_fn, _ = CASES[name]
    grad_check(d_fn, _x(shape, 1).astype(np.float64))


def test_repeated_integer_indices_add_up_their_gradients():
    a = descend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 0.0, 1.0])


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=4),
       target=array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3), seed=st.integers(0, 2**16))
def test_broadcast_to_gradient_sums_back(torch_check, shapes, target, seed):
    shape = shapes.input_shapes[0]
    try:
        out_shape = np.broadcast_shapes(shape, target + shape)
    except ValueError:
        return
    torch_check(lambda a: a.broadcast_to(out_shape), lambda t: t.broadcast_to(out_shape), _x(shape, seed))


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), n=st.integers(1, 3),
       data=st.data())
def test_concatenate_and_stack_match_torch(torch_check, shape, n, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(n)]
    pieces = []
    for s in sizes:
        piece_shape = list(shape)
        piece_shape[axis] = s
        pieces.append(rng.standard_normal(piece_shape).astype(np.float32))
    torch_check(lambda *ts: descend.concatenate(ts, axis=axis), lambda *ts: torch.cat(ts, dim=axis), *pieces)
    same = [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    torch_check(lambda *ts: descend.stack(ts, dim=new_axis), lambda *ts: torch.stack(ts, dim=new_axis), *same)


def test_concatenate_and_stack_pass_gradcheck(grad_check):
    a, b = _x((2, 3), 1).astype(np.float64), _x((2, 5), 2).astype(np.float64)
    grad_check(lambda x, y: descend.cat([x, y], dim=1), a, b)
    c = _x((2, 3), 3).astype(np.float64)
    grad_check(lambda x, y: descend.stack([x, y], axis=1), a, c)


def test_shape_errors_name_the_shapes():
    a = descend.ones(2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) into \(4, 2\)"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) cannot be broadcast to \(3, 3\)"):
        a.broadcast_to(3, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\), \(2, 4\) differ outside axis 0"):
        descend.cat([a, descend.ones(2, 4)])
    with pytest.raises(ValueError, match=r"stack needs tensors of one shape, got \(2, 3\), \(3, 2\)"):
        descend.stack([a, descend.ones(3, 2)])
    with pytest.raises(IndexError, match=r"out of range for a tensor of shape \(2, 3\)"):
        a[5]
    with pytest.raises(ValueError, match="not a permutation"):
        a.permute(0, 0)
