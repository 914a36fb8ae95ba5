"""Tensor.register_hook and register_post_accumulate_grad_hook, against PyTorch's."""

import gc
import numpy as np
import pytest
import torch

import descend
from descend import grad_hooks, nn


@pytest.fixture(autouse=True)
def collect_hooked_tensors():
    """Hooks that refer back to their tensor make cycles: collect them, so later tests run the plain walk."""
    yield
    gc.collect()


def pair(shape, seed):
    a = np.random.default_rng(seed).normal(size=shape)
    return descend.tensor(a, requires_grad=True, dtype="float64"), torch.tensor(a, requires_grad=True)


def test_a_leaf_hook_replaces_the_gradient_accumulated_into_grad_as_torchs():
    (x, tx), (w, tw) = pair((4, 3), 0), pair((3, 2), 1)
    seen, tseen = [], []
    x.register_hook(lambda g: (seen.append(g.array.copy()), g * 3.0)[1])
    tx.register_hook(lambda g: (tseen.append(g.detach().numpy().copy()), g * 3.0)[1])
    ((x @ w).tanh() * (x @ w)).sum().backward()
    ((tx @ tw).tanh() * (tx @ tw)).sum().backward()
    np.testing.assert_allclose(seen[0], tseen[0], rtol=1e-12)       # the hook saw the summed gradient, once
    assert len(seen) == len(tseen) == 1
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.array, tw.grad.numpy(), rtol=1e-12)


def test_a_hook_on_a_computed_tensor_changes_what_flows_to_its_inputs_as_torchs():
    (x, tx), (w, tw) = pair((5, 3), 2), pair((3, 3), 3)
    h, th = x @ w, tx @ tw
    h.register_hook(lambda g: g.clamp(-0.5, 0.5) if hasattr(g, "clamp") else None)
    th.register_hook(lambda g: g.clamp(-0.5, 0.5))
    seen = []
    h.register_hook(lambda g: seen.append(float(g.array.sum())))   # a second hook sees the first one's result
    (h.sigmoid() * h * 2.0).sum().backward()
    (th.sigmoid() * th * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.array, tw.grad.numpy(), rtol=1e-12)
    assert abs(seen[0]) <= 0.5 * 15


def test_post_accumulate_hooks_fire_during_backward_last_layer_first_with_grad_in_place():
    descend.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    fired = []
    params = dict(net.named_parameters())
    for name, p in params.items():
        p.register_post_accumulate_grad_hook(
            lambda t, name=name: fired.append((name, t.grad.array.copy(), params["0.weight"].grad is None)))
    x = descend.tensor(np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32))
    (net(x) ** 2).sum().backward()
    names = [f[0] for f in fired]
    assert sorted(names) == sorted(params)
    assert names.index("4.weight") < names.index("2.weight") < names.index("0.weight")
    assert fired[names.index("4.weight")][2]      # the first layer's gradient was not there yet
    for name, grad, _ in fired:
        np.testing.assert_array_equal(grad, params[name].grad.array)


def test_hooks_leave_the_gradients_bit_identical_and_removing_them_turns_the_hooked_walk_off():
    def grads(hook):
        descend.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        handles = [p.register_post_accumulate_grad_hook(lambda t: None) for p in net.parameters()] if hook else []
        x = descend.tensor(np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32))
        nn.CrossEntropyLoss()(net(x), descend.tensor(np.arange(8) % 3)).backward()
        for h in handles:
            h.remove()
        return [p.grad.array.copy() for p in net.parameters()]
    gc.collect()                     # tensors of earlier tests whose hooks refer back to them
    assert not grad_hooks.active()
    for a, b in zip(grads(False), grads(True)):
        np.testing.assert_array_equal(a, b)
    assert not grad_hooks.active()


def test_a_removed_hook_is_not_called_again():
    x, _ = pair((3,), 4)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.array, np.full(3, 4.0))


def test_hook_registration_errors_match_torchs():
    t = descend.tensor(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        t.register_hook(lambda g: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        torch.ones(3).register_hook(lambda g: None)
    x, tx = pair((3,), 5)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (tx * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)


def test_a_callback_queued_from_a_hook_runs_once_after_backward_has_finished():
    descend.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    seen = []
    handle = net[2].weight.register_post_accumulate_grad_hook(
        lambda t: descend.autograd.queue_callback(lambda: seen.append(net[0].weight.grad is not None)))
    with pytest.raises(TypeError, match="callable"):
        descend.autograd.queue_callback(None)
    net(descend.tensor(np.ones((2, 3), np.float32))).sum().backward()
    assert seen == [True]          # it ran after the first layer's gradient was in place, once
    handle.remove()
