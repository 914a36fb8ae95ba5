"""LBFGS takes torch.optim.LBFGS's iterates (float64, with and without the strong Wolfe line search) on
least squares and logistic regression, through the closure API, resumes bit for bit from its state dict,
and rejects bad arguments in one line."""

import numpy as np
import pytest
import torch

import descend
from descend import nn, optim
from descend.optim.line_search import cubic_minimizer


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 6))
    y = (x @ rng.standard_normal(6) + 0.5 * rng.standard_normal(40) > 0).astype(np.float64)
    return x, y, 0.1 * rng.standard_normal(6)


def _problem(logistic, kwargs, seed=0):
    """(descend optimiser, closure, w), (torch optimiser, closure, w) for ridge least squares or logistic
    regression: loss = L(Xw + b, y) + 0.01‖w‖²."""
    x, y, w0 = _data(seed)
    w = descend.tensor(w0.copy(), requires_grad=True, dtype=np.float64)
    b = descend.tensor(np.zeros(1), requires_grad=True, dtype=np.float64)
    tw, tb = torch.tensor(w0.copy(), requires_grad=True), torch.zeros(1, requires_grad=True)
    xd, yd, xt, yt = descend.tensor(x, dtype=np.float64), descend.tensor(y, dtype=np.float64), torch.tensor(x), \
        torch.tensor(y)
    opt, topt = optim.LBFGS([w, b], **kwargs), torch.optim.LBFGS([tw, tb], **kwargs)
    calls = {"descend": 0, "torch": 0}

    def closure():
        calls["descend"] += 1
        opt.zero_grad()
        z = xd @ w + b
        fit = nn.functional.binary_cross_entropy_with_logits(z, yd) if logistic else ((z - yd) ** 2).mean()
        loss = fit + 0.01 * (w * w).sum()
        loss.backward()
        return loss

    def tclosure():
        calls["torch"] += 1
        topt.zero_grad()
        z = xt @ tw + tb
        fit = torch.nn.functional.binary_cross_entropy_with_logits(z, yt) if logistic else ((z - yt) ** 2).mean()
        loss = fit + 0.01 * (tw * tw).sum()
        loss.backward()
        return loss

    return (opt, closure, [w, b]), (topt, tclosure, [tw, tb]), calls


SETTINGS = [dict(), dict(lr=0.5, max_iter=7), dict(max_iter=5, history_size=3),
            dict(line_search_fn="strong_wolfe"), dict(line_search_fn="strong_wolfe", max_iter=4, history_size=2),
            dict(lr=0.1, max_iter=30, max_eval=12, tolerance_change=1e-12)]


@pytest.mark.parametrize("logistic", [False, True], ids=["least-squares", "logistic"])
@pytest.mark.parametrize("kwargs", SETTINGS, ids=[str(k) for k in SETTINGS])
def test_lbfgs_takes_torchs_iterates_in_float64(kwargs, logistic, torch_float64):
    (opt, closure, ps), (topt, tclosure, tps), calls = _problem(logistic, kwargs)
    for _ in range(4):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert isinstance(loss, descend.Tensor) and float(loss.array) == pytest.approx(tloss.item(), rel=1e-12)
        for p, q in zip(ps, tps):
            np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-9, atol=1e-12)
        assert calls["descend"] == calls["torch"]  # the same number of closure evaluations
        st, tst = opt.state[ps[0]], topt.state[tps[0]]
        assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
        assert len(st["old_dirs"]) == len(tst["old_dirs"])
        np.testing.assert_allclose(st["d"], tst["d"].numpy(), rtol=1e-6, atol=1e-10)


def test_lbfgs_with_line_search_solves_least_squares_to_the_normal_equations(torch_float64):
    (opt, closure, (w, b)), _, _ = _problem(False, dict(line_search_fn="strong_wolfe", max_iter=200,
                                                                  tolerance_grad=1e-12, tolerance_change=1e-15))
    opt.step(closure)
    x, y, _ = _data()
    a = np.hstack([x, np.ones((40, 1))])  # minimise ‖a θ − y‖²/40 + 0.01‖w‖²
    reg = np.diag([0.01 * 40] * 6 + [0.0])
    theta = np.linalg.solve(a.T @ a + reg, a.T @ y)
    np.testing.assert_allclose(np.concatenate([w.array, b.array]), theta, atol=1e-7)


