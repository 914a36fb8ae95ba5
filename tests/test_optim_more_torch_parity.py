"""Adadelta, Adamax, RAdam, ASGD and Rprop follow their torch.optim twins: over 200 steps of given and
fed-back gradients, on a small model with a scheduler driving lr, through a state dict (ours and torch's),
with PyTorch's state names, and with one-line errors for bad arguments."""

import numpy as np
import pytest
import torch

import descend
from descend import nn, optim

SHAPES = [(7, 5), (5,), (3, 2, 2), ()]

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.05)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05)),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.01)),
    ("ASGD", dict(lr=0.02, lambd=1e-2, alpha=0.6, t0=50, weight_decay=0.05)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.4, 1.3), step_sizes=(1e-3, 0.1))),
]
IDS = [f"{n}-{k}" for n, k in CASES]

#: PyTorch's state names per optimiser (besides 'step')
STATE_NAMES = {"Adadelta": {"square_avg", "acc_delta"}, "Adamax": {"exp_avg", "exp_inf"},
               "RAdam": {"exp_avg", "exp_avg_sq"}, "ASGD": {"eta", "mu", "ax"}, "Rprop": {"prev", "step_size"}}


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _rel(a, b):
    a, b = np.concatenate([np.ravel(x) for x in a]), np.concatenate([np.ravel(x) for x in b])
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _pair(name, kwargs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ps = [descend.tensor(a, requires_grad=True, dtype=dtype) for a in init]
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    return ps, tps, getattr(optim, name)(ps, **kwargs), getattr(torch.optim, name)(tps, **kwargs)


def _run(name, kwargs, dtype, quadratic, steps=200):
    """``steps`` steps of both from one start: gradients pre-drawn, or (quadratic) c⊙θ + b at each one's own θ."""
    ps, tps, opt, topt = _pair(name, kwargs, dtype)
    rng = np.random.default_rng(1)
    curv = [np.abs(rng.standard_normal(s)).astype(dtype) + 0.1 for s in SHAPES]
    for _ in range(steps):
        for p, q, c in zip(ps, tps, curv):
            g = rng.standard_normal(c.shape).astype(dtype)
            p.grad = descend.tensor(c * p.array + g if quadratic else g, dtype=dtype)
            q.grad = torch.tensor(c) * q.detach() + torch.tensor(g) if quadratic else torch.tensor(g)
        opt.step()
        topt.step()
    return ps, tps, opt, topt


@pytest.mark.parametrize("quadratic", [False, True], ids=["given", "fed-back"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_new_optimiser_matches_torch_over_200_steps_float32(name, kwargs, quadratic):
    ps, tps, opt, topt = _run(name, kwargs, np.float32, quadratic)
    assert all(p.array.dtype == np.float32 for p in ps)
    assert _rel([p.array for p in ps], [q.detach().numpy() for q in tps]) < 1e-5
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("quadratic", [False, True], ids=["given", "fed-back"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_new_optimiser_matches_torch_over_200_steps_float64_and_has_its_state(name, kwargs, quadratic, torch_float64):
    ps, tps, opt, topt = _run(name, kwargs, np.float64, quadratic)
    assert _rel([p.array for p in ps], [q.detach().numpy() for q in tps]) < 1e-12
    state, tstate = opt.state_dict()["state"], topt.state_dict()["state"]
    for k, entry in tstate.items():
        assert set(state[k]) == set(entry) == STATE_NAMES[name] | {"step"}
        assert state[k]["step"] == int(entry["step"]) == 200
        for key in STATE_NAMES[name]:
            np.testing.assert_allclose(state[k][key], entry[key].numpy(), rtol=1e-9, atol=1e-12)
    group, tgroup = opt.state_dict()["param_groups"][0], topt.state_dict()["param_groups"][0]
    for key, value in group.items():
        assert tgroup[key] == (list(value) if isinstance(tgroup[key], list) else value), key


def test_rprop_takes_exactly_torchs_steps():
    """Rprop's steps are products of η₋, η₊ and signs, with no rounding to differ: equal bit for bit."""
    for kwargs in (CASES[9][1], CASES[10][1]):
        ps, tps, _, _ = _run("Rprop", kwargs, np.float32, quadratic=True)
        for p, q in zip(ps, tps):
            np.testing.assert_array_equal(p.array, q.detach().numpy())


def test_asgd_averages_from_t0_on_as_torch():
    """Before t0 the average is the iterate (μ = 1); after, the running mean of the iterates since t0."""
    ps, tps, opt, topt = _run("ASGD", dict(lr=0.05, t0=20), np.float64, quadratic=True, steps=60)
    st = opt.state[ps[0]]
    assert st["mu"] == pytest.approx(1 / 40) and topt.state[tps[0]]["mu"].item() == pytest.approx(1 / 40)
    assert st["eta"] == pytest.approx(0.05 / (1 + 1e-4 * 0.05 * 60) ** 0.75)
    assert not np.allclose(st["ax"], ps[0].array)  # an average, not the iterate
    np.testing.assert_allclose(st["ax"], topt.state[tps[0]]["ax"].numpy(), rtol=1e-6)


# ------------------------------------------------------------------ a small model with a scheduler
def _models(seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    dm = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    for d, t in zip(dm.parameters(), tm.parameters()):
        d.array[...] = t.detach().numpy()
    return dm, tm


SCHEDULED = [("Adadelta", dict(), "StepLR", dict(step_size=30, gamma=0.5)),
             ("Adamax", dict(lr=0.02, weight_decay=1e-3), "CosineAnnealingLR", dict(T_max=100)),
             ("RAdam", dict(lr=0.01), "StepLR", dict(step_size=25, gamma=0.3)),
             ("ASGD", dict(lr=0.05, t0=40), "ExponentialLR", dict(gamma=0.98)),
             ("Rprop", dict(lr=0.002, step_sizes=(1e-6, 0.01)), "LinearLR", dict(start_factor=0.5, total_iters=10))]


@pytest.mark.parametrize("name,kwargs,sched,skw", SCHEDULED, ids=[s[0] for s in SCHEDULED])
def test_new_optimiser_trains_a_small_model_as_torch_with_a_scheduler_and_closure(name, kwargs, sched, skw):
    """100 full-batch steps of an MLP through ``step(closure)``; the scheduler writes lr before the first
    step (LinearLR) and every step after; the closure's loss is returned."""
    dm, tm = _models()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    opt, topt = getattr(optim, name)(dm.parameters(), **kwargs), getattr(torch.optim, name)(tm.parameters(), **kwargs)
    s, ts = getattr(optim, sched)(opt, **skw), getattr(torch.optim.lr_scheduler, sched)(topt, **skw)
    xd, yd, xt, yt = descend.tensor(x), descend.tensor(y), torch.tensor(x), torch.tensor(y)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(dm(xd), yd)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(xt), yt)
        loss.backward()
        return loss

    losses = []
    for _ in range(100):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert isinstance(loss, descend.Tensor)
        losses.append((float(loss.array), tloss.item()))
        s.step()
        ts.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    losses = np.array(losses)
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=2e-4, atol=1e-5)
    assert losses[-1, 0] < 0.95 * losses[0, 0]  # it trained (Adadelta and RAdam start slowly)
    for d, t in zip(dm.parameters(), tm.parameters()):
        np.testing.assert_allclose(d.array, t.detach().numpy(), rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------ state dicts
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_new_optimiser_resumes_bit_for_bit_from_its_state_dict(name, kwargs):
    ps, _, opt, _ = _pair(name, kwargs, np.float32)
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(120)]
    for gs in grads[:60]:
        for p, g in zip(ps, gs):
            p.grad = descend.tensor(g)
        opt.step()
    sd = opt.state_dict()
    twins = [descend.tensor(p.array.copy(), requires_grad=True) for p in ps]
    twin = getattr(optim, name)(twins, **kwargs)
    twin.load_state_dict(sd)
    for gs in grads[60:]:
        for a, b, g in zip(ps, twins, gs):
            a.grad, b.grad = descend.tensor(g), descend.tensor(g)
        opt.step()
        twin.step()
    for a, b in zip(ps, twins):
        np.testing.assert_array_equal(a.array, b.array)
    for k, entry in opt.state_dict()["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(value, twin.state_dict()["state"][k][key])


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_torchs_state_dict_loads_and_the_run_continues_as_torchs(name, kwargs, torch_float64):
    ps, tps, opt, topt = _run(name, kwargs, np.float64, quadratic=False, steps=30)
    sd = topt.state_dict()
    plain = {"state": {k: {n: (v.numpy() if isinstance(v, torch.Tensor) else v) for n, v in e.items()}
                       for k, e in sd["state"].items()},
             "param_groups": [{k: v for k, v in g.items() if k in opt.param_groups[0] or k == "params"}
                              for g in sd["param_groups"]]}
    fresh = [descend.tensor(q.detach().numpy().copy(), requires_grad=True, dtype=np.float64) for q in tps]
    twin = getattr(optim, name)(fresh, **kwargs)
    twin.load_state_dict(plain)
    rng = np.random.default_rng(5)
    for _ in range(30):
        for p, q in zip(fresh, tps):
            g = rng.standard_normal(p.array.shape)
            p.grad, q.grad = descend.tensor(g, dtype=np.float64), torch.tensor(g)
        twin.step()
        topt.step()
    assert _rel([p.array for p in fresh], [q.detach().numpy() for q in tps]) < 1e-12


# ------------------------------------------------------------------ arguments
BAD = [
    ("Adadelta", dict(lr=-1.0), r"invalid lr: -1\.0"),
    ("Adadelta", dict(rho=1.5), r"invalid rho: 1\.5"),
    ("Adadelta", dict(eps=-1e-6), r"invalid eps: -1e-06"),
    ("Adadelta", dict(weight_decay=-0.1), r"invalid weight_decay: -0\.1"),
    ("Adamax", dict(betas=(0.9, 1.0)), r"invalid beta parameter at index 1: 1\.0"),
    ("Adamax", dict(lr=-2e-3), r"invalid lr: -0\.002"),
    ("RAdam", dict(betas=(1.2, 0.9)), r"invalid beta parameter at index 0: 1\.2"),
    ("RAdam", dict(eps=-1.0), r"invalid eps: -1\.0"),
    ("ASGD", dict(lambd=-1e-4), r"invalid lambd: -0\.0001"),
    ("ASGD", dict(lr=-0.01), r"invalid lr: -0\.01"),
    ("ASGD", dict(alpha="fast"), r"invalid alpha: 'fast'"),
    ("Rprop", dict(etas=(1.5, 1.2)), r"invalid etas: \(1\.5, 1\.2\); give two numbers \(etaminus, etaplus\)"),
    ("Rprop", dict(etas=0.5), r"invalid etas: 0\.5"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), r"invalid step_sizes: \(1\.0, 0\.1\)"),
]


@pytest.mark.parametrize("name,kwargs,match", BAD, ids=[f"{n}-{k}" for n, k, _ in BAD])
def test_bad_arguments_of_the_new_optimisers_raise_one_line_naming_the_value(name, kwargs, match):
    p = descend.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=match) as err:
        getattr(optim, name)([p], **kwargs)
    assert "\n" not in str(err.value)


def test_new_optimisers_keep_pytorchs_defaults_and_argument_order():
    p = descend.tensor(np.zeros(3), requires_grad=True)
    tp = torch.zeros(3, requires_grad=True)
    positional = {"Adadelta": (0.5, 0.8, 1e-5, 0.1), "Adamax": (0.01, (0.8, 0.9), 1e-6, 0.1),
                  "RAdam": (0.01, (0.8, 0.9), 1e-6, 0.1, True), "ASGD": (0.02, 1e-3, 0.5, 10.0, 0.1),
                  "Rprop": (0.02, (0.3, 1.5), (1e-4, 1.0))}
    for name, args in positional.items():
        for a in ((), args):
            ours = getattr(optim, name)([p], *a).param_groups[0]
            theirs = getattr(torch.optim, name)([tp], *a).param_groups[0]
            for key, value in ours.items():
                if key != "params":
                    assert theirs[key] == (list(value) if isinstance(theirs[key], list) else value), (name, key)


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[3], CASES[6], CASES[8], CASES[10]],
                         ids=["Adadelta", "Adamax", "RAdam", "ASGD", "Rprop"])
def test_new_optimiser_follows_torch_across_chunks_and_skipped_gradients(name, kwargs, torch_float64):
    """A parameter cut into chunks, and one whose gradient is None every third step (its step count and
    per-parameter state fall behind the others'), as PyTorch skips it."""
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s) for s in [(2500,), (5,), (3, 4)]]
    ps = [descend.tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in init]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = getattr(optim, name)(ps, chunk_size=1000, **kwargs), getattr(torch.optim, name)(tps, **kwargs)
    for k in range(60):
        for i, (p, q) in enumerate(zip(ps, tps)):
            if i == 1 and k % 3 == 0:
                p.grad = q.grad = None
                continue
            g = rng.standard_normal(p.array.shape)
            p.grad, q.grad = descend.tensor(g, dtype=np.float64), torch.tensor(g)
        opt.step()
        topt.step()
    assert opt.state[ps[1]]["step"] == 40 and opt.state[ps[0]]["step"] == 60
    assert _rel([p.array for p in ps], [q.detach().numpy() for q in tps]) < 1e-12
