"""The batched panel product (descend.kernels.panels.planes_product) against float64 products, the choice
between it and NumPy's batched product (planes_matmul, wider_than_blas), and the Winograd convolutions that
use it against float64 and PyTorch by either route."""

import re

import numpy as np
import pytest
import torch

import descend
from descend import kernels, nn
from descend.kernels import panels
from descend.ops import conv_winograd as CW
from conv_reference import conv3x3_f64

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")

RNG = np.random.default_rng(21)


def _f64_products(a, b, transpose_b):
    b64 = b.astype(np.float64)
    return a.astype(np.float64) @ (b64.transpose(0, 2, 1) if transpose_b else b64)


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("p,m,k,n", [(36, 32, 32, 256), (3, 13, 7, 48), (2, 8, 1, 16), (1, 5, 300, 32),
                                     (4, 1, 33, 64), (16, 24, 64, 160)])
def test_planes_product_matches_the_float64_products(transpose_b, p, m, k, n):
    """Every output written (pre-filled with NaN): 8-row blocks and the rows after them, K = 1 and odd K, B
    read as it is or transposed, each plane its own product."""
    a = RNG.standard_normal((p, m, k)).astype(np.float32)
    b = RNG.standard_normal((p, n, k) if transpose_b else (p, k, n)).astype(np.float32)
    out = np.full((p, m, n), np.nan, np.float32)
    assert panels.fits(a, b, out)
    assert panels.planes_product(a, b, out, transpose_b) is out
    want = _f64_products(a, b, transpose_b)
    # float32 sums of k terms, each product and sum rounded once (fused multiply-adds)
    np.testing.assert_allclose(out, want, rtol=0, atol=4e-7 * np.sqrt(k) * np.abs(a).max() * np.abs(b).max() * 4)


def test_fits_asks_for_whole_panels_contiguous_float32_planes():
    a, b = np.zeros((2, 8, 4), np.float32), np.zeros((2, 4, 32), np.float32)
    assert panels.fits(a, b, np.zeros((2, 8, 32), np.float32))
    assert not panels.fits(a, b[:, :, :24], np.zeros((2, 8, 24), np.float32))       # 24 columns: a part panel
    assert not panels.fits(a, b, np.zeros((2, 8, 32), np.float64))
    assert not panels.fits(a, np.zeros((2, 32, 4), np.float32).transpose(0, 2, 1), np.zeros((2, 8, 32), np.float32))


@pytest.mark.parametrize("planes", [True, False])
@pytest.mark.parametrize("n", [32, 24])
def test_planes_matmul_gives_numpys_products_by_either_route(monkeypatch, planes, n):
    """With the panels forced on or off, and for 24 columns (the panels cannot take them: NumPy's product),
    out = a @ b and a @ bᵀ; the panels were called exactly where asked and possible."""
    calls = []
    product = panels.planes_product
    monkeypatch.setattr(panels, "planes_product", lambda *args: calls.append(1) or product(*args))
    monkeypatch.setattr(panels, "PLANES", planes)
    a = RNG.standard_normal((5, 12, 40)).astype(np.float32)
    b = RNG.standard_normal((5, 40, n)).astype(np.float32)
    bt = np.ascontiguousarray(b.transpose(0, 2, 1))
    for got in (panels.planes_matmul(a, b, np.empty((5, 12, n), np.float32)),
                panels.planes_matmul(a, bt, np.empty((5, 12, n), np.float32), transpose_b=True)):
        np.testing.assert_allclose(got, _f64_products(a, b, False), rtol=0, atol=2e-5)
    assert len(calls) == (2 if planes and n % 16 == 0 and panels.product.vectorises() else 0)


@pytest.mark.parametrize("cpu, blas, wider", [("znver5", "haswell", True), ("znver5", "zen", True),
                                              ("znver5", "skylakex", False), ("znver5", "unknown", False),
                                              ("skylake-avx512", "haswell", False), ("znver3", "zen", False),
                                              ("", "haswell", False)])
def test_the_panels_are_taken_on_the_measured_cpus_where_the_blas_runs_narrower_kernels(monkeypatch, cpu, blas,
                                                                                         wider):
    monkeypatch.setattr(panels, "_wider", [])
    monkeypatch.setattr(panels, "_cpu_name", lambda: cpu)
    monkeypatch.setattr(panels, "_blas_architecture", lambda: blas)
    assert panels.wider_than_blas() is wider
    monkeypatch.setattr(panels, "_cpu_name", lambda: "changed")  # decided once per process
    assert panels.wider_than_blas() is wider


