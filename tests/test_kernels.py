"""The compiled kernels (descend.kernels) against PyTorch, against float64 and against the NumPy path they
replace, on sizes where they engage — serial and parallel versions, one and two threads."""

import numba
import numpy as np
import pytest
import torch

import descend
import descend.nn.functional as F
from descend import kernels, nn
from conv_reference import conv3x3_f64, run_beside_torch

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    before = kernels.thread_count()
    kernels.set_threads(request.param)
    yield request.param
    kernels.set_threads(before)


def _both_paths(fn):
    """fn() with the kernels on, then inside kernels.disabled() (the NumPy path)."""
    on = fn()
    with kernels.disabled():
        off = fn()
    return on, off


# ---------------------------------------------------------------------------------------------- switch
def test_disabled_switches_the_kernels_off_in_this_thread_only():
    assert kernels.enabled()
    with kernels.disabled():
        assert not kernels.enabled()
        with kernels.disabled():
            assert not kernels.enabled()
        assert not kernels.enabled()
    assert kernels.enabled()


def test_set_threads_rejects_a_bad_count():
    with pytest.raises(ValueError, match="positive int"):
        kernels.set_threads(0)


def test_a_kernel_runs_its_serial_and_parallel_versions_alike(threads):
    from descend.kernels.activation import gelu_forward
    x = np.random.default_rng(0).standard_normal(kernels.PARALLEL_FROM + 7).astype(np.float32)
    big, _ = gelu_forward(x)            # parallel version (at least PARALLEL_FROM elements)
    small = np.concatenate([gelu_forward(x[i:i + 1000])[0] for i in range(0, x.size, 1000)])  # serial
    np.testing.assert_array_equal(big, small)


