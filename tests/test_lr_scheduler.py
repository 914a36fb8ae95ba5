"""Scheduler classes give torch.optim.lr_scheduler's learning rates (to 1e-12 over 1,000 steps); pure schedules."""

import warnings

import numpy as np
import pytest
import torch

import descend
from descend import optim
from descend.optim import schedules as S

L = torch.optim.lr_scheduler
_rng = np.random.default_rng(0)
METRICS = list(np.cumsum(_rng.standard_normal(1000)) * 0.1 + 100 - np.arange(1000) * 0.01)


def _pair(opt_name="SGD"):
    p, q = descend.tensor([0.0], requires_grad=True), torch.zeros(1, requires_grad=True)
    if opt_name == "SGD":
        return optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([q], lr=0.1, momentum=0.9)
    return optim.Adam([p], lr=0.1), torch.optim.Adam([q], lr=0.1)


CASES = {
    "step": (lambda o, m: m.StepLR(o, 30, 0.5), "SGD", False),
    "multistep-repeated": (lambda o, m: m.MultiStepLR(o, [10, 100, 100, 500], 0.5), "SGD", False),
    "exponential": (lambda o, m: m.ExponentialLR(o, 0.995), "SGD", False),
    "cosine": (lambda o, m: m.CosineAnnealingLR(o, 100, 0.001), "SGD", False),
    "cosine-past-T_max": (lambda o, m: m.CosineAnnealingLR(o, 37), "SGD", False),
    "warm-restarts": (lambda o, m: m.CosineAnnealingWarmRestarts(o, 10), "SGD", False),
    "warm-restarts-T_mult": (lambda o, m: m.CosineAnnealingWarmRestarts(o, 7, 2, 0.001), "SGD", False),
    "linear-warmup": (lambda o, m: m.LinearLR(o, 0.01, 1.0, 100), "SGD", False),
    "linear-decay": (lambda o, m: m.LinearLR(o, 1.0, 0.1, 300), "SGD", False),
    "onecycle-cos-sgd": (lambda o, m: m.OneCycleLR(o, 1.0, 1000), "SGD", False),
    "onecycle-linear-3phase-adam": (lambda o, m: m.OneCycleLR(o, 0.5, None, 10, 100, 0.25, "linear",
                                                              three_phase=True), "Adam", False),
    "sequential": (lambda o, m: m.SequentialLR(o, [m.LinearLR(o, 0.1, 1.0, 10), m.CosineAnnealingLR(o, 100),
                                                   m.ExponentialLR(o, 0.99)], [10, 300]), "SGD", False),
    "plateau-rel-cooldown-minlr": (lambda o, m: m.ReduceLROnPlateau(o, "min", 0.5, 5, 1e-3, "rel", 3, 1e-4),
                                   "SGD", True),
    "plateau-max-abs": (lambda o, m: m.ReduceLROnPlateau(o, "max", 0.5, 2, 0.05, "abs", 1, 0.01), "SGD", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scheduler_matches_torch_over_1000_steps(case):
    make, opt_name, with_metric = CASES[case]
    opt, topt = _pair(opt_name)
    sched, tsched = make(opt, optim), make(topt, L)
    lrs, tlrs = [opt.param_groups[0]["lr"]], [topt.param_groups[0]["lr"]]
    moms, tmoms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(1000):
            topt.step()
            sched.step(METRICS[k]) if with_metric else sched.step()
            tsched.step(METRICS[k]) if with_metric else tsched.step()
            lrs.append(opt.param_groups[0]["lr"])
            tlrs.append(topt.param_groups[0]["lr"])
            g, tg = opt.param_groups[0], topt.param_groups[0]
            moms.append(g["betas"][0] if "betas" in g else g["momentum"])
            tmoms.append(tg["betas"][0] if "betas" in tg else tg["momentum"])
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(moms, tmoms, rtol=1e-12, atol=1e-12)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-12)
    if case.startswith("plateau"):
        assert min(lrs) < lrs[0] / 4  # the metric sequence does trigger several reductions


def test_onecycle_past_total_steps_raises_with_the_plan():
    opt, _ = _pair()
    sched = optim.OneCycleLR(opt, 1.0, epochs=2, steps_per_epoch=5)
    for _ in range(9):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(1.0 / 25 / 1e4)  # step total_steps − 1 ends at the min lr
    sched.step()  # step total_steps itself is allowed, as in PyTorch
    with pytest.raises(ValueError, match=r"total_steps=10.*epochs × steps_per_epoch"):
        sched.step()
    with pytest.raises(ValueError, match="epochs and steps_per_epoch"):
        optim.OneCycleLR(opt, 1.0)


def test_warmup_then_reduce_on_plateau_in_sequential():
    opt, _ = _pair()
    warm = optim.LinearLR(opt, 0.1, 1.0, 4)
    plateau = optim.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    sched = optim.SequentialLR(opt, [warm, plateau], milestones=[4])
    lrs = [opt.param_groups[0]["lr"]]
    for metric in [5, 4, 3, 2, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]:
        sched.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    # warm-up 0.01 → 0.1 over 4 steps; at step 4 plateau takes over at 0.1 with best=1.0; two bad epochs
    # (> patience 1) halve it; then 0.5 is an improvement; two bad epochs halve again.
    np.testing.assert_allclose(lrs, [0.01, 0.0325, 0.055, 0.0775, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025],
                               rtol=1e-12)
    with pytest.raises(TypeError, match="metric"):
        sched.step()


def test_scheduler_state_dict_resume_is_exact():
    opt, _ = _pair()
    make = lambda o: optim.SequentialLR(o, [optim.LinearLR(o, 0.1, 1.0, 5), optim.CosineAnnealingWarmRestarts(o, 7, 2)],
                                        [5])
    sched = make(opt)
    for _ in range(50):
        sched.step()
    sd_o, sd_s = opt.state_dict(), sched.state_dict()
    rest = []
    for _ in range(50):
        sched.step()
        rest.append(opt.param_groups[0]["lr"])
    opt2, _ = _pair()
    sched2 = make(opt2)
    opt2.load_state_dict(sd_o)
    sched2.load_state_dict(sd_s)
    rest2 = []
    for _ in range(50):
        sched2.step()
        rest2.append(opt2.param_groups[0]["lr"])
    assert rest == rest2


def test_pure_schedules_and_join():
    warm = S.linear_schedule(0.1, start_factor=0.01, end_factor=1.0, total_iters=10)
    cos = S.cosine_schedule(0.1, T_max=90)
    lr = S.join_schedules([warm, cos], boundaries=[10])
    assert lr(0) == pytest.approx(0.001) and lr(10) == pytest.approx(0.1) and lr(100) == pytest.approx(0.0, abs=1e-15)
    assert lr(55) == pytest.approx(0.05)
    assert S.step_schedule(1.0, 3, 0.5)(7) == 0.25
    assert S.multistep_schedule(1.0, [2, 2, 5], 0.1)(4) == pytest.approx(0.01)
    assert S.cosine_warm_restarts_schedule(1.0, 2, 3)(2) == 1.0  # restart at T_0, next cycle 6 long
    assert S.cosine_warm_restarts_schedule(1.0, 2, 3)(5) == pytest.approx(0.5)
    assert S.onecycle_schedule(1.0, 100)(29) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="total_steps=100"):
        S.onecycle_schedule(1.0, 100)(101)


@pytest.mark.parametrize("make,match", [
    (lambda o: optim.StepLR(o, 0), "step_size"),
    (lambda o: optim.CosineAnnealingWarmRestarts(o, 10, 0), "T_mult"),
    (lambda o: optim.LinearLR(o, 0.0), "start_factor"),
    (lambda o: optim.ReduceLROnPlateau(o, "avg"), "avg"),
    (lambda o: optim.ReduceLROnPlateau(o, factor=1.5), "1.5"),
    (lambda o: optim.OneCycleLR(o, 1.0, 100, anneal_strategy="exp"), "exp"),
    (lambda o: optim.OneCycleLR(optim.Adagrad([descend.tensor([1.0], requires_grad=True)]), 1.0, 10), "momentum"),
])
def test_bad_scheduler_arguments_raise(make, match):
    opt, _ = _pair()
    with pytest.raises(ValueError, match=match):
        make(opt)
