"""The elementary update rules: weight decay, momentum, Adagrad's and RMSprop's scaling, clipping, the
learning rate, averaged SGD and Rprop (see :mod:`descend.optim.rule` for the contract they follow)."""

from __future__ import annotations

import numpy as np

from .checks import check_closed_unit, check_etas, check_nonneg, check_number, check_step_sizes
from .rule import Rule


class AddDecayedWeights(Rule):
    """u ← u + λθ, λ = ``weight_decay`` (group key ``'weight_decay'``).

    Placed before the scaling rules it is coupled L2 regularisation (the gradient of (λ/2)‖θ‖²); placed
    after them, just before the learning rate, it is decoupled weight decay (Loshchilov & Hutter 2019).
    """

    reads_params = True
    checks = {"weight_decay": check_nonneg}

    def __init__(self, weight_decay=0.0):
        super().__init__()
        self.k_wd = self.bind_key("weight_decay", weight_decay)

    def needs_params(self, h):
        return float(h[self.k_wd]) != 0.0

    def update(self, u, p, s, c, h, t, tmp):
        wd = float(h[self.k_wd])
        if wd != 0.0:
            np.multiply(p, wd, out=tmp)
            u += tmp


def _check_trace(rule, h):
    mu = h[rule.k_mu]
    damp = h[rule.k_damp] if rule.k_damp else 0.0
    if rule.k_nesterov and h[rule.k_nesterov] and (mu <= 0 or damp != 0):
        raise ValueError(f"nesterov momentum needs momentum > 0 and dampening = 0, got momentum={mu!r}, "
                         f"dampening={damp!r}")


class Trace(Rule):
    """Heavy-ball momentum: b ← μb + (1 − τ)u (b = u at the first step), then u ← b, or u ← u + μb (Nesterov).

    μ = ``momentum`` (no-op when 0), τ = ``dampening`` (None: no dampening), ``nesterov`` (None: never);
    Sutskever et al. 2013 for the Nesterov form, written as PyTorch's SGD writes it.
    """

    state = {"momentum_buffer": 0.0}
    checks = {"momentum": check_nonneg, "dampening": check_nonneg}

    def __init__(self, momentum=0.9, dampening=None, nesterov=None):
        super().__init__()
        self.k_mu = self.bind_key("momentum", momentum)
        self.k_damp = None if dampening is None else self.bind_key("dampening", dampening)
        self.k_nesterov = None if nesterov is None else self.bind_key("nesterov", nesterov)

    def check(self, h):
        super().check(h)
        _check_trace(self, h)

    def update(self, u, p, s, c, h, t, tmp):
        mu = float(h[self.k_mu])
        if mu == 0.0:
            return
        buf = s["momentum_buffer"]
        if t == 1:
            np.copyto(buf, u)
        else:
            buf *= mu
            damp = float(h[self.k_damp]) if self.k_damp else 0.0
            if damp != 0.0:
                np.multiply(u, 1.0 - damp, out=tmp)
                buf += tmp
            else:
                buf += u
        if self.k_nesterov is not None and h[self.k_nesterov]:
            np.multiply(buf, mu, out=tmp)
            u += tmp
        else:
            np.copyto(u, buf)


