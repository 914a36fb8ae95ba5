"""The update rules an optimiser is chained from, by their Optax-style constructors.

``descend.optim.chain(params, rules.add_decayed_weights(1e-2), rules.scale_by_adam(),
rules.scale_by_learning_rate(1e-3))`` is Adam with coupled L2; each constructor's arguments are the rule's hyperparameters, bound to the parameter
group's keys named in its docstring (:func:`group_key` binds another). The contract a rule follows, for
writing one, is in :mod:`descend.optim.rule`.
"""

from __future__ import annotations

from .basic_rules import (AddDecayedWeights, ClipByValue, ScaleByAsgd, ScaleByLearningRate, ScaleByRms, ScaleByRprop,
                          ScaleByRss, Trace)
from .moment_rules import (FusedAdam, ScaleByAdadelta, ScaleByAdam, ScaleByAdamax, ScaleByLion, ScaleByNadam,
                           ScaleByRadam)
from .rule import GroupKey, Rule, group_key

__all__ = ["Rule", "GroupKey", "group_key", "add_decayed_weights", "trace", "scale_by_rss", "scale_by_rms",
           "scale_by_adam", "scale_by_nadam", "scale_by_lion", "scale_by_adadelta", "scale_by_adamax", "scale_by_radam",
           "scale_by_asgd", "scale_by_rprop", "clip", "scale_by_learning_rate",
           "AddDecayedWeights", "Trace", "ScaleByRss", "ScaleByRms", "ClipByValue", "ScaleByLearningRate",
           "ScaleByAdam", "FusedAdam", "ScaleByNadam", "ScaleByLion", "ScaleByAdadelta", "ScaleByAdamax",
           "ScaleByRadam", "ScaleByAsgd", "ScaleByRprop"]


# Optax-style constructors ------------------------------------------------------------------------
def add_decayed_weights(weight_decay=0.0) -> Rule:
    """u ← u + λθ (coupled L2 before the scaling rules, decoupled decay after them); key ``'weight_decay'``."""
    return AddDecayedWeights(weight_decay)


def trace(momentum=0.9, dampening=None, nesterov=None) -> Rule:
    """Heavy-ball or Nesterov momentum (PyTorch SGD's); keys ``'momentum'``, ``'dampening'``, ``'nesterov'``."""
    return Trace(momentum, dampening, nesterov)


def scale_by_rss(initial_accumulator_value=0.0, eps=1e-10) -> Rule:
    """Adagrad's u / (√Σu² + ε); keys ``'initial_accumulator_value'``, ``'eps'``."""
    return ScaleByRss(initial_accumulator_value, eps)


def scale_by_rms(alpha=0.99, eps=1e-8, centered=False) -> Rule:
    """RMSprop's u / (√v + ε); keys ``'alpha'``, ``'eps'``, ``'centered'``."""
    return ScaleByRms(alpha, eps, centered)


def scale_by_adam(betas=(0.9, 0.999), eps=1e-8, amsgrad=False) -> Rule:
    """Adam's m̂ / (√v̂ + ε) (fuses with decays and the learning rate); keys ``'betas'``, ``'eps'``, ``'amsgrad'``."""
    return ScaleByAdam(betas, eps, amsgrad)


def scale_by_nadam(betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3) -> Rule:
    """NAdam's step direction; keys ``'betas'``, ``'eps'``, ``'momentum_decay'``."""
    return ScaleByNadam(betas, eps, momentum_decay)


def scale_by_lion(betas=(0.9, 0.99)) -> Rule:
    """Lion's sign(β₁m + (1 − β₁)u); key ``'betas'``."""
    return ScaleByLion(betas)


def scale_by_adadelta(rho=0.9, eps=1e-6) -> Rule:
    """Adadelta's δ = √(Δ + ε)/√(v + ε) · u; keys ``'rho'``, ``'eps'``."""
    return ScaleByAdadelta(rho, eps)


def scale_by_adamax(betas=(0.9, 0.999), eps=1e-8) -> Rule:
    """Adamax's (m / (1 − β₁ᵗ)) / max(β₂w, |u| + ε); keys ``'betas'``, ``'eps'``."""
    return ScaleByAdamax(betas, eps)


def scale_by_radam(betas=(0.9, 0.999), eps=1e-8) -> Rule:
    """RAdam's rectified Adam direction; keys ``'betas'``, ``'eps'``."""
    return ScaleByRadam(betas, eps)


def scale_by_asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6) -> Rule:
    """Averaged SGD's step with its own decaying rate η (ends the chain); keys ``'lr'``, ``'lambd'``, ``'alpha'``,
    ``'t0'``."""
    return ScaleByAsgd(lr, lambd, alpha, t0)


def scale_by_rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)) -> Rule:
    """Rprop's −sign(u)·step_size with per-element adapted step sizes (ends the chain); keys ``'lr'``, ``'etas'``,
    ``'step_sizes'``."""
    return ScaleByRprop(lr, etas, step_sizes)


def clip(max_delta=1.0) -> Rule:
    """u ← clip(u, −c, c); key ``'max_delta'``."""
    return ClipByValue(max_delta)


def scale_by_learning_rate(lr=1e-3, lr_decay=None) -> Rule:
    """u ← −η u (η / (1 + (t − 1)d) with ``lr_decay``); keys ``'lr'``, ``'lr_decay'``."""
    return ScaleByLearningRate(lr, lr_decay)