def test_lbfgs_state_dict_round_trip_resumes_bit_for_bit():
    (opt, closure, ps), _, _ = _problem(True, dict(line_search_fn="strong_wolfe", max_iter=3))
    opt.step(closure)
    opt.step(closure)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                                   "prev_flat_grad", "prev_loss", "al"}
    assert sd["param_groups"][0]["params"] == [0, 1] and sd["param_groups"][0]["max_eval"] == 3
    (twin, tclosure, tps), _, _ = _problem(True, dict(line_search_fn="strong_wolfe", max_iter=3))
    for p, q in zip(ps, tps):
        q.array[...] = p.array
    twin.load_state_dict(sd)
    opt.step(closure)
    opt.step(closure)
    twin.step(tclosure)
    twin.step(tclosure)
    for p, q in zip(ps, tps):
        np.testing.assert_array_equal(p.array, q.array)
    assert opt.state[ps[0]]["func_evals"] == twin.state[tps[0]]["func_evals"]
    sd = opt.state_dict()
    d = opt.state[ps[0]]["d"].copy()
    sd["state"][0]["d"][...] = 0  # the state dict holds copies
    np.testing.assert_array_equal(opt.state[ps[0]]["d"], d)


def test_lbfgs_in_float32_keeps_the_dtype_and_follows_torch():
    x, y, w0 = _data()
    w = descend.tensor(w0.astype(np.float32), requires_grad=True)
    tw = torch.tensor(w0.astype(np.float32), requires_grad=True)
    xd, yd, xt, yt = descend.tensor(x.astype(np.float32)), descend.tensor(y.astype(np.float32)), \
        torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    opt, topt = optim.LBFGS([w], line_search_fn="strong_wolfe"), torch.optim.LBFGS([tw], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((xd @ w - yd) ** 2).mean()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = ((xt @ tw - yt) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
        topt.step(tclosure)
    assert w.array.dtype == np.float32
    np.testing.assert_allclose(w.array, tw.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_lbfgs_stops_at_once_when_the_gradient_is_below_tolerance_grad():
    w = descend.tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
    opt = optim.LBFGS([w], tolerance_grad=1e-3)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = ((w - 1e-5) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1 and np.all(w.array == 0) and opt.state[w]["n_iter"] == 0


def test_lbfgs_lr_follows_a_scheduler():
    (opt, closure, ps), _, _ = _problem(False, dict(lr=0.5, max_iter=1))
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    opt.step(closure)
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.25
    opt.step(closure)
    assert opt.state[ps[0]]["t"] == 0.25  # after the first iteration t = lr


def test_cubic_minimizer_finds_the_minimum_of_a_cubic():
    f = lambda t: t ** 3 - 3 * t  # noqa: E731  minimum at t = 1
    df = lambda t: 3 * t ** 2 - 3  # noqa: E731
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0)) == pytest.approx(1.0)
    assert cubic_minimizer(2.0, f(2.0), df(2.0), 0.0, f(0.0), df(0.0)) == pytest.approx(1.0)
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0), bounds=(1.5, 3.0)) == 1.5


@pytest.mark.parametrize("kwargs,match", [
    (dict(lr=-1), r"invalid lr: -1"), (dict(max_iter=0), r"invalid max_iter: 0"),
    (dict(max_eval=2.5), r"invalid max_eval: 2\.5"), (dict(history_size=0), r"invalid history_size: 0"),
    (dict(tolerance_grad=-1e-7), r"invalid tolerance_grad: -1e-07"),
    (dict(tolerance_change=-1.0), r"invalid tolerance_change: -1\.0"),
    (dict(line_search_fn="armijo"), r"invalid line_search_fn: 'armijo'; give None or 'strong_wolfe'")])
def test_lbfgs_bad_arguments_raise_one_line_naming_the_value(kwargs, match):
    w = descend.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=match) as err:
        optim.LBFGS([w], **kwargs)
    assert "\n" not in str(err.value)


def test_lbfgs_needs_a_closure_one_group_and_one_dtype():
    w = descend.tensor(np.zeros(3), requires_grad=True)
    v = descend.tensor(np.zeros(2), requires_grad=True, dtype=np.float64)
    opt = optim.LBFGS([w])
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS takes one parameter group, got 2"):
        optim.LBFGS([{"params": [w]}, {"params": [v]}])
    with pytest.raises(TypeError, match=r"one floating dtype, got dtypes \['float32', 'float64'\]"):
        optim.LBFGS([w, v])
    assert optim.LBFGS([{"params": [w], "lr": 0.3}]).param_groups[0]["lr"] == 0.3
    assert optim.LBFGS([w]).defaults["max_eval"] == 25 and optim.LBFGS([w], max_iter=8).defaults["max_eval"] == 10
