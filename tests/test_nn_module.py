"""Module and Parameter: registration, traversal, state dicts (against PyTorch's keys), hooks, summary."""

import copy

import numpy as np
import pytest
import torch

import descend
import descend.nn as nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 2)
        self.scale = nn.Parameter(np.ones(2))
        self.register_buffer("calls", np.zeros((), dtype=np.int64))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def _torch_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))


def _our_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def test_parameter_is_a_float32_tensor_that_requires_grad():
    p = nn.Parameter([[1.0, 2.0]])
    assert isinstance(p, descend.Tensor) and p.requires_grad and p.dtype == np.float32
    assert nn.Parameter(np.zeros(3)).dtype == np.float32          # no silent float64
    assert nn.Parameter(descend.tensor([1.0], dtype="float64")).dtype == np.float64
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:")


def test_registration_order_and_traversal():
    m = TwoLayer()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in m.named_buffers()] == ["calls"]
    assert len(list(m.parameters())) == 5 and len(list(m.buffers())) == 1
    assert m.num_parameters() == 4 * 8 + 8 + 8 * 2 + 2 + 2
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]


def test_shared_parameter_counted_once():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]


def test_sequential_state_dict_keys_equal_torch():
    assert list(_our_cnn().state_dict()) == list(_torch_cnn().state_dict())


def test_state_dict_is_a_copy_and_load_copies_in_place():
    m = TwoLayer()
    sd = m.state_dict()
    sd["fc1.weight"][...] = 7.0
    assert not np.any(m.fc1.weight.array == 7.0)                  # state_dict returned copies
    weight_array = m.fc1.weight.array
    m.load_state_dict(sd)
    assert m.fc1.weight.array is weight_array                       # same array: optimisers stay valid
    np.testing.assert_array_equal(weight_array, 7.0)


def test_torch_weights_load_and_give_the_same_output():
    ref, ours = _torch_cnn(), _our_cnn()
    for _ in range(2):  # move the BatchNorm running stats away from their defaults
        ref(torch.randn(8, 1, 8, 8))
    ref.eval()
    ours.load_state_dict(ref.state_dict())
    ours.eval()
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(descend.tensor(x)).array, ref(torch.tensor(x)).detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    assert int(ours[1].num_batches_tracked.array) == 2
    # and back: torch loads ours
    ref2 = _torch_cnn()
    ref2.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ref2.eval()
    np.testing.assert_allclose(ref2(torch.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy())


def test_load_state_dict_error_lists_every_bad_key_and_copies_nothing():
    m = TwoLayer()
    before = m.fc2.weight.array.copy()
    sd = m.state_dict()
    del sd["fc1.bias"], sd["calls"]
    sd["extra.weight"] = np.zeros(1)
    sd["fc2.weight"] = np.ones((8, 2))
    sd["fc1.weight"] = np.ones((3, 3))
    with pytest.raises(nn.StateDictError) as err:
        m.load_state_dict(sd)
    text = str(err.value)
    for key in ("fc1.bias", "calls", "extra.weight", "fc2.weight", "fc1.weight", "(8, 2)", "(2, 8)"):
        assert key in text
    np.testing.assert_array_equal(m.fc2.weight.array, before)


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    m = TwoLayer()
    sd = {"fc1.weight": np.full((8, 4), 0.5), "bogus": np.zeros(2)}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert unexpected == ["bogus"]
    assert missing == ["scale", "calls", "fc1.bias", "fc2.weight", "fc2.bias"]  # own params, buffers, children
    np.testing.assert_array_equal(m.fc1.weight.array, 0.5)
    with pytest.raises(nn.StateDictError, match="shape mismatch"):
        m.load_state_dict({"fc1.weight": np.zeros((4, 8))}, strict=False)


def test_train_eval_flags_propagate_and_return_self():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert m.eval() is m
    assert all(not mod.training for mod in m.modules())
    assert m.train() is m
    assert all(mod.training for mod in m.modules())


def test_zero_grad_sets_grads_to_none():
    m = TwoLayer()
    m(descend.ones(3, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_forward_hook_sees_output_and_handle_removes_it():
    m = TwoLayer()
    seen = []
    handle = m.fc1.register_forward_hook(lambda mod, inputs, out: seen.append((mod, inputs[0].shape, out.shape)))
    m(descend.ones(5, 4))
    assert seen == [(m.fc1, (5, 4), (5, 8))]
    handle.remove()
    m(descend.ones(5, 4))
    assert len(seen) == 1
    # a hook returning a value replaces the output
    m.fc2.register_forward_hook(lambda mod, inputs, out: out * 0)
    np.testing.assert_array_equal(m(descend.ones(2, 4)).array, 0)


def test_apply_visits_children_then_self():
    m = TwoLayer()
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    assert names == ["Linear", "ReLU", "Linear", "TwoLayer"]


def test_repr_matches_torch_for_linear_conv_stacks():
    ours = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2, bias=False))
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8, 2, bias=False))
    assert repr(ours) == repr(ref)
    nested = repr(nn.Sequential(nn.Sequential(nn.ReLU())))
    assert nested == "Sequential(\n  (0): Sequential(\n    (0): ReLU()\n  )\n)"


def test_summary_totals_equal_torch_numel_and_shapes_are_right(capsys):
    ours = _our_cnn()
    ours[0].weight.requires_grad = False
    s = nn.summary(ours, (1, 8, 8))
    ref_total = sum(p.numel() for p in _torch_cnn().parameters())
    assert s.total_params == ref_total == 4 * 9 + 4 + 8 + 144 * 10 + 10
    assert s.non_trainable_params == 36 and s.trainable_params == ref_total - 36
    assert [r["output_shape"] for r in s.rows] == [(None, 4, 6, 6), (None, 4, 6, 6), (None, 4, 6, 6), (None, 144),
                                                 (None, 10)]
    assert [r["params"] for r in s.rows] == [40, 8, 0, 0, 1450]
    assert "Total params: 1,498" in capsys.readouterr().out
    assert ours.training  # mode restored
    assert ours.summary((1, 8, 8), print_summary=False).total_params == ref_total


def test_deepcopy_gives_independent_parameters():
    m = TwoLayer()
    m2 = copy.deepcopy(m)
    assert isinstance(m2.fc1.weight, nn.Parameter)
    m2.fc1.weight.array[...] = 0
    assert not np.all(m.fc1.weight.array == 0)


def test_double_casts_parameters_and_buffers():
    m = _our_cnn().double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m[1].running_mean.dtype == np.float64 and m[1].num_batches_tracked.dtype == np.int64


def test_assignment_errors_are_clear():
    m = TwoLayer()
    with pytest.raises(TypeError, match="fc1"):
        m.fc1 = 3
    with pytest.raises(TypeError, match="scale"):
        m.scale = np.ones(2)

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super"):
        Forgot()


def test_sequential_and_modulelist_indexing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[-1], nn.Linear) and len(seq) == 3
    assert len(seq[:2]) == 2
    ml = nn.ModuleList([nn.Linear(2, 2)]).append(nn.Linear(2, 2))
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="Modules only"):
        nn.Sequential(nn.ReLU(), lambda x: x)
