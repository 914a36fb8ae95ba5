"""Convolution and pooling: forward and every gradient against PyTorch, gradcheck in float64."""

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn
import descend.nn.functional as F
from conv_reference import run_beside_torch

RNG = np.random.default_rng(0)


def _pair(x_shape, requires_grad=True, dtype=np.float32):
    x = RNG.standard_normal(x_shape).astype(dtype)
    return descend.tensor(x, requires_grad=requires_grad, dtype=dtype), torch.tensor(x, requires_grad=requires_grad)


CONV_CASES = [
    # (N, C, H, W, O, kernel, stride, padding, dilation, bias)
    (2, 3, 9, 9, 4, 3, 1, 0, 1, True),
    (2, 3, 9, 8, 5, 3, 2, 1, 1, True),
    (3, 2, 10, 11, 4, (3, 2), (2, 1), (1, 0), 1, False),
    (2, 2, 12, 12, 3, 3, 1, 2, 2, True),
    (1, 4, 7, 9, 2, (1, 3), 3, (0, 2), (1, 2), True),
    (4, 1, 28, 28, 8, 5, 1, 2, 1, True),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_layer_matches_torch_forward_and_all_gradients(case):
    n, c, h, w, o, k, s, p, d, bias = case
    ours = nn.Conv2d(c, o, k, stride=s, padding=p, dilation=d, bias=bias)
    ref = torch.nn.Conv2d(c, o, k, stride=s, padding=p, dilation=d, bias=bias)
    ours.load_state_dict(ref.state_dict())
    x, tx = _pair((n, c, h, w))
    y, ty = ours(x), ref(tx)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.array, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.array, ref.bias.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


SHARED_CASES = [  # (N, C, H, W, O, kernel, stride, padding, dilation): im2col convolutions of >= 16 patch rows
    (6, 3, 17, 15, 5, 3, 1, 1, 1),          # 27 rows, the CNN stem's shape
    (5, 4, 16, 13, 6, (3, 2), (2, 1), (1, 0), 1),
    (4, 2, 19, 18, 3, 3, 1, 2, 2),          # windows of neighbouring output rows overlap two rows apart
    (3, 2, 20, 21, 4, 5, 2, 2, 1),          # 5×5, stride 2
]


@pytest.mark.parametrize("input_grad", [False, True])
def test_a_first_layer_is_shared_out_from_a_smaller_size(monkeypatch, input_grad):
    """A convolution that trains its weight but needs no input gradient (a network's first layer: 3 channels,
    27 patch rows) is shared out from WEIGHT_SPLIT_FROM patch elements, below SPLIT_FROM; the same layer with
    an input gradient is not. Either way it matches torch."""
    from descend.ops import conv
    n, c, h, o = 32, 3, 32, 16
    elements = 9 * c * h * h * n
    assert conv.WEIGHT_SPLIT_FROM <= elements < conv.SPLIT_FROM
    monkeypatch.setattr(conv.threads, "share_count", lambda: 2)
    used = []
    share_out = conv.threads.share_out
    monkeypatch.setattr(conv.threads, "share_out", lambda work, n_threads, items: used.append(n_threads) or
                        share_out(work, n_threads, items))
    ours, ref = nn.Conv2d(c, o, 3, padding=1), torch.nn.Conv2d(c, o, 3, padding=1)
    x = RNG.standard_normal((n, c, h, h)).astype(np.float32)
    y, ty, xt, tx = run_beside_torch(ours, ref, x, RNG, requires_grad=input_grad)
    assert used == ([1] if input_grad else [2, 2])  # one thread: the backward pass runs without share_out
    pairs = [(y.numpy(), ty.detach().numpy()), (ours.weight.grad.numpy(), ref.weight.grad.numpy()),
             (ours.bias.grad.numpy(), ref.bias.grad.numpy())]
    if input_grad:
        pairs.append((xt.grad.numpy(), tx.grad.numpy()))
    for a, b in pairs:
        assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()
    used.clear()
    with descend.no_grad():
        ours(descend.tensor(x))
    assert used == [1]  # inference: no weight gradient to come, the BLAS's own threads


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("need", ["both", "x", "w"])
@pytest.mark.parametrize("case", SHARED_CASES)
def test_conv2d_blocks_shared_out_among_threads_match_one_thread_and_torch(monkeypatch, case, need, count):
    """An im2col convolution above SPLIT_FROM runs its blocks of output rows on several threads (dL/dW summed
    per thread, dL/dX added under per-row locks): the output and gradients equal one thread's within float32
    rounding (the BLAS may round a product of fewer columns differently) and match torch; the blocks are one
    output row each, so every thread takes several and neighbouring blocks' windows overlap."""
    from descend.ops import conv
    n, c, h, w, o, k, s, p, d = case
    ref = torch.nn.Conv2d(c, o, k, stride=s, padding=p, dilation=d)
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    monkeypatch.setattr(conv, "SPLIT_FROM", 1)
    monkeypatch.setattr(conv, "WEIGHT_SPLIT_FROM", 1)
    used = []
    share_out = conv.threads.share_out
    monkeypatch.setattr(conv.threads, "share_out", lambda work, n_threads, items: used.append(n_threads) or
                        share_out(work, n_threads, items))

    def run(threads, block):
        monkeypatch.setattr(conv.threads, "share_count", lambda: threads)
        monkeypatch.setattr(conv, "_BLOCK", block)
        ours = nn.Conv2d(c, o, k, stride=s, padding=p, dilation=d)
        ours.load_state_dict(ref.state_dict())
        ours.weight.requires_grad_(need != "x")
        xt = descend.tensor(x, requires_grad=need != "w")
        y = ours(xt)
        y.backward(descend.tensor(g))
        return [y.numpy(), None if xt.grad is None else xt.grad.numpy(),
                None if ours.weight.grad is None else ours.weight.grad.numpy(), ours.bias.grad.numpy()]

    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    one = run(1, 1 << 21)
    ho, wo = ty.shape[2], ty.shape[3]
    kh, kw = (k, k) if isinstance(k, int) else k
    per_row = kh * kw * c * wo * n  # patch-matrix elements of one output row
    assert len(conv._blocks(ho, per_row, count * per_row // count)) == ho
    used.clear()
    several = run(count, count * per_row)  # blocks of one output row each
    assert used == [count, count]  # forward and backward shared out
    expected = [ty.detach().numpy(), tx.grad.numpy() if need != "w" else None,
                ref.weight.grad.numpy() if need != "x" else None, ref.bias.grad.numpy()]
    for ours, single, theirs in zip(several, one, expected):
        if theirs is None:
            assert ours is None and single is None
            continue
        scale = np.abs(theirs).max()
        assert np.abs(ours - single).max() <= 1e-6 * scale
        assert np.abs(ours - theirs).max() <= 1e-5 * scale


def test_conv2d_default_init_matches_pytorch_bounds():
    descend.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = conv.weight.array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.03 * bound
    assert np.abs(conv.bias.array).max() <= bound


def test_conv2d_same_padding_keeps_size_and_matches_torch():
    ours, ref = nn.Conv2d(2, 3, 5, padding="same", dilation=2), torch.nn.Conv2d(2, 3, 5, padding="same", dilation=2)
    ours.load_state_dict(ref.state_dict())
    x, tx = _pair((2, 2, 11, 13))
    np.testing.assert_allclose(ours(x).array, ref(tx).detach().numpy(), rtol=1e-4, atol=1e-5)
    assert ours(x).shape == (2, 3, 11, 13)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, 1, 2), ((2, 1), (0, 1), 1)])
