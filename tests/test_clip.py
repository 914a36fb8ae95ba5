"""Gradient clipping equals torch.nn.utils'."""

import numpy as np
import pytest
import torch

import descend
from descend.nn.utils import clip_grad_norm_, clip_grad_value_


def _pair(scale, rng):
    arrays = [(rng.standard_normal(s) * scale).astype(np.float32) for s in [(5, 4), (4,), (2, 3, 3)]]
    ps = [descend.tensor(np.zeros_like(a), requires_grad=True) for a in arrays]
    tps = [torch.zeros(a.shape, requires_grad=True) for a in arrays]
    for p, q, a in zip(ps, tps, arrays):
        p.grad, q.grad = descend.tensor(a), torch.tensor(a)
    return ps, tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale):
    ps, tps = _pair(scale, np.random.default_rng(0))
    total = clip_grad_norm_(ps, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, float(norm_type))
    assert float(total) == pytest.approx(float(ttotal), rel=1e-6)
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-6, atol=1e-7)
    after = np.linalg.norm(np.concatenate([p.grad.array.ravel() for p in ps]), ord=float(norm_type))
    assert after <= max_norm * (1 + 1e-5)


def test_clip_grad_value_matches_torch():
    ps, tps = _pair(3.0, np.random.default_rng(1))
    assert clip_grad_value_(ps, 1.5) is None
    torch.nn.utils.clip_grad_value_(tps, 1.5)
    for p, q in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.array, q.grad.numpy())
    assert max(np.abs(p.grad.array).max() for p in ps) == np.float32(1.5)


def test_clip_skips_missing_grads_and_checks_arguments():
    p = descend.tensor([3.0, 4.0], requires_grad=True)
    q = descend.tensor([1.0], requires_grad=True)
    p.grad = descend.tensor([3.0, 4.0])
    assert float(clip_grad_norm_([p, q], 1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.array, [0.6, 0.8], rtol=1e-5)
    with pytest.raises(ValueError, match="-1"):
        clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="-2"):
        clip_grad_value_([p], -2)
    p.grad = descend.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
