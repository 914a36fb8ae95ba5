"""The small PyTorch APIs the compatibility corpus (tests/test_compat_corpus.py) found missing, each checked
against torch: ``set_default_device`` / ``get_default_device``, ``Tensor.mm``, ``ctx.saved_tensors`` in a
custom ``autograd.Function``, and ``nll_loss``'s deprecated ``size_average`` / ``reduce`` flags."""

import numpy as np
import pytest
import torch

import descend
import descend.nn.functional as F


def test_set_default_device_accepts_the_cpu_and_refuses_a_gpu():
    for dev in ("cpu", descend.device("cpu"), None):
        descend.set_default_device(dev)
    assert descend.get_default_device() == descend.device("cpu")
    assert str(descend.get_default_device()) == str(torch.get_default_device())
    with pytest.raises(descend.DeviceUnavailableError, match="CPU only"):
        descend.set_default_device("cuda")
    assert descend.zeros(2).device == descend.device("cpu")


def test_tensor_mm_matches_torch_values_and_gradients():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    da, db = (descend.tensor(v, dtype=descend.float64, requires_grad=True) for v in (a, b))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    out, ref = da.mm(db), ta.mm(tb)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(da.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="2-D"):
        da.mm(descend.ones(4))


def _cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 3 * x ** 2
    return Cube


def test_function_saved_tensors_gives_backward_what_forward_saved_as_in_torch():
    v = np.array([-1.5, 0.5, 2.0])
    d = descend.tensor(v, dtype=descend.float64, requires_grad=True)
    t = torch.tensor(v, requires_grad=True)
    _cube(descend).apply(d).sum().backward()
    _cube(torch).apply(t).sum().backward()
    np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-12)  # 3x²
    np.testing.assert_allclose(d.grad.numpy(), 3 * v ** 2, rtol=1e-12)


@pytest.mark.parametrize("size_average, reduce", [(False, None), (True, None), (None, False), (False, False),
                                                  (None, True), (False, True)])
def test_nll_loss_legacy_flags_reduce_as_torch(size_average, reduce):
    rng = np.random.default_rng(1)
    x = np.log(rng.dirichlet(np.ones(5), size=6))
    y = rng.integers(0, 5, 6)
    ours = F.nll_loss(descend.tensor(x, dtype=descend.float64), descend.tensor(y), size_average=size_average,
                      reduce=reduce)
    with pytest.warns(UserWarning):
        ref = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(y), size_average=size_average,
                                           reduce=reduce)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


def test_nll_loss_keeps_reduction_when_no_legacy_flag_is_given():
    x = descend.tensor(np.log(np.full((2, 4), 0.25)))
    assert F.nll_loss(x, descend.tensor([0, 1]), reduction="sum").item() == pytest.approx(2 * np.log(4))


def test_mul_out_writes_the_product_into_out_as_torch():
    a = np.arange(6.0).reshape(2, 3)
    b = np.array([1.0, -2.0, 0.5])
    out = descend.rand(2, 3)
    ref_out = torch.rand(2, 3, dtype=torch.float64)
    returned = descend.mul(descend.tensor(a), descend.tensor(b), out=out)
    torch.mul(torch.tensor(a), torch.tensor(b), out=ref_out)
    assert returned is out
    np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        descend.mul(descend.tensor(a), descend.tensor(b), out=descend.zeros(3))
    assert descend.mul(descend.tensor(a), 2.0).tolist() == (a * 2).tolist()
