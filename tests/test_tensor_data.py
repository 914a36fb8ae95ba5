"""``Tensor.data`` as PyTorch's (a tensor sharing the storage, outside the graph), ``p.data = t``, and the
checks on ``x.grad = ...``: every idiom run side by side with PyTorch, same values after."""

import numpy as np
import pytest
import torch

import descend
from descend import nn

INIT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)


def pair(values=INIT, requires_grad=True):
    """A descend leaf and a torch leaf holding the same values."""
    return (descend.tensor(values.copy(), requires_grad=requires_grad),
            torch.tensor(values.copy(), requires_grad=requires_grad))


def same(d, t, **kw):
    np.testing.assert_allclose(d.array, t.detach().numpy(), **kw)


# ------------------------------------------------------------------------------------------ what .data is
def test_data_is_a_tensor_sharing_storage_without_grad_like_torch():
    p, q = pair()
    d, t = p.data, q.data
    assert type(d) is descend.Tensor and type(t) is torch.Tensor
    assert (d.requires_grad, d.is_leaf, d.grad_fn) == (t.requires_grad, t.is_leaf, t.grad_fn) == (False, True, None)
    assert np.shares_memory(d.array, p.array) and d.array is p.array
    assert d.shape == tuple(t.shape) and d.dtype == p.dtype


def test_data_of_a_parameter_is_a_plain_tensor_like_torch():
    w = nn.Parameter(descend.ones(2))
    assert type(w.data) is descend.Tensor and type(torch.nn.Parameter(torch.ones(2)).data) is torch.Tensor
    assert not w.data.requires_grad and w.requires_grad


def test_data_of_a_non_leaf_is_a_detached_leaf_sharing_its_storage_like_torch():
    p, q = pair()
    b, tb = p * 2, q * 2
    d, t = b.data, tb.data
    assert (d.requires_grad, d.is_leaf, d.grad_fn) == (t.requires_grad, t.is_leaf, t.grad_fn) == (False, True, None)
    d.mul_(3)
    t.mul_(3)
    same(b, tb)
    np.testing.assert_allclose(b.array, INIT * 6)
    assert b.requires_grad and b.grad_fn is not None  # the non-leaf keeps its place in the graph


def test_data_inside_no_grad_is_the_same_tensor_view():
    p, q = pair()
    with descend.no_grad():
        d = p.data
    with torch.no_grad():
        t = q.data
    assert d.requires_grad == t.requires_grad is False and d.array is p.array


def test_data_numpy_shares_memory_and_print_shows_no_requires_grad():
    p, q = pair()
    a = p.data.numpy()
    assert a is p.array and np.array_equal(a, q.data.numpy())
    a[0, 0] = 9.0
    assert p.array[0, 0] == 9.0
    text = repr(p.data)
    assert "requires_grad" not in text and "requires_grad" not in repr(q.data)
    assert text == repr(descend.tensor(p.array.copy())) and str(p.data) == text


# ------------------------------------------------------------------------------------------ in-place idioms
@pytest.mark.parametrize("idiom", [
    lambda x: x.data.mul_(0.5),
    lambda x: x.data.div_(4.0),
    lambda x: x.data.add_(1.5),
    lambda x: x.data.sub_(0.25),
    lambda x: x.data.fill_(0),
    lambda x: x.data.zero_(),
    lambda x: x.data.clamp_(-0.5, 1.0),
], ids=["mul_", "div_", "add_", "sub_", "fill_", "zero_", "clamp_"])
def test_in_place_method_on_data_changes_the_leaf_as_torch_does(idiom):
    p, q = pair()
    idiom(p)  # the leaf requires grad: on .data this is allowed, as in PyTorch
    idiom(q)
    same(p, q)
    assert p.requires_grad and p.is_leaf and p.grad is None


def test_in_place_on_the_leaf_itself_raises_but_on_data_does_not_like_torch():
    p, q = pair()
    with pytest.raises(RuntimeError, match="in-place"):
        p.mul_(2)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        q.mul_(2)
    p.data.mul_(2)
    q.data.mul_(2)
    same(p, q)


