"""``optimizer.step(closure)`` works for every optimiser as in PyTorch: the closure runs once, with grad
enabled (even under no_grad), before the update, and its loss is returned; the update is the one
``step()`` makes after the same backward."""

import numpy as np
import pytest

import descend
from descend import optim

ELEMENTWISE = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "Lion", "Adadelta", "Adamax", "RAdam", "ASGD",
               "Rprop"]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [descend.tensor(rng.standard_normal(s), requires_grad=True) for s in [(4, 3), (3,)]]


def _loss(ps, x):
    return ((x @ ps[0] + ps[1]) ** 2).mean()


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_step_with_closure_returns_its_loss_and_updates_as_step_after_backward(name):
    x = descend.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    a, b = _params(), _params()
    opt_a, opt_b = getattr(optim, name)(a), getattr(optim, name)(b)
    calls = []

    def closure():
        calls.append(descend.is_grad_enabled())
        opt_a.zero_grad()
        loss = _loss(a, x)
        loss.backward()
        return loss

    for _ in range(5):
        with descend.no_grad():  # as torch's step, the closure gets grad enabled
            loss = opt_a.step(closure)
        opt_b.zero_grad()
        ref = _loss(b, x)
        ref.backward()
        assert opt_b.step() is None
        assert isinstance(loss, descend.Tensor) and float(loss.array) == float(ref.array)
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p.array, q.array)
    assert calls == [True] * 5


def test_lbfgs_step_returns_the_first_loss_of_several_closure_calls():
    x = descend.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    ps = _params()
    opt = optim.LBFGS(ps, max_iter=5)
    losses = []

    def closure():
        opt.zero_grad()
        loss = _loss(ps, x)
        loss.backward()
        losses.append(float(loss.array))
        return loss

    loss = opt.step(closure)
    assert len(losses) == 5 and float(loss.array) == losses[0] and losses[-1] < losses[0]
