"""dtype names: each descend name is the NumPy dtype of the matching torch dtype; conversions (float(),
long(), type(...)) give torch's dtypes; the default floating dtype can be switched like torch's."""

import numpy as np
import pytest
import torch

import descend

NAMES = ["float", "float32", "double", "float64", "half", "float16", "long", "int64", "int", "int32", "int16",
         "short", "int8", "uint8", "bool"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_name_is_the_numpy_dtype_of_torchs_dtype(name):
    expected = torch.zeros(1, dtype=getattr(torch, name)).numpy().dtype
    d = getattr(descend, name)
    assert d == expected and isinstance(d, descend.dtype)
    assert descend.zeros(1, dtype=d).dtype == d
    assert descend.zeros(1, dtype=d).dtype == getattr(descend, name)


def test_dtype_compares_with_numpy_types_and_names_and_has_a_readable_repr():
    x = descend.randn(2)
    assert x.dtype == descend.float32 and x.dtype == np.float32 and x.dtype == "float32"
    assert x.dtype != descend.float64
    assert repr(descend.float32) == "dtype('float32')" and str(descend.int64) == "int64"
    assert descend.float is descend.float32 and descend.long is descend.int64


def test_module_names_do_not_shadow_builtins_elsewhere():
    assert float is not descend.float and int(3.7) == 3 and bool(0) is False


CONVERSIONS = ["float", "double", "half", "long", "int", "short", "byte", "bool"]


@pytest.mark.parametrize("method", CONVERSIONS)
def test_conversion_methods_give_torchs_dtype_and_values(method):
    data = np.array([[-1.5, 0.0, 2.7], [3.2, -0.2, 1.0]], np.float32)
    if method == "byte":
        data = np.abs(data)
    d, t = getattr(descend.tensor(data), method)(), getattr(torch.tensor(data), method)()
    assert d.dtype == t.numpy().dtype
    np.testing.assert_array_equal(d.numpy(), t.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                                   "bool"])
def test_type_name_element_size_and_is_floating_point_match_torch(dtype):
    t = torch.zeros(2, dtype=getattr(torch, dtype))
    d = descend.zeros(2, dtype=getattr(descend, dtype))
    assert d.type() == t.type()
    assert d.element_size() == t.element_size()
    assert d.is_floating_point() == t.is_floating_point() == descend.is_floating_point(d)
    assert descend.ones(3).type(t.type()).dtype == d.dtype  # type('torch.LongTensor') casts


def test_type_with_a_dtype_casts_and_keeps_the_graph():
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    y = x.type(descend.float64)
    assert y.dtype == np.float64
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_numel_dim_and_size_of_a_dim_match_torch():
    data = np.zeros((2, 3, 4), np.float32)
    d, t = descend.tensor(data), torch.tensor(data)
    assert (d.numel(), d.dim(), d.size(1), d.size(-1), tuple(d.size())) == \
        (t.numel(), t.dim(), t.size(1), t.size(-1), tuple(t.size()))
    assert descend.numel(d) == torch.numel(t) == 24


def test_set_default_dtype_switches_new_floating_tensors_like_torch():
    assert descend.get_default_dtype() == descend.float32 == torch.get_default_dtype().__repr__().split(".")[1]
    try:
        descend.set_default_dtype(descend.float64)
        torch.set_default_dtype(torch.float64)
        for d, t in [(descend.tensor([1.5]), torch.tensor([1.5])), (descend.zeros(2), torch.zeros(2)),
                     (descend.randn(2), torch.randn(2)), (descend.arange(0.0, 1.0, 0.5), torch.arange(0.0, 1.0, 0.5)),
                     (descend.full((2,), 1.5), torch.full((2,), 1.5)), (descend.ones(2) * 2, torch.ones(2) * 2)]:
            assert d.dtype == t.numpy().dtype == np.float64
        assert descend.get_default_dtype() == descend.float64
    finally:
        descend.set_default_dtype(descend.float32)
        torch.set_default_dtype(torch.float32)
    assert descend.tensor([1.5]).dtype == np.float32


def test_set_default_dtype_rejects_integer_dtypes():
    with pytest.raises(TypeError, match="float32 or float64"):
        descend.set_default_dtype(descend.int64)
    with pytest.raises(TypeError, match="unknown dtype"):
        descend.zeros(2, dtype="float33")