# ---------------------------------------------------------------------------------------------- ReLU
def _relu_inputs(shape, seed=0):
    """x with NaN, ±0 and ±inf among normal values, and a gradient with NaN and inf at units that are off."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[:6] = [np.nan, 0.0, -0.0, np.inf, -np.inf, -1.0]
    g = rng.standard_normal(shape).astype(np.float32)
    g.reshape(-1)[[2, 4, 5]] = [np.nan, np.inf, -np.nan]  # at −0, −inf and −1: off, so PyTorch gives 0
    return x, g


@pytest.mark.parametrize("layout", ["row-major", "batch-innermost", "gradient in another layout"])
def test_relu_kernels_match_torch_values_masks_and_gradients(threads, layout, monkeypatch):
    """One compiled pass each way (descend.kernels.activation.relu_forward/backward): y = max(x, 0) with NaN
    kept, and the gradient selected as PyTorch selects it (0 at units that are off, even for a NaN or infinite
    g), on arrays above the kernels' threshold and the threshold for two threads."""
    from descend.kernels import activation as act
    shape = (64, 8, 9, 9) if layout == "row-major" else (32, 16, 12, 12)
    x, g = _relu_inputs(shape)
    assert x.size >= kernels.PARALLEL_FROM
    calls = []
    for name in ("relu_forward", "relu_backward"):
        original = getattr(act, name)
        monkeypatch.setattr(act, name, lambda *a, _f=original, _n=name: (calls.append(_n), _f(*a))[1])
    if layout == "row-major":
        dx = descend.tensor(x, requires_grad=True)
    else:  # (N, C, H, W) view of a (C, H, W, N) block, as a convolution's output is laid out
        dx = descend.tensor(np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2), requires_grad=True)
    y = dx.relu()
    dg = g if layout != "batch-innermost" else np.ascontiguousarray(g.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    y.backward(descend.tensor(dg))
    assert calls == ["relu_forward", "relu_backward"]
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(dx.grad.numpy(), tx.grad.numpy())
    assert dx.grad.numpy().reshape(-1)[[2, 4, 5]].tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(y.numpy().reshape(-1)[0]) and dx.grad.numpy().reshape(-1)[0] == g.reshape(-1)[0]


def test_relu_in_place_kernel_rectifies_a_layers_own_output_and_keeps_its_mask():
    """The fused Linear/Conv2d + ReLU path (``relu_in_place``: one array read and written) against torch, in a
    batch-innermost layout, and the gradient selected in place after a copy into the mask's layout."""
    from descend.ops.activation import relu_in_place, relu_gradient
    x, g = _relu_inputs((16, 8, 10, 10), seed=2)
    y = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    mask = relu_in_place(y, True)
    expected = torch.relu(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(expected))
    np.testing.assert_array_equal(mask, ~(x <= 0))
    assert mask.transpose(1, 2, 3, 0).flags.c_contiguous  # laid out as the output
    gx = relu_gradient(g, mask, np.float32)                # g row-major, the mask batch-innermost: copied first
    np.testing.assert_array_equal(gx, np.where(mask, g, np.float32(0)))


def test_relu_kernels_equal_the_numpy_path_where_the_gradient_is_finite():
    x, g = _relu_inputs((40, 70), seed=1)
    g = np.nan_to_num(g, nan=0.5, posinf=2.0)

    def run():
        dx = descend.tensor(x, requires_grad=True)
        y = dx.relu()
        y.backward(descend.tensor(g))
        return y.numpy().copy(), dx.grad.numpy().copy()

    (y_on, gx_on), (y_off, gx_off) = _both_paths(run)
    np.testing.assert_array_equal(y_on, y_off)
    np.testing.assert_array_equal(gx_on, gx_off)
    # the sign of zero: −0 stays −0 in the kernel, as in PyTorch; NumPy's maximum gives +0
    np.testing.assert_array_equal(np.signbit(y_on), torch.relu(torch.tensor(x)).signbit().numpy())
    assert np.signbit(y_on.reshape(-1)[2]) and not np.signbit(y_off.reshape(-1)[2])


# ---------------------------------------------------------------------------------------------- GELU
@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_gelu_kernel_matches_torch_values_and_gradient(threads, scale):
    x = (scale * np.random.default_rng(1).standard_normal((96, 700))).astype(np.float32)
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    d = descend.tensor(x, requires_grad=True)
    y = F.gelu(d)
    y.backward(descend.tensor(g))
    t = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(t)
    ty.backward(torch.tensor(g))
    # atol: PyTorch's float32 GELU loses relative precision in the lower tail (1 + erf(x/√2) cancels), ours
    # does not (next test)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_gelu_kernel_keeps_relative_precision_in_both_tails():
    """Φ(x) = ½ erfc(−x/√2) with erfc from a relative-precision fit: within 3e-6 of float64's value for |x| up
    to 9 (the bound is float32's rounding of x² inside exp(−x²/2)), where 0.5·(1 + erf(x/√2)) in float32 has
    lost every digit for x ≤ −5.5."""
    from scipy.special import ndtr
    x = np.linspace(-9, 9, 20001).astype(np.float32)
    y = F.gelu(descend.tensor(x)).numpy().astype(np.float64)
    exact = x.astype(np.float64) * ndtr(x.astype(np.float64))
    nonzero = exact != 0
    assert np.max(np.abs(y[nonzero] / exact[nonzero] - 1)) < 3e-6
    small = nonzero & (np.abs(x) <= 4)
    assert np.max(np.abs(y[small] / exact[small] - 1)) < 5e-7


def test_gelu_kernel_gives_the_numpy_paths_nan_infinities_and_signed_zeros():
    x = np.concatenate([np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32), np.zeros(40000, np.float32)])
    on, off = _both_paths(lambda: F.gelu(descend.tensor(x)).numpy()[:5])
    np.testing.assert_array_equal(on, off)  # nan, inf (x·Φ(x) → ∞; PyTorch's kernel gives nan), nan, 0, −0
    assert np.signbit(on[4]) and not np.signbit(on[3])


# ---------------------------------------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize("shape,normalized", [((64, 33, 48), (48,)), ((300, 512), (512,)), ((8, 6, 10, 12), (10, 12))])
def test_layer_norm_kernel_matches_torch(threads, shape, normalized):
    rng = np.random.default_rng(3)
    x = (3 * rng.standard_normal(shape) + 2).astype(np.float32)
    w = rng.standard_normal(normalized).astype(np.float32)
    b = rng.standard_normal(normalized).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ours = [descend.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.layer_norm(ours[0], normalized, ours[1], ours[2])
    y.backward(descend.tensor(g))
    ref = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.layer_norm(ref[0], normalized, ref[1], ref[2])
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=2e-5)
    rows = int(np.prod(shape[:len(shape) - len(normalized)]))
    for o, r, tol in zip(ours, ref, (2e-5, 3e-6 * rows, 3e-6 * rows)):  # dγ, dβ: sums over the rows
        np.testing.assert_allclose(o.grad.numpy(), r.grad.numpy(), rtol=1e-4, atol=tol)