def test_conv2d_gradcheck_float64(stride, padding, dilation):
    x = descend.tensor(RNG.standard_normal((2, 2, 6, 5)), requires_grad=True, dtype="float64")
    w = descend.tensor(RNG.standard_normal((3, 2, 3, 2)), requires_grad=True, dtype="float64")
    b = descend.tensor(RNG.standard_normal(3), requires_grad=True, dtype="float64")
    assert descend.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation), [x, w, b])


def test_conv2d_errors_name_the_shapes():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(2, 5, 8, 8\).*3"):
        conv(descend.zeros(2, 5, 8, 8))
    with pytest.raises(ValueError, match="too small"):
        conv(descend.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv(descend.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="stride"):
        nn.Conv2d(3, 4, 3, stride=0)


POOL_CASES = [
    # (kernel, stride, padding, H, W)
    (2, None, 0, 8, 8),
    (3, 2, 1, 9, 10),
    (3, 1, 1, 7, 7),       # overlapping windows
    ((2, 3), (1, 2), (1, 1), 8, 9),
    (3, None, 0, 10, 11),  # ragged edge dropped
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_matches_torch(case):
    k, s, p, h, w = case
    x, tx = _pair((2, 3, h, w))
    y, ty = nn.MaxPool2d(k, s, p)(x), torch.nn.MaxPool2d(k, s, p)(tx)
    np.testing.assert_array_equal(y.array, ty.detach().numpy())
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool2d_ties_send_gradient_to_first_maximum_like_torch():
    data = RNG.integers(0, 2, (2, 2, 6, 6)).astype(np.float32)
    x, tx = descend.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    F.max_pool2d(x, 3, 1, 1).sum().backward()
    torch.nn.functional.max_pool2d(tx, 3, 1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.array, tx.grad.numpy())


def _batch_innermost(a):
    """``a`` (N, C, H, W) as a tensor laid out (C, H, W, N) in memory, as a convolution's output is."""
    return descend.Tensor.from_array(np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2),
                                     requires_grad=True)


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2)), (2, 3)])
@pytest.mark.parametrize("data", ["normal", "ties", "nan"])
def test_max_pool2d_kernel_on_batch_innermost_input_equals_numpy_path_and_torch(monkeypatch, k, s, data):
    """The compiled one-pass max pooling (a batch-innermost, unpadded input): the NumPy path's output and
    gradient (bit for bit where each input is in at most one window; sums of the same terms otherwise), ties
    to the first maximum and NaN outputs as there, and torch's values."""
    from descend import kernels
    from descend.kernels import pooling
    from descend.ops import pooling as pooling_op
    monkeypatch.setattr(pooling_op, "KERNEL_FROM_BATCH", 5)  # this batch of 5 and up
    calls = []
    for name in ("max_pool_forward", "max_pool_backward"):
        original = getattr(pooling, name)
        monkeypatch.setattr(pooling, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    rng = np.random.default_rng(16)
    x = rng.standard_normal((5, 3, 9, 11)).astype(np.float32)
    if data == "ties":
        x = rng.integers(0, 2, x.shape).astype(np.float32)
    if data == "nan":
        x[0, 1, 2, 3] = x[3, 2, 5, 5] = np.nan

    def run():
        xt = _batch_innermost(x)
        y = F.max_pool2d(xt, k, s)
        g = np.random.default_rng(17).standard_normal(y.shape).astype(np.float32)
        y.backward(descend.tensor(g))
        return y.numpy(), xt.grad.numpy(), g

    y, gx, g = run()
    assert calls == ["max_pool_forward", "max_pool_backward"]
    with kernels.disabled():
        y_np, gx_np, _ = run()
    assert len(calls) == 2  # the NumPy path called no kernel
    np.testing.assert_array_equal(y, y_np)
    disjoint = all(a >= b for a, b in zip(np.broadcast_to(s, 2), np.broadcast_to(k, 2)))
    if disjoint:
        np.testing.assert_array_equal(gx, gx_np)
    else:
        np.testing.assert_allclose(gx, gx_np, rtol=1e-6, atol=1e-6)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, k, s)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    if data != "nan":  # with a NaN torch sends the gradient to the NaN (docs: departure from PyTorch)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool2d_below_the_kernel_batch_runs_the_numpy_path(monkeypatch):
    from descend.kernels import pooling
    from descend.ops import pooling as pooling_op
    calls = []
    monkeypatch.setattr(pooling, "max_pool_forward", lambda *a: calls.append(a))
    x = _batch_innermost(RNG.standard_normal((pooling_op.KERNEL_FROM_BATCH - 1, 2, 6, 6)).astype(np.float32))
    y = F.max_pool2d(x, 2)
    assert calls == [] and y.shape == (pooling_op.KERNEL_FROM_BATCH - 1, 2, 3, 3)
    big = _batch_innermost(RNG.standard_normal((pooling_op.KERNEL_FROM_BATCH, 2, 6, 6)).astype(np.float32))
    F.max_pool2d(big, 2)
    assert len(calls) == 1