def test_blas_architecture_is_numpys_openblas_kernels_in_lower_case():
    from threadpoolctl import threadpool_info
    own = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    if not own or own[0].get("internal_api") != "openblas":
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    assert panels._blas_architecture() == own[0]["architecture"].lower() != ""


@pytest.mark.parametrize("planes", [True, False])
def test_winograd_conv_matches_float64_and_torch_by_either_product(monkeypatch, planes):
    """A 16-channel F(4×4, 3×3) convolution at batch 16 (whole panels: each range's columns are a multiple of
    16) in several tile ranges on two threads, its V kept: output, input and weight gradients against float64
    and torch, with the panels' products forced on and off; the panels took every product when on."""
    calls = []
    product = panels.planes_product
    monkeypatch.setattr(panels, "planes_product", lambda *args: calls.append(args[3]) or product(*args))
    monkeypatch.setattr(panels, "PLANES", planes)
    monkeypatch.setattr(CW.threads, "share_count", lambda: 2)
    n, c, o, h = 16, 16, 32, 16
    monkeypatch.setattr(CW, "CHUNK_BYTES", 36 * (c + o) * n * 4 * 4)  # 2 positions a range per thread
    x = RNG.standard_normal((n, c, h, h)).astype(np.float32)
    g = RNG.standard_normal((n, o, h, h)).astype(np.float32)
    ref = torch.nn.Conv2d(c, o, 3, padding=1, bias=False)
    w = ref.weight.detach().numpy()
    assert CW.scheme(x, w, (1, 1), (1, 1), (1, 1)) is CW.F4
    conv = nn.Conv2d(c, o, 3, padding=1, bias=False)
    conv.load_state_dict({"weight": w})
    dx = descend.tensor(x, requires_grad=True)
    conv(dx).backward(descend.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ty.backward(torch.tensor(g))
    with descend.no_grad():
        y = conv(descend.tensor(x)).numpy()
    xp64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    exact_gw = np.stack([np.stack([np.einsum("nohw,nchw->oc", g.astype(np.float64), xp64[:, :, u:u + h, v:v + h])
                                   for v in range(3)], -1) for u in range(3)], -2)
    exact_gx = conv3x3_f64(g, np.flip(w, (2, 3)).transpose(1, 0, 2, 3), 1)
    for ours, exact, theirs in [(y, conv3x3_f64(x, w, 1), ty.detach().numpy()),
                                (dx.grad.numpy(), exact_gx, tx.grad.numpy()),
                                (conv.weight.grad.numpy(), exact_gw, ref.weight.grad.numpy())]:
        scale = np.abs(exact).max()
        assert np.abs(ours - exact).max() < 1e-5 * scale
        assert np.abs(ours - theirs).max() < 1e-5 * scale
    ranges = len(CW._chunks(4, 4, n, c + o, 2, 36))
    if planes and panels.product.vectorises():  # per range: M = U V, dV = Uᵀ dM, dU = dM Vᵀ (B transposed)
        assert ranges == 8 and sorted(calls) == [False] * (3 * ranges) + [True] * ranges
    else:
        assert calls == []


@pytest.mark.parametrize("total, share", [(16, 2), (25, 2), (9, 4), (3, 2), (1, 2), (100, 1)])
def test_tile_ranges_are_a_whole_number_per_thread_and_differ_by_one_position_at_most(monkeypatch, total, share):
    """Ranges of at most the bytes a thread may use, as many as a multiple of the threads where the positions
    allow, their sizes differing by one at most (W10's 16 positions in 7-position ranges were 7, 7, 2: one
    thread did 9 of them)."""
    per_position = 36 * 64 * 64 * 4
    monkeypatch.setattr(CW, "CHUNK_BYTES", per_position * 7 * share)
    ranges = CW._chunks(total, 1, 64, 64, share, 36)
    sizes = [p1 - p0 for p0, p1 in ranges]
    assert ranges[0][0] == 0 and ranges[-1][1] == total and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert max(sizes) <= 7 and max(sizes) - min(sizes) <= 1
    assert len(ranges) % share == 0 or len(ranges) == total


def test_planes_product_is_compiled_with_packed_fused_multiply_adds():
    """Its blocks are inlined helpers, compiled with the SLP vectoriser on like the kernel that inlines them."""
    assert panels._planes_product.vectorises()
    fresh = kernels.Vectorised(panels._planes_product.function, panels.PLANES_SIGNATURE, cache=False)
    asm = "\n".join(fresh.compiled().inspect_asm().values())
    if not re.search(r"\n\s+(vfmadd|vmul)", asm):
        pytest.skip("not x86-64 machine code")
    assert re.search(r"vfmadd\w*ps\s[^\n]*%[yz]mm", asm), "the accumulators stayed scalar"


@pytest.mark.parametrize("kind, H, F", [("LSTM", 16, 32), ("GRU", 32, 16), ("RNN", 48, 24)])
@pytest.mark.parametrize("planes", [True, False])
def test_recurrent_parameter_gradients_match_torch_by_either_product(monkeypatch, kind, H, F, planes):
    """A layer whose gate columns fill whole panels, input projection and parameter gradients by the panels
    (stacked [X | h]ᵀ dG for RNN and LSTM, one product each for GRU, whose hidden part has its own gradient)
    or by NumPy's: outputs, states and every gradient against torch float64; the panels called where asked."""
    from test_kernels_recurrent import _assert_close, _run
    calls = []
    product = panels.planes_product
    monkeypatch.setattr(panels, "planes_product", lambda *args: calls.append(args[0].shape) or product(*args))
    monkeypatch.setattr(panels, "PLANES", planes)
    got, want = _run(kind, 7, 16, F, H, state=True)
    _assert_close(got, want)
    assert ({"LSTM": 4, "GRU": 3, "RNN": 1}[kind] * H) % 16 == 0
    if planes and panels.product.vectorises():  # A's rows: T·N per chunk (input projection, dx), the weights'
        rows = {shape[1] for shape in calls}
        steps = {7 * 16, 7 * 8} & rows  # one chunk or two
        assert len(steps) == 1 and rows - steps == ({F, H} if kind == "GRU" else {F + H})
    else:
        assert calls == []


@pytest.mark.parametrize("transpose_b", [False, True])
def test_long_sums_run_in_segments_and_round_like_blas(transpose_b):
    """Sums of 4096 positive terms (where one accumulator's rounding errors add up instead of cancelling): in
    SEGMENT-term runs they round as NumPy's BLAS does, several times better than the same blocks in one run."""
    a = RNG.random((2, 16, 4096), dtype=np.float32)
    b = RNG.random((2, 32, 4096) if transpose_b else (2, 4096, 32), dtype=np.float32)
    exact = _f64_products(a, b, transpose_b)
    scale = np.abs(exact).max()
    ours = panels.planes_product(a, b, np.empty((2, 16, 32), np.float32), transpose_b)
    theirs = np.matmul(a, b.transpose(0, 2, 1) if transpose_b else b)
    one_run = np.empty((16, 32), np.float32)
    panels.product(a[0], panels.pack(b[0].T if transpose_b else b[0]), one_run)
    assert np.abs(ours - exact).max() < max(2 * np.abs(theirs - exact).max(), 4e-7 * scale)
    assert np.abs(one_run - exact[0]).max() > 4 * np.abs(ours[0] - exact[0]).max()


def test_the_panels_are_taken_only_where_numpys_product_would_run_on_one_thread_too(monkeypatch):
    """Auto route on a wide CPU: inside a block holding every BLAS to one thread (work shared out among threads)
    the panels are taken; outside it, with a BLAS of several threads, NumPy's product (split over the cores) is."""
    from descend.kernels import threads
    monkeypatch.setattr(panels, "PLANES", None)
    monkeypatch.setattr(panels, "_wider", [True])
    with threads.serial_blas(every=True):
        assert threads.one_blas_thread() and panels.takes_planes() is panels.product.vectorises()
    assert threads.one_blas_thread() is (threads.blas_threads() == 1)  # the tests' BLAS has one thread
    from threadpoolctl import threadpool_limits
    with threadpool_limits(2):
        assert not threads.one_blas_thread() and not panels.takes_planes()
        with threads.serial_blas(every=True):
            assert threads.one_blas_thread()
    monkeypatch.setattr(panels, "_wider", [False])
    with threads.serial_blas(every=True):
        assert not panels.takes_planes()
