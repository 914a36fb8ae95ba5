"""The backward walk: deep graphs, visiting each node once in a fixed order, accumulation, retain_graph,
no_grad, the error messages, gradcheck itself and the custom Function extension point."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import descend
from descend import GraphFreedError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "autograd.md"


def test_graph_10000_operations_deep_has_the_closed_form_gradient():
    x = descend.tensor(0.5, dtype="float64", requires_grad=True)
    c = 1.0001
    y = x
    for _ in range(10_000):
        y = y * c + 0.25          # 20,000 nodes; dy/dx = c^10000
    y.backward()
    np.testing.assert_allclose(x.grad.item(), c ** 10_000, rtol=1e-10)


def test_graph_that_reuses_the_leaf_at_every_step_accumulates_every_path():
    x = descend.tensor(2.0, dtype="float64", requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + x.tanh()          # y = x + 10000 tanh x
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1 + 10_000 * (1 - np.tanh(2.0) ** 2), rtol=1e-10)


def test_diamond_graph_calls_each_backward_once_and_sums_both_paths():
    calls = []

    class Square(descend.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            calls.append(1)
            (x,) = ctx.saved_arrays
            return 2 * x * grad

    x = descend.tensor([1.0, -2.0, 3.0], requires_grad=True)
    s = Square.apply(x)
    out = (s.exp() + s * 3.0).sum()   # s feeds two branches: one backward call, both paths summed
    out.backward()
    assert len(calls) == 1
    xv = np.array([1.0, -2.0, 3.0])
    expected = 2 * xv * (np.exp(xv ** 2) + 3.0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-5)


def test_backward_visits_nodes_in_the_same_order_every_time(monkeypatch):
    import descend.autograd as ag

    def build():
        a = descend.tensor([1.0, 2.0], requires_grad=True)
        b = descend.tensor([3.0, 4.0], requires_grad=True)
        h = a * b
        return (h + a).exp().sum() + (h * b).mean(), a, b

    orders = []
    original = ag._topological_order
    monkeypatch.setattr(ag, "_topological_order",
                        lambda root: orders.append([t.name if isinstance(t, ag.Node) else "leaf"
                                                    for t in original(root)])
                        or original(root))
    grads = []
    for _ in range(3):
        loss, a, b = build()
        loss.backward()
        grads.append((a.grad.numpy().copy(), b.grad.numpy().copy()))
    assert orders[0] == orders[1] == orders[2]
    assert orders[0][-1] == "add" and orders[0].count("leaf") == 2
    for g in grads[1:]:
        np.testing.assert_array_equal(g[0], grads[0][0])


def test_gradients_accumulate_across_backward_calls_until_cleared():
    w = descend.tensor([1.0, 2.0], requires_grad=True)
    (w * 3.0).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad, [3.0 + 2.0, 3.0 + 4.0])
    w.grad = None
    (w * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad, [3.0, 3.0])
    w.zero_grad()
    assert w.grad is None


def test_retain_graph_allows_a_second_backward_and_matches_torch():
    x = descend.tensor([0.5, -1.5], requires_grad=True)
    tx = torch.tensor([0.5, -1.5], requires_grad=True)
    y = (x.tanh() * x).sum()
    ty = (tx.tanh() * tx).sum()
    y.backward(retain_graph=True)
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6)


def test_second_backward_through_a_freed_graph_says_to_retain_it():
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match="freed by an earlier backward.*retain_graph=True"):
        y.backward()
    assert issubclass(GraphFreedError, RuntimeError)


def test_backward_on_a_non_scalar_needs_a_grad_of_its_shape():
    x = descend.tensor([[1.0, 2.0]], requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"needs a scalar, but this tensor has shape \(1, 2\).*loss.mean\(\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but the tensor has shape \(1, 2\)"):
        y.backward(np.ones(2))
    y.backward(np.array([[1.0, 10.0]]))
    np.testing.assert_allclose(x.grad, [[2.0, 20.0]])


def test_backward_on_a_tensor_that_does_not_require_grad_explains_why():
    with pytest.raises(RuntimeError, match="does not require grad.*requires_grad=True"):
        descend.tensor([1.0, 2.0]).sum().backward()
    w = descend.tensor([1.0], requires_grad=True)
    with descend.no_grad():
        loss = (w * 2.0).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        loss.backward()


def test_no_grad_records_nothing_and_restores_the_mode():
    w = descend.tensor([1.0, 2.0], requires_grad=True)
    with descend.no_grad():
        y = w * 2.0 + 1.0
        assert not descend.is_grad_enabled()
        with descend.enable_grad():
            z = w * 2.0
    assert descend.is_grad_enabled()
    assert not y.requires_grad and y._node is None
    assert z.requires_grad

    @descend.no_grad()
    def evaluate(t):
        return t * 3.0

    assert not evaluate(w).requires_grad
    assert descend.is_grad_enabled()
    with pytest.raises(KeyError):
        with descend.no_grad():
            raise KeyError("restored even on error")
    assert descend.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_memory():
    x = descend.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), y.numpy())
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])  # no path through d


def test_gradient_of_a_leaf_used_directly_as_the_root():
    x = descend.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_intermediate_results_do_not_keep_grad_and_unused_leaves_stay_none():
    a = descend.tensor([1.0], requires_grad=True)
    b = descend.tensor([1.0], requires_grad=True)
    h = a * 2.0
    h.sum().backward()
    assert h.grad is None and b.grad is None
    assert a.grad.dtype == np.float32


# ---------------------------------------------------------------- gradcheck


def test_gradcheck_accepts_a_right_gradient_and_rejects_a_wrong_one():
    class WrongSquare(descend.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_arrays
            return grad * x  # should be 2x

    x = descend.tensor(np.linspace(-1, 1, 5), dtype="float64", requires_grad=True)
    assert descend.gradcheck(lambda t: t * t, [x])
    with pytest.raises(descend.GradcheckError, match="gradcheck failed for input 0"):
        descend.gradcheck(WrongSquare.apply, [x])
    assert descend.gradcheck(WrongSquare.apply, [x], raise_exception=False) is False


def test_gradcheck_requires_float64_inputs():
    with pytest.raises(ValueError, match="dtype='float64'"):
        descend.gradcheck(lambda t: t * t, [descend.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="nothing to check"):
        descend.gradcheck(lambda t: t * t, [descend.tensor([1.0], dtype="float64")])


# ---------------------------------------------------------------- Function, and the example in the docs


def _docs_example():
    text = DOCS.read_text()
    blocks = re.findall(r"<!-- example: custom-function -->\s*```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/autograd.md must hold exactly one block marked <!-- example: custom-function -->"
    return blocks[0]


def test_the_custom_function_example_in_the_docs_runs_and_passes_gradcheck():
    namespace = {}
    exec(compile(_docs_example(), str(DOCS), "exec"), namespace)  # the example asserts gradcheck itself
    assert namespace["ok"] is True


def test_function_with_two_inputs_and_a_constant_matches_torch():
    class ScaledProduct(descend.Function):
        """f(a, b, k) = k·a·b;  df/da = k·b, df/db = k·a; k is a plain number."""

        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return k * a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_arrays
            return grad * ctx.k * b, grad * ctx.k * a, None

    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    a = descend.tensor(a0, dtype="float64", requires_grad=True)
    b = descend.tensor(b0, dtype="float64", requires_grad=True)
    assert descend.gradcheck(lambda x, y: ScaledProduct.apply(x, y, 1.5), [a, b])
    a.grad = b.grad = None
    ScaledProduct.apply(a, b, 1.5).sum().backward()
    np.testing.assert_allclose(a.grad, 1.5 * b0)
    np.testing.assert_allclose(b.grad, 1.5 * a0)


def test_function_backward_returning_the_wrong_shape_or_count_is_reported():
    class BadShape(descend.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad  # should be broadcast to x's shape

    class BadCount(descend.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, grad

    x = descend.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape \(\) for input 0 "
                                           r"of shape \(2,\)"):
        BadShape.apply(x).backward()
    with pytest.raises(RuntimeError, match="BadCount.backward returned 2 gradients for 1 inputs"):
        BadCount.apply(x).sum().backward()


def test_nodes_do_not_keep_intermediate_results_alive():
    # a node refers to its inputs' nodes, not to the tensors they produced: once the user drops an
    # intermediate that no backward saved, it is freed during the forward, as in PyTorch
    import weakref

    w = descend.tensor(np.ones((3, 4)), requires_grad=True)
    h = w * 2.0            # mul by a constant saves nothing of h's inputs for h's consumers
    ref = weakref.ref(h)
    loss = h.sum()
    del h
    assert ref() is None
    loss.backward()
    np.testing.assert_array_equal(w.grad.array, np.full((3, 4), 2.0))


def test_conv_relu_pool_frees_the_convolution_and_relu_outputs_during_the_forward():
    import weakref

    import descend.nn.functional as F

    rng = np.random.default_rng(0)
    x = descend.tensor(rng.standard_normal((2, 3, 8, 8)))
    w = descend.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    conv = F.conv2d(x, w)
    act = F.relu(conv)
    refs = weakref.ref(conv), weakref.ref(act)
    out = F.max_pool2d(act, 2)
    del conv, act  # relu keeps a byte mask, max-pool the argmax offsets: neither keeps these arrays
    assert refs[0]() is None and refs[1]() is None
    out.sum().backward()
    tw = torch.tensor(w.array, requires_grad=True)
    torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(torch.tensor(x.array), tw)), 2).sum().backward()
    np.testing.assert_allclose(w.grad.array, tw.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_gradcheck_perturbs_a_transposed_weight_in_place_and_names_the_right_element():
    from descend.ops.linalg import linear
    rng = np.random.default_rng(3)
    x = descend.tensor(rng.standard_normal((4, 3)), dtype="float64", requires_grad=True)
    w_values = rng.standard_normal((5, 3))
    w = descend.tensor(np.asfortranarray(w_values), dtype="float64", requires_grad=True)
    assert w.array.flags.f_contiguous and not w.array.flags.c_contiguous
    assert descend.gradcheck(lambda a, b: linear(a, b), [x, w])
    assert w.array.flags.f_contiguous and np.array_equal(w.array, w_values)   # left as it was, in its layout

    class WrongAtOneElement(descend.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, g):
            out = g * 2.0
            out[1, 2] += 1.0                 # element (1, 2): 7th in memory order, 6th in row order
            return out

    with pytest.raises(descend.autograd.GradcheckError, match=r"index \(1, 2\)"):
        descend.gradcheck(WrongAtOneElement.apply, [w])
