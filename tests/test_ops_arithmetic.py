"""Element-wise arithmetic: values and gradients against PyTorch (broadcast shapes from hypothesis),
scalars on either side, gradcheck in float64, and the broadcast error message."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import descend
import descend.nn.functional as F

SETTINGS = settings(max_examples=25, deadline=None)
pair_shapes = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)


def _arrays(seed, *shapes, positive=False, away_from_zero=False):
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        if positive:
            x = np.abs(x) + np.float32(0.5)
        elif away_from_zero:
            x = np.sign(x + 1e-3) * (np.abs(x) + np.float32(0.5))
        out.append(np.asarray(x, dtype=np.float32))
    return out


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, {}),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, {}),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, {}),
    "div": (lambda a, b: a / b, lambda a, b: a / b, {"away_from_zero": True}),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, {"positive": True}),
    "maximum": (descend.maximum, torch.maximum, {}),
    "minimum": (descend.minimum, torch.minimum, {}),
    "F.add": (F.add, torch.add, {}),
    "F.div": (F.div, torch.div, {"away_from_zero": True}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=pair_shapes, seed=st.integers(0, 2**16))
def test_binary_op_matches_torch_under_broadcasting(torch_check, name, shapes, seed):
    d_fn, t_fn, kind = BINARY[name]
    a, b = _arrays(seed, *shapes.input_shapes, **kind)
    torch_check(d_fn, t_fn, a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_passes_gradcheck_with_broadcasting(grad_check, name):
    d_fn, _, kind = BINARY[name]
    a, b = _arrays(0, (3, 1, 4), (2, 1), **kind)
    grad_check(d_fn, a, b)


SCALAR = {
    "t+s": (lambda a: a + 2.5, lambda a: a + 2.5), "s+t": (lambda a: 2.5 + a, lambda a: 2.5 + a),
    "t-s": (lambda a: a - 1.5, lambda a: a - 1.5), "s-t": (lambda a: 1.5 - a, lambda a: 1.5 - a),
    "t*s": (lambda a: a * -3, lambda a: a * -3), "s*t": (lambda a: -3 * a, lambda a: -3 * a),
    "t/s": (lambda a: a / 4.0, lambda a: a / 4.0), "s/t": (lambda a: 4.0 / a, lambda a: 4.0 / a),
    "t**2": (lambda a: a ** 2, lambda a: a ** 2), "t**0.5": (lambda a: a ** 0.5, lambda a: a ** 0.5),
    "t**-1.5": (lambda a: a ** -1.5, lambda a: a ** -1.5), "2**t": (lambda a: 2 ** a, lambda a: 2 ** a),
    "max(t,s)": (lambda a: descend.maximum(a, 1.0), lambda a: torch.clamp(a, min=1.0)),
    "min(s,t)": (lambda a: descend.minimum(1.0, a), lambda a: torch.clamp(a, max=1.0)),
    "-t": (lambda a: -a, lambda a: -a),
}


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_python_scalar_on_either_side_matches_torch_and_keeps_float32(torch_check, grad_check, name):
    d_fn, t_fn = SCALAR[name]
    (a,) = _arrays(7, (5, 6), positive=True)
    out = torch_check(d_fn, t_fn, a)
    assert out.dtype == np.float32
    grad_check(d_fn, a)


UNARY = {
    "exp": (descend.exp, torch.exp, {}),
    "log": (descend.log, torch.log, {"positive": True}),
    "sqrt": (descend.sqrt, torch.sqrt, {"positive": True}),
    "abs": (descend.abs, torch.abs, {"away_from_zero": True}),
    "neg": (lambda a: a.neg(), torch.neg, {}),
    "clip": (lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), {}),
    "clip_min": (lambda a: descend.clip(a, min=-0.3), lambda a: a.clamp(min=-0.3), {}),
    "clamp_max": (lambda a: F.clamp(a, max=0.2), lambda a: a.clamp(max=0.2), {}),
    "method_exp": (lambda a: a.exp(), lambda a: a.exp(), {}),
    "method_log": (lambda a: a.log(), lambda a: a.log(), {"positive": True}),
    "abs()": (lambda a: abs(a), lambda a: abs(a), {"away_from_zero": True}),
    "cast64": (lambda a: a.double().sum(axis=0), lambda a: a.double().sum(0), {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=5),
       seed=st.integers(0, 2**16))
def test_unary_op_matches_torch(torch_check, name, shape, seed):
    d_fn, t_fn, kind = UNARY[name]
    if name == "cast64" and len(shape.input_shapes[0]) == 0:
        return
    (a,) = _arrays(seed, shape.input_shapes[0], **kind)
    torch_check(d_fn, t_fn, a)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_passes_gradcheck(grad_check, name):
    d_fn, _, kind = UNARY[name]
    (a,) = _arrays(3, (3, 4), **kind)
    if name.startswith("clip") or name.startswith("clamp"):
        a = a[np.abs(a - np.float32(-0.5)) > 1e-3]  # keep finite differences off the kinks
    grad_check(d_fn, a)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
       seed=st.integers(0, 2**16))
def test_where_matches_torch_under_broadcasting(torch_check, shapes, seed):
    cond_shape, a_shape, b_shape = shapes.input_shapes
    cond = np.random.default_rng(seed).random(cond_shape) > 0.5
    a, b = _arrays(seed, a_shape, b_shape)
    torch_check(lambda x, y: descend.where(cond, x, y), lambda x, y: torch.where(torch.tensor(cond), x, y), a, b)


def test_where_with_a_scalar_branch_and_gradcheck(torch_check, grad_check):
    a, = _arrays(1, (4, 3))
    cond = a > 0
    torch_check(lambda x: F.where(cond, x, 0.0), lambda x: torch.where(torch.tensor(cond), x, 0.0), a)
    torch_check(lambda x: F.where(cond, 1.0, x), lambda x: torch.where(torch.tensor(cond), 1.0, x), a)
    b, = _arrays(2, (3,))
    grad_check(lambda x, y: descend.where(cond, x, y), a, b)


def test_maximum_ties_share_the_gradient_as_in_torch(torch_check):
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 0.0, 3.0], np.float32)
    torch_check(descend.maximum, torch.maximum, a, b)
    torch_check(descend.minimum, torch.minimum, a, b)


def test_pow_gradient_with_respect_to_the_exponent_at_zero_base_is_zero():
    a = descend.tensor([0.0, 2.0], requires_grad=True)
    b = descend.tensor([2.0, 3.0], requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(b.grad, [0.0, 8.0 * np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(a.grad, [0.0, 12.0], rtol=1e-6)


def test_broadcast_mismatch_error_names_both_shapes():
    a = descend.ones(2, 3, requires_grad=True)
    b = descend.ones(4)
    for fn in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: a / b, lambda: a ** b,
               lambda: descend.maximum(a, b)):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\) cannot be broadcast"):
            fn()


def test_float32_stays_float32_with_numpy_scalars_and_arrays():
    a = descend.tensor(np.ones((2, 2)), requires_grad=True)
    assert a.dtype == np.float32
    assert (a * np.float64(2.0)).dtype == np.float32
    assert (a + np.ones((2, 2))).dtype == np.float32
    assert (np.ones((2, 2)) - a).dtype == np.float32
    assert (a ** 2).dtype == np.float32


def test_integer_tensors_mixed_with_floats_give_float32_as_in_torch(torch_check):
    labels = np.array([0, 1, 2], np.int64)
    x = np.array([0.5, -1.0, 2.0], np.float32)
    torch_check(lambda l, t: l * t, lambda l, t: l * t, labels, x)
    torch_check(lambda l, t: t - l, lambda l, t: t - l, labels, x)
    assert (descend.tensor(labels) * 0.5).dtype == np.float32
    assert (0.5 + descend.tensor(labels)).dtype == np.float32
    assert (descend.tensor(labels) + 1).dtype == np.int64
    assert (descend.tensor([True, False]) * 2.0).dtype == np.float32


def test_float64_tensors_stay_float64(torch_check):
    a = np.random.default_rng(0).standard_normal((3, 2))
    out = torch_check(lambda x: (x * 2.0 + 1) / 3 - x ** 2, lambda t: (t * 2.0 + 1) / 3 - t ** 2, a)
    assert out.dtype == np.float64


def test_where_method_form_matches_torch(torch_check):
    a, b = _arrays(4, (3, 4), (4,))
    cond = a > 0
    torch_check(lambda x, y: x.where(cond, y), lambda x, y: x.where(torch.tensor(cond), y), a, b)


def test_no_graph_is_recorded_when_no_input_requires_grad_or_under_no_grad():
    a, b = descend.ones(2, 2), descend.ones(2, 2)
    assert (a * b)._node is None and not (a * b).requires_grad
    w = descend.ones(2, 2, requires_grad=True)
    with descend.no_grad():
        for out in (w * b, w + 1.0, 2.0 - w, w.exp(), w.sum(), w @ b):
            assert out._node is None and not out.requires_grad
