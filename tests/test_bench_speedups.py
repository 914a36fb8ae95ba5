"""Regression tests for the speed and memory work done with the benchmark (issue 9): each fast path
gives PyTorch's results."""

import numpy as np
import pytest
import torch

import descend
from descend.nn import functional as F
from descend.ops import conv as conv_ops
from descend.optim import optimizer as optim_core


def test_leaf_gradients_adopted_without_copy_never_alias():
    # add's backward hands the same array to both parents: only one of them may own it
    a = descend.tensor(np.ones(3, np.float32), requires_grad=True)
    b = descend.tensor(np.ones(3, np.float32), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.array is not b.grad.array
    a.grad.array[0] = 5.0
    np.testing.assert_array_equal(b.grad.array, [1.0, 1.0, 1.0])
    # a weight gradient is a fresh product: the leaf owns it, and a second backward accumulates into it
    w = descend.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x = descend.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    F.linear(x, w).sum().backward()
    F.linear(x, w).sum().backward()
    np.testing.assert_array_equal(w.grad.array, 2 * np.tile(x.array.sum(axis=0), (2, 1)))


@pytest.mark.parametrize("shape,k,s,p", [((4, 3, 26, 26), 2, 2, 0), ((4, 3, 11, 11), 2, 2, 0),
                                         ((2, 3, 9, 9), 3, 2, 1), ((2, 2, 8, 8), 2, 1, 0)])
def test_max_pool2d_after_relu_ties_and_conv_layout_match_torch(shape, k, s, p):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal(shape).astype(np.float32), 0)  # ReLU output: many tied zeros
    for arr in (x, x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)):  # NCHW, and a conv's (C, N) layout
        d, t = descend.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
        yd, yt = F.max_pool2d(d, k, s, p), torch.nn.functional.max_pool2d(t, k, s, p)
        g = rng.standard_normal(yd.shape).astype(np.float32)
        yd.backward(g)
        yt.backward(torch.tensor(g))
        np.testing.assert_array_equal(yd.array, yt.detach().numpy())
        np.testing.assert_allclose(d.grad.array, t.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_conv2d_in_blocks_matches_torch(monkeypatch):
    monkeypatch.setattr(conv_ops, "_BLOCK", 2000)  # force several sample blocks and channel blocks
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 9, 8)).astype(np.float32)
    w = (0.2 * rng.standard_normal((6, 4, 3, 3))).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    d = [descend.tensor(a, requires_grad=True) for a in (x, w, b)]
    t = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    yd = F.conv2d(*d, stride=(1, 2), padding=1)
    yt = torch.nn.functional.conv2d(*t, stride=(1, 2), padding=1)
    np.testing.assert_allclose(yd.array, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(yd.shape).astype(np.float32)
    yd.backward(g)
    yt.backward(torch.tensor(g))
    for a, c in zip(d, t):
        np.testing.assert_allclose(a.grad.array, c.grad.numpy(), rtol=1e-4, atol=1e-4)


def _adam_pair(init, lr):
    """descend and torch parameters from the same arrays, each with its Adam."""
    dp = [descend.tensor(a, requires_grad=True) for a in init]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    return dp, tp, descend.optim.Adam(dp, lr=lr), torch.optim.Adam(tp, lr=lr)


def test_optimiser_chunks_across_parameters_match_torch_adam():
    rng = np.random.default_rng(2)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((4, 5), (3,), (2, 2))]
    dp, tp, _, topt = _adam_pair(init, lr=0.1)
    dopt = descend.optim.Adam(dp, lr=0.1, chunk_size=7)  # chunks that cut through parameters
    for step in range(6):
        grads = [rng.standard_normal(a.shape).astype(np.float32) for a in init]
        for i, (a, c, g) in enumerate(zip(dp, tp, grads)):
            skip = step == 3 and i == 1  # one parameter without a gradient: the per-parameter path
            a.grad = None if skip else descend.tensor(g)
            c.grad = None if skip else torch.tensor(g)
        dopt.step()
        topt.step()
        for a, c in zip(dp, tp):
            np.testing.assert_allclose(a.array, c.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_dropout_with_boolean_mask_scales_kept_and_zeroes_dropped():
    x = descend.tensor(np.linspace(-2, 2, 4000, dtype=np.float32), requires_grad=True)
    y = F.dropout(x, p=0.25, generator=np.random.default_rng(3))
    kept = y.array != 0
    assert y.array.dtype == np.float32 and 0.7 < kept.mean() < 0.8
    np.testing.assert_array_equal(y.array[kept], x.array[kept] * np.float32(1 / 0.75))
    y.backward(np.ones(4000, np.float32))
    np.testing.assert_array_equal(x.grad.array, np.where(kept, np.float32(1 / 0.75), 0))


@pytest.mark.parametrize("padding", [0, 1, (2, 1)])
def test_conv2d_stride1_flat_scatter_input_gradient_matches_torch(monkeypatch, padding):
    # stride and dilation 1: the input gradient is scattered as contiguous runs on the padded width
    monkeypatch.setattr(conv_ops, "_BLOCK", 3000)  # several channel blocks
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 7, 9)).astype(np.float32)
    w = (0.3 * rng.standard_normal((4, 5, 3, 2))).astype(np.float32)
    d = [descend.tensor(a, requires_grad=True) for a in (x, w)]
    t = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    yd = F.conv2d(*d, padding=padding)
    yt = torch.nn.functional.conv2d(*t, padding=padding)
    g = rng.standard_normal(yd.shape).astype(np.float32)
    yd.backward(g)
    yt.backward(torch.tensor(g))
    for a, c in zip(d, t):
        np.testing.assert_allclose(a.grad.array, c.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_adam_fused_path_is_taken_without_weight_decay_and_matches_torch():
    rng = np.random.default_rng(4)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((6, 5), (5,))]
    for cls, wd in (("Adam", 0.0), ("AdamW", 0.0), ("Adam", 0.1), ("AdamW", 0.1)):
        dp = [descend.tensor(a, requires_grad=True) for a in init]
        tp = [torch.tensor(a, requires_grad=True) for a in init]
        dopt = getattr(descend.optim, cls)(dp, lr=0.05, weight_decay=wd)
        topt = getattr(torch.optim, cls)(tp, lr=0.05, weight_decay=wd)
        bucket = dopt._buckets[0][0]
        assert (bucket.fused.prepare(dopt.param_groups[0], 1) is not None) == (wd == 0.0)
        for _ in range(30):
            for a, c in zip(dp, tp):
                g = rng.standard_normal(a.shape).astype(np.float32)
                a.grad, c.grad = descend.tensor(g), torch.tensor(g)
            dopt.step()
            topt.step()
        for a, c in zip(dp, tp):
            np.testing.assert_allclose(a.array, c.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layout", ["nchw", "chwn", "cnhw"])
def test_conv2d_output_is_batch_innermost_and_any_input_layout_matches_torch(layout):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 7, 6)).astype(np.float32)
    order = {"nchw": (0, 1, 2, 3), "chwn": (1, 2, 3, 0), "cnhw": (1, 0, 2, 3)}[layout]
    arr = np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))  # same values, other memory
    w = (0.3 * rng.standard_normal((5, 2, 3, 3))).astype(np.float32)
    d, dw = descend.tensor(arr, requires_grad=True), descend.tensor(w, requires_grad=True)
    d.array = arr  # keep the layout (tensor() copies in C order)
    t, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yd, yt = F.conv2d(d, dw, padding=1), torch.nn.functional.conv2d(t, tw, padding=1)
    assert yd.array.transpose(1, 2, 3, 0).flags.c_contiguous  # (O, H, W, N) in memory
    np.testing.assert_allclose(yd.array, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(yd.shape).astype(np.float32)
    yd.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(d.grad.array, t.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dw.grad.array, tw.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_max_pool2d_with_more_than_256_offsets_and_without_grad_matches_torch():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 20, 20)).astype(np.float32)
    d, t = descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = F.max_pool2d(d, 17, 3), torch.nn.functional.max_pool2d(t, 17, 3)  # 289 offsets: int32 argmax
    g = rng.standard_normal(yd.shape).astype(np.float32)
    yd.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(yd.array, yt.detach().numpy())
    np.testing.assert_allclose(d.grad.array, t.grad.numpy(), rtol=1e-6, atol=1e-6)
    with descend.no_grad():
        np.testing.assert_array_equal(F.max_pool2d(d, 2).array, torch.nn.functional.max_pool2d(t, 2).detach().numpy())


