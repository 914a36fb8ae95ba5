"""einsum: values and gradients of every operand against torch.einsum (explicit and implicit outputs,
ellipsis, diagonals, broadcast size-1 dimensions, the list form), gradcheck in float64, and the errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import descend

R = np.random.default_rng(5)


def _arrays(*shapes):
    return [R.standard_normal(s).astype(np.float32) for s in shapes]


CASES = {
    "matmul": ("ij,jk->ik", [(3, 4), (4, 5)]),
    "matmul_implicit": ("ij,jk", [(3, 4), (4, 5)]),
    "batch_matmul": ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    "ellipsis_batch": ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    "ellipsis_broadcast": ("...ij,jk->...ik", [(2, 2, 3, 4), (4, 5)]),
    "ellipsis_implicit_output": ("ji...", [(2, 3, 4)]),
    "outer": ("i,j->ij", [(3,), (4,)]),
    "dot": ("i,i->", [(5,), (5,)]),
    "trace": ("ii", [(4, 4)]),
    "diagonal": ("ii->i", [(4, 4)]),
    "batch_diagonal": ("bii->bi", [(2, 3, 3)]),
    "sum_one_axis": ("ij->j", [(3, 4)]),
    "sum_all": ("ij->", [(3, 4)]),
    "transpose": ("ij->ji", [(3, 4)]),
    "bilinear": ("bn,anm,bm->ba", [(2, 3), (5, 3, 4), (2, 4)]),
    "attention_scores": ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    "broadcast_size_one": ("ij,ij->ij", [(1, 4), (3, 4)]),
    "spaces": ("i j , j k -> i k", [(3, 4), (4, 2)]),
    "upper_case": ("Ab,bC->AC", [(3, 4), (4, 2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_einsum_matches_torch_values_and_gradients(torch_check, name):
    eq, shapes = CASES[name]
    torch_check(lambda *xs: descend.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), *_arrays(*shapes))


@pytest.mark.parametrize("name", ["matmul", "ellipsis_broadcast", "trace", "batch_diagonal", "sum_one_axis",
                                  "bilinear", "broadcast_size_one"])
def test_einsum_passes_gradcheck(grad_check, name):
    eq, shapes = CASES[name]
    grad_check(lambda *xs: descend.einsum(eq, *xs), *_arrays(*shapes))


def test_einsum_takes_operands_as_one_list_like_torch():
    a, b = _arrays((3, 4), (4, 2))
    out = descend.einsum("ij,jk->ik", [descend.tensor(a), descend.tensor(b)])
    np.testing.assert_allclose(out.numpy(), torch.einsum("ij,jk->ik", [torch.tensor(a), torch.tensor(b)]).numpy(),
                               rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 4), batch=st.integers(0, 2))
def test_einsum_matches_matmul_for_any_shape(torch_check, n, m, k, batch):
    lead = (2,) * batch
    a, b = _arrays(lead + (n, m), (m, k))
    torch_check(lambda x, y: descend.einsum("...nm,mk->...nk", x, y),
                lambda x, y: torch.einsum("...nm,mk->...nk", x, y), a, b)


def test_einsum_integer_operands_stay_integer_as_torch():
    a = np.arange(6).reshape(2, 3)
    d = descend.einsum("ij->j", descend.tensor(a))
    t = torch.einsum("ij->j", torch.tensor(a))
    assert d.dtype == np.int64 and d.tolist() == t.tolist()


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->ik", [(3, 4)], "2 operand"),
    ("ij,jk->ik", [(3, 4), (5, 2)], "size"),
    ("ijk->i", [(3, 4)], "dimensions"),
    ("ij->ik", [(3, 4)], "appears in no operand"),
    ("ij->ii", [(3, 3)], "more than once"),
    ("i1->i", [(3, 4)], "invalid subscript"),
])
def test_einsum_rejects_bad_equations_in_one_line(eq, shapes, match):
    with pytest.raises(ValueError, match=match) as info:
        descend.einsum(eq, *[descend.tensor(a) for a in _arrays(*shapes)])
    assert "\n" not in str(info.value)


def test_einsum_rejects_non_tensor_operands():
    with pytest.raises(TypeError, match="operand 1"):
        descend.einsum("i,i->", descend.ones(3), [1.0, 2.0, 3.0])