def test_max_pool2d_kernel_takes_a_gradient_that_is_a_view_into_a_padded_array(monkeypatch):
    """The gradient a padded convolution sends back is a batch-innermost view of its padded buffer (not
    contiguous): the compiled backward gives the NumPy path's result for it."""
    from descend import kernels
    from descend.ops import pooling as pooling_op
    monkeypatch.setattr(pooling_op, "KERNEL_FROM_BATCH", 1)
    rng = np.random.default_rng(18)
    x = rng.standard_normal((4, 3, 8, 10)).astype(np.float32)
    padded = rng.standard_normal((3, 6, 7, 4)).astype(np.float32)  # (C, Hₒ + 2, Wₒ + 2, N)
    g = padded[:, 1:5, 1:6].transpose(3, 0, 1, 2)  # (N, C, 4, 5), batch innermost, strided rows
    assert not g.transpose(1, 2, 3, 0).flags.c_contiguous

    def run():
        xt = _batch_innermost(x)
        F.max_pool2d(xt, 2).backward(descend.Tensor.from_array(g))
        return xt.grad.numpy()

    on = run()
    with kernels.disabled():
        off = run()
    np.testing.assert_array_equal(on, off)


def test_max_pool2d_kernel_runs_on_a_convolution_output_and_keeps_its_layout(monkeypatch):
    from descend.ops import pooling as pooling_op
    monkeypatch.setattr(pooling_op, "KERNEL_FROM_BATCH", 1)
    tconv = torch.nn.Conv2d(2, 4, 3, padding=1)
    conv = nn.Conv2d(2, 4, 3, padding=1)
    conv.load_state_dict(tconv.state_dict())
    x = descend.tensor(RNG.standard_normal((3, 2, 8, 8)).astype(np.float32), requires_grad=True)
    h = conv(x)
    y = F.max_pool2d(h, 2)
    assert y.numpy().transpose(1, 2, 3, 0).flags.c_contiguous  # the batch-innermost layout goes on
    y.sum().backward()
    tx = torch.tensor(x.numpy(), requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tconv(tx), 2)
    ty.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(case, count_include_pad):
    k, s, p, h, w = case
    x, tx = _pair((2, 3, h, w))
    y = nn.AvgPool2d(k, s, p, count_include_pad=count_include_pad)(x)
    ty = torch.nn.AvgPool2d(k, s, p, count_include_pad=count_include_pad)(tx)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out_size", [1, (1, 1), (3, 2), (4, 4), (5, 3)])
