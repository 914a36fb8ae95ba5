"""Optimiser core: exact resume from a state dict, skipped parameters, groups, errors, convergence, L1/L2."""

import numpy as np
import pytest
import torch

import descend
from descend import optim
from descend.nn.functional import l1_penalty


def _params(rng, dtype=np.float32):
    return [descend.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in [(6, 4), (4,), (3,)]]


def _feed(ps, rng):
    for p in ps:
        p.grad = descend.tensor(rng.standard_normal(p.shape).astype(np.float32))


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
    lambda ps: optim.NAdam(ps, lr=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    lambda ps: optim.Lion(ps, lr=1e-3, weight_decay=0.1),
])
def test_state_dict_resume_is_bit_equal(make):
    rng = np.random.default_rng(0)
    ps = _params(rng)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in ps] for _ in range(40)]
    opt = make(ps)
    sched = optim.OneCycleLR(opt, 0.05, total_steps=40) if "betas" in opt.param_groups[0] or \
        "momentum" in opt.param_groups[0] else optim.CosineAnnealingLR(opt, 15)
    for k, gs in enumerate(grads):
        if k == 20:
            saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
            saved_params = [p.array.copy() for p in ps]
        for p, g in zip(ps, gs):
            p.grad = descend.tensor(g)
        opt.step()
        sched.step()
    ps2 = [descend.tensor(a, requires_grad=True) for a in saved_params]
    opt2 = make(ps2)
    sched2 = type(sched)(opt2, 0.05, total_steps=40) if isinstance(sched, optim.OneCycleLR) else type(sched)(opt2, 15)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    for gs in grads[20:]:
        for p, g in zip(ps2, gs):
            p.grad = descend.tensor(g)
        opt2.step()
        sched2.step()
    for a, b in zip(ps, ps2):
        assert np.array_equal(a.array, b.array)
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_state_dict_is_plain_arrays_and_numbers_indexed_like_torch():
    rng = np.random.default_rng(0)
    ps = _params(rng)
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
    _feed(ps, rng)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"] == 1 and sd["state"][0]["exp_avg"].shape == (6, 4)


