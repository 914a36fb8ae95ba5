"""Every optimiser, for every option, follows its torch.optim twin over 200 steps (Lion: a float64 reference)."""

import numpy as np
import pytest
import torch

import descend
from descend import optim

SHAPES = [(7, 5), (5,), (3, 2, 2), ()]

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.9)),
    ("SGD", dict(lr=0.02, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.8, centered=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.85, 0.995), weight_decay=0.1, amsgrad=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
]


def _problem(dtype, seed=0, steps=200):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _rel(a, b):
    a, b = np.concatenate([x.ravel() for x in a]), np.concatenate([x.ravel() for x in b])
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps its step counts / NAdam's mu_product in this dtype
    yield
    torch.set_default_dtype(old)


def _run_against_torch(name, kwargs, dtype, quadratic=False):
    """200 steps of both optimisers from the same start. Gradients are pre-generated, or (quadratic) the
    gradient c⊙θ + b of ½Σc θ² + b·θ at each framework's own current θ, so differences feed back."""
    init, grads = _problem(dtype)
    curv = [np.abs(a) + 0.1 for a in _problem(dtype, seed=1, steps=0)[0]]
    ps = [descend.tensor(a, requires_grad=True, dtype=dtype) for a in init]
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    opt = getattr(optim, name)(ps, **kwargs)
    topt = getattr(torch.optim, name)(tps, **kwargs)
    for gs in grads:
        for p, q, g, c in zip(ps, tps, gs, curv):
            if quadratic:
                p.grad = descend.tensor(c * p.array + g, dtype=dtype)
                q.grad = torch.tensor(c) * q.detach() + torch.tensor(g)
            else:
                p.grad = descend.tensor(g, dtype=dtype)
                q.grad = torch.tensor(g)
        opt.step()
        topt.step()
    return _rel([p.array for p in ps], [q.detach().numpy() for q in tps]), ps, tps


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_optimiser_matches_torch_over_200_steps_float32(name, kwargs):
    rel, ps, tps = _run_against_torch(name, kwargs, np.float32)
    assert rel < 1e-5, rel
    for p, q in zip(ps, tps):
        assert p.array.dtype == np.float32
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_optimiser_matches_torch_over_200_steps_float64(name, kwargs, torch_float64):
    rel, ps, tps = _run_against_torch(name, kwargs, np.float64)
    assert rel < 1e-10, rel
    assert all(p.array.dtype == np.float64 for p in ps)


@pytest.mark.parametrize("name,kwargs", [CASES[4], CASES[11], CASES[15], CASES[20]])
def test_optimiser_matches_torch_on_a_quadratic_with_feedback(name, kwargs):
    rel, _, _ = _run_against_torch(name, kwargs, np.float32, quadratic=True)
    assert rel < 1e-5, rel


def _lion_reference(init, grads, lr, betas, wd):
    """Chen et al. 2023, Algorithm 2, written out in float64."""
    b1, b2 = betas
    theta = [a.astype(np.float64).copy() for a in init]
    m = [np.zeros_like(t) for t in theta]
    for gs in grads:
        for i, g in enumerate(gs):
            c = b1 * m[i] + (1 - b1) * g
            theta[i] = theta[i] - lr * (np.sign(c) + wd * theta[i])
            m[i] = b2 * m[i] + (1 - b2) * g
    return theta


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("betas", [(0.9, 0.99), (0.95, 0.98)])
def test_lion_matches_the_papers_update_over_200_steps(wd, betas):
    init, grads = _problem(np.float64)
    ref = _lion_reference(init, grads, 3e-3, betas, wd)
    ps = [descend.tensor(a, requires_grad=True, dtype=np.float64) for a in init]
    opt = optim.Lion(ps, lr=3e-3, betas=betas, weight_decay=wd)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = descend.tensor(g, dtype=np.float64)
        opt.step()
    assert _rel([p.array for p in ps], ref) < 1e-10
    ps32 = [descend.tensor(a, requires_grad=True) for a in init]
    opt32 = optim.Lion(ps32, lr=3e-3, betas=betas, weight_decay=wd)
    for gs in grads:
        for p, g in zip(ps32, gs):
            p.grad = descend.tensor(g)
        opt32.step()
    assert all(p.array.dtype == np.float32 for p in ps32)
    assert _rel([p.array for p in ps32], ref) < 1e-5


def _adam_pair(kwargs, dtype=np.float32, seed=0):
    init, grads = _problem(dtype, seed=seed)
    ps = [descend.tensor(a, requires_grad=True, dtype=dtype) for a in init]
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    return ps, tps, grads, optim.Adam(ps, **kwargs), torch.optim.Adam(tps, **kwargs)