def test_relu_keeps_nan_and_any_layout_and_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5, 6, 7)).astype(np.float32)  # 840 elements: the plain path
    big = rng.standard_normal((64, 8, 9, 10)).astype(np.float32)  # 46080: the zero-row path, with a tail
    for arr in (x, big, big.transpose(3, 1, 2, 0), np.array([np.nan, -1.0, 2.0], np.float32)):
        d, t = descend.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
        d.array = arr
        yd, yt = F.relu(d), torch.relu(t)
        assert yd.array.strides == arr.strides
        np.testing.assert_array_equal(yd.array, yt.detach().numpy())
        g = rng.standard_normal(arr.shape).astype(np.float32)
        yd.backward(g)
        yt.backward(torch.tensor(g))
        np.testing.assert_array_equal(d.grad.array, t.grad.numpy())


def test_adam_reads_gradients_in_place_without_changing_them():
    rng = np.random.default_rng(8)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((300, 500), (500,), (40, 3))]
    dp, tp, dopt, topt = _adam_pair(init, lr=0.01)
    for _ in range(5):
        grads = [rng.standard_normal(a.shape).astype(np.float32) for a in init]
        for a, c, g in zip(dp, tp, grads):
            a.grad, c.grad = descend.tensor(g), torch.tensor(g)
        dopt.step()
        topt.step()
        for a, g in zip(dp, grads):
            np.testing.assert_array_equal(a.grad.array, g)  # the step only read them
    for a, c in zip(dp, tp):
        np.testing.assert_allclose(a.array, c.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sizes,chunk", [((10, 3, 40, 1, 1), 16), ((100,), 16), ((3, 3), 4), ((7, 9, 8), 8)])
def test_optimiser_chunks_cover_every_element_once_and_big_parameters_alone(sizes, chunk):
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    bounds = optim_core._chunk_bounds(offsets, chunk)
    assert bounds[0][0] == 0 and bounds[-1][1] == offsets[-1]
    assert all(a < b and b - a <= chunk for a, b in bounds)
    assert all(b1 == a2 for (_, b1), (a2, _) in zip(bounds, bounds[1:]))
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        if hi - lo >= chunk // 2:  # a big parameter: its chunks hold nothing else
            assert all(lo <= a and b <= hi for a, b in bounds if a < hi and b > lo)


def test_linear_weight_is_stored_transposed_and_round_trips_through_optimiser_and_state_dicts(tmp_path):
    rng = np.random.default_rng(9)
    lin = descend.nn.Linear(7, 5)
    t_lin = torch.nn.Linear(7, 5)
    t_lin.load_state_dict({k: torch.tensor(v) for k, v in lin.state_dict().items()})
    assert lin.weight.array.flags.f_contiguous and lin.weight.shape == (5, 7)
    dopt, topt = descend.optim.Adam(lin.parameters(), lr=0.05), torch.optim.Adam(t_lin.parameters(), lr=0.05)
    for _ in range(4):
        x = rng.standard_normal((3, 7)).astype(np.float32)
        dopt.zero_grad()
        topt.zero_grad()
        (lin(descend.tensor(x)) ** 2).sum().backward()
        (t_lin(torch.tensor(x)) ** 2).sum().backward()
        assert lin.weight.grad.array.flags.f_contiguous  # dL/dW in the weight's layout: read in place
        np.testing.assert_allclose(lin.weight.grad.array, t_lin.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
        dopt.step()
        topt.step()
    assert lin.weight.array.flags.f_contiguous  # the optimiser updates the parameter in its own (transposed) memory
    np.testing.assert_allclose(lin.weight.array, t_lin.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    exp_avg = dopt.state_dict()["state"][0]["exp_avg"]
    np.testing.assert_allclose(exp_avg, topt.state_dict()["state"][0]["exp_avg"].numpy(), rtol=1e-5, atol=1e-7)
    descend.save({"model": lin.state_dict(), "opt": dopt.state_dict()}, tmp_path / "ck.safetensors")
    back = descend.load(tmp_path / "ck.safetensors")
    np.testing.assert_array_equal(back["model"]["weight"], lin.weight.array)
    np.testing.assert_array_equal(back["opt"]["state"][0]["exp_avg"], exp_avg)


@pytest.mark.parametrize("make", [
    lambda ps: descend.optim.Adam(ps, lr=1e-3),  # fused: reads the gradients where they lie
    lambda ps: descend.optim.SGD(ps, lr=1e-2, momentum=0.9),  # a chain: copies each chunk's gradient into u
])
def test_optimiser_step_allocates_no_copy_of_the_parameters(make):
    import tracemalloc
    rng = np.random.default_rng(6)
    ps = [descend.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
          for s in ((400, 784), (400,), (10, 400), (10,))]
    opt = make(ps)
    for p in ps:
        p.grad = descend.tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt.step()  # the update array, where the chain needs one, is made here
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 10  # a few Python objects; the parameters are 1.27 MB
    # the update array is as large as the largest chunk that needs one: with the fused Adam step only a chunk
    # that gathers several small parameters (here the 4,410 elements of the last three)
    bucket = opt._buckets[0][0]
    fused = isinstance(opt, descend.optim.Adam)
    assert bucket.update.size == max(b - a for a, b, pieces in bucket.chunks if len(pieces) > 1 or not fused)
    assert bucket.update.size == (4410 if fused else 104534)  # the weight is cut into three equal chunks