def test_parameter_without_grad_is_skipped_and_its_state_does_not_move():
    rng = np.random.default_rng(1)
    ps = _params(rng)
    tps = [torch.tensor(p.array.copy(), requires_grad=True) for p in ps]
    opt, topt = optim.Adam(ps, lr=0.01), torch.optim.Adam(tps, lr=0.01)
    for k in range(30):
        opt.zero_grad()
        topt.zero_grad()
        for i, (p, q) in enumerate(zip(ps, tps)):
            if i == 1 and k % 3 == 0:
                continue  # parameter 1 gets no gradient every third step
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        before = ps[1].array.copy()
        opt.step()
        topt.step()
        if k % 3 == 0:
            assert np.array_equal(ps[1].array, before)
    assert opt.state[ps[1]]["step"] == 20 and opt.state[ps[0]]["step"] == 30
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_param_groups_have_their_own_options_and_schedulers_take_effect():
    rng = np.random.default_rng(2)
    a, b = (descend.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True) for _ in range(2))
    start_a, start_b = a.array.copy(), b.array.copy()
    opt = optim.SGD([{"params": [a]}], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    a.grad = descend.tensor(np.ones(3, np.float32))
    b.grad = descend.tensor(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_allclose(a.array, start_a - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b.array, start_b - 0.01, rtol=1e-6)
    opt.param_groups[1]["lr"] = 1.0
    opt.step()
    np.testing.assert_allclose(b.array, start_b - 1.01, rtol=1e-6)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_and_closure():
    p = descend.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == pytest.approx(5.0)
    np.testing.assert_allclose(p.array, [0.0, 0.0])  # θ − 0.5·2θ
    p.grad = descend.tensor([3.0, 3.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.array, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_rebinding_param_data_is_picked_up():
    p = descend.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.array = np.array([5.0, 5.0], np.float32)
    p.grad = descend.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(p.array, [4.9, 4.9], rtol=1e-6)


def test_step_keeps_float32():
    ps = _params(np.random.default_rng(3))
    _feed(ps, np.random.default_rng(4))
    opt = optim.Adam(ps, lr=np.float64(0.01), betas=(np.float64(0.9), 0.999))
    opt.step()
    assert all(p.array.dtype == np.float32 for p in ps)
    assert all(v.dtype == np.float32 for v in opt.state[ps[0]].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "-0.1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "-0.5"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "-0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "-1e-08"),
    (lambda p: optim.AdamW(p, weight_decay=-1), "-1"),
    (lambda p: optim.RMSprop(p, alpha=1.5), "1.5"),
    (lambda p: optim.Adagrad(p, lr_decay=-2), "-2"),
    (lambda p: optim.NAdam(p, momentum_decay=-3), "-3"),
    (lambda p: optim.Lion(p, betas=(0.9, 1.2)), "1.2"),
])
def test_bad_hyperparameters_raise_naming_the_value(make, match):
    with pytest.raises(ValueError, match=match.replace("-", r"\-").replace(".", r"\.")):
        make([descend.tensor([1.0], requires_grad=True)])


def test_bad_params_argument():
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(descend.tensor([1.0], requires_grad=True), lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)


def _ravine_steps(make, tol=1e-3, max_steps=5000):
    """Steps to reach ‖θ‖ < tol on f(θ) = ½(θ₀² + 100θ₁²) (condition number 100) from (1, 1)."""
    p = descend.tensor(np.array([1.0, 1.0]), requires_grad=True, dtype=np.float64)
    opt = make([p])
    h = np.array([1.0, 100.0])
    for k in range(1, max_steps + 1):
        p.grad = descend.tensor(h * p.array, dtype=np.float64)
        opt.step()
        if np.linalg.norm(p.array) < tol:
            return k
    return max_steps + 1


def test_momentum_and_adam_cross_a_ravine_faster_than_gradient_descent():
    lr = 0.01  # stable for GD and Nesterov on the stiff axis (GD needs lr < 2/100)
    gd = _ravine_steps(lambda p: optim.SGD(p, lr=lr))
    heavy_ball = _ravine_steps(lambda p: optim.SGD(p, lr=lr, momentum=0.8))
    nesterov = _ravine_steps(lambda p: optim.SGD(p, lr=lr, momentum=0.8, nesterov=True))
    adam = _ravine_steps(lambda p: optim.Adam(p, lr=lr))
    assert 600 < gd < 800  # GD converges slowly: rate 1 − lr·λ_min = 0.99 per step (measured 688)
    assert heavy_ball < gd / 4 and nesterov < gd / 4  # measured 101 and 109
    assert adam < gd / 2  # measured 276


def test_param_groups_weight_decay_excludes_biases_and_norm_weights():
    w, b, ln = (descend.tensor(np.ones(s, np.float32), requires_grad=True) for s in [(3, 2), (3,), (3,)])
    emb = descend.tensor(np.ones((5, 3), np.float32), requires_grad=True)

    class Model:
        def named_parameters(self):
            return iter([("fc.weight", w), ("fc.bias", b), ("norm.weight", ln), ("embedding.weight", emb)])

    decay, keep = optim.param_groups_weight_decay(Model(), 0.05, no_decay=("embedding",))
    assert decay["params"] == [w] and decay["weight_decay"] == 0.05
    assert keep["params"] == [b, ln, emb] and keep["weight_decay"] == 0.0
    opt = optim.AdamW([decay, keep], lr=0.1)
    for p in (w, b, ln, emb):
        p.grad = descend.tensor(np.zeros(p.shape, np.float32))
    opt.step()  # zero gradient: only decoupled decay moves the weights, θ ← θ(1 − ηλ)
    np.testing.assert_allclose(w.array, 1 - 0.1 * 0.05, rtol=1e-6)
    np.testing.assert_array_equal(b.array, 1.0)


def test_l1_penalty_value_and_subgradient_match_torch():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((4, 3)).astype(np.float32), np.array([0.0, 1.5, -2.0], np.float32)]
    ps = [descend.tensor(a, requires_grad=True) for a in arrays]
    tps = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = l1_penalty(ps, 0.3)
    tout = 0.3 * sum(t.abs().sum() for t in tps)
    out.backward()
    tout.backward()
    assert out.shape == () and float(out) == pytest.approx(tout.item(), rel=1e-6)
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-6)
    assert ps[1].grad.array[0] == 0.0  # subgradient 0 at 0
    with pytest.raises(ValueError, match="-1"):
        l1_penalty(ps, -1.0)


