"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks"; the
smoothed, stop-at-4×-best form popularised by fastai).

For steps t = 0 … T−1 the learning rate grows exponentially from ``start_lr`` to ``end_lr``::

    lr_t = start_lr · (end_lr / start_lr)^(t / (T − 1))

one optimiser step is taken on one batch at each rate, and the loss is smoothed with a bias-corrected
exponential moving average ``s_t = β s_{t−1} + (1 − β) L_t``, ``ŝ_t = s_t / (1 − β^(t+1))``. The sweep
stops early when ``ŝ_t > stop_factor × min ŝ`` (or the loss is not finite). Afterwards the model's and
the optimiser's states are put back as they were, so the test leaves no trace.

The suggestion is a pure function of ``(lrs, losses)``, :func:`suggest_lr`:

* ``'steepest'`` (default): the rate where the smoothed loss falls fastest against log lr, i.e. the
  minimum of the central difference dŝ/d(log lr), searched between the start and the minimum of ŝ
  (the last 10 % before the minimum excluded, where the curve turns);
* ``'min_tenth'``: a tenth of the rate at the minimum of ŝ (rates near the minimum are already at the
  edge of stability).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ..data import DataLoader
from ..creation import as_tensor
from ..tensor import Tensor


@dataclass
class LRFindResult:
    """``lrs``, raw ``losses`` and ``smoothed`` losses of a range test, the ``suggestion`` and its rule."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    rule: str
    stopped_early: bool = False
    extra: dict = field(default_factory=dict)

    def plot(self, path=None):
        """Smoothed (and raw) loss against the learning rate on a log axis, the suggestion marked."""
        from ..io.plots import plot_lines
        return plot_lines(self.lrs, {"loss (smoothed)": self.smoothed, "loss": self.losses}, path, logx=True,
                          xlabel="learning rate", ylabel="loss", title="Learning-rate range test",
                          vlines={f"suggested lr ({self.rule})": self.suggestion})


def smooth_losses(losses, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average: ŝ_t = s_t / (1 − β^(t+1)), s_t = β s_{t−1} + (1 − β) L_t."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    losses = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(losses)
    avg = 0.0
    for t, loss in enumerate(losses):   # a recurrence over a few hundred scalars, not a data path
        avg = beta * avg + (1 - beta) * loss
        out[t] = avg / (1 - beta ** (t + 1))
    return out


def suggest_lr(lrs, losses, rule: str = "steepest") -> float:
    """The suggested learning rate of a range test: a pure function of the rates and (smoothed) losses.

    ``rule='steepest'``: the rate of the most negative slope of the loss against log lr before its
    minimum; ``'min_tenth'``: a tenth of the rate at the minimum. See the module docstring.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if lrs.shape != losses.shape or lrs.ndim != 1:
        raise ValueError(f"lrs and losses must be 1-D of one length, got shapes {lrs.shape} and {losses.shape}")
    ok = np.isfinite(losses) & np.isfinite(lrs) & (lrs > 0)
    lrs, losses = lrs[ok], losses[ok]
    if lrs.size < 3:
        raise ValueError(f"a suggestion needs at least 3 finite points, got {lrs.size}; sweep more steps or "
                         "start from a lower start_lr")
    i_min = int(np.argmin(losses))
    if rule == "min_tenth":
        return float(lrs[i_min] / 10)
    if rule != "steepest":
        raise ValueError(f"rule must be 'steepest' or 'min_tenth', got {rule!r}")
    end = max(2, int(i_min * 0.9)) if i_min >= 3 else lrs.size
    slope = np.gradient(losses[:end], np.log(lrs[:end]))
    return float(lrs[int(np.argmin(slope))])


def _batches(data):
    """Endless (x, y) batches of a loader (re-iterated when exhausted) or of (x, y) arrays (batches of 64)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], (np.ndarray, Tensor)):
        data = DataLoader(tuple(data), batch_size=64, shuffle=True, seed=0)
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("the data gave no batches; check the loader")


def lr_find(model, loss, optimizer, data, start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 200,
            beta: float = 0.98, stop_factor: float = 4.0, rule: str = "steepest") -> LRFindResult:
    """Run a learning-rate range test (see the module docstring) and restore the model and optimiser.

    ``loss(output, target)``; ``data``: a loader of ``(x, y)`` batches or an ``(x, y)`` pair of arrays.
    Returns an :class:`LRFindResult`; ``result.plot(path)`` draws it.
    """
    if not (0 < start_lr < end_lr):
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 5:
        raise ValueError(f"num_steps must be an integer >= 5, got {num_steps!r}")
    if not stop_factor > 1:
        raise ValueError(f"stop_factor must be > 1, got {stop_factor!r}")
    model_state = model.state_dict()                     # copies
    opt_state = copy.deepcopy(optimizer.state_dict())
    group_lrs = [g["lr"] for g in optimizer.param_groups]
    was_training = model.training
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    seen_lrs, raw, smooth = [], [], []
    avg, best, stopped = 0.0, math.inf, False
    model.train()
    try:
        batches = _batches(data)
        for t, lr in enumerate(lrs):
            x, y = next(batches)
            x = x if isinstance(x, Tensor) else as_tensor(np.asarray(x))
            y = y if isinstance(y, Tensor) else as_tensor(np.asarray(y))
            for g in optimizer.param_groups:
                g["lr"] = float(lr)
            value = loss(model(x), y)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            v = float(value.array)
            seen_lrs.append(float(lr))
            raw.append(v)
            if not math.isfinite(v):
                smooth.append(float("nan"))
                stopped = True
                break
            avg = beta * avg + (1 - beta) * v
            s = avg / (1 - beta ** (t + 1))
            smooth.append(s)
            best = min(best, s)
            if s > stop_factor * best:
                stopped = True
                break
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
        for g, lr in zip(optimizer.param_groups, group_lrs):
            g["lr"] = lr
        optimizer.zero_grad()
        model.train(was_training)
    lrs_a, raw_a, smooth_a = map(np.asarray, (seen_lrs, raw, smooth))
    return LRFindResult(lrs_a, raw_a, smooth_a, suggest_lr(lrs_a, smooth_a, rule), rule, stopped)
