"""Optimisers composed from public rules with descend.optim.chain, against PyTorch (its optimisers, or its
tensors stepped by hand): hyperparameters as group options, schedulers, state dicts, fused steps."""

import numpy as np
import pytest
import torch

import descend
from descend import optim
from descend.optim import chain, rules

SHAPES = [(40, 30), (7, 5), (5,), (3, 2, 2), ()]  # with chunk_size=256: one own chunk, one shared by the rest


def _problem(seed, steps, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]
    return init, grads


def _pair(init):
    return ([descend.tensor(a.copy(), requires_grad=True) for a in init],
            [torch.tensor(a.copy(), requires_grad=True) for a in init])


def _close(ours, theirs, rtol=1e-5, atol=1e-6):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("chunk_size", [256, optim.optimizer.DEFAULT_CHUNK])
def test_chain_of_coupled_decay_adam_and_lr_matches_torch_adam_with_weight_decay_over_200_steps(chunk_size):
    init, grads = _problem(0, 200)
    ps, qs = _pair(init)
    opt = chain(ps, rules.add_decayed_weights(0.05), rules.scale_by_adam(betas=(0.9, 0.99)),
                rules.scale_by_learning_rate(1e-2), chunk_size=chunk_size)
    topt = torch.optim.Adam(qs, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.05)
    for gs in grads:
        for p, q, g in zip(ps, qs, gs):
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    _close(ps, qs)
    assert opt.param_groups[0]["weight_decay"] == 0.05 and opt.param_groups[0]["betas"] == (0.9, 0.99)


def test_chain_of_momentum_then_decoupled_decay_matches_sgd_stepped_by_hand_in_torch():
    # not a named optimiser: b ← μb + g, θ ← θ − η(b + λθ) (SGD-momentum with decoupled weight decay)
    init, grads = _problem(1, 200)
    ps, qs = _pair(init)
    mu, lam, lr = 0.9, 0.1, 0.02
    opt = chain(ps, rules.trace(momentum=mu), rules.add_decayed_weights(lam), rules.scale_by_learning_rate(lr),
                chunk_size=256)
    bufs = [None] * len(qs)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = descend.tensor(g)
        opt.step()
        with torch.no_grad():
            for k, (q, g) in enumerate(zip(qs, gs)):
                g = torch.tensor(g)
                bufs[k] = g.clone() if bufs[k] is None else bufs[k].mul_(mu).add_(g)
                q.sub_(lr * (bufs[k] + lam * q))
    _close(ps, qs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(opt.state[ps[0]]["momentum_buffer"], bufs[0].numpy(), rtol=1e-4, atol=1e-5)


def test_chain_with_a_clipping_rule_matches_torch_adam_on_clamped_gradients():
    init, grads = _problem(2, 200)
    ps, qs = _pair(init)
    opt = chain(ps, rules.clip(0.5), rules.scale_by_adam(), rules.scale_by_learning_rate(1e-2), chunk_size=256)
    topt = torch.optim.Adam(qs, lr=1e-2)
    for gs in grads:
        for p, q, g in zip(ps, qs, gs):
            p.grad, q.grad = descend.tensor(g), torch.tensor(g).clamp_(-0.5, 0.5)
        opt.step()
        topt.step()
    _close(ps, qs)
    assert np.array_equal(ps[0].grad.array, grads[-1][0])  # the rule clipped the update, not the gradient
    assert opt._buckets[0][0].fused is None  # clipping is not part of a chain Adam's fused step covers


def test_hand_built_adam_chain_takes_the_fused_step_until_its_decay_is_switched_on():
    init, grads = _problem(6, 100)
    ps, qs = _pair(init)
    opt = chain(ps, rules.add_decayed_weights(0.0), rules.scale_by_adam(), rules.scale_by_learning_rate(1e-2),
                chunk_size=256)
    topt = torch.optim.Adam(qs, lr=1e-2)
    fused = opt._buckets[0][0].fused
    for k, gs in enumerate(grads):
        if k == 50:
            opt.param_groups[0]["weight_decay"] = topt.param_groups[0]["weight_decay"] = 0.1
        assert (fused.prepare(opt.param_groups[0], k + 1) is None) == (k >= 50)
        for p, q, g in zip(ps, qs, gs):
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    _close(ps, qs)


def test_chain_hyperparameters_are_group_options_that_schedulers_and_groups_drive():
    init, grads = _problem(3, 60, shapes=[(6, 4), (4,)])
    ps, qs = _pair(init)
    opt = chain([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05, "betas": (0.8, 0.9)}],
                rules.scale_by_adam(), rules.scale_by_learning_rate(0.1))
    topt = torch.optim.Adam([{"params": [qs[0]]}, {"params": [qs[1]], "lr": 0.05, "betas": (0.8, 0.9)}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.05]
    sched, tsched = optim.StepLR(opt, 10, 0.5), torch.optim.lr_scheduler.StepLR(topt, 10, 0.5)
    for gs in grads:
        for p, q, g in zip(ps, qs, gs):
            p.grad, q.grad = descend.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr())
    _close(ps, qs)


def test_onecycle_cycles_the_momentum_a_chained_trace_reads():
    init, grads = _problem(4, 50, shapes=[(5, 3)])
    ps, qs = _pair(init)
    opt = chain(ps, rules.trace(momentum=0.9, dampening=0.0, nesterov=False), rules.scale_by_learning_rate(0.1))
    topt = torch.optim.SGD(qs, lr=0.1, momentum=0.9)
    sched = optim.OneCycleLR(opt, 0.1, total_steps=50)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, 0.1, total_steps=50)
    for gs in grads:
        ps[0].grad, qs[0].grad = descend.tensor(gs[0]), torch.tensor(gs[0])
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"])
    _close(ps, qs, rtol=1e-4, atol=1e-5)