def test_layer_norm_kernel_without_affine_and_without_input_gradient():
    x = np.random.default_rng(4).standard_normal((200, 128)).astype(np.float32)
    y = F.layer_norm(descend.tensor(x), (128,))
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.layer_norm(torch.tensor(x), (128,)).numpy(),
                               rtol=1e-5, atol=2e-5)
    layer = nn.LayerNorm(128)
    layer(descend.tensor(x)).sum().backward()       # the input needs no gradient: only dγ, dβ
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(128, 200.0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("name,kwargs", [
    ("Adam", {"lr": 1e-2}), ("Adam", {"lr": 1e-2, "weight_decay": 0.1}), ("Adam", {"lr": 1e-3, "amsgrad": True}),
    ("AdamW", {"lr": 1e-2}), ("AdamW", {"lr": 1e-2, "weight_decay": 0.3, "betas": (0.8, 0.99)}),
])
def test_compiled_adam_step_matches_torch_and_the_numpy_path(threads, name, kwargs):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((300, 257)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(30)]

    def run():
        p = descend.tensor(w0.copy(), requires_grad=True)
        opt = getattr(descend.optim, name)([p], **kwargs)
        for g in grads:
            p.grad = descend.tensor(g)
            opt.step()
        return p.numpy()

    on, off = _both_paths(run)
    t = torch.tensor(w0.copy(), requires_grad=True)
    opt = getattr(torch.optim, name)([t], **kwargs)
    for g in grads:
        t.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(on, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(on, off, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------- Winograd
WINOGRAD_CASES = [  # (C, O, H, W, N, padding, bias)
    (16, 8, 9, 7, 3, 1, True), (16, 16, 8, 8, 4, 0, False), (32, 24, 11, 12, 2, 2, True), (24, 40, 5, 5, 5, 1, False),
]


@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_conv_matches_torch_forward_and_gradients(threads, case):
    c, o, h, w, n, p, bias = case
    rng = np.random.default_rng(6)
    ours = nn.Conv2d(c, o, 3, padding=p, bias=bias)
    ref = torch.nn.Conv2d(c, o, 3, padding=p, bias=bias)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    y, ty, dx, tx = run_beside_torch(ours, ref, x, rng)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_winograd_rounding_error_against_float64_is_float32_sized():
    """F(2×2, 3×3) adds rounding (its transforms sum up to 16 terms): measured against float64 it stays within 3×
    the error of the direct im2col product, and below 1e-6 of the output's scale. (14×14 outputs take F(2×2, 3×3):
    F(4×4, 3×3)'s tiles would compute 16×16; its rounding is tested in test_kernels_winograd4.py.)"""
    from descend.ops import conv_winograd
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 64, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / np.sqrt(9 * 64)).astype(np.float32)
    assert conv_winograd.scheme(x, w, (1, 1), (1, 1), (1, 1)) is conv_winograd.F2
    exact = conv3x3_f64(x, w, 1)
    run = lambda: F.conv2d(descend.tensor(x), descend.tensor(w), padding=1).numpy()  # noqa: E731
    wino, direct = _both_paths(run)
    scale = np.abs(exact).max()
    err_wino, err_direct = np.abs(wino - exact).max() / scale, np.abs(direct - exact).max() / scale
    assert err_wino < 1e-6 and err_wino < 3 * err_direct, (err_wino, err_direct)


def test_winograd_conv_relu_fusion_equals_the_unfused_pair():
    rng = np.random.default_rng(8)
    x = descend.tensor(rng.standard_normal((4, 16, 10, 10)).astype(np.float32))
    w = descend.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) * 0.1)
    b = descend.tensor(rng.standard_normal(16).astype(np.float32))
    from descend.ops.conv import conv2d_relu
    np.testing.assert_array_equal(conv2d_relu(x, w, b, padding=1).numpy(), F.conv2d(x, w, b, padding=1).relu().numpy())


