"""The compiled recurrent kernels (descend.kernels.recurrent) against PyTorch in float64 and against
descend's own NumPy path: float32 RNN/LSTM/GRU layers of the sizes users train (the kernel path engages for
float32 inputs without a packed batch or an LSTM projection), outputs, final states and every gradient."""

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn
from descend import kernels
from descend.kernels import recurrent as compiled

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")

RNG = np.random.default_rng(11)


def _run(kind, T, N, F, H, layers=1, bidirectional=False, state=False, **kwargs):
    """descend float32 (kernel path) and torch float64 from the same weights, inputs and loss; returns the
    (descend, torch) lists of outputs and gradients."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(F, H, num_layers=layers, bidirectional=bidirectional, **kwargs).double()
    dm = getattr(nn, kind)(F, H, num_layers=layers, bidirectional=bidirectional, **kwargs)
    dm.load_state_dict({k: v.detach().numpy().astype(np.float32) for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((T, N, F)).astype(np.float32)
    D = 2 if bidirectional else 1
    states = [RNG.standard_normal((layers * D, N, H)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    dins = [descend.tensor(a, requires_grad=True) for a in [x] + (states if state else [])]
    tins = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in [x] + (states if state else [])]
    w = RNG.standard_normal((T, N, D * H)).astype(np.float32)
    results = []
    for m, ins, lib in ((dm, dins, descend), (tm, tins, torch)):
        hx = None
        if state:
            hx = tuple(ins[1:]) if kind == "LSTM" else ins[1]
        out, fin = m(ins[0], hx)
        fins = list(fin) if kind == "LSTM" else [fin]
        weight = descend.tensor(w) if lib is descend else torch.tensor(w.astype(np.float64))
        loss = (out * weight).sum() + sum((f * f).sum() for f in fins)
        loss.backward()
        arr = (lambda t: t.array) if lib is descend else (lambda t: t.detach().numpy())
        grads = [arr(i.grad) for i in ins] + [arr(p.grad) for _, p in sorted(m.named_parameters())]
        results.append([arr(out)] + [arr(f) for f in fins] + grads)
    return results


def _assert_close(got, want, scale_rtol=2e-5):
    for g, t in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, t, rtol=scale_rtol, atol=scale_rtol * max(1.0, np.abs(t).max()))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("T,N,F,H", [(50, 32, 32, 128), (20, 1, 16, 64), (12, 8, 10, 256), (6, 128, 8, 32)])
def test_compiled_layer_matches_torch_float64(kind, T, N, F, H):
    got, want = _run(kind, T, N, F, H)
    _assert_close(got, want)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_compiled_two_layer_bidirectional_with_state_matches_torch(kind):
    got, want = _run(kind, 15, 4, 6, 24, layers=2, bidirectional=True, state=True, batch_first=False)
    _assert_close(got, want)


def test_compiled_relu_rnn_without_bias_matches_torch():
    got, want = _run("RNN", 10, 5, 7, 16, nonlinearity="relu", bias=False, state=True)
    _assert_close(got, want)


def test_compiled_gru_without_bias_matches_torch():
    got, want = _run("GRU", 10, 5, 7, 16, bias=False, state=True)
    _assert_close(got, want)


@pytest.mark.parametrize("T,N,F,H", [(10, 5, 7, 16), (30, 32, 48, 64)])
def test_compiled_lstm_without_bias_matches_torch(T, N, F, H):
    """The kernels add the biases in their gate pass; without biases they add zeros."""
    got, want = _run("LSTM", T, N, F, H, bias=False, state=True)
    _assert_close(got, want)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_compiled_and_numpy_paths_agree(kind):
    m = getattr(nn, kind)(9, 40, num_layers=2, bidirectional=True)
    x = RNG.standard_normal((30, 6, 9)).astype(np.float32)
    results = []
    for off in (False, True):
        m.zero_grad()
        xt = descend.tensor(x, requires_grad=True)
        if off:
            with kernels.disabled():
                out, _ = m(xt)
                (out * out).sum().backward()
        else:
            out, _ = m(xt)
            (out * out).sum().backward()
        results.append([out.array, xt.grad.array] + [p.grad.array for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(b).max()))


def test_rational_tanh_is_within_a_few_float32_ulps():
    """tanh x = x P(x²)/Q(x²): at most 8 ulp from the float64 tanh rounded, over [−10, 10] and tiny x."""
    x = np.concatenate([np.linspace(-10, 10, 200001), 10.0 ** -np.arange(1, 30, 0.05)]).astype(np.float32)
    y = np.empty_like(x)
    compiled.tanh_array(x, y)
    ref = np.tanh(x.astype(np.float64))
    ulps = np.abs(y - ref) / np.spacing(np.abs(ref).astype(np.float32))
    assert ulps.max() <= 8
    assert np.abs(y).max() <= 1.0


def test_batch_chunks_cover_the_rows_once_and_respect_the_minimum():
    from descend.kernels.threads import MIN_CHUNK_ROWS, chunks
    for n in (1, 3, 4, 7, 8, 9, 32, 33, 128):
        for k in (1, 2, 3, 16):
            parts = chunks(n, k)
            rows = np.concatenate([np.arange(n)[p] for p in parts])
            np.testing.assert_array_equal(rows, np.arange(n))
            assert len(parts) <= k
            assert len(parts) == 1 or min(p.stop - p.start for p in parts) >= MIN_CHUNK_ROWS


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_split_over_threads_gives_the_single_thread_result(kind):
    """The batch split over 3 threads (3 chunks) and run on one thread (1 chunk) agree to float32 rounding,
    and the BLAS thread count is restored after the call."""
    from threadpoolctl import threadpool_info, threadpool_limits
    m = getattr(nn, kind)(5, 24, bidirectional=True)
    x = RNG.standard_normal((9, 12, 5)).astype(np.float32)
    results = []
    for n in (1, 3):
        with threadpool_limits(n):
            m.zero_grad()
            xt = descend.tensor(x, requires_grad=True)
            out, _ = m(xt)
            (out * out).sum().backward()
            assert all(i["num_threads"] == n for i in threadpool_info() if i["user_api"] == "blas")
        results.append([out.array, xt.grad.array] + [p.grad.array for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_split_over_threads_matches_torch_with_states_and_two_layers(kind):
    """Split into chunks of 4, 4 and 5 samples (each chunk's input projection, recurrence and weight-gradient
    products on its own thread, the chunks' weight gradients summed): outputs, final states, the input's,
    initial states' and every parameter's gradient as PyTorch's in float64."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(3):
        got, want = _run(kind, 10, 13, 6, 20, layers=2, bidirectional=True, state=True)
    _assert_close(got, want)


def test_overlapping_serial_blas_blocks_restore_every_library_whatever_the_order_they_end():
    """A block holding every BLAS and one holding only the kernels' BLAS (which is among them), ended in the
    order they began (as two threads may): the kernels' BLAS stays at one thread until the last block ends,
    and every library gets its own count back."""
    from threadpoolctl import threadpool_info, threadpool_limits
    from descend.kernels import threads

    def counts():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(3):
        before = counts()
        every, kernels_only = threads.serial_blas(every=True), threads.serial_blas()
        assert every.__enter__() == 3
        assert kernels_only.__enter__() == 3  # the count it had before any block, not the held 1
        assert threads.blas_threads() == 3
        every.__exit__(None, None, None)
        kernel_libraries = {id(lib) for lib in threads._blas_libraries()}
        held = [lib.get_num_threads() for lib in threads._blas_libraries(every=True) if id(lib) in kernel_libraries]
        assert held and all(n == 1 for n in held)
        kernels_only.__exit__(None, None, None)
        assert counts() == before


def test_rational_tanh_keeps_nan_and_saturates_infinities():
    """A NaN pre-activation stays NaN (so divergence shows), ±inf gives ±1 like np.tanh."""
    x = np.array([np.nan, np.inf, -np.inf, 0.0], np.float32)
    y = np.empty_like(x)
    compiled.tanh_array(x, y)
    np.testing.assert_array_equal(y, np.tanh(x))


def test_numpy_blas_sgemm_is_found_and_computes_the_row_major_product():
    from descend.kernels import blas
    function, found = blas.sgemm()
    assert found, "NumPy's wheels ship OpenBLAS with cblas_sgemm; the kernels would fall back to np.dot"
    a = RNG.standard_normal((7, 33)).astype(np.float32)
    b = RNG.standard_normal((33, 130)).astype(np.float32)
    c = np.full((7, 130), np.nan, np.float32)  # beta = 0: whatever C held is overwritten
    function(blas.ROW_MAJOR, blas.NO_TRANS, blas.NO_TRANS, 7, 130, 33, 1.0, a.ctypes.data, 33, b.ctypes.data, 130,
             0.0, c.ctypes.data, 130)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_kernels_without_numpy_blas_use_numbas_product_and_match_torch(kind, monkeypatch):
    """Where NumPy's BLAS has no cblas_sgemm (another BLAS build), the kernels take np.dot: same results."""
    from descend.kernels import blas
    monkeypatch.setattr(blas, "_found", (blas.placeholder(), False))
    got, want = _run(kind, 12, 6, 5, 20, state=True)
    _assert_close(got, want)
