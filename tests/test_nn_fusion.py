"""The fusion seam (descend.nn.fusion): layers declare what they absorb, Sequential and run_fused ask them."""

import copy

import numpy as np
import pytest
import torch

import descend
from descend import nn


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _graph_names(t):
    """Names of every node in t's graph (each node once)."""
    names, stack, seen = [], [t._node], set()
    while stack:
        node = stack.pop()
        if node is None or not hasattr(node, "name") or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(node.name)
        stack.extend(getattr(p, "_node", p) for p in node.inputs)
    return names


def _one_by_one(model, x):
    for m in model:
        x = m(x)
    return x


def _to_torch(model):
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features)
        elif isinstance(m, nn.Conv2d):
            t = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
        elif isinstance(m, nn.ReLU):
            t = torch.nn.ReLU()
        else:
            t = torch.nn.Flatten()
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():
                t.weight.copy_(torch.tensor(m.weight.array))
                t.bias.copy_(torch.tensor(m.bias.array))
        layers.append(t)
    return torch.nn.Sequential(*layers)


def _check_fused_against_unfused_and_torch(build, x, fused_name, expect_fused):
    descend.manual_seed(0)
    model = build()
    descend.manual_seed(0)
    ref = build()
    out = model(descend.tensor(x))
    plain = _one_by_one(ref, descend.tensor(x))
    names = _graph_names(out)
    if expect_fused:
        assert names.count(fused_name) == 1 and "relu" not in names
        assert len(names) == len(model) - 1                     # the pair is one node
    else:
        assert fused_name not in names and "relu" in names
    np.testing.assert_array_equal(out.array, plain.array)
    tmodel = _to_torch(model)
    tout = tmodel(torch.tensor(x))
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = _x(out.shape, 99)
    out.backward(descend.tensor(g))
    plain.backward(descend.tensor(g))
    tout.backward(torch.tensor(g))
    for p, q, t in zip(model.parameters(), ref.parameters(), tmodel.parameters()):
        np.testing.assert_array_equal(p.grad.array, q.grad.array)
        np.testing.assert_allclose(p.grad.array, t.grad.numpy(), rtol=1e-3, atol=1e-4)
    return model


class Dense(nn.Linear):
    """A Linear subclass that adds a method but keeps Linear's forward."""

    def norm(self):
        return float(np.sqrt((self.weight.array ** 2).sum()))


class DoubledLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2.0


class MyConv(nn.Conv2d):
    pass


class ShiftedConv(nn.Conv2d):
    def forward(self, x):
        return super().forward(x) - 0.25


def test_linear_subclass_keeping_forward_fuses_with_relu_and_matches_unfused_and_torch():
    model = _check_fused_against_unfused_and_torch(
        lambda: nn.Sequential(Dense(6, 16), nn.ReLU(), nn.Linear(16, 3)), _x((32, 6), 1), "linear_relu", True)
    assert model(descend.tensor(_x((2, 6)))).array.shape == (2, 3) and model[0].norm() > 0


