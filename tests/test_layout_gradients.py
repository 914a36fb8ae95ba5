"""Gradients keep the memory layout of the arrays they meet. Convolutions work batch-innermost ((C, H, W, N) in
memory behind the (N, C, H, W) shape); a gradient that arrives row-major (after Flatten, a global average pool,
or the sum of two paths) used to stay row-major, and every later pass mixing it with a batch-innermost array
(the ReLU mask, BatchNorm's input) read one of the two with strides: in the ResNet benchmark a ReLU backward took
6 ms instead of 0.6. These tests check the values (against PyTorch or the plain NumPy expression) and the layout."""

import numpy as np
import torch

import descend
import descend.nn.functional as F
from descend import buffers
from descend.autograd import _sum_gradients
from descend.ops.activation import relu_gradient

RNG = np.random.default_rng(5)
BATCH_INNER = [1, 2, 3, 0]


def _batch_inner(shape):
    """A float32 array of ``shape`` (N, C, H, W) laid out batch-innermost."""
    n, c, h, w = shape
    return np.ascontiguousarray(RNG.standard_normal((c, h, w, n)).astype(np.float32)).transpose(3, 0, 1, 2)


def test_global_average_pool_gradient_is_laid_out_as_its_input_and_matches_torch():
    x = _batch_inner((6, 5, 4, 3))
    weights = RNG.standard_normal((6, 5, 1, 1)).astype(np.float32)
    xd = descend.tensor(x, requires_grad=True)
    (F.adaptive_avg_pool2d(xd, 1) * descend.tensor(weights)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.adaptive_avg_pool2d(xt, 1) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(xd.grad.array, xt.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert buffers.dense_order(xd.grad.array) == BATCH_INNER


def test_sum_of_two_paths_takes_the_layout_of_the_dense_one():
    dense = _batch_inner((4, 3, 5, 6))
    padded = np.ascontiguousarray(RNG.standard_normal((3, 7, 8, 4)).astype(np.float32)).transpose(3, 0, 1, 2)
    cropped = padded[:, :, 1:6, 1:7]  # batch-innermost but not one block (a view into a padded array)
    assert buffers.dense_order(cropped) is None
    for a, b in ((cropped, dense), (dense, cropped)):
        total = _sum_gradients(a, b)
        np.testing.assert_array_equal(total, a + b)
        assert buffers.dense_order(total) == BATCH_INNER
    row_major = np.ascontiguousarray(dense)
    np.testing.assert_array_equal(_sum_gradients(row_major, row_major), 2 * row_major)


def test_relu_gradient_of_a_row_major_gradient_is_laid_out_as_the_mask():
    y = _batch_inner((4, 3, 5, 6))
    positive = np.ascontiguousarray((y > 0).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    g = np.ascontiguousarray(RNG.standard_normal(y.shape).astype(np.float32))  # row-major
    gx = relu_gradient(g, positive, np.float32)
    np.testing.assert_array_equal(gx, g * positive)
    assert gx.dtype == np.float32 and buffers.dense_order(gx) == BATCH_INNER
    assert np.array_equal(g, np.ascontiguousarray(g))  # the incoming gradient is not written


def test_residual_block_gradients_match_torch_with_the_layouts_mixed():
    """conv → ReLU → conv + identity → ReLU → global average pool, the gradients of the input and the weights
    against PyTorch (the block where row-major and batch-innermost gradients meet)."""
    torch.manual_seed(0)
    tconv1, tconv2 = torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.Conv2d(16, 16, 3, padding=1)
    dconv1, dconv2 = descend.nn.Conv2d(16, 16, 3, padding=1), descend.nn.Conv2d(16, 16, 3, padding=1)
    for d, t in ((dconv1, tconv1), (dconv2, tconv2)):
        d.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = RNG.standard_normal((8, 16, 12, 12)).astype(np.float32)
    results = []
    for lib, c1, c2 in ((descend, dconv1, dconv2), (torch, tconv1, tconv2)):
        xi = lib.tensor(x, requires_grad=True)
        h = lib.relu(c1(xi))
        out = lib.relu(c2(h) + xi)
        pooled = lib.nn.functional.adaptive_avg_pool2d(out, 1).flatten(1)
        (pooled * pooled).sum().backward()
        grad = (lambda t: t.array) if lib is descend else (lambda t: t.detach().numpy())
        results.append([grad(xi.grad), grad(c1.weight.grad), grad(c2.weight.grad), grad(c2.bias.grad)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))
