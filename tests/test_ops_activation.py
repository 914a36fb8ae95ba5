"""Activation functions: values and gradients against PyTorch on random inputs (kinks included), gradcheck."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import descend
import descend.nn.functional as F

SETTINGS = settings(max_examples=25, deadline=None)

ACTIVATIONS = {
    "relu": (lambda a: a.relu(), TF.relu),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda t: TF.leaky_relu(t, 0.1)),
    "leaky_relu_default": (lambda a: a.leaky_relu(), TF.leaky_relu),
    "elu": (lambda a: F.elu(a), TF.elu),
    "elu_alpha": (lambda a: a.elu(alpha=0.5), lambda t: TF.elu(t, alpha=0.5)),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid),
    "tanh": (lambda a: F.tanh(a), torch.tanh),
    "gelu": (lambda a: a.gelu(), TF.gelu),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
    "silu": (lambda a: F.silu(a), TF.silu),
    "swish": (lambda a: F.swish(a), TF.silu),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 5.0]))
def test_activation_matches_torch(torch_check, name, shape, seed, scale):
    d_fn, t_fn = ACTIVATIONS[name]
    x = (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)
    torch_check(d_fn, t_fn, x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch_at_zero_and_extremes(torch_check, name):
    d_fn, t_fn = ACTIVATIONS[name]
    x = np.array([0.0, -0.0, 1e-8, -1e-8, 30.0, -30.0, 100.0, -100.0], np.float32)
    torch_check(d_fn, t_fn, x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_passes_gradcheck(grad_check, name):
    x = np.random.default_rng(3).standard_normal((4, 5))
    x = x[np.abs(x) > 1e-3]  # finite differences straddling the kink at 0 are meaningless
    grad_check(ACTIVATIONS[name][0], x)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(descend.ones(2), approximate="fast")


def test_sigmoid_is_stable_for_large_inputs():
    x = descend.tensor([-1000.0, 1000.0], requires_grad=True)
    y = x.sigmoid()
    np.testing.assert_array_equal(y.numpy(), [0.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