def test_copy_into_data_and_item_assignment_match_torch():
    p, q = pair()
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    p.data.copy_(descend.tensor(src))
    q.data.copy_(torch.tensor(src))
    same(p, q)
    p.data[0] = 1
    q.data[0] = 1
    p.data[1, 2] = -3.0
    q.data[1, 2] = -3.0
    same(p, q)
    np.testing.assert_array_equal(p.array, [[1, 1, 1], [3, 4, -3]])


def test_copy_into_data_broadcasts_like_torch():
    p, q = pair()
    p.data.copy_(descend.tensor([1.0, 2.0, 3.0]))
    q.data.copy_(torch.tensor([1.0, 2.0, 3.0]))
    same(p, q)


def test_normal_and_uniform_on_data_fill_the_leaf_with_the_right_moments():
    w = nn.Parameter(descend.zeros(400, 250))
    before = w.array
    w.data.normal_(0, 0.02)
    assert w.array is before  # filled in place
    assert abs(float(w.array.mean())) < 5e-4 and w.array.std() == pytest.approx(0.02, rel=0.02)
    w.data.uniform_(-0.1, 0.1)
    assert w.array.min() >= -0.1 and w.array.max() < 0.1 and w.array.std() == pytest.approx(0.2 / 12 ** 0.5, rel=0.02)
    assert w.requires_grad and w.grad is None