def test_group_key_binds_a_second_rule_of_a_kind_and_a_clash_names_the_key():
    w = descend.tensor(np.ones(4, np.float32), requires_grad=True)
    opt = chain([w], rules.add_decayed_weights(0.1), rules.scale_by_adam(),
                rules.add_decayed_weights(rules.group_key("decoupled_decay", 0.01)), rules.scale_by_learning_rate(0.1))
    assert opt.param_groups[0]["weight_decay"] == 0.1 and opt.param_groups[0]["decoupled_decay"] == 0.01
    w.grad = descend.tensor(np.zeros(4, np.float32))
    opt.step()  # g = 0.1θ: Adam's first step is −η·sign(g); then the decoupled decay −η·0.01θ
    np.testing.assert_allclose(w.array, 1 - 0.1 * (1 + 0.01), rtol=1e-5)
    with pytest.raises(ValueError, match="'weight_decay'.*group_key"):
        chain([w], rules.add_decayed_weights(0.1), rules.scale_by_adam(), rules.add_decayed_weights(0.01),
              rules.scale_by_learning_rate(0.1))


def test_chain_rejects_bad_rules_and_hyperparameters_naming_them():
    w = descend.tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="update rules"):
        chain([w])
    with pytest.raises(TypeError, match="update rules"):
        chain([w], lambda u: u)
    with pytest.raises(ValueError, match="invalid max_delta: -1"):
        chain([w], rules.clip(-1), rules.scale_by_learning_rate(0.1))
    with pytest.raises(ValueError, match="invalid lr: -0.5"):
        chain([{"params": [w], "lr": -0.5}], rules.scale_by_learning_rate(0.1))
    with pytest.raises(ValueError, match="invalid flush_subnormals_every: -2"):
        chain([w], rules.scale_by_learning_rate(0.1), flush_subnormals_every=-2)
    with pytest.raises(ValueError, match="invalid chunk_size: 0"):
        optim.Adam([w], chunk_size=0)


def test_chain_state_dict_resumes_bit_for_bit():
    init, grads = _problem(5, 40)
    make = lambda ps: chain(ps, rules.add_decayed_weights(0.01), rules.trace(0.8, nesterov=True),  # noqa: E731
                            rules.scale_by_learning_rate(0.05), chunk_size=256)
    ps = [descend.tensor(a.copy(), requires_grad=True) for a in init]
    opt = make(ps)
    for k, gs in enumerate(grads):
        if k == 20:
            saved, saved_w = opt.state_dict(), [p.array.copy() for p in ps]
        for p, g in zip(ps, gs):
            p.grad = descend.tensor(g)
        opt.step()
    ps2 = [descend.tensor(a, requires_grad=True) for a in saved_w]
    opt2 = make(ps2)
    opt2.load_state_dict(saved)
    for gs in grads[20:]:
        for p, g in zip(ps2, gs):
            p.grad = descend.tensor(g)
        opt2.step()
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(a.array, b.array)


class _CountingFusedScale(rules.Rule):
    """A rule outside descend that owns a fused form of [itself, scale_by_learning_rate]: u = −η·k·g."""

    def __init__(self, k):
        super().__init__()
        self.k_k = self.bind_key("k", k)
        self.fused_calls = 0

    def update(self, u, p, s, c, h, t, tmp):
        u *= float(h[self.k_k])

    def fuse(self, chain):
        if len(chain) == 2 and chain[0] is self and isinstance(chain[1], rules.ScaleByLearningRate):
            return _CountingFused(self, chain[1])
        return None


class _CountingFused:
    def __init__(self, rule, lr):
        self.rule, self.lr = rule, lr

    def prepare(self, h, t):
        return -float(h["lr"]) * float(h["k"])

    def apply(self, g, s, t, tmp, factor):
        self.rule.fused_calls += 1
        np.multiply(g, factor, out=tmp)
        return tmp


def test_a_rule_registers_its_own_fused_step_and_the_engine_uses_it():
    w = descend.tensor(np.ones((300, 2), np.float32), requires_grad=True)
    b = descend.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = chain([w, b], _CountingFusedScale(2.0), rules.scale_by_learning_rate(0.1), chunk_size=256)
    w.grad = descend.tensor(np.full((300, 2), 0.5, np.float32))
    b.grad = descend.tensor(np.full(3, 0.25, np.float32))
    opt.step()
    np.testing.assert_allclose(w.array, 1 - 0.1 * 2 * 0.5, rtol=1e-6)
    np.testing.assert_allclose(b.array, 1 - 0.1 * 2 * 0.25, rtol=1e-6)
    fused = opt._buckets[0][0].fused
    assert fused.rule.fused_calls == len(opt._buckets[0][0].chunks) >= 2  # own chunks and the shared one


def test_engine_modules_import_no_specific_rule():
    import ast
    import inspect

    from descend.optim import bucket, optimizer
    for module in (bucket, optimizer):
        imported = {(node.module, alias.name) for node in ast.walk(ast.parse(inspect.getsource(module)))
                    if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert {m for m, _ in imported} & {"rules", "basic_rules", "moment_rules"} == set(), module.__name__
        assert ("rule", "Rule") in imported or module is bucket  # only the contract's base class
