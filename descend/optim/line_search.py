"""Line searches for quasi-Newton optimisers: the strong Wolfe conditions, found by bracketing and cubic
interpolation (Nocedal & Wright, "Numerical Optimization", 2nd ed., Algorithms 3.5 and 3.6, with the
safeguards of Schmidt's minFunc that ``torch.optim.LBFGS`` follows, so that LBFGS takes PyTorch's steps).

Along a direction d from x, with φ(t) = f(x + t d) and φ'(t) = ∇f(x + t d)·d, a step t satisfies the strong
Wolfe conditions when φ(t) ≤ φ(0) + c₁ t φ'(0) (sufficient decrease) and |φ'(t)| ≤ −c₂ φ'(0) (curvature).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cubic_minimizer", "strong_wolfe"]


def cubic_minimizer(t1, f1, g1, t2, f2, g2, bounds=None):
    """The minimiser of the cubic through (t1, f1) and (t2, f2) with slopes g1, g2, clipped to ``bounds``
    (default: the interval between t1 and t2); the interval's midpoint when the cubic has no minimum:
    d₁ = g₁ + g₂ − 3(f₁ − f₂)/(t₁ − t₂), d₂ = √(d₁² − g₁g₂), t = t₂ − (t₂ − t₁)(g₂ + d₂ − d₁)/(g₂ − g₁ + 2d₂)."""
    lo, hi = bounds if bounds is not None else ((t1, t2) if t1 <= t2 else (t2, t1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(disc)
    if t1 <= t2:
        t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search along ``d`` for a step satisfying the strong Wolfe conditions, from trial step ``t``.

    ``evaluate(t)`` returns (f(x + t d), ∇f(x + t d)) as (float, flat array) and leaves x as it was;
    ``f``, ``g``, ``gtd`` are f(x), ∇f(x) and ∇f(x)·d. Phase 1 grows t (cubic extrapolation within
    [t + 0.01(t − t_prev), 10t]) until it brackets a point that satisfies them (or meets one); phase 2 shrinks
    the bracket by cubic interpolation, keeping each trial at least a tenth of the bracket from its ends,
    until the conditions hold, the bracket is shorter than ``tolerance_change`` / max|d|, or ``max_ls``
    evaluations are spent. Returns (f_new, g_new, t, evaluations).
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    it = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while it < max_ls:  # phase 1: bracket
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        t_next = cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                 bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
    if it == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and it < max_ls:  # phase 2: zoom
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_minimizer(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        top, bottom = max(bracket), min(bracket)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:  # too close to an end: move it inside, unless progress was good
            if insufficient or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
