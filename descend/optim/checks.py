"""Argument checks for optimiser hyperparameters: each raises ValueError naming the value and its valid range
and returns the value to store (betas as a tuple)."""

from __future__ import annotations

import numpy as np


def check_nonneg(name: str, value):
    """A number >= 0 (not a bool)."""
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"invalid {name}: {value!r}; it must be a number >= 0")
    return value


def check_betas(name: str, betas):
    """Two numbers (β₁, β₂) in [0, 1), returned as a tuple."""
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"invalid {name}: {betas!r}; give two numbers (beta1, beta2) in [0, 1)") from None
    for k, b in enumerate((b1, b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"invalid beta parameter at index {k}: {b!r}; betas must be in [0, 1)")
    return (b1, b2)


def check_unit(name: str, value):
    """A number in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"invalid {name}: {value!r}; it must be in [0, 1)")
    return value


def check_closed_unit(name: str, value):
    """A number in [0, 1]."""
    check_nonneg(name, value)
    if value > 1:
        raise ValueError(f"invalid {name}: {value!r}; it must be in [0, 1]")
    return value



def check_etas(name: str, etas):
    """Rprop's (η₋, η₊) with 0 < η₋ < 1 < η₊, returned as a tuple."""
    try:
        lo, hi = etas
        ok = 0.0 < lo < 1.0 < hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"invalid {name}: {etas!r}; give two numbers (etaminus, etaplus) with 0 < etaminus < 1 < "
                         "etaplus")
    return (lo, hi)


def check_step_sizes(name: str, sizes):
    """Rprop's (minimal, maximal) step size with 0 <= minimal <= maximal, returned as a tuple."""
    try:
        lo, hi = sizes
        ok = 0.0 <= lo <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"invalid {name}: {sizes!r}; give two numbers (min_step, max_step) with 0 <= min_step <= "
                         "max_step")
    return (lo, hi)


def check_number(name: str, value):
    """Any real number (not a bool)."""
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) or value != value:
        raise ValueError(f"invalid {name}: {value!r}; it must be a number")
    return value
