"""Layers other than convolution/pooling: Linear, activations, Flatten, Identity, Residual, Embedding,
Dropout — against PyTorch with the same weights, gradcheck, and dropout statistics."""

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn
import descend.nn.functional as F

RNG = np.random.default_rng(1)


def _pair(shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    return descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _backward_both(y, ty):
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7)])
def test_linear_matches_torch_with_same_weights(bias, shape):
    ours, ref = nn.Linear(7, 4, bias=bias), torch.nn.Linear(7, 4, bias=bias)
    ours.load_state_dict(ref.state_dict())
    x, tx = _pair(shape)
    y, ty = ours(x), ref(tx)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    _backward_both(y, ty)
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.array, ref.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.array, ref.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_gradcheck_float64():
    lin = nn.Linear(3, 2, dtype="float64")
    x = descend.tensor(RNG.standard_normal((4, 3)), requires_grad=True, dtype="float64")
    assert descend.gradcheck(lambda x, w, b: F.linear(x, w, b), [x, lin.weight, lin.bias])


def test_linear_default_init_is_uniform_within_inverse_sqrt_fan_in():
    descend.manual_seed(3)
    lin = nn.Linear(100, 200)
    bound = 0.1
    w = lin.weight.array
    assert w.shape == (200, 100) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert np.abs(lin.bias.array).max() <= bound


def test_same_seed_gives_same_init():
    descend.manual_seed(11)
    a = nn.Linear(5, 5).weight.array.copy()
    descend.manual_seed(11)
    b = nn.Linear(5, 5).weight.array.copy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ours,ref", [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.ELU(0.7), torch.nn.ELU(0.7)),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.SiLU(), torch.nn.SiLU()),
    (nn.Swish(), torch.nn.SiLU()),
    (nn.Flatten(), torch.nn.Flatten()),
    (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    (nn.Identity(), torch.nn.Identity()),
], ids=lambda m: repr(m))
def test_parameter_free_layers_match_torch(ours, ref):
    x, tx = _pair((3, 4, 5))
    y, ty = ours(x), ref(tx)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    _backward_both(y, ty)
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_residual_adds_input_and_gradient_flows_through_both_paths():
    block = nn.Linear(4, 4)
    res = nn.Residual(block)
    ref = torch.nn.Linear(4, 4)
    block.load_state_dict(ref.state_dict())
    x, tx = _pair((3, 4))
    y, ty = res(x), tx + ref(tx)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    _backward_both(y, ty)
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert list(res.state_dict()) == ["block.weight", "block.bias"]


def test_residual_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 2\)"):
        nn.Residual(nn.Linear(4, 2))(descend.ones(3, 4))


def test_embedding_matches_torch_with_repeated_indices_and_padding():
    ours, ref = nn.Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)
    ours.load_state_dict(ref.state_dict())
    idx = np.array([[1, 2, 2, 0], [9, 1, 1, 1]])
    y, ty = ours(descend.tensor(idx)), ref(torch.tensor(idx))
    np.testing.assert_array_equal(y.array, ty.detach().numpy())
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad.array, ref.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert np.all(nn.Embedding(4, 2, padding_idx=1).weight.array[1] == 0)


def test_embedding_rejects_out_of_range_index():
    with pytest.raises(IndexError, match="index 5 .* 5 embeddings"):
        nn.Embedding(5, 2)(descend.tensor([1, 5]))


# ------------------------------------------------------------------ dropout
def test_dropout_keeps_one_minus_p_and_scales_by_inverse():
    descend.manual_seed(0)
    p = 0.3
    drop = nn.Dropout(p)
    y = drop(descend.ones(200, 500))
    kept = y.array != 0
    assert abs(kept.mean() - (1 - p)) < 0.005
    np.testing.assert_allclose(y.array[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.array.mean() - 1.0) < 0.01  # expectation preserved
    assert y.dtype == np.float32


def test_dropout_gradient_uses_the_same_mask():
    descend.manual_seed(1)
    x = descend.tensor(RNG.standard_normal((50, 40)), requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, (y.array != 0) * 2.0)


def test_dropout_is_identity_in_eval_and_for_p_zero():
    x = descend.tensor(RNG.standard_normal((4, 5)))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).array, 0)


def test_same_seed_gives_same_dropout_mask_and_generator_overrides():
    descend.manual_seed(5)
    a = F.dropout(descend.ones(100), 0.5).array
    descend.manual_seed(5)
    b = F.dropout(descend.ones(100), 0.5).array
    np.testing.assert_array_equal(a, b)
    c = nn.Dropout(0.5, generator=np.random.default_rng(9))(descend.ones(100)).array
    d = nn.Dropout(0.5, generator=np.random.default_rng(9))(descend.ones(100)).array
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, F.dropout(descend.ones(100), 0.5).array)


def test_dropout2d_zeroes_whole_channels():
    descend.manual_seed(2)
    p = 0.25
    y = nn.Dropout2d(p)(descend.ones(64, 32, 5, 5)).array
    per_channel = y.reshape(64, 32, -1)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))   # each map all-zero or all-kept
    kept = per_channel[:, :, 0] != 0
    assert abs(kept.mean() - (1 - p)) < 0.03
    np.testing.assert_allclose(per_channel[kept], 1 / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(p)
