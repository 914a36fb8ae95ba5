"""Loss modules: thin :class:`Module` wrappers over :mod:`descend.ops.loss` and :mod:`descend.ops.class_loss` with PyTorch's names and arguments.

``loss_fn = CrossEntropyLoss(label_smoothing=0.1); loss = loss_fn(logits, labels)``. Class weights and
``pos_weight`` are registered as buffers (state-dict keys ``weight`` / ``pos_weight``, as in PyTorch).
The formulas and gradients are documented on the functions.
"""

from __future__ import annotations

from ..ops import class_loss as _C
from ..ops import loss as _F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
           "CrossEntropyLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _F.check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error (x − y)² (see :func:`descend.nn.functional.mse_loss`)."""

    def forward(self, input, target):
        return _F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x − y| (see :func:`descend.nn.functional.l1_loss`)."""

    def forward(self, input, target):
        return _F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss: ½d² for |d| < delta, delta(|d| − ½delta) beyond (see :func:`~descend.nn.functional.huber_loss`)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def forward(self, input, target):
        return _F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), f"delta={self.delta}"]))


class SmoothL1Loss(_Loss):
    """Smooth L1: ½d²/beta for |d| < beta, |d| − ½beta beyond (see :func:`~descend.nn.functional.smooth_l1_loss`)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")
        self.beta = float(beta)

    def forward(self, input, target):
        return _F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), f"beta={self.beta}"]))


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1] (see :func:`~descend.nn.functional.binary_cross_entropy`).
    ``weight`` rescales each element's loss (broadcast to the input)."""

    def forward(self, input, target):
        return _F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy on logits, numerically stable for any logit
    (see :func:`~descend.nn.functional.binary_cross_entropy_with_logits`). ``pos_weight`` (one per class,
    the last dimension) weighs positive targets: > 1 raises recall, < 1 precision."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return _F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                   pos_weight=self.pos_weight)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at class indices (see :func:`~descend.nn.functional.nll_loss`)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input, target):
        return _C.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                           reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy from logits, fused (see :func:`~descend.nn.functional.cross_entropy`).

    Targets are class indices (N,) / (N, d1, ...) for logits (N, C) / (N, C, d1, ...), or class
    probabilities of the logits' shape. ``weight`` (C,) weighs classes, ``ignore_index`` marks targets
    that count for nothing, ``label_smoothing`` ε mixes the target with the uniform distribution.

    >>> loss_fn = CrossEntropyLoss(label_smoothing=0.1)
    >>> loss = loss_fn(model(x), y); loss.backward()
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        return _C.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                reduction=self.reduction, label_smoothing=self.label_smoothing)
