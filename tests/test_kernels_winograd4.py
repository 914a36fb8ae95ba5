"""Winograd F(4×4, 3×3) (descend.kernels.winograd4) and the choice between it, F(2×2, 3×3) and im2col
(descend.ops.conv_winograd.scheme): transforms against float64 matrix products, convolutions against float64
and PyTorch, rounding measured against F(2×2, 3×3) and the direct product."""

import numpy as np
import pytest
import torch

import descend
import descend.nn.functional as F
from descend import kernels, nn
from descend.kernels import winograd4 as K4
from descend.ops import conv_winograd as CW
from conv_reference import conv3x3_f64

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")

BT = np.array([[1, -1.5, -2, 1.5, 1, 0], [0, -1, 0.5, 2.5, 1, 0], [0, 1, -2.5, 0.5, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 0.5, -1, -0.5, 1, 0], [0, 1, -1.5, -2, 1.5, 1]])
G = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3],
              [-16 / 15, -8 / 15, -4 / 15], [1 / 15, -2 / 15, 4 / 15], [0, 0, 1]])
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0], [0, 1, -1, 0.125, -8, 1]])


def _tiles_of(xp, th, tw, size, step):
    """(C, th, tw, size, size, N): the size×size tiles of xp (C, H, W, N) at steps of ``step``."""
    return np.stack([np.stack([xp[:, step * i:step * i + size, step * j:step * j + size] for j in range(tw)], 1)
                     for i in range(th)], 1)


