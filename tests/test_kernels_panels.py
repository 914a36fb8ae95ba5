"""The panel product (descend.kernels.panels) against float64 products, its packing against the closed form,
its compilation with the SLP vectoriser, and the recurrent kernels' choice of route."""

import re

import numpy as np
import pytest

from descend import kernels
from descend.kernels import panels
from descend.kernels import recurrent as compiled

pytestmark = pytest.mark.skipif(not kernels.available(), reason="Numba is not importable here")

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("k,n", [(3, 16), (7, 40), (128, 512), (1, 1)])
def test_pack_places_column_16b_plus_j_at_panel_b_lane_j_and_zeros_past_the_last(k, n):
    b = RNG.standard_normal((k, n)).astype(np.float32)
    p = panels.pack(b)
    assert p.shape == (-(-n // 16), k, 16) and p.dtype == np.float32 and p.flags.c_contiguous
    for col in (0, n // 2, n - 1):
        np.testing.assert_array_equal(p[col // 16, :, col % 16], b[:, col])
    if n % 16:
        assert np.all(p[-1, :, n % 16:] == 0)


def test_pack_reads_a_transposed_view_as_the_matrix_it_shows():
    w = RNG.standard_normal((64, 24)).astype(np.float32)
    np.testing.assert_array_equal(panels.pack(w.T), panels.pack(np.ascontiguousarray(w.T)))


@pytest.mark.parametrize("m,k,n", [(16, 128, 512), (16, 512, 128), (8, 5, 16), (1, 33, 48), (7, 64, 32),
                                   (13, 100, 64), (24, 1, 16), (31, 257, 80)])
def test_product_matches_the_float64_product(m, k, n):
    """Every output written (C pre-filled with NaN), full 8-row blocks and the rows after them, K = 1 and odd K."""
    a = RNG.standard_normal((m, k)).astype(np.float32)
    b = RNG.standard_normal((k, n)).astype(np.float32)
    c = np.full((m, n), np.nan, np.float32)
    panels.product(a, panels.pack(b), c)
    want = a.astype(np.float64) @ b.astype(np.float64)
    # float32 sums of k terms: errors of order sqrt(k) ulps of the terms' scale
    np.testing.assert_allclose(c, want, rtol=0, atol=1e-6 * np.sqrt(k) * np.abs(a).max() * np.abs(b).max() * 4)


def test_product_is_compiled_with_packed_fused_multiply_adds():
    """The SLP vectoriser was on for this kernel: its machine code multiplies and adds whole vectors (x86-64;
    on another architecture the test only asks that the switch was taken)."""
    assert panels.product.vectorises()
    fresh = kernels.Vectorised(panels.product.function, panels.SIGNATURE, cache=False)  # Numba shows no cached code
    asm = "\n".join(fresh.compiled().inspect_asm().values())
    if not re.search(r"\n\s+(vfmadd|vmul)", asm):
        pytest.skip("not x86-64 machine code")
    assert re.search(r"vfmadd\w*ps\s[^\n]*%[yz]mm", asm), "the accumulators stayed scalar"


def test_switching_the_vectoriser_on_leaves_numbas_setting_as_it_was():
    from numba.core import config
    before = config.SLP_VECTORIZE
    panels.product.compiled()
    assert config.SLP_VECTORIZE == before


@pytest.mark.parametrize("rows,n,route", [(16, 512, compiled.PANELS), (24, 64, compiled.PANELS),
                                          (32, 128, compiled.PANELS), (8, 512, compiled.SGEMM),
                                          (20, 512, compiled.SGEMM), (64, 512, compiled.SGEMM),
                                          (16, 200, compiled.SGEMM), (1, 512, compiled.DOT)])
def test_route_takes_the_panels_for_16_to_32_rows_in_8_row_blocks_and_whole_panels_only(rows, n, route):
    w = RNG.standard_normal((40, n)).astype(np.float32)
    got = compiled._route(rows, w)
    if route == compiled.DOT and not compiled.blas.sgemm()[1]:
        pytest.skip("no sgemm found")
    assert got[3] == route
    if route == compiled.PANELS:
        np.testing.assert_array_equal(got[1], panels.pack(w))
    else:
        np.testing.assert_array_equal(got[0], w)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("rows", [(0, 0), (1, 1 << 30)])
def test_kernels_by_either_route_match_torch(kind, rows, monkeypatch):
    """The same layer with the panels never and always taken (a batch of 16: chunks of 8 or 16 rows): both match
    torch float64."""
    from test_kernels_recurrent import _assert_close, _run
    monkeypatch.setattr(compiled, "PANEL_ROWS", rows)
    got, want = _run(kind, 9, 16, 6, 32, state=True)
    _assert_close(got, want)