def _feed_both(ps, tps, gs, dtype=np.float32):
    for p, q, g in zip(ps, tps, gs):
        p.grad = descend.tensor(g, dtype=dtype)
        q.grad = torch.tensor(g)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.01, weight_decay=0.05), dict(lr=0.01, amsgrad=True)],
                         ids=["fused", "chained", "amsgrad"])
def test_adam_follows_torch_when_the_betas_change_every_step(kwargs):
    """Adam keeps its float32 moments scaled by the initial betas' 1 − β; a momentum schedule (OneCycle's
    cycle_momentum) changes β at every step, which takes the general form of the moment update."""
    ps, tps, grads, opt, topt = _adam_pair(kwargs)
    for k, gs in enumerate(grads):
        betas = (0.85 + 0.1 * np.sin(k / 7.0), 0.99 + 0.009 * np.cos(k / 5.0))
        opt.param_groups[0]["betas"] = betas
        topt.param_groups[0]["betas"] = betas
        _feed_both(ps, tps, gs)
        opt.step()
        topt.step()
    assert _rel([p.array for p in ps], [q.detach().numpy() for q in tps]) < 1e-5
    state, tstate = opt.state_dict()["state"], topt.state_dict()["state"]
    for k in state:
        for name in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if kwargs.get("amsgrad") else ()):
            np.testing.assert_allclose(state[k][name], tstate[k][name].numpy(), rtol=1e-5, atol=1e-9)


def test_adam_state_dict_gives_torchs_moments_and_reloads_bit_for_bit():
    ps, tps, grads, opt, topt = _adam_pair(dict(lr=0.01, betas=(0.8, 0.99)))
    for gs in grads[:50]:
        _feed_both(ps, tps, gs)
        opt.step()
        topt.step()
    opt.param_groups[0]["betas"] = (0.7, 0.95)  # changed after construction: the stored scale stays put
    for gs in grads[50:60]:
        _feed_both(ps, tps, gs)
        opt.step()
    sd = opt.state_dict()
    m = sd["state"][0]["exp_avg"]
    assert m.dtype == np.float64 and m.shape == SHAPES[0]
    assert opt.state[ps[0]]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(opt.state[ps[0]]["exp_avg"], m, rtol=1e-6)

    twins = [descend.tensor(p.array.copy(), requires_grad=True) for p in ps]
    twin = optim.Adam(twins, lr=0.01, betas=(0.8, 0.99))  # made as the original was, then loaded
    twin.load_state_dict(sd)
    assert twin.param_groups[0]["betas"] == (0.7, 0.95)
    for gs in grads[60:100]:
        for a, b, g in zip(ps, twins, gs):
            a.grad, b.grad = descend.tensor(g), descend.tensor(g)
        opt.step()
        twin.step()
    for a, b in zip(ps, twins):
        np.testing.assert_array_equal(a.array, b.array)
    for k, entry in opt.state_dict()["state"].items():
        for name, value in entry.items():
            np.testing.assert_array_equal(value, twin.state_dict()["state"][k][name])


def test_adam_loads_a_torch_state_dict_and_continues_as_torch():
    ps, tps, grads, opt, topt = _adam_pair(dict(lr=0.01))
    for gs in grads[:30]:
        _feed_both(ps, tps, gs)
        topt.step()
    tsd = topt.state_dict()
    opt.load_state_dict({"state": {k: {n: (float(v) if n == "step" else v.numpy()) for n, v in e.items()}
                                   for k, e in tsd["state"].items()},
                         "param_groups": tsd["param_groups"]})
    for p, q in zip(ps, tps):
        p.array[...] = q.detach().numpy()
    for gs in grads[30:130]:
        _feed_both(ps, tps, gs)
        opt.step()
        topt.step()
    assert _rel([p.array for p in ps], [q.detach().numpy() for q in tps]) < 1e-5


def test_adam_with_zero_learning_rate_moves_nothing_but_its_moments():
    ps, tps, grads, opt, topt = _adam_pair(dict(lr=0.0))
    before = [p.array.copy() for p in ps]
    for gs in grads[:5]:
        _feed_both(ps, tps, gs)
        opt.step()
        topt.step()
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.array, b)
    np.testing.assert_allclose(opt.state_dict()["state"][0]["exp_avg"], topt.state_dict()["state"][0]["exp_avg"],
                               rtol=1e-5)