def test_linear_subclass_overriding_forward_is_not_fused_and_matches_torch():
    descend.manual_seed(0)
    model = nn.Sequential(DoubledLinear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x = _x((8, 6), 2)
    out = model(descend.tensor(x))
    assert "linear_relu" not in _graph_names(out) and "relu" in _graph_names(out)
    t = _to_torch(model)
    expected = t[2](torch.relu(t[0](torch.tensor(x)) * 2.0))
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_conv2d_subclass_keeping_forward_fuses_with_relu_and_matches_unfused_and_torch():
    _check_fused_against_unfused_and_torch(
        lambda: nn.Sequential(MyConv(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten()), _x((3, 2, 7, 6), 3),
        "conv2d_relu", True)


def test_conv2d_subclass_overriding_forward_is_not_fused_and_matches_torch():
    descend.manual_seed(0)
    model = nn.Sequential(ShiftedConv(2, 4, 3, stride=2), nn.ReLU(), nn.Flatten())
    x = _x((3, 2, 7, 6), 4)
    out = model(descend.tensor(x))
    assert "conv2d_relu" not in _graph_names(out) and "relu" in _graph_names(out)
    t = _to_torch(model)
    expected = torch.relu(t[0](torch.tensor(x)) - 0.25).flatten(1)
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


class _ScaledTanh(descend.Function):
    """tanh(s·x) as one op: d/dx = s(1 − y²), d/ds = Σ x(1 − y²)."""

    @staticmethod
    def forward(ctx, x, s):
        y = np.tanh(x * s)
        ctx.save_for_backward(x, s, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, s, y = ctx.saved_arrays
        d = g * (1 - y * y)
        return d * s, np.sum(d * x).reshape(s.shape)


class Scale(nn.Module):
    """y = s·x; declares that it absorbs a following Tanh (a user layer using the seam)."""

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(np.array([1.5], np.float32))

    def forward(self, x):
        return x * self.s

    def fuse_next(self, module):
        if type(module) is nn.Tanh and type(self).forward is Scale.forward:
            return lambda x: _ScaledTanh.apply(x, self.s)
        return None


def test_a_user_layer_declaring_fuse_next_runs_fused_in_sequential_and_matches_torch():
    x = _x((5, 4), 5)
    model = nn.Sequential(Scale(), nn.Tanh())
    xt = descend.tensor(x, requires_grad=True)
    out = model(xt)
    assert _graph_names(out) == ["_ScaledTanh"]
    tx = torch.tensor(x, requires_grad=True)
    ts = torch.tensor([1.5], requires_grad=True)
    tout = torch.tanh(tx * ts)
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(xt.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model[0].s.grad.array, ts.grad.numpy(), rtol=1e-5)
    model[1].register_forward_hook(lambda m, i, o: None)   # hooked: the pair runs apart, same values
    apart = model(descend.tensor(x))
    assert "_ScaledTanh" not in _graph_names(apart) and "tanh" in _graph_names(apart)
    np.testing.assert_allclose(apart.array, out.array, rtol=1e-6, atol=1e-7)


class Block(nn.Module):
    """A user module whose forward opts in to fusion with run_fused."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.act = nn.ReLU()
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return nn.run_fused((self.fc, self.act, self.out), x)


def test_a_user_module_opting_in_with_run_fused_fuses_and_matches_module_by_module():
    descend.manual_seed(0)
    block = Block()
    x = descend.tensor(_x((16, 6), 6))
    out = block(x)
    ref = block.out(block.act(block.fc(x)))
    assert _graph_names(out) == ["linear", "linear_relu"]
    np.testing.assert_array_equal(out.array, ref.array)
    out.sum().backward()
    fused_grads = [p.grad.array.copy() for p in block.parameters()]
    block.zero_grad()
    ref.sum().backward()
    for g, p in zip(fused_grads, block.parameters()):
        np.testing.assert_array_equal(g, p.grad.array)
    seen = []
    with block.fc.register_forward_hook(lambda m, i, o: seen.append(o.shape)):
        hooked = block(x)
    assert seen == [(16, 8)] and "linear_relu" not in _graph_names(hooked)
    np.testing.assert_array_equal(hooked.array, ref.array)


def test_fusion_plan_pairs_only_what_a_layer_declares():
    lin, relu, tanh = nn.Linear(3, 3), nn.ReLU(), nn.Tanh()
    plan = nn.fusion_plan([lin, relu, lin, tanh, relu])
    assert len(plan) == 4 and plan[1:] == (lin, tanh, relu) and plan[0] not in (lin, relu)
    assert nn.fusion_plan([relu, lin]) == (relu, lin)
    with pytest.raises(TypeError, match="fusion_plan needs Modules"):
        nn.fusion_plan([lin, np.tanh])


def test_sequential_plan_follows_hooks_children_forward_and_parameters_after_it_is_cached():
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x = descend.tensor(_x((4, 6), 7))

    def inner(out):
        return out._node.inputs[0].name

    assert inner(model(x)) == "linear_relu"
    seen = []
    handle = model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    assert inner(model(x)) == "relu" and seen == [(4, 16)]
    handle.remove()
    assert inner(model(x)) == "linear_relu" and seen == [(4, 16)]
    model[0].forward = lambda t: descend.nn.functional.linear(t, model[0].weight, model[0].bias) * 0.5
    half = model(x)
    assert inner(half) == "relu"
    del model[0].forward
    full = model(x)
    assert inner(full) == "linear_relu"
    h = np.maximum(x.array @ model[0].weight.array.T + model[0].bias.array, 0)
    np.testing.assert_allclose(full.array, h @ model[2].weight.array.T + model[2].bias.array, rtol=1e-5, atol=1e-6)
    model[0].weight = nn.Parameter(np.zeros((16, 6), np.float32))   # a replaced parameter is read, not cached
    row = np.maximum(model[0].bias.array, 0) @ model[2].weight.array.T + model[2].bias.array
    np.testing.assert_allclose(model(x).array, np.broadcast_to(row, (4, 3)), rtol=1e-5, atol=1e-6)
    model[1] = nn.Tanh()
    assert inner(model(x)) == "tanh"
    model.insert(1, nn.ReLU())                                       # Linear, ReLU, Tanh, Linear
    assert [n for n in _graph_names(model(x)) if n in ("linear_relu", "tanh")] == ["tanh", "linear_relu"]


def test_copies_of_a_fused_sequential_run_their_own_parameters():
    descend.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    x = descend.tensor(_x((3, 4), 8))
    before = model(x).array.copy()
    twin = copy.deepcopy(model)
    twin[0].bias.array[...] = -100.0                                  # the twin's ReLU never fires
    np.testing.assert_array_equal(model(x).array, before)
    np.testing.assert_allclose(twin(x).array, np.broadcast_to(twin[2].bias.array, (3, 2)), rtol=0, atol=0)
    assert twin(x)._node.inputs[0].name == "linear_relu"
