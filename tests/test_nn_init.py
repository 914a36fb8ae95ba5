"""Initialisers: sample statistics against the formulas, orthogonality, gains, init_for_activation."""

import math

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn
from descend.nn import init


def _param(*shape):
    return nn.Parameter(np.zeros(shape))


def test_calculate_gain_matches_torch():
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("softplus")


def test_xavier_uniform_and_normal_statistics():
    w = _param(400, 600)
    init.xavier_uniform_(w)
    bound = math.sqrt(6 / 1000)
    assert np.abs(w.array).max() <= bound
    assert w.array.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    init.xavier_normal_(w, gain=2.0)
    assert w.array.std() == pytest.approx(2.0 * math.sqrt(2 / 1000), rel=0.01)
    assert abs(w.array.mean()) < 0.002


def test_kaiming_statistics_with_modes_and_conv_fans():
    w = _param(64, 32, 3, 3)            # fan_in = 288, fan_out = 576
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.array.std() == pytest.approx(math.sqrt(2 / 288), rel=0.02)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.array.std() == pytest.approx(math.sqrt(2 / 576), rel=0.02)
    init.kaiming_uniform_(w, a=0.1)
    gain = math.sqrt(2 / (1 + 0.01))
    assert np.abs(w.array).max() <= gain * math.sqrt(3 / 288)
    assert w.array.std() == pytest.approx(gain / math.sqrt(288), rel=0.02)
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_lecun_normal_and_constants():
    w = _param(300, 500)
    init.lecun_normal_(w)
    assert w.array.std() == pytest.approx(math.sqrt(1 / 500), rel=0.01)
    init.constant_(w, 0.25)
    assert np.all(w.array == 0.25)
    init.ones_(w)
    assert np.all(w.array == 1)
    init.zeros_(w)
    assert np.all(w.array == 0)
    assert w.dtype == np.float32


@pytest.mark.parametrize("shape", [(20, 50), (50, 20), (8, 4, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = _param(*shape)
    init.orthogonal_(w, gain=1.5)
    flat = w.array.reshape(shape[0], -1).astype(np.float64)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(gram.shape[0]), atol=1e-5)


def test_init_functions_are_seeded_and_accept_a_generator():
    a, b = _param(10, 10), _param(10, 10)
    descend.manual_seed(4)
    init.kaiming_uniform_(a)
    descend.manual_seed(4)
    init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.array, b.array)
    init.xavier_normal_(a, generator=np.random.default_rng(1))
    init.xavier_normal_(b, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.array, b.array)


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(_param(5))


@pytest.mark.parametrize("activation,expected_std", [
    ("relu", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("gelu", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("tanh", lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
    ("none", lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
])
def test_init_for_activation_uses_he_or_glorot_and_zero_biases(activation, expected_std):
    model = nn.Sequential(nn.Conv2d(16, 32, 3), nn.ReLU(), nn.Flatten(), nn.Linear(400, 300))
    init.init_for_activation(model, activation)
    conv, lin = model[0], model[3]
    assert conv.weight.array.std() == pytest.approx(expected_std(144, 288), rel=0.03)
    assert lin.weight.array.std() == pytest.approx(expected_std(400, 300), rel=0.03)
    assert np.all(conv.bias.array == 0) and np.all(lin.bias.array == 0)


def test_he_init_keeps_relu_activation_scale_through_depth():
    """The property He init is for: the mean square of activations stays roughly constant with depth."""
    descend.manual_seed(0)
    layers = []
    for _ in range(10):
        layers += [nn.Linear(256, 256), nn.ReLU()]
    model = init.init_for_activation(nn.Sequential(*layers), "relu")
    x = descend.tensor(np.random.default_rng(0).standard_normal((512, 256)))
    with descend.no_grad():
        y = model(x)
    # second moment after each ReLU layer ≈ input variance (1); default PyTorch init would shrink it ~3x per layer
    assert 0.5 < float((y.array ** 2).mean()) < 2.0
