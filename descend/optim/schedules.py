"""Learning-rate schedules as pure functions: ``schedule(step) -> value`` (Optax-style).

Each constructor returns a function of the step count t = 0, 1, 2, … (t = 0 is the value before the first
update); join them with :func:`join_schedules`, e.g. linear warm-up then cosine decay::

    warm = linear_schedule(0.1, start_factor=0.01, end_factor=1.0, total_iters=500)
    cos = cosine_schedule(0.1, T_max=9_500)
    lr = join_schedules([warm, cos], boundaries=[500])   # lr(0), lr(1), ...

The scheduler classes in :mod:`descend.optim.lr_scheduler` evaluate these per parameter group; the
formulas are PyTorch's closed forms, so the values equal ``torch.optim.lr_scheduler``'s.
"""

from __future__ import annotations

import bisect
import math


def _check_step(t):
    if t < 0:
        raise ValueError(f"schedule step must be >= 0, got {t}")


def constant_schedule(value: float):
    """η(t) = value."""
    return lambda t: value


def step_schedule(init_value: float, step_size: int, gamma: float = 0.1):
    """η(t) = η₀ · γ^⌊t / step_size⌋."""
    if not (isinstance(step_size, int) and step_size > 0):
        raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
    return lambda t: init_value * gamma ** (t // step_size)


def multistep_schedule(init_value: float, milestones, gamma: float = 0.1):
    """η(t) = η₀ · γ^(number of milestones ≤ t) (a milestone listed twice counts twice)."""
    ms = sorted(int(m) for m in milestones)
    return lambda t: init_value * gamma ** bisect.bisect_right(ms, t)


def exponential_schedule(init_value: float, gamma: float):
    """η(t) = η₀ · γᵗ."""
    return lambda t: init_value * gamma ** t


def cosine_schedule(init_value: float, T_max: int, eta_min: float = 0.0):
    """η(t) = η_min + (η₀ − η_min)(1 + cos(πt / T_max)) / 2 (SGDR without restarts; Loshchilov & Hutter 2017).

    Past T_max it rises again (the cosine is periodic), as PyTorch's CosineAnnealingLR does.
    """
    if T_max <= 0:
        raise ValueError(f"T_max must be a positive number of steps, got {T_max!r}")
    return lambda t: eta_min + (init_value - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def cosine_warm_restarts_schedule(init_value: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
    """SGDR (Loshchilov & Hutter 2017): cosine from η₀ to η_min over T_i steps, then restart at η₀, with
    T_i = T_0 · T_multⁱ; η(t) = η_min + (η₀ − η_min)(1 + cos(π T_cur / T_i)) / 2."""
    if not (isinstance(T_0, int) and T_0 > 0):
        raise ValueError(f"T_0 must be a positive integer, got {T_0!r}")
    if not (isinstance(T_mult, int) and T_mult >= 1):
        raise ValueError(f"T_mult must be an integer >= 1, got {T_mult!r}")

    def schedule(t):
        t_cur, t_i = t, T_0
        if T_mult == 1:
            t_cur = t % T_0
        else:
            while t_cur >= t_i:  # O(log t) cycles
                t_cur -= t_i
                t_i *= T_mult
        return eta_min + (init_value - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    return schedule


def linear_schedule(init_value: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                    total_iters: int = 5):
    """η(t) = η₀ · (s + (e − s) · min(t, T) / T): a linear warm-up (s < e) or decay (s > e) over T steps."""
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
    if not 0 <= end_factor <= 1:
        raise ValueError(f"end_factor must be in [0, 1], got {end_factor!r}")
    if total_iters <= 0:
        raise ValueError(f"total_iters must be a positive number of steps, got {total_iters!r}")
    return lambda t: init_value * (start_factor + (end_factor - start_factor) * min(total_iters, t) / total_iters)


def _anneal(start, end, pct, strategy):
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _onecycle_phases(total_steps, pct_start, three_phase):
    """(end step, start key, end key) per phase; keys: 0 = start value, 1 = peak, 2 = final value."""
    if three_phase:
        return [(float(pct_start * total_steps) - 1, 0, 1), (float(2 * pct_start * total_steps) - 2, 1, 0),
                (total_steps - 1, 0, 2)]
    return [(float(pct_start * total_steps) - 1, 0, 1), (total_steps - 1, 1, 2)]


def _piecewise(values, total_steps, pct_start, anneal_strategy, three_phase, name):
    if not (isinstance(total_steps, int) and total_steps > 0):
        raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    phases = _onecycle_phases(total_steps, pct_start, three_phase)

    def schedule(t):
        if t > total_steps:
            raise ValueError(f"{name} was asked for step {t}, but it was planned for total_steps={total_steps} "
                             "steps; set total_steps = epochs × steps_per_epoch (or pass epochs and "
                             "steps_per_epoch) to cover the whole run")
        start_step = 0.0
        for i, (end_step, a, b) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                pct = (t - start_step) / (end_step - start_step)
                return _anneal(values[a], values[b], pct, anneal_strategy)
            start_step = end_step

    return schedule


def onecycle_schedule(max_lr: float, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
                      div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False):
    """1cycle (Smith & Topin 2019): from max_lr/div_factor up to max_lr over pct_start of the steps, then down
    to max_lr/(div_factor·final_div_factor) (three_phase: back to the start value first, then down).

    Phases are annealed by cosine, ``start_value + (end − start)(1 − cos(π·pct))/2``, or linearly. Valid for
    t = 0 … total_steps; a later step raises, naming total_steps.
    """
    initial = max_lr / div_factor
    return _piecewise((initial, max_lr, initial / final_div_factor), total_steps, pct_start, anneal_strategy,
                      three_phase, "onecycle_schedule")


def onecycle_momentum_schedule(base_momentum: float, max_momentum: float, total_steps: int,
                               pct_start: float = 0.3, anneal_strategy: str = "cos", three_phase: bool = False):
    """The momentum that goes with :func:`onecycle_schedule`: inverse to the learning rate, from max_momentum
    down to base_momentum at the lr peak and back up to max_momentum."""
    return _piecewise((max_momentum, base_momentum, max_momentum), total_steps, pct_start, anneal_strategy,
                      three_phase, "onecycle_momentum_schedule")


def join_schedules(schedules, boundaries):
    """Run ``schedules[i]`` on [boundaries[i−1], boundaries[i]), each restarted from its own step 0:
    η(t) = schedules[i](t − boundaries[i−1])."""
    schedules, boundaries = list(schedules), [int(b) for b in boundaries]
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join_schedules needs one boundary fewer than schedules, got {len(schedules)} schedules "
                         f"and {len(boundaries)} boundaries")
    if boundaries != sorted(boundaries):
        raise ValueError(f"boundaries must be increasing, got {boundaries}")

    def schedule(t):
        i = bisect.bisect_right(boundaries, t)
        return schedules[i](t - (boundaries[i - 1] if i else 0))

    return schedule