def test_the_matrices_compute_a_4x4_block_of_the_correlation():
    rng = np.random.default_rng(0)
    d, w = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    y = AT @ ((G @ w @ G.T) * (BT @ d @ BT.T)) @ AT.T
    direct = np.array([[(d[i:i + 3, j:j + 3] * w).sum() for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(y, direct, rtol=0, atol=1e-13)


@pytest.mark.parametrize("o, c", [(5, 3), (32, 32), (24, 40)])
def test_weight_transforms_are_the_float64_products_rounded_once(o, c):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
    du = rng.standard_normal((36, o, c)).astype(np.float32)
    u = np.einsum("ai,ocij,bj->aboc", G, w.astype(np.float64), G).reshape(36, o, c)
    gw = np.einsum("ai,aboc,bj->ocij", G, du.reshape(6, 6, o, c).astype(np.float64), G)
    np.testing.assert_allclose(K4.weight_transform(w), u.astype(np.float32), rtol=2e-7, atol=1e-7)
    np.testing.assert_allclose(K4.weight_grad(du, o, c), gw.astype(np.float32), rtol=2e-7, atol=1e-6)


def test_transforms_equal_the_float64_products_and_are_exact_over_tile_ranges():
    """Each transform against its definition by float64 matrix products (odd sizes: last tiles in part beyond
    the edges), and the transforms of ranges of tile positions bit for bit those positions of the whole."""
    rng = np.random.default_rng(2)
    c, o, ho, wo, n = 5, 3, 9, 10, 3
    th, tw = K4.tiles(ho), K4.tiles(wo)
    assert (th, tw) == (3, 3)
    t = th * tw * n
    xp = rng.standard_normal((c, 4 * th + 2, 4 * tw + 2, n)).astype(np.float32)
    g = rng.standard_normal((o, ho, wo, n)).astype(np.float32)
    m = rng.standard_normal((36, o, t)).astype(np.float32)
    dv = rng.standard_normal((36, c, t)).astype(np.float32)
    eps = np.finfo(np.float32).eps

    v = K4.input_transform(xp, th, tw, np.empty((36, c, t), np.float32))
    ref_v = np.einsum("ar,ctqrsn,bs->abctqn", BT, _tiles_of(xp.astype(np.float64), th, tw, 6, 4), BT)
    ref_v = ref_v.reshape(36, c, t)
    assert np.abs(v - ref_v).max() <= 64 * eps * np.abs(ref_v).max()

    y = K4.output_transform(m, th, tw, np.full((o, ho, wo, n), np.nan, np.float32))
    blocks = np.einsum("ak,kboq,jb->ajoq", AT, m.astype(np.float64).reshape(6, 6, o, t), AT)  # (4, 4, O, T)
    blocks = blocks.reshape(4, 4, o, th, tw, n).transpose(2, 3, 0, 4, 1, 5).reshape(o, 4 * th, 4 * tw, n)
    ref_y = blocks[:, :ho, :wo]
    assert np.abs(y - ref_y).max() <= 64 * eps * np.abs(ref_y).max()

    dm = K4.output_grad_transform(g, th, tw, np.empty((36, o, t), np.float32))
    gpad = np.zeros((o, 4 * th, 4 * tw, n))
    gpad[:, :ho, :wo] = g
    ref_dm = np.einsum("ia,otqijn,jb->abotqn", AT, _tiles_of(gpad, th, tw, 4, 4), AT).reshape(36, o, t)
    assert np.abs(dm - ref_dm).max() <= 64 * eps * np.abs(ref_dm).max()

    gxp = K4.input_grad_transform(dv, th, tw, np.zeros(xp.shape, np.float32))
    tiles = np.einsum("ak,abctqn,bl->ctqkln", BT, dv.astype(np.float64).reshape(6, 6, c, th, tw, n), BT)
    ref_gx = np.zeros(xp.shape)
    for i in range(th):
        for j in range(tw):
            ref_gx[:, 4 * i:4 * i + 6, 4 * j:4 * j + 6] += tiles[:, i, j]
    assert np.abs(gxp - ref_gx).max() <= 64 * eps * np.abs(ref_gx).max()

    y_parts, gxp_parts = np.full_like(y, np.nan), np.zeros_like(gxp)
    cuts = [0, 1, 4, 5, th * tw]
    for p0, p1 in zip(cuts[:-1], cuts[1:]):
        part = slice(p0 * n, p1 * n)
        size = (p1 - p0) * n
        np.testing.assert_array_equal(K4.input_transform(xp, th, tw, np.empty((36, c, size), np.float32), p0, p1),
                                      v[:, :, part])
        np.testing.assert_array_equal(
            K4.output_grad_transform(g, th, tw, np.empty((36, o, size), np.float32), p0, p1), dm[:, :, part])
        K4.output_transform(np.ascontiguousarray(m[:, :, part]), th, tw, y_parts, p0, p1)
        K4.input_grad_transform(np.ascontiguousarray(dv[:, :, part]), th, tw, gxp_parts, p0, p1)
    np.testing.assert_array_equal(y_parts, y)
    np.testing.assert_array_equal(gxp_parts, gxp)
    with pytest.raises(ValueError, match="tile positions"):
        K4.input_transform(xp, th, tw, np.empty((36, c, n), np.float32), 2, 2)


@pytest.mark.parametrize("h, w, ph, pw", [(9, 10, 1, 1), (8, 8, 0, 0), (7, 12, 2, 1), (16, 16, 1, 1)])
def test_transforms_read_and_write_the_unpadded_arrays_as_the_padded_copy(h, w, ph, pw):
    """The input transform reading (C, H, W, N) with its padding taken as zeros gives the padded copy's V bit for
    bit (over every range of tile positions), and the input gradient added onto the unpadded array is the padded
    gradient's (H, W) window at (ph, pw), bit for bit: what falls on the padding is dropped."""
    rng = np.random.default_rng(7)
    c, n = 3, 5
    ho, wo = h + 2 * ph - 2, w + 2 * pw - 2
    th, tw = K4.tiles(ho), K4.tiles(wo)
    x = rng.standard_normal((c, h, w, n)).astype(np.float32)
    xp = CW.pad_to_tiles(x, ph, pw, ho, wo, CW.F4)
    assert xp.shape[1:3] == (4 * th + 2, 4 * tw + 2)
    dv = rng.standard_normal((36, c, th * tw * n)).astype(np.float32)
    assert CW.transform_input(x, ph, pw, ho, wo, CW.F4)[1] == (ph, pw)
    cuts = sorted({0, 1, tw, th * tw - 1, th * tw})
    gxp, gx = np.zeros(xp.shape, np.float32), np.zeros(x.shape, np.float32)
    for p0, p1 in zip(cuts[:-1], cuts[1:]):
        size = (p1 - p0) * n
        padded = K4.input_transform(xp, th, tw, np.empty((36, c, size), np.float32), p0, p1)
        read = K4.input_transform(x, th, tw, np.full((36, c, size), np.nan, np.float32), p0, p1, (ph, pw))
        np.testing.assert_array_equal(read, padded)
        part = np.ascontiguousarray(dv[:, :, p0 * n:p1 * n])
        K4.input_grad_transform(part, th, tw, gxp, p0, p1)
        K4.input_grad_transform(part, th, tw, gx, p0, p1, (ph, pw))
    np.testing.assert_array_equal(gx, gxp[:, ph:ph + h, pw:pw + w])
    assert np.abs(gxp).sum() > np.abs(gx).sum()  # some of the gradient fell on the padding, and was dropped
    with pytest.raises(ValueError, match="C-contiguous"):
        K4.input_grad_transform(dv, th, tw, np.zeros((c, w, h, n), np.float32).transpose(0, 2, 1, 3), 0, None,
                                (ph, pw))


def test_the_2x2_scheme_reads_a_padded_input_only():
    from descend.kernels import winograd as K2
    xp = np.zeros((2, 10, 10, 4), np.float32)
    with pytest.raises(ValueError, match="expected \\(0, 0\\)"):
        K2.input_transform(xp, 4, 4, np.empty((16, 2, 64), np.float32), 0, None, (1, 1))
    assert CW.transform_input(xp[:, 1:9, 1:9], 1, 1, 8, 8, CW.F2)[1] == (0, 0)


@pytest.mark.parametrize("shape, padding, expected", [
    ((16, 32, 16, 16), 1, "F4"),     # 16×16 outputs: whole 4×4 tiles
    ((8, 32, 30, 30), 0, "F4"),      # 28×28 outputs
    ((32, 32, 14, 14), 1, "F2"),     # 14×14: 4×4 tiles would compute 16×16, 31 % more
    ((4, 32, 16, 16), 1, None),      # 1024 outputs: too few tiles for the products
    ((64, 8, 16, 16), 1, None),      # 8 input channels: im2col's inner dimension 9C is the faster product
])
def test_the_route_is_f4_where_its_tiles_fit_else_f2_else_im2col(shape, padding, expected):
    x = np.zeros(shape, np.float32)
    w = np.zeros((32, shape[1], 3, 3), np.float32)
    chosen = CW.scheme(x, w, (1, 1), (padding, padding), (1, 1))
    assert chosen is {"F4": CW.F4, "F2": CW.F2, None: None}[expected]
    assert CW.applies(x, w, (1, 1), (padding, padding), (1, 1)) == (expected is not None)
    with kernels.disabled():
        assert CW.scheme(x, w, (1, 1), (padding, padding), (1, 1)) is None


def test_f4_rounding_against_float64_is_measured_and_float32_sized():
    """F(4×4, 3×3) rounds more than F(2×2, 3×3) and the direct product (coefficients up to 8, the float32 sum
    over channels amplified by the output transform). Measured here against float64, as a share of the
    output's largest value: F(4×4, 3×3) 2.8e-6 (root mean square 1.1e-6; 6.5e-6 and 1.7e-6 with the usual
    points 0, ±1, ±2), F(2×2, 3×3) 3.2e-7, im2col 4.6e-7. The bounds leave about 1.5× room."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 64, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / np.sqrt(9 * 64)).astype(np.float32)
    assert CW.scheme(x, w, (1, 1), (1, 1), (1, 1)) is CW.F4
    exact = conv3x3_f64(x, w, 1)
    scale = np.abs(exact).max()
    f4 = F.conv2d(descend.tensor(x), descend.tensor(w), padding=1).numpy()
    with kernels.disabled():
        direct = F.conv2d(descend.tensor(x), descend.tensor(w), padding=1).numpy()
    xp = CW.pad_to_tiles(np.ascontiguousarray(x.transpose(1, 2, 3, 0)), 1, 1, 16, 16, CW.F2)
    f2 = CW.forward(xp, w, 16, 16, CW.F2)[0].transpose(3, 0, 1, 2)
    err = {k: np.abs(y - exact).max() / scale for k, y in (("f4", f4), ("f2", f2), ("direct", direct))}
    rms = np.sqrt(np.mean((f4 - exact) ** 2) / np.mean(exact ** 2))
    assert err["f4"] < 4.5e-6 and rms < 1.7e-6, (err, rms)
    assert err["f2"] < 1e-6 and err["direct"] < 1e-6, err
    assert err["f4"] > err["f2"]  # the route really was F(4×4, 3×3)


@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("need", ["both", "x", "w"])
def test_f4_conv_matches_float64_and_torch_in_many_tile_ranges_and_threads(monkeypatch, count, need):
    """conv2d by F(4×4, 3×3) with bias and part last tiles (20×19 outputs), its tile ranges tiny (CHUNK_BYTES)
    and shared out among ``count`` threads: output, input and weight gradients against float64 and torch."""
    rng = np.random.default_rng(13)
    n, c, o, h, wd = 12, 16, 12, 20, 19
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    ref = torch.nn.Conv2d(c, o, 3, padding=1)
    g = rng.standard_normal((n, o, h, wd)).astype(np.float32)
    w = ref.weight.detach().numpy()
    assert CW.scheme(x, w, (1, 1), (1, 1), (1, 1)) is CW.F4  # 5·5 tiles of 16 outputs for 20·19: 5.3 % more
    monkeypatch.setattr(CW.threads, "share_count", lambda: count)
    monkeypatch.setattr(CW, "CHUNK_BYTES", 36 * (c + o) * n * 4 * 3)  # 3 / count positions a range
    assert len(CW._chunks(5, 5, n, c + o, count, 36)) == -(-25 // (3 // count))
    conv = nn.Conv2d(c, o, 3, padding=1)
    conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    conv.weight.requires_grad_(need != "x")
    dx = descend.tensor(x, requires_grad=need != "w")
    y = conv(dx)
    y.backward(descend.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.tensor(g))
    b = ref.bias.detach().numpy().astype(np.float64)
    exact_y = conv3x3_f64(x, w, 1) + b[None, :, None, None]
    exact_gx = conv3x3_f64(g, np.flip(w, (2, 3)).transpose(1, 0, 2, 3), 1)
    xp64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    exact_gw = np.stack([np.stack([np.einsum("nohw,nchw->oc", g.astype(np.float64), xp64[:, :, u:u + h, v:v + wd])
                                   for v in range(3)], -1) for u in range(3)], -2)
    checks = [(y.numpy(), exact_y, ty.detach().numpy())]
    if need != "w":
        checks.append((dx.grad.numpy(), exact_gx, tx.grad.numpy()))
    else:
        assert dx.grad is None
    if need != "x":
        checks.append((conv.weight.grad.numpy(), exact_gw, ref.weight.grad.numpy()))
    else:
        assert conv.weight.grad is None
    for ours, exact, theirs in checks:
        scale = np.abs(exact).max()
        assert np.abs(ours - exact).max() < 1e-5 * scale
        assert np.abs(ours - theirs).max() < 1e-5 * scale


@pytest.mark.parametrize("padding", [0, 2, (2, 1)])
def test_f4_conv_with_other_paddings_matches_torch_and_returns_a_batch_innermost_input_gradient(padding):
    """Padding 0, 2 and (2, 1), read as zeros by the input transform: output and gradients against torch; the
    input gradient comes back as the C-contiguous (C, H, W, N) array it was summed in (no padded copy to cut)."""
    rng = np.random.default_rng(17)
    n, c, o, h, wd = 32, 16, 8, 18, 22
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    ref = torch.nn.Conv2d(c, o, 3, padding=padding)
    w = ref.weight.detach().numpy()
    pair = padding if isinstance(padding, tuple) else (padding, padding)
    assert CW.scheme(x, w, (1, 1), pair, (1, 1)) is CW.F4
    conv = nn.Conv2d(c, o, 3, padding=padding)
    conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    dx = descend.tensor(x, requires_grad=True)
    y = conv(dx)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(descend.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((y.numpy(), ty.detach().numpy()), (dx.grad.numpy(), tx.grad.numpy()),
                         (conv.weight.grad.numpy(), ref.weight.grad.numpy())):
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-5 * np.abs(theirs).max()
    xm = np.ascontiguousarray(x.transpose(1, 2, 3, 0))
    ho, wo = y.shape[2:]
    xr, pad = CW.transform_input(xm, *pair, ho, wo, CW.F4)
    assert xr is xm and pad == pair
    _, u, kept = CW.forward(xr, w, ho, wo, CW.F4, keep=True, pad=pad)
    g4 = np.ascontiguousarray(g.transpose(1, 2, 3, 0))
    gx, _ = CW.backward(g4, xr, u, True, True, *pair, h, wd, CW.F4, kept, xr.shape, pad)
    assert gx.shape == (c, h, wd, n) and gx.flags.c_contiguous
    np.testing.assert_allclose(gx.transpose(3, 0, 1, 2), tx.grad.numpy(), rtol=0,
                               atol=1e-5 * np.abs(tx.grad.numpy()).max())


def test_few_backward_ranges_are_handed_out_two_apart():
    """Four ranges a thread or fewer: every other one first, so that two threads taking consecutive items hold
    no row-group lock in common; more ranges keep their order."""
    few = [(i, i + 1) for i in range(8)]
    order = CW._lock_apart(few, 2)
    assert sorted(order) == few and order[:4] == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert all(abs(a[0] - b[0]) >= 2 for a, b in zip(order[:3], order[1:4]))
    many = [(i, i + 1) for i in range(9)]
    assert CW._lock_apart(many, 2) == many
    assert CW._lock_apart([(0, 3)], 2) == [(0, 3)]


def test_the_array_helpers_are_inlined_into_the_kernels():
    """The transforms' array helpers are compiled with inline="always" (a call that is not inlined counts
    references to its seven arrays; the transforms took 3–5× as long so), the scalar helpers of other modules not."""
    xp = np.zeros((16, 18, 18, 4), np.float32)
    K4.input_transform(xp, 4, 4, np.empty((36, 16, 64), np.float32))
    for name in ("_bt", "_b", "_at", "_a"):
        assert getattr(K4, name).targetoptions["inline"] == "always"
    from descend.kernels import winograd as K2
    K2.input_transform(xp[:, :10, :10], 4, 4, np.empty((16, 16, 64), np.float32))
    assert K2._row_count.targetoptions["inline"] == "never"


@pytest.mark.parametrize("forward_threads, backward_threads", [(1, 1), (2, 1), (1, 2)])
def test_the_kept_transformed_input_gives_the_rebuilt_gradients(monkeypatch, forward_threads, backward_threads):
    """A Winograd conv keeps V from its forward pass (KEEP_INPUT) for the weight gradient and lets go
    of the padded input; its gradients equal those of the backward pass that transforms the input again: bit
    for bit on one thread, and to float32 rounding (another order of the ranges' sums) when the threads change
    between the two passes (the kept ranges are the ones used) or the ranges are added on two threads."""
    rng = np.random.default_rng(14)
    n, c, o, h, wd = 16, 16, 10, 16, 16
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    g = rng.standard_normal((n, o, h, wd)).astype(np.float32)
    monkeypatch.setattr(CW, "CHUNK_BYTES", 36 * (c + o) * n * 4 * 3)  # several tile ranges
    conv = nn.Conv2d(c, o, 3, padding=1)
    assert CW.scheme(x, conv.weight.numpy(), (1, 1), (1, 1), (1, 1)) is CW.F4
    kept_ranges = []
    forward = CW.forward


    def recording_forward(*args, **kwargs):
        result = forward(*args, **kwargs)
        kept_ranges.append(result[2])
        return result

    monkeypatch.setattr(CW, "forward", recording_forward)
    results = {}
    for keep in (False, True):
        monkeypatch.setattr(CW, "KEEP_INPUT", keep)
        monkeypatch.setattr(CW.threads, "share_count", lambda: forward_threads)
        conv.zero_grad()
        dx = descend.tensor(x, requires_grad=True)
        y = conv(dx)
        monkeypatch.setattr(CW.threads, "share_count", lambda: backward_threads)
        y.backward(descend.tensor(g))
        results[keep] = (dx.grad.numpy().copy(), conv.weight.grad.numpy().copy(), conv.bias.grad.numpy().copy())
    assert kept_ranges[0] is None and len(kept_ranges[1]) == -(-16 // (3 // forward_threads))  # V by range
    for rebuilt, kept in zip(results[False], results[True]):
        if forward_threads == backward_threads == 1:
            np.testing.assert_array_equal(kept, rebuilt)
        else:
            np.testing.assert_allclose(kept, rebuilt, rtol=0, atol=1e-5 * np.abs(rebuilt).max())
    ref = torch.nn.Conv2d(c, o, 3, padding=1)
    ref.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in conv.state_dict().items()})
    tx = torch.tensor(x, requires_grad=True)
    ref(tx).backward(torch.tensor(g))
    for ours, theirs in zip(results[True], (tx.grad, ref.weight.grad, ref.bias.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-5 * np.abs(theirs.numpy()).max())
