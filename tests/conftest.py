"""Shared fixtures: a seeded generator and the two checks every op test uses.

``torch_check(d_fn, t_fn, *arrays)`` runs an operation in descend and in PyTorch (the oracle) on the same
float32 inputs, compares the outputs, back-propagates the same random output gradient through both and
compares every input's gradient. ``grad_check(fn, *arrays)`` runs :func:`descend.gradcheck` in float64.
"""

import numpy as np
import pytest
import torch

import descend

from threadpoolctl import threadpool_limits

# pytest runs on two workers (-n 2) on two cores: one BLAS thread per worker, or OpenBLAS threads thrash.
torch.set_num_threads(1)
threadpool_limits(1)
if descend.kernels.available():  # the compiled kernels' parallel loops likewise (tests/test_kernels.py uses 2)
    import numba
    numba.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


class _GradientDtypeProbe(descend.Function):
    """Identity whose backward records the dtype of the gradient an operation passes back to its input."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        _GradientDtypeProbe.seen.append(np.asarray(grad).dtype)
        return grad


def _check_against_torch(d_fn, t_fn, *arrays, atol=1e-5, rtol=1e-4, seed=0, requires_grad=None):
    """Forward values, output shape/dtype and all input gradients of ``d_fn`` against ``t_fn``."""
    arrays = [np.asarray(a) for a in arrays]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    d_in = [descend.tensor(a, requires_grad=r, dtype=a.dtype if a.dtype.kind == "f" else None)
            for a, r in zip(arrays, requires_grad)]
    t_in = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad)]
    _GradientDtypeProbe.seen = []
    d_out = d_fn(*(_GradientDtypeProbe.apply(d) if r else d for d, r in zip(d_in, requires_grad)))
    t_out = t_fn(*t_in)
    expected = t_out.detach().numpy()
    assert d_out.shape == expected.shape, f"shape {d_out.shape} != torch's {expected.shape}"
    assert d_out.dtype == expected.dtype, f"dtype {d_out.dtype} != torch's {expected.dtype}"
    np.testing.assert_allclose(d_out.numpy(), expected, atol=atol, rtol=rtol, err_msg="forward")
    if not any(requires_grad):
        return d_out
    weight = np.random.default_rng(seed).standard_normal(expected.shape).astype(expected.dtype)
    d_out.backward(weight)
    t_out.backward(torch.tensor(weight))
    expected_dtypes = [a.dtype for a, r in zip(arrays, requires_grad) if r]
    assert sorted(map(str, _GradientDtypeProbe.seen)) == sorted(map(str, expected_dtypes)), \
        f"gradients passed back as {_GradientDtypeProbe.seen}, inputs are {expected_dtypes}"
    for i, (d, t) in enumerate(zip(d_in, t_in)):
        if not requires_grad[i]:
            continue
        t_grad = np.zeros_like(arrays[i]) if t.grad is None else t.grad.numpy()
        d_grad = np.zeros_like(arrays[i]) if d.grad is None else np.asarray(d.grad)
        assert d_grad.shape == arrays[i].shape, f"grad {i} shape {d_grad.shape} != input shape {arrays[i].shape}"
        assert d_grad.dtype == arrays[i].dtype, f"grad {i} dtype {d_grad.dtype} != input dtype {arrays[i].dtype}"
        np.testing.assert_allclose(d_grad, t_grad, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")
    return d_out


def _grad_check(fn, *arrays, **kwargs):
    """descend.gradcheck on float64 copies of the floating inputs (integer inputs are passed as they are)."""
    inputs = [descend.tensor(a, dtype="float64", requires_grad=True) if np.asarray(a).dtype.kind == "f"
              else descend.tensor(a) for a in arrays]
    assert descend.gradcheck(fn, inputs, **kwargs)


@pytest.fixture(scope="session")
def torch_check():
    return _check_against_torch


@pytest.fixture(scope="session")
def grad_check():
    return _grad_check


# `pytest tests/test_fuzz_cli.py --hypothesis-profile=fuzz-long`: ten times the CI fuzz examples, random seeds.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("fuzz-long", max_examples=1000)
