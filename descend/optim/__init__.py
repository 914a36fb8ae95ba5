"""Optimisers (composed from small update rules), parameter-group helpers and learning-rate schedules.

``descend.optim.Adam(model.parameters(), lr=1e-3)`` etc. follow PyTorch's names and argument order;
``descend.optim.rules`` holds the update rules they are chained from and ``descend.optim.chain(params, *rules)``
builds an optimiser from any chain of them; ``descend.optim.schedules`` the pure
step → lr functions; ``descend.optim.lr_scheduler`` the scheduler classes (also exported here).
"""

from . import line_search, lr_scheduler, rules, schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .clip import clip_grad_norm_, clip_grad_value_
from .groups import param_groups_weight_decay
from .lbfgs import LBFGS
from .lion import Lion
from .lr_scheduler import (CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, LinearLR, LRScheduler,
                           MultiStepLR, OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR)
from .nadam import NAdam
from .optimizer import Optimizer, chain
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "chain", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "Lion", "Adadelta", "Adamax",
           "RAdam", "ASGD", "Rprop", "LBFGS", "rules", "schedules",
           "lr_scheduler", "param_groups_weight_decay", "clip_grad_norm_", "clip_grad_value_", "LRScheduler", "StepLR",
           "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "LinearLR", "OneCycleLR",
           "ReduceLROnPlateau", "SequentialLR"]