@pytest.mark.parametrize("o, c", [(5, 3), (32, 32), (24, 40)])
def test_winograd_weight_transforms_are_the_float64_products_rounded_once(o, c):
    """U = G w Gᵀ and dL/dw = Gᵀ dU G: the compiled transforms equal the float64 matrix products rounded to
    float32."""
    from descend.kernels import winograd as K
    rng = np.random.default_rng(14)
    G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
    w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
    du = rng.standard_normal((16, o, c)).astype(np.float32)
    u = np.einsum("ai,ocij,bj->aboc", G, w.astype(np.float64), G).reshape(16, o, c).astype(np.float32)
    gw = np.einsum("ai,aboc,bj->ocij", G, du.reshape(4, 4, o, c).astype(np.float64), G).astype(np.float32)
    np.testing.assert_array_equal(K.weight_transform(w), u)
    np.testing.assert_array_equal(K.weight_grad(du, o, c), gw)


def _winograd_reference(xp, th, tw):
    """V = Bᵀ d B of every 4×4 tile of xp (C, H, W, N) in float64 by the matrix product: (16, C, th·tw·N)."""
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
    d = np.stack([np.stack([xp[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] for j in range(tw)], 1) for i in range(th)], 1)
    v = np.einsum("ar,ctqrsn,bs->abctqn", bt, d.astype(np.float64), bt)  # (4, 4, C, th, tw, N)
    return v.reshape(16, xp.shape[0], -1)


def test_winograd_transforms_over_tile_ranges_equal_the_whole_and_float64():
    """The transforms of a range of tile positions (p0…p1) are exactly those positions of the whole; V is
    Bᵀ d B (float64 by matrix products) within float32 rounding of sums of at most 4 terms."""
    from descend.kernels import winograd as K
    rng = np.random.default_rng(11)
    c, o, ho, wo, n = 5, 3, 7, 9, 3  # odd sizes: last half tiles
    th, tw = K.tiles(ho), K.tiles(wo)
    t = th * tw * n
    xp = rng.standard_normal((c, 2 * th + 2, 2 * tw + 2, n)).astype(np.float32)
    g = rng.standard_normal((o, ho, wo, n)).astype(np.float32)
    m = rng.standard_normal((16, o, t)).astype(np.float32)
    dv = rng.standard_normal((16, c, t)).astype(np.float32)
    v = K.input_transform(xp, th, tw, np.empty((16, c, t), np.float32))
    ref = _winograd_reference(xp, th, tw)
    assert np.abs(v - ref).max() <= 4 * np.finfo(np.float32).eps * np.abs(ref).max()
    dm = K.output_grad_transform(g, th, tw, np.empty((16, o, t), np.float32))
    y = K.output_transform(m, th, tw, np.empty((o, ho, wo, n), np.float32))
    gxp = K.input_grad_transform(dv, th, tw, np.zeros(xp.shape, np.float32))
    y_parts, gxp_parts = np.full_like(y, np.nan), np.zeros_like(gxp)
    cuts = [0, 1, 4, 5, th * tw]
    for p0, p1 in zip(cuts[:-1], cuts[1:]):
        part = slice(p0 * n, p1 * n)
        np.testing.assert_array_equal(K.input_transform(xp, th, tw, np.empty((16, c, (p1 - p0) * n), np.float32),
                                                        p0, p1), v[:, :, part])
        np.testing.assert_array_equal(K.output_grad_transform(g, th, tw, np.empty((16, o, (p1 - p0) * n), np.float32),
                                                              p0, p1), dm[:, :, part])
        K.output_transform(np.ascontiguousarray(m[:, :, part]), th, tw, y_parts, p0, p1)
        K.input_grad_transform(np.ascontiguousarray(dv[:, :, part]), th, tw, gxp_parts, p0, p1)
    np.testing.assert_array_equal(y_parts, y)
    np.testing.assert_array_equal(gxp_parts, gxp)
    with pytest.raises(ValueError, match="tile positions"):
        K.input_transform(xp, th, tw, np.empty((16, c, n), np.float32), 3, 3)