def test_manual_sgd_with_data_matches_torch_over_steps():
    """The classic loop ``p.data -= lr * p.grad.data`` (and its ``add_(alpha=)`` form) on a small MLP,
    five steps, PyTorch and descend from the same weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), ref.parameters()):
            q.copy_(torch.tensor(p.array))
    lr = 0.1
    for step in range(5):
        for model, loss_fn, xb, yb in ((ours, nn.CrossEntropyLoss(), descend.tensor(x), descend.tensor(y)),
                                       (ref, torch.nn.CrossEntropyLoss(), torch.tensor(x), torch.tensor(y))):
            model.zero_grad()
            loss_fn(model(xb), yb).backward()
            for p in model.parameters():
                if step % 2:
                    p.data -= lr * p.grad.data
                else:
                    p.data.add_(p.grad.data, alpha=-lr)
        for p, q in zip(ours.parameters(), ref.parameters()):
            same(p, q, rtol=1e-5, atol=1e-6)
            assert p.requires_grad and p.is_leaf


def test_weight_init_through_data_in_a_module_matches_torch():
    ours, ref = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    for m in (ours, ref):
        m.weight.data.fill_(0.5)
        m.bias.data.zero_()
        m.weight.data[0] = 1
    same(ours.weight, ref.weight)
    same(ours.bias, ref.bias)


# ------------------------------------------------------------------------------------------ p.data = t
def test_assigning_data_replaces_the_storage_even_with_another_shape_like_torch():
    p, q = pair()
    t, tt = descend.zeros(4, 5, dtype="float64"), torch.zeros(4, 5, dtype=torch.float64)
    p.data = t
    q.data = tt
    assert p.shape == tuple(q.shape) == (4, 5) and p.dtype == np.float64 and q.dtype == torch.float64
    assert p.requires_grad == q.requires_grad is True and p.is_leaf
    t.add_(1)   # the storage is shared with the assigned tensor
    tt.add_(1)
    same(p, q)
    np.testing.assert_array_equal(p.array, np.ones((4, 5)))


def test_assigning_data_from_a_non_leaf_keeps_requires_grad_like_torch():
    p, q = pair()
    a, ta = pair()
    p.data = a * 2
    q.data = ta * 2
    assert p.requires_grad == q.requires_grad is True and p.is_leaf and q.is_leaf
    same(p, q)


@pytest.mark.parametrize("value", [5, 0.5, [1.0, 2.0], np.ones((2, 3), np.float32)], ids=["int", "float", "list",
                                                                                        "ndarray"])
def test_assigning_a_non_tensor_to_data_raises_torchs_type_error(value):
    p, q = pair()
    with pytest.raises(TypeError) as ours:
        p.data = value
    with pytest.raises(TypeError) as theirs:
        q.data = value
    assert str(theirs.value) in str(ours.value)
    np.testing.assert_array_equal(p.array, INIT)


# ------------------------------------------------------------------------------------------ the graph
def test_backward_after_data_mul_uses_the_new_values_where_torch_does():
    """PyTorch's ``.data`` does not bump the version counter: a backward after ``x.data.mul_(2)`` uses
    whatever the graph saved. x·x saved x (its new values show); exp saved its output (the old values)."""
    for f in (lambda x: (x * x).sum(), lambda x: (x ** 2).sum(), lambda x: x.exp().sum(),
              lambda x: x.sigmoid().sum()):
        p, q = pair(np.array([1.0, 2.0, 3.0], np.float32))
        lp, lq = f(p), f(q)
        p.data.mul_(2)
        q.data.mul_(2)
        lp.backward()
        lq.backward()
        same(p.grad, q.grad, rtol=1e-6)


def test_linear_backward_after_changing_the_weight_through_data_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    xd, xt = descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    wd, wt = pair(w)
    out_d = descend.nn.functional.linear(xd, wd).sum()
    out_t = torch.nn.functional.linear(xt, wt).sum()
    wd.data.mul_(-3)
    wt.data.mul_(-3)
    out_d.backward()
    out_t.backward()
    same(xd.grad, xt.grad, rtol=1e-6)
    same(wd.grad, wt.grad, rtol=1e-6)


def test_ops_on_data_record_nothing():
    p, _ = pair()
    y = p.data * 3 + 1
    assert not y.requires_grad and y.grad_fn is None


# ------------------------------------------------------------------------------------------ grad assignment
@pytest.mark.parametrize("value", [0.0, [1.0, 2.0, 3.0], np.ones((2, 3), np.float32)], ids=["float", "list",
                                                                                          "ndarray"])
def test_assigning_a_non_tensor_grad_raises_torchs_type_error(value):
    p, q = pair()
    with pytest.raises(TypeError) as ours:
        p.grad = value
    with pytest.raises(TypeError) as theirs:
        q.grad = value
    assert str(theirs.value) in str(ours.value)
    assert p.grad is None


def test_assigning_a_grad_of_another_shape_raises_like_torch():
    p, q = pair()
    with pytest.raises(RuntimeError) as ours:
        p.grad = descend.ones(3)
    with pytest.raises(RuntimeError) as theirs:
        q.grad = torch.ones(3)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="size"):
        p.grad = descend.ones(1, 2, 3)
    assert p.grad is None


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_assigning_a_grad_of_another_dtype_raises_like_torch(dtype):
    p, q = pair()
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype"):
        p.grad = descend.ones(2, 3, dtype=dtype)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype"):
        q.grad = torch.ones(2, 3, dtype=getattr(torch, dtype))
    assert p.grad is None


def test_assigning_a_matching_grad_or_none_works_and_steps_like_torch():
    p, q = pair()
    g = np.full((2, 3), 0.5, np.float32)
    p.grad = descend.tensor(g)
    q.grad = torch.tensor(g)
    descend.optim.SGD([p], lr=0.1).step()
    torch.optim.SGD([q], lr=0.1).step()
    same(p, q)
    p.grad = None
    q.grad = None
    assert p.grad is None and q.grad is None
    p.grad = descend.tensor(g)
    del p.grad
    assert p.grad is None


def test_backward_still_accumulates_into_an_assigned_grad_like_torch():
    p, q = pair()
    p.grad = descend.ones(2, 3)
    q.grad = torch.ones(2, 3)
    (p * p).sum().backward()
    (q * q).sum().backward()
    same(p.grad, q.grad)
