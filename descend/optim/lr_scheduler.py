"""Learning-rate scheduler classes with PyTorch's names and positional argument order.

Each scheduler evaluates a pure schedule (:mod:`descend.optim.schedules`) at its step count and writes
the result into ``group['lr']`` of every parameter group (OneCycleLR also writes ``group['momentum']`` or
``group['betas'][0]``); nothing else about the optimiser is touched. As in PyTorch, construction applies
step 0, each ``scheduler.step()`` (once per epoch, or per batch for OneCycleLR) advances one step, the
base learning rate of each group is kept in ``group['initial_lr']``, and ``get_last_lr()`` gives the
values last set. :class:`ReduceLROnPlateau` reacts to a metric, ``step(val_loss)``, and — unlike
PyTorch's — can be a member of :class:`SequentialLR` (e.g. warm-up, then reduce on plateau), which
forwards the metric to it.
"""

from __future__ import annotations

import bisect
import math

from . import schedules as S


class LRScheduler:
    """Base class: subclasses give ``_schedule(base_lr) -> (step -> lr)``."""

    def __init__(self, optimizer, last_epoch: int = -1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an optimiser (it has no param_groups)")
        self.optimizer = optimizer
        for k, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"param_groups[{k}] has no 'initial_lr'; resuming with last_epoch={last_epoch} "
                               "needs the optimiser's state dict loaded first (or last_epoch=-1)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._build()
        self.last_epoch += 1
        self._apply()

    # ------------------------------------------------------------------ for subclasses
    def _schedule(self, base_lr):
        raise NotImplementedError

    def _build(self):
        self._fns = [self._schedule(lr) for lr in self.base_lrs]

    def _apply(self):
        self._last_lr = [float(fn(self.last_epoch)) for fn in self._fns]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def _restart(self, metrics=None):
        """Start again from step 0 (used by SequentialLR when this scheduler takes over)."""
        self.last_epoch = 0
        self._apply()

    # ------------------------------------------------------------------ PyTorch API
    def step(self, metrics=None):
        """Advance one step and set the new learning rates (``metrics`` is accepted and ignored, so every
        scheduler can be stepped as ``scheduler.step(val_loss)``)."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def lr_at(self, step: int) -> list:
        """The learning rates this scheduler gives at ``step`` (pure; nothing is changed)."""
        return [float(fn(step)) for fn in self._fns]

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict["_last_lr"])
        self._build()


def _check_int(name, value, low):
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


class StepLR(LRScheduler):
    """η = η₀ · γ^⌊epoch / step_size⌋.  Args: optimizer, step_size, gamma=0.1."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_int("step_size", step_size, 1)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.step_schedule(base_lr, self.step_size, self.gamma)


class MultiStepLR(LRScheduler):
    """η = η₀ · γ^(milestones passed).  Args: optimizer, milestones, gamma=0.1."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.multistep_schedule(base_lr, self.milestones, self.gamma)


class ExponentialLR(LRScheduler):
    """η = η₀ · γ^epoch.  Args: optimizer, gamma."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0, got {gamma!r}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.exponential_schedule(base_lr, self.gamma)


class CosineAnnealingLR(LRScheduler):
    """η = η_min + (η₀ − η_min)(1 + cos(π·epoch / T_max)) / 2.  Args: optimizer, T_max, eta_min=0."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_int("T_max", T_max, 1)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.cosine_schedule(base_lr, self.T_max, self.eta_min)


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine over T_i = T_0·T_multⁱ epochs, then restart.  Args: optimizer, T_0, T_mult=1, eta_min=0."""

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        _check_int("T_0", T_0, 1)
        _check_int("T_mult", T_mult, 1)
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.cosine_warm_restarts_schedule(base_lr, self.T_0, self.T_mult, self.eta_min)


class LinearLR(LRScheduler):
    """η = η₀ (s + (e − s) min(epoch, T)/T): linear warm-up or decay.
    Args: optimizer, start_factor=1/3, end_factor=1.0, total_iters=5."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        S.linear_schedule(1.0, start_factor, end_factor, total_iters)  # checks the arguments
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _schedule(self, base_lr):
        return S.linear_schedule(base_lr, self.start_factor, self.end_factor, self.total_iters)


def _per_group(name, value, optimizer):
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} has {len(value)} values but the optimiser has {len(optimizer.param_groups)} "
                             "parameter groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class OneCycleLR(LRScheduler):
    """1cycle policy (Smith & Topin 2019), stepped once per *batch*; see
    :func:`~descend.optim.schedules.onecycle_schedule`. With ``cycle_momentum`` the momentum (SGD, RMSprop)
    or β₁ (Adam family) moves inversely between max_momentum and base_momentum.

    Args (PyTorch's order): optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
    pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
    div_factor=25.0, final_div_factor=1e4, three_phase=False. Stepping beyond total_steps raises.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch "
                                 "(total_steps = epochs × steps_per_epoch)")
            _check_int("epochs", epochs, 1)
            _check_int("steps_per_epoch", steps_per_epoch, 1)
            total_steps = epochs * steps_per_epoch
        _check_int("total_steps", total_steps, 1)
        self.total_steps = total_steps
        self.max_lrs = _per_group("max_lr", max_lr, optimizer)
        self.pct_start, self.anneal_strategy, self.three_phase = pct_start, anneal_strategy, three_phase
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.cycle_momentum = cycle_momentum
        groups = optimizer.param_groups
        if cycle_momentum:
            self.use_beta1 = "betas" in groups[0]
            if not self.use_beta1 and "momentum" not in groups[0]:
                raise ValueError(f"cycle_momentum=True needs an optimiser with momentum or betas, but "
                                 f"{type(optimizer).__name__} has neither; pass cycle_momentum=False")
            self.base_momentums = _per_group("base_momentum", base_momentum, optimizer)
            self.max_momentums = _per_group("max_momentum", max_momentum, optimizer)
            self._momentum_fns = [S.onecycle_momentum_schedule(b, m, total_steps, pct_start, anneal_strategy,
                                                               three_phase)
                                  for b, m in zip(self.base_momentums, self.max_momentums)]
        if last_epoch == -1:
            for group, m in zip(groups, self.max_lrs):
                group["initial_lr"] = m / div_factor
        super().__init__(optimizer, last_epoch)

    def _build(self):
        self._fns = [S.onecycle_schedule(m, self.total_steps, self.pct_start, self.anneal_strategy, self.div_factor,
                                         self.final_div_factor, self.three_phase) for m in self.max_lrs]

    def _apply(self):
        super()._apply()
        if self.cycle_momentum:
            for group, fn in zip(self.optimizer.param_groups, self._momentum_fns):
                m = float(fn(self.last_epoch))
                if self.use_beta1:
                    group["betas"] = (m, *tuple(group["betas"])[1:])
                else:
                    group["momentum"] = m

    def step(self, metrics=None):
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR was stepped {self.last_epoch + 1} times, but it was planned for "
                             f"total_steps={self.total_steps} steps; set total_steps = epochs × steps_per_epoch "
                             "(or pass epochs= and steps_per_epoch=) to match the number of batches you train on")
        super().step()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when the metric has not improved for more than ``patience``
    steps, then wait ``cooldown`` steps before counting again; never below ``min_lr``, and changes smaller
    than ``eps`` are skipped.

    Improvement (mode 'min', threshold_mode 'rel'): metric < best·(1 − threshold); ('abs'): metric < best −
    threshold; mode 'max' mirrors both. Step it with the metric: ``scheduler.step(val_loss)``.

    Args (PyTorch's order): optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
    threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0 <= factor < 1:
            raise ValueError(f"factor must be in [0, 1) (the lr is multiplied by it), got {factor!r}")
        _check_int("patience", patience, 0)
        _check_int("cooldown", cooldown, 0)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        self.min_lrs = _per_group("min_lr", min_lr, optimizer)
        self._reset()
        super().__init__(optimizer, -1)

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _build(self):
        pass

    def _apply(self):
        if self.last_epoch == 0:  # construction (or a restart): begin at the base learning rates
            for group, lr in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _restart(self, metrics=None):
        self._reset()
        super()._restart()
        if metrics is not None:
            self._observe(metrics)

    def is_better(self, a, best) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics=None):
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step needs the monitored metric: scheduler.step(val_loss)")
        self.last_epoch += 1
        self._observe(metrics)

    def _observe(self, metrics):
        current = float(metrics)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def lr_at(self, step):
        raise TypeError("ReduceLROnPlateau's learning rate depends on the metrics, not only on the step")

    def state_dict(self):
        return {**super().state_dict(), "best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.best = float(state_dict["best"])
        self.num_bad_epochs = int(state_dict["num_bad_epochs"])
        self.cooldown_counter = int(state_dict["cooldown_counter"])


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` from ``milestones[i−1]`` on, each restarted from its own step 0 when it takes over
    (e.g. LinearLR warm-up for k epochs, then CosineAnnealingLR — or ReduceLROnPlateau, which receives the
    metric given to ``step(metric)``; at the hand-over step the metric becomes its first observation).

    Args (PyTorch's order): optimizer, schedulers, milestones.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR needs at least one scheduler")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs one milestone fewer than schedulers, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {milestones}")
        for k, s in enumerate(schedulers):
            if s.optimizer is not optimizer:
                raise ValueError(f"scheduler {k} ({type(s).__name__}) drives a different optimiser than the one "
                                 "given to SequentialLR; build every member on the same optimiser")
        self.optimizer = optimizer
        self._schedulers, self._milestones = schedulers, milestones
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch + 1
        schedulers[0]._restart()
        self._last_lr = schedulers[0].get_last_lr()

    def step(self, metrics=None):
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._restart(metrics) if isinstance(scheduler, ReduceLROnPlateau) else scheduler._restart()
        else:
            scheduler.step(metrics)
        self._last_lr = scheduler.get_last_lr()

    def _restart(self, metrics=None):
        self.last_epoch = 0
        self._schedulers[0]._restart()
        self._last_lr = self._schedulers[0].get_last_lr()

    def lr_at(self, step):
        idx = bisect.bisect_right(self._milestones, step)
        return self._schedulers[idx].lr_at(step - (self._milestones[idx - 1] if idx else 0))

    def state_dict(self):
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr),
                "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict):
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict["_last_lr"])
        for s, sd in zip(self._schedulers, state_dict["_schedulers"]):
            s.load_state_dict(sd)