class ScaleByRss(Rule):
    """Adagrad (Duchi et al. 2011): G ← G + u², u ← u / (√G + ε); G starts at ``initial_accumulator_value``."""

    checks = {"eps": check_nonneg, "initial_accumulator_value": check_nonneg}

    def __init__(self, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__()
        self.k_init = self.bind_key("initial_accumulator_value", initial_accumulator_value)
        self.k_eps = self.bind_key("eps", eps)

    def bind(self, dtype, h):
        self.state = {"sum": float(h[self.k_init])}

    def update(self, u, p, s, c, h, t, tmp):
        acc = s["sum"]
        np.multiply(u, u, out=tmp)
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += float(h[self.k_eps])
        u /= tmp


class ScaleByRms(Rule):
    """RMSprop (Hinton 2012): v ← αv + (1 − α)u², u ← u / (√v + ε).

    Centered (Graves 2013): also ḡ ← αḡ + (1 − α)u and the denominator is √(v − ḡ²) + ε.
    """

    checks = {"alpha": check_closed_unit, "eps": check_nonneg}

    def __init__(self, alpha=0.99, eps=1e-8, centered=False):
        super().__init__()
        self.k_alpha = self.bind_key("alpha", alpha)
        self.k_eps = self.bind_key("eps", eps)
        self.k_centered = self.bind_key("centered", centered)
        self.centered = False

    def bind(self, dtype, h):
        self.centered = bool(h[self.k_centered])
        self.state = {"square_avg": 0.0, **({"grad_avg": 0.0} if self.centered else {})}

    def update(self, u, p, s, c, h, t, tmp):
        alpha = float(h[self.k_alpha])
        sq = s["square_avg"]
        sq *= alpha
        np.multiply(u, u, out=tmp)
        tmp *= 1.0 - alpha
        sq += tmp
        if self.centered:
            ga = s["grad_avg"]
            np.subtract(u, ga, out=tmp)  # ḡ ← ḡ + (1 − α)(u − ḡ)
            tmp *= 1.0 - alpha
            ga += tmp
            np.multiply(ga, ga, out=tmp)
            np.subtract(sq, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(sq, out=tmp)
        tmp += float(h[self.k_eps])
        u /= tmp


class ClipByValue(Rule):
    """u ← clip(u, −c, c), c = ``max_delta``: element-wise clipping of the update at its place in the chain
    (first in the chain: of the gradient, as ``clip_grad_value_`` before the step)."""

    checks = {"max_delta": check_nonneg}

    def __init__(self, max_delta=1.0):
        super().__init__()
        self.k_c = self.bind_key("max_delta", max_delta)

    def update(self, u, p, s, c, h, t, tmp):
        bound = float(h[self.k_c])
        np.clip(u, -bound, bound, out=u)


class ScaleByLearningRate(Rule):
    """u ← −η u, η = ``lr``; with ``lr_decay`` d (Adagrad's), η / (1 + (t − 1) d)."""

    checks = {"lr": check_nonneg, "lr_decay": check_nonneg}

    def __init__(self, lr=1e-3, lr_decay=None):
        super().__init__()
        self.k_lr = self.bind_key("lr", lr)
        self.k_decay = None if lr_decay is None else self.bind_key("lr_decay", lr_decay)

    def rate(self, h, t) -> float:
        """The step's learning rate η / (1 + (t − 1) d)."""
        lr = float(h[self.k_lr])
        if self.k_decay is not None:
            lr = lr / (1 + (t - 1) * float(h[self.k_decay]))
        return lr

    def update(self, u, p, s, c, h, t, tmp):
        u *= -self.rate(h, t)


class ScaleByAsgd(Rule):
    """Averaged SGD (Polyak & Juditsky 1992; the step sizes of Bottou 2012), as ``torch.optim.ASGD``:
    θ' = θ(1 − λη) − ηu;  a ← a + μ(θ' − a) (a ← θ' while μ = 1);  u ← θ' − θ; then the step's rates for the
    next step: η ← η₀ / (1 + λη₀t)^α, μ ← 1 / max(1, t − t₀), with η₀ = ``lr`` (η = η₀ at the first step).

    It holds the learning rate itself (η is per-parameter state, as PyTorch's ``eta``), so it ends the
    chain. State ``ax`` (the average a, which ASGD returns as its estimate; the parameters stay the SGD
    iterate); scalars ``eta`` and ``mu``; keys ``'lr'``, ``'lambd'``, ``'alpha'``, ``'t0'``.
    """

    reads_params = True
    state = {"ax": 0.0}
    scalars = {"eta": 0.0, "mu": 1.0}
    checks = {"lr": check_nonneg, "lambd": check_nonneg, "alpha": check_number, "t0": check_number}

    def __init__(self, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6):
        super().__init__()
        self.k_lr = self.bind_key("lr", lr)
        self.k_lambd = self.bind_key("lambd", lambd)
        self.k_alpha = self.bind_key("alpha", alpha)
        self.k_t0 = self.bind_key("t0", t0)

    def update(self, u, p, s, c, h, t, tmp):
        lr, lambd = float(h[self.k_lr]), float(h[self.k_lambd])
        eta, mu = (lr, 1.0) if t == 1 else (c["eta"], c["mu"])
        u *= -eta
        np.multiply(p, 1.0 - lambd * eta, out=tmp)
        tmp += u  # θ'
        ax = s["ax"]
        if mu != 1.0:
            np.subtract(tmp, ax, out=u)
            u *= mu
            ax += u
        else:
            np.copyto(ax, tmp)
        np.subtract(tmp, p, out=u)
        c["eta"] = lr / ((1.0 + lambd * lr * t) ** float(h[self.k_alpha]))
        c["mu"] = 1.0 / max(1.0, t - float(h[self.k_t0]))


class ScaleByRprop(Rule):
    """Rprop (Riedmiller & Braun 1993), as ``torch.optim.Rprop`` (the variant without weight backtracking):
    per element, with the sign s = sign(u · u_prev): step_size ← clip(step_size · (η₊ if s > 0, η₋ if
    s < 0, 1 if s = 0), min, max); where s < 0 the gradient is taken as 0; u_prev ← u; u ← −sign(u) · step_size.

    The step sizes start at ``lr`` (read at the first step), so it ends the chain (no learning-rate rule
    after it). State ``prev`` and ``step_size``; keys ``'lr'``, ``'etas'`` (η₋, η₊), ``'step_sizes'``
    (min, max). The sign masks are the step's only allocations.
    """

    state = {"prev": 0.0, "step_size": 0.0}
    checks = {"lr": check_nonneg, "etas": check_etas, "step_sizes": check_step_sizes}

    def __init__(self, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
        super().__init__()
        self.k_lr = self.bind_key("lr", lr)
        self.k_etas = self.bind_key("etas", etas)
        self.k_sizes = self.bind_key("step_sizes", step_sizes)

    def update(self, u, p, s, c, h, t, tmp):
        eta_minus, eta_plus = (float(e) for e in h[self.k_etas])
        lo, hi = (float(x) for x in h[self.k_sizes])
        prev, size = s["prev"], s["step_size"]
        if t == 1:
            size.fill(float(h[self.k_lr]))
        np.multiply(u, prev, out=tmp)
        grew, shrank = tmp > 0, tmp < 0
        tmp.fill(1.0)
        np.copyto(tmp, eta_plus, where=grew)
        np.copyto(tmp, eta_minus, where=shrank)
        size *= tmp
        np.clip(size, lo, hi, out=size)
        np.copyto(u, 0.0, where=shrank)
        np.copyto(prev, u)
        np.sign(u, out=u)
        u *= size
        np.negative(u, out=u)
