"""Tensor methods PyTorch code relies on (new_*, grad_fn, format, __index__, item/tolist, size(dim)) and the
error for PyTorch API descend lacks: an AttributeError subclass naming the function and the docs page."""

import numpy as np
import pytest
import torch

import descend
import descend.nn.functional as F


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_new_factories_keep_the_tensors_dtype_like_torch(dtype):
    d = descend.zeros(2, dtype=getattr(descend, dtype))
    t = torch.zeros(2, dtype=getattr(torch, dtype))
    for name, args in [("new_zeros", (2, 3)), ("new_ones", ((3,),)), ("new_full", ((2, 2), 7)),
                       ("new_tensor", ([1, 2, 3],)), ("new_empty", (4,))]:
        dn, tn = getattr(d, name)(*args), getattr(t, name)(*args)
        assert dn.dtype == tn.numpy().dtype and dn.shape == tuple(tn.shape), name
        if name != "new_empty":
            np.testing.assert_array_equal(dn.numpy(), tn.numpy())
    assert d.new_zeros(2, dtype=descend.float16).dtype == np.float16
    assert descend.ones(1).new_ones(2, requires_grad=True).requires_grad


def test_new_tensor_copies_its_data():
    src = np.ones(2, np.float32)
    t = descend.ones(1).new_tensor(src)
    src[0] = 5
    assert t.tolist() == [1.0, 1.0]


def test_grad_fn_is_a_printable_node_and_none_for_leaves():
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    assert x.grad_fn is None and descend.tensor([1.0]).grad_fn is None
    assert y.grad_fn is not None and y.grad_fn.name() == "SumBackward"
    assert repr(y.grad_fn).startswith("<SumBackward object at 0x")
    assert y.grad_fn == y.grad_fn and {y.grad_fn, y.grad_fn} == {y.grad_fn}
    (inner, _), = y.grad_fn.next_functions
    assert inner.name() == "MulBackward"
    assert (x * 2).log_softmax(0).grad_fn.name() == "LogSoftmaxBackward"


def test_format_of_a_0d_tensor_formats_its_value_like_torch():
    for value in (2.345, 7):
        assert format(descend.tensor(value), ".2f") == format(torch.tensor(value), ".2f")
        assert f"{descend.tensor(value):>8}" == f"{torch.tensor(value):>8}"
    loss = descend.tensor([0.5, 1.5]).mean()
    assert f"loss {loss:.3f}" == "loss 1.000"
    assert format(descend.tensor([1.0]), "") == str(descend.tensor([1.0]))
    with pytest.raises(TypeError, match="0-d"):
        format(descend.tensor([1.0, 2.0]), ".2f")


def test_a_0d_integer_tensor_is_an_index_like_torch():
    items = ["a", "b", "c"]
    i = descend.tensor([0.1, 0.9, 0.3]).argmax()
    assert items[i] == items[torch.tensor([0.1, 0.9, 0.3]).argmax()] == "b"
    assert list(range(descend.tensor(3))) == [0, 1, 2]
    with pytest.raises(TypeError, match="integer"):
        items[descend.tensor(1.0)]
    with pytest.raises(TypeError):
        items[descend.tensor([1, 2])]


def test_item_tolist_size_match_torch():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    d, t = descend.tensor(x), torch.tensor(x)
    assert d.tolist() == t.tolist() and d[1, 2].item() == t[1, 2].item()
    assert type(descend.tensor([3]).item()) is int and type(d.sum().item()) is float
    assert d.size(0) == t.size(0) and d.size(-1) == t.size(-1) and d.size() == tuple(t.size())


@pytest.mark.parametrize("lookup,names", [
    (lambda: descend.nonexistent_op, ["descend.nonexistent_op", "torch.nonexistent_op"]),
    (lambda: F.nonexistent_op, ["descend.nn.functional.nonexistent_op", "torch.nn.functional.nonexistent_op"]),
    (lambda: descend.ones(1).nonexistent_op, ["Tensor.nonexistent_op", "torch.Tensor.nonexistent_op"]),
])
def test_missing_pytorch_api_names_itself_and_points_at_the_docs(lookup, names):
    with pytest.raises(descend.UnsupportedError) as info:
        lookup()
    message = str(info.value)
    assert all(n in message for n in names) and "docs/from-pytorch.md" in message and "\n" not in message
    assert isinstance(info.value, AttributeError)


def test_hasattr_and_getattr_default_still_work_on_missing_names():
    assert not hasattr(descend, "nonexistent_op") and not hasattr(descend.ones(1), "nonexistent_op")
    assert getattr(F, "nonexistent_op", None) is None
    assert hasattr(descend, "randn") and hasattr(descend.ones(1), "topk")
    assert descend.tune is not None and descend.bench.__name__ == "descend.bench"  # submodules still import


def test_documented_page_exists():
    import pathlib
    assert (pathlib.Path(descend.__file__).parent.parent / "docs" / "from-pytorch.md").is_file()


def test_item_assignment_and_in_place_arithmetic_match_torch():
    d, t = descend.ones(4, 4), torch.ones(4, 4)
    d[:, 1] = 0
    t[:, 1] = 0
    d[descend.tensor([0, 2]), 3] = descend.tensor(7.0)
    t[torch.tensor([0, 2]), 3] = torch.tensor(7.0)
    d.add_(5).mul_(2).sub_(descend.ones(4), alpha=3).div_(4)
    t.add_(5).mul_(2).sub_(torch.ones(4), alpha=3).div_(4)
    d.clamp_(max=4.0)
    t.clamp_(max=4.0)
    np.testing.assert_array_equal(d.numpy(), t.numpy())
    w = descend.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 3.0
    with descend.no_grad():
        w[0] = 3.0
    assert w.tolist() == [3.0, 1.0]


def test_module_level_matmul_writes_into_out_like_torch():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = descend.zeros(2, 2)
    assert descend.matmul(descend.tensor(a), descend.tensor(a.T), out=out) is out
    np.testing.assert_array_equal(out.numpy(), torch.matmul(torch.tensor(a), torch.tensor(a.T)).numpy())


def test_backward_takes_torchs_gradient_keyword_and_retain_graph():
    x = descend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = np.array([0.1, 1.0, 0.01], np.float32)
    y, ty = x * x, tx * tx
    y.backward(gradient=descend.tensor(v), retain_graph=True)
    ty.backward(gradient=torch.tensor(v), retain_graph=True)
    y.backward(descend.tensor(v))
    ty.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(ValueError, match="higher-order"):
        (x * 2).sum().backward(create_graph=True)