def _dead_unit_grads(rng, steps, shape=(8, 16)):
    """Gradients where rows 4-7 (units that died after the first step) get a tiny gradient once and then zeros."""
    grads = []
    for k in range(steps):
        g = rng.standard_normal(shape).astype(np.float32)
        g[4:] = 1e-36 * np.sign(g[4:]) if k == 0 else 0.0
        grads.append(g)
    return grads


def _subnormal(a):
    a = np.asarray(a)
    return (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)


@pytest.mark.parametrize("make_d, make_t, key", [
    (lambda ps: optim.Adam(ps, lr=1e-3), lambda ps: torch.optim.Adam(ps, lr=1e-3), "exp_avg"),
    (lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True),
     lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True), "momentum_buffer"),
])
def test_subnormal_state_is_flushed_every_flush_every_steps_and_parameters_still_follow_torch(make_d, make_t, key):
    from descend.optim.optimizer import DEFAULT_FLUSH_EVERY as FLUSH_EVERY
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((8, 16)).astype(np.float32)
    grads = _dead_unit_grads(rng, 2 * FLUSH_EVERY + 10)
    p = descend.tensor(w0.copy(), requires_grad=True)
    q = torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = make_d([p]), make_t([q])
    stored = opt._buckets[0][0].state[key]  # as the optimiser keeps it (Adam's m scaled by 1/(1 − β₁))
    for k, g in enumerate(grads, start=1):
        p.grad = descend.tensor(g)
        q.grad = torch.tensor(g)
        opt.step()
        topt.step()
        if k == FLUSH_EVERY - 1:  # the dead units' state has decayed into subnormals, in both frameworks
            assert _subnormal(stored).any() and _subnormal(topt.state[q][key].numpy()[4:]).any()
        if k == FLUSH_EVERY:
            assert not _subnormal(stored).any()
    ours, theirs = opt.state[p][key], topt.state[q][key].numpy()
    assert _subnormal(theirs[4:]).any() and not _subnormal(stored).any()
    np.testing.assert_array_equal(stored.reshape(8, 16)[4:], 0.0)
    np.testing.assert_allclose(ours[:4], theirs[:4], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_resume_across_a_flush_of_subnormal_state_is_bit_equal():
    from descend.optim.optimizer import DEFAULT_FLUSH_EVERY as FLUSH_EVERY
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((8, 16)).astype(np.float32)
    grads = _dead_unit_grads(rng, 2 * FLUSH_EVERY + 20)
    resume_at = FLUSH_EVERY - 30
    runs = []
    for resume in (False, True):
        p = descend.tensor(w0.copy(), requires_grad=True)
        opt = optim.Adam([p], lr=1e-3)
        for k, g in enumerate(grads):
            if resume and k == resume_at:
                saved, saved_w = opt.state_dict(), p.array.copy()
                p = descend.tensor(saved_w, requires_grad=True)
                opt = optim.Adam([p], lr=1e-3)
                opt.load_state_dict(saved)
            p.grad = descend.tensor(g)
            opt.step()
        runs.append((p.array.copy(), opt.state[p]))
    (w_a, s_a), (w_b, s_b) = runs
    np.testing.assert_array_equal(w_a, w_b)
    for name in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(s_a[name], s_b[name])


def test_flushing_subnormals_keeps_zero_normal_numbers_nan_and_infinity():
    p = descend.tensor(np.zeros(9, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    bucket = opt._buckets[0][0]
    tiny = np.finfo(np.float32).tiny
    values = np.array([np.nan, np.inf, -np.inf, tiny, -tiny, tiny / 2, -tiny / 8, 1e-45, 0.0], np.float32)
    bucket.state["momentum_buffer"][:] = values
    bucket._flush_subnormals(0, 9)
    expected = np.array([np.nan, np.inf, -np.inf, tiny, -tiny, 0, 0, 0, 0], np.float32)
    np.testing.assert_array_equal(bucket.state["momentum_buffer"], expected)


def test_flush_every_zero_keeps_subnormal_state():
    rng = np.random.default_rng(5)
    p = descend.tensor(rng.standard_normal((8, 16)).astype(np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=1e-3, flush_subnormals_every=0)
    for g in _dead_unit_grads(rng, 300):
        p.grad = descend.tensor(g)
        opt.step()
    assert _subnormal(opt._buckets[0][0].state["exp_avg"]).any()