def test_winograd_conv_in_many_tile_ranges_matches_one_range_and_torch(monkeypatch):
    """The Winograd route in ranges of a few tile positions (CHUNK_BYTES tiny) gives the output, input gradient
    and weight gradient (summed over ranges) of one whole range within float32 rounding, and matches torch.
    (Not bit for bit: the BLAS may round a product with fewer columns differently, as OpenBLAS's Haswell
    kernels do for 32 columns; the transforms themselves are exact over ranges, tested above.)"""
    from descend.ops import conv_winograd
    rng = np.random.default_rng(12)
    x = rng.standard_normal((32, 16, 13, 10)).astype(np.float32)  # 7·5·32 = 1120 tiles: the Winograd route
    ref = torch.nn.Conv2d(16, 20, 3, padding=1)
    g = rng.standard_normal((32, 20, 13, 10)).astype(np.float32)
    assert conv_winograd.applies(x, ref.weight.detach().numpy(), (1, 1), (1, 1), (1, 1))

    def run():
        conv = nn.Conv2d(16, 20, 3, padding=1)
        conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
        dx = descend.tensor(x, requires_grad=True)
        y = conv(dx)
        y.backward(descend.tensor(g))
        return y.numpy(), dx.grad.numpy(), conv.weight.grad.numpy()

    whole = run()
    monkeypatch.setattr(conv_winograd, "CHUNK_BYTES", 16 * 36 * 32 * 4 * 3)  # three tile positions a range
    assert len(conv_winograd._chunks(7, 5, 32, 36)) == 12
    parts = run()
    for part, one in zip(parts, whole):  # float32 rounding (the weight gradient: sums over 4160 positions)
        assert np.abs(part - one).max() < 1e-6 * np.abs(one).max()
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(parts[0], ty.detach().numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(parts[1], tx.grad.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(parts[2], ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("need", ["both", "x", "w"])
def test_winograd_conv_on_several_threads_matches_one_thread_and_torch(monkeypatch, count, need):
    """The ranges of tile positions shared out among several threads (each taking the next one; the image-row
    pairs of dL/dx locked while a range adds onto them): the same output, input and weight gradients as one
    thread, within float32 rounding, and torch's; with a tiny CHUNK_BYTES there are many ranges, several of
    them inside one tile row."""
    from descend.ops import conv_winograd
    rng = np.random.default_rng(13)
    x = rng.standard_normal((24, 16, 14, 11)).astype(np.float32)  # 7·6·24 = 1008 < 1024 tiles ...
    x = np.concatenate([x, x[:2] * 0.5])  # ... 26 samples: 1092 tiles, the Winograd route
    ref = torch.nn.Conv2d(16, 12, 3, padding=1)
    g = rng.standard_normal((26, 12, 14, 11)).astype(np.float32)
    assert conv_winograd.applies(x, ref.weight.detach().numpy(), (1, 1), (1, 1), (1, 1))
    used = []
    share_out = conv_winograd.threads.share_out
    monkeypatch.setattr(conv_winograd.threads, "share_out", lambda work, n_threads, items: used.append(n_threads) or
                        share_out(work, n_threads, items))

    def run(threads):
        monkeypatch.setattr(conv_winograd.threads, "share_count", lambda: threads)
        conv = nn.Conv2d(16, 12, 3, padding=1)
        conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
        conv.weight.requires_grad_(need != "x")
        dx = descend.tensor(x, requires_grad=need != "w")
        y = conv(dx)
        y.backward(descend.tensor(g))
        return [y.numpy(), None if dx.grad is None else dx.grad.numpy(),
                None if conv.weight.grad is None else conv.weight.grad.numpy()]

    one = run(1)
    assert set(used) == {1}
    used.clear()
    monkeypatch.setattr(conv_winograd, "CHUNK_BYTES", 16 * 28 * 26 * 4 * 4)  # 4 / count positions a range
    several = run(count)
    assert set(used) == {count}  # forward and backward on `count` threads
    ranges = conv_winograd._chunks(7, 6, 26, 28, count)  # a whole number per thread, at most 4 // count each
    at_most = -(-42 // (4 // count))  # ranges of 4 // count positions, then rounded up to a multiple of count
    assert len(ranges) == -(-at_most // count) * count
    assert {p1 - p0 for p0, p1 in ranges} <= {4 // count, 4 // count - 1}
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.tensor(g))
    expected = [ty.detach().numpy(), tx.grad.numpy() if need != "w" else None,
                ref.weight.grad.numpy() if need != "x" else None]
    for ours, single, theirs in zip(several, one, expected):
        if theirs is None:
            assert ours is None and single is None
            continue
        scale = np.abs(theirs).max()
        assert np.abs(ours - single).max() < 1e-6 * scale
        assert np.abs(ours - theirs).max() < 1e-5 * scale  # float32 sums of up to 26·14·11 terms


# ---------------------------------------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("layout", ["row-major", "batch-innermost"])
@pytest.mark.parametrize("shape", [(16, 8, 5, 7), (32, 24, 12, 12)])
def test_batch_norm_kernel_matches_torch_in_both_layouts(threads, layout, shape):
    rng = np.random.default_rng(9)
    x = (2 * rng.standard_normal(shape) + 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ref = torch.nn.BatchNorm2d(shape[1])
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
    ours = nn.BatchNorm2d(shape[1])
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})
    arr = x if layout == "row-major" else np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    dx, tx = descend.Tensor.from_array(arr, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(dx), ref(tx)
    assert y.numpy().strides == arr.strides  # the output keeps the input's layout
    y.backward(descend.tensor(g))
    ty.backward(torch.tensor(g))
    n = shape[0] * shape[2] * shape[3]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-4, atol=3e-6 * n)
    np.testing.assert_allclose(ours.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-4, atol=3e-6 * n)
    np.testing.assert_allclose(ours.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6, atol=1e-7)


def test_batch_norm_kernel_equals_the_numpy_path_and_eval_mode_is_unchanged():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 12, 6, 6)).astype(np.float32)
    weight = rng.standard_normal(x.shape).astype(np.float32)

    def run():
        layer = nn.BatchNorm2d(12)
        xt = descend.tensor(x, requires_grad=True)
        (layer(xt) * descend.tensor(weight)).sum().backward()
        return xt.grad.numpy(), layer.running_var.numpy(), layer.eval()(descend.tensor(x)).numpy()

    on, off = _both_paths(run)
    for a, b in zip(on, off):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_relu_fusion_equals_the_pair_and_matches_torch(training):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 8, 9, 9)).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, -0.0, 0.0]
    g = rng.standard_normal(x.shape).astype(np.float32)
    model = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU())
    pair = nn.Sequential(nn.BatchNorm2d(8))
    ref = torch.nn.Sequential(torch.nn.BatchNorm2d(8), torch.nn.ReLU())
    for m in (model, pair, ref):
        m.train(training)
    xs = [descend.tensor(x, requires_grad=True) for _ in range(2)]
    fused, unfused = model(xs[0]), pair(xs[1]).relu()
    np.testing.assert_array_equal(fused.numpy(), unfused.numpy())      # NaN and signed zeros included
    assert fused.grad_fn.name() == ("BatchNormReluBackward" if training else "ReluBackward")
    fused.backward(descend.tensor(g))
    unfused.backward(descend.tensor(g))
    np.testing.assert_allclose(xs[0].grad.numpy(), xs[1].grad.numpy(), rtol=1e-6, atol=1e-7, equal_nan=True)
    clean = rng.standard_normal(x.shape).astype(np.float32)
    d, t = descend.tensor(clean, requires_grad=True), torch.tensor(clean, requires_grad=True)
    model(d).backward(descend.tensor(g))
    ref(t).backward(torch.tensor(g))
    np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_gelu_kernel_keeps_the_exact_derivative_for_backward():
    """The forward pass keeps Φ(x) + x φ(x) (one array, over E(x)); the backward pass multiplies by it."""
    from scipy.special import ndtr
    from descend.kernels.activation import gelu_backward, gelu_forward
    x = np.linspace(-9, 9, 40001).astype(np.float32)
    out, slope = gelu_forward(x)
    x64 = x.astype(np.float64)
    exact = ndtr(x64) + x64 * np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    assert slope.shape == x.shape and slope.dtype == np.float32
    np.testing.assert_allclose(slope, exact, rtol=0, atol=5e-7)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(gelu_backward(g, slope), g * slope)