def test_adaptive_avg_pool2d_matches_torch(out_size):
    x, tx = _pair((2, 3, 9, 7))
    y, ty = nn.AdaptiveAvgPool2d(out_size)(x), torch.nn.AdaptiveAvgPool2d(out_size)(tx)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.max_pool2d(x, 2, 1),
    lambda x: F.avg_pool2d(x, 3, 2, 1),
    lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda x: F.adaptive_avg_pool2d(x, 1),
])
def test_pooling_gradcheck_float64(fn):
    x = descend.tensor(RNG.standard_normal((2, 2, 5, 6)), requires_grad=True, dtype="float64")
    assert descend.gradcheck(fn, [x])


def test_pooling_errors():
    with pytest.raises(ValueError, match="half the kernel"):
        F.max_pool2d(descend.zeros(1, 1, 6, 6), 2, 2, 2)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        F.avg_pool2d(descend.zeros(1, 1, 2, 2), 3)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        nn.MaxPool2d(2, ceil_mode=True)


def test_small_cnn_matches_torch_end_to_end():
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(6, 3))
    ours.load_state_dict(ref.state_dict())
    x, tx = _pair((5, 1, 12, 12), requires_grad=False)
    y, ty = ours(x), ref(tx)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    for (name, p), tp in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name)


def test_conv2d_relu_equals_relu_of_conv2d_bit_for_bit_and_sequential_fuses_it():
    import descend
    from descend.ops.conv import conv2d, conv2d_relu
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 9, 8)).astype(np.float32)
    x[0, 1, 4, 4] = np.nan
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    leaves = [[descend.tensor(a, requires_grad=True) for a in (x, w, b)] for _ in range(2)]
    fused = conv2d_relu(*leaves[0], stride=(1, 2), padding=1)
    plain = conv2d(*leaves[1], stride=(1, 2), padding=1).relu()
    np.testing.assert_array_equal(fused.array, plain.array)
    assert fused._node.name == "conv2d_relu" and np.isnan(fused.array).any()
    g = rng.standard_normal(fused.shape).astype(np.float32)
    fused.backward(descend.tensor(g))
    plain.backward(descend.tensor(g))
    for a, c in zip(leaves[0], leaves[1]):
        np.testing.assert_array_equal(a.grad.array, c.grad.array)

    descend.manual_seed(1)
    model = descend.nn.Sequential(descend.nn.Conv2d(2, 4, 3, padding=1), descend.nn.ReLU(), descend.nn.Flatten())
    out = model(descend.tensor(x[1:]))
    assert out._node.inputs[0].name == "conv2d_relu"
    ref = model[2](model[1](model[0](descend.tensor(x[1:]))))
    np.testing.assert_array_equal(out.array, ref.array)


def test_conv2d_relu_matches_torch_and_gradcheck(torch_check, grad_check):
    from descend.ops.conv import conv2d_relu
    rng = np.random.default_rng(2)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 6, 5), (4, 3, 3, 2), (4,)))
    torch_check(lambda *a: conv2d_relu(*a, padding=1), lambda *t: torch.relu(torch.nn.functional.conv2d(*t, padding=1)),
                x, w, b)
    grad_check(lambda *a: conv2d_relu(*a, padding=1), x, w, b)
