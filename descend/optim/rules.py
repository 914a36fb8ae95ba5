"""The update rules an optimiser is chained from, by their Optax-style constructors.

``descend.optim.chain(params, rules.add_decayed_weights(1e-2), rules.scale_by_adam(),
rules.scale_by_learning_rate(1e-3))`` is Adam with coupled L2; each constructor's arguments are the rule's hyperparameters, bound to the parameter
group's keys named in its docstring (:func:`group_key` binds another). The contract a rule follows, for
writing one, is in :mod:`descend.optim.rule`.
"""

from __future__ import annotations

from .basic_rules import AddDecayedWeights, ClipByValue, ScaleByLearningRate, ScaleByRms, ScaleByRss, Trace
from .moment_rules import FusedAdam, ScaleByAdam, ScaleByLion, ScaleByNadam
from .rule import GroupKey, Rule, group_key

__all__ = ["Rule", "GroupKey", "group_key", "add_decayed_weights", "trace", "scale_by_rss", "scale_by_rms",
           "scale_by_adam", "scale_by_nadam", "scale_by_lion", "clip", "scale_by_learning_rate",
           "AddDecayedWeights", "Trace", "ScaleByRss", "ScaleByRms", "ClipByValue", "ScaleByLearningRate",
           "ScaleByAdam", "FusedAdam", "ScaleByNadam", "ScaleByLion"]


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


def clip(max_delta=1.0) -> Rule:
    """u ← clip(u, −c, c); key ``'max_delta'``."""
    return ClipByValue(max_delta)


def scale_by_learning_rate(lr=1e-3, lr_decay=None) -> Rule:
    """u ← −η u (η / (1 + (t − 1)d) with ``lr_decay``); keys ``'lr'``, ``'lr_decay'``."""
    return ScaleByLearningRate(lr, lr_decay)

