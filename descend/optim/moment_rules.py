"""The adaptive-moment update rules: Adam (with the fused step it owns), NAdam, Lion, Adadelta, Adamax and
RAdam (see :mod:`descend.optim.rule` for the contract they follow)."""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels import optim as optim_kernels

from .basic_rules import AddDecayedWeights, ScaleByLearningRate
from .checks import check_betas, check_closed_unit, check_nonneg
from .rule import Rule


def _lerp_(m, u, weight, tmp):
    """m ← m + w(u − m), as PyTorch's lerp_."""
    np.subtract(u, m, out=tmp)
    tmp *= weight
    m += tmp


def _update_moments(u, s, b1, b2, tmp):
    """The Adam moments, written as PyTorch writes them: m ← lerp(m, u, 1 − β₁); v ← β₂v + ((1 − β₂)u)·u."""
    m, v = s["exp_avg"], s["exp_avg_sq"]
    _lerp_(m, u, 1.0 - b1, tmp)
    v *= b2
    np.multiply(u, 1.0 - b2, out=tmp)
    tmp *= u
    v += tmp
    return m, v


class ScaleByAdam(Rule):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1 − β₁)u, v ← β₂v + (1 − β₂)u²,
    u ← (m / (1 − β₁ᵗ)) / (√v / √(1 − β₂ᵗ) + ε).

    Keys ``'betas'``, ``'eps'`` (read every step) and ``'amsgrad'`` (read once): AMSGrad (Reddi et al.
    2018) uses v̂ ← max(v̂, v) in place of v. ε is added after the bias correction of √v, as PyTorch does
    (the paper's ε̂ form differs by a factor √(1 − β₂ᵗ)).

    Stored scaled: for float32 parameters the moments are kept as m/s₁ and v/s₂ with s₁ = 1 − β₁ and
    s₂ = 1 − β₂ of the group's betas when the optimiser laid out its state (:attr:`scales`), so that each
    moment update is two or three array passes (m/s₁ ← β₁·m/s₁ + u, v/s₂ ← β₂·v/s₂ + u²) instead of three
    or four; the scales are folded into the step's scalars. If the betas change later (a momentum
    schedule) the update gains a multiply by (1 − β)/s and stays exact. v/s₂ overflows float32 for
    gradients of about 6·10¹⁷ held over many steps (PyTorch's v for about 2·10¹⁹). The optimiser's
    ``state`` and ``state_dict`` report m and v themselves. Float64 parameters keep m and v as they are.

    :meth:`fuse` owns the fused step of a chain [add_decayed_weights…] scale_by_adam
    [add_decayed_weights…] scale_by_learning_rate: when every decay is 0 and there is no lr decay the
    whole step is 10 array passes that read the gradient where it lies (no copy).
    """

    checks = {"betas": check_betas, "eps": check_nonneg}

    def __init__(self, betas=(0.9, 0.999), eps=1e-8, amsgrad=False):
        super().__init__()
        self.k_betas = self.bind_key("betas", betas)
        self.k_eps = self.bind_key("eps", eps)
        self.k_amsgrad = self.bind_key("amsgrad", amsgrad)
        self.amsgrad = False
        self.state = {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def bind(self, dtype, h):
        self.amsgrad = bool(h[self.k_amsgrad])
        self.state = {"exp_avg": 0.0, "exp_avg_sq": 0.0, **({"max_exp_avg_sq": 0.0} if self.amsgrad else {})}
        self.scales = {}
        if np.dtype(dtype) == np.float32:  # float64 holds m = s·(m/s) exactly, so state dicts convert exactly
            s1, s2 = (1.0 - float(b) for b in h[self.k_betas])
            self.scales = {"exp_avg": s1, "exp_avg_sq": s2, **({"max_exp_avg_sq": s2} if self.amsgrad else {})}

    def _moments(self, g, s, b1, b2, tmp):
        """m/s₁ ← β₁·m/s₁ + ((1 − β₁)/s₁)·g and v/s₂ ← β₂·v/s₂ + ((1 − β₂)/s₂)·g²; returns (m/s₁, v̂/s₂)."""
        m, v = s["exp_avg"], s["exp_avg_sq"]
        s1, s2 = self.scales.get("exp_avg", 1.0), self.scales.get("exp_avg_sq", 1.0)
        c1, c2 = (1.0 - b1) / s1, (1.0 - b2) / s2
        m *= b1
        if c1 == 1.0:
            m += g
        else:
            np.multiply(g, c1, out=tmp)
            m += tmp
        np.multiply(g, g, out=tmp)
        if c2 != 1.0:
            tmp *= c2
        v *= b2
        v += tmp
        if self.amsgrad:
            np.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
            v = s["max_exp_avg_sq"]
        return m, v

    def _denominator(self, v, b1, b2, eps, t, lr, tmp):
        """tmp ← (√v/√(1 − β₂ᵗ) + ε)·(1 − β₁ᵗ)/η from the stored v/s₂, so that (m/s₁)/tmp is the step
        (η/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε): tmp = √(v/s₂)·a + b with a = √s₂(1 − β₁ᵗ)/(η s₁ √(1 − β₂ᵗ)) and
        b = ε(1 − β₁ᵗ)/(η s₁). A negative η gives the negated step, exactly."""
        k = (1.0 - b1 ** t) / (lr * self.scales.get("exp_avg", 1.0))
        np.sqrt(v, out=tmp)
        tmp *= self.scales.get("exp_avg_sq", 1.0) ** 0.5 / (1.0 - b2 ** t) ** 0.5 * k
        tmp += eps * k

    def update(self, u, p, s, c, h, t, tmp):
        # u ← (m/(1 − β₁ᵗ)) / (√v/√(1 − β₂ᵗ) + ε): the step for η = 1, the learning rate follows in the chain
        b1, b2 = (float(b) for b in h[self.k_betas])
        m, v = self._moments(u, s, b1, b2, tmp)
        self._denominator(v, b1, b2, float(h[self.k_eps]), t, 1.0, tmp)
        np.divide(m, tmp, out=u)

    def fuse(self, chain):
        if not chain or type(chain[-1]) is not ScaleByLearningRate:
            return None
        body = chain[:-1]
        if sum(r is self for r in body) != 1 or any(r is not self and type(r) is not AddDecayedWeights for r in body):
            return None
        before = body[:[r is self for r in body].index(True)]
        return FusedAdam(self, [r for r in body if r is not self], chain[-1], coupled=list(before))


class FusedAdam:
    """The step of [add_decayed_weights…] scale_by_adam [add_decayed_weights…] scale_by_learning_rate when
    every decay is 0 and the learning rate has no decay: u = −(η/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε) from the
    gradient ``g`` (only read), as (m/s₁)/tmp with tmp from ``_denominator`` for −η: 10 array passes
    (2 + 3 for the moments, 4 for u, 1 for the caller's θ ← θ + u)."""

    def __init__(self, adam, decays, lr, coupled=None):
        self.adam, self.decays, self.lr = adam, decays, lr
        # decays placed before scale_by_adam are coupled (L2 on the gradient), after it decoupled (AdamW)
        self.coupled = list(decays) if coupled is None else coupled

    def kernel_args(self, h, t, dtype):
        """The scalars of :func:`descend.kernels.optim.adam_step` for this step, or None when the compiled
        step does not apply (kernels off, not float32, or an lr decay)."""
        if np.dtype(dtype) != np.float32 or not kernels.enabled():
            return None
        if self.lr.k_decay is not None and float(h[self.lr.k_decay]) != 0.0:
            return None
        adam = self.adam
        b1, b2 = (float(b) for b in h[adam.k_betas])
        lr, eps = float(h[self.lr.k_lr]), float(h[adam.k_eps])
        s1, s2 = adam.scales.get("exp_avg", 1.0), adam.scales.get("exp_avg_sq", 1.0)
        wd_c = sum(float(h[d.k_wd]) for d in self.decays if d in self.coupled)
        wd_d = sum(float(h[d.k_wd]) for d in self.decays if d not in self.coupled)
        if lr == 0.0:  # θ stays: the chain's path, which skips the update
            return None
        k = (1.0 - b1 ** t) / (-lr * s1)
        f = np.float32
        return (f(b1), f((1.0 - b1) / s1), f(b2), f((1.0 - b2) / s2),
                f(s2 ** 0.5 / (1.0 - b2 ** t) ** 0.5 * k), f(eps * k), f(wd_c), f(lr * wd_d), adam.amsgrad)

    def step_in_place(self, g, theta, s, args) -> None:
        """θ ← θ + u for the flat float32 views ``g``, ``theta`` and state ``s`` in one compiled pass."""
        vmax = s["max_exp_avg_sq"] if self.adam.amsgrad else s["exp_avg_sq"]
        optim_kernels.adam_step(g, theta, s["exp_avg"], s["exp_avg_sq"], vmax, *args)

    def prepare(self, h, t):
        """(η, β₁, β₂, ε) for this step, or None when a decay or the lr decay is on (the chain runs instead)."""
        if any(float(h[d.k_wd]) != 0.0 for d in self.decays):
            return None
        if self.lr.k_decay is not None and float(h[self.lr.k_decay]) != 0.0:
            return None
        b1, b2 = (float(b) for b in h[self.adam.k_betas])
        return float(h[self.lr.k_lr]), b1, b2, float(h[self.adam.k_eps])

    def apply(self, g, s, t, tmp, args):
        """Update the moments from ``g``; return u in ``tmp`` (None when η = 0: θ stays)."""
        lr, b1, b2, eps = args
        adam = self.adam
        m, v = adam._moments(g, s, b1, b2, tmp)
        if lr == 0.0:
            return None
        adam._denominator(v, b1, b2, eps, t, -lr, tmp)
        np.divide(m, tmp, out=tmp)
        return tmp


class ScaleByNadam(Rule):
    """NAdam (Dozat 2016), as ``torch.optim.NAdam``: the momentum schedule μₜ = β₁(1 − ½·0.96^(tψ)),
    ψ = ``momentum_decay``; m and v as Adam; with D = √(v / (1 − β₂ᵗ)) + ε,
    u ← ((1 − μₜ)/(1 − Πμ₁..ₜ)) g / D + (μₜ₊₁/(1 − Πμ₁..ₜ₊₁)) m / D. Keys ``'betas'``, ``'eps'``,
    ``'momentum_decay'``.
    """

    state = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
    scalars = {"mu_product": 1.0}
    checks = {"betas": check_betas, "eps": check_nonneg, "momentum_decay": check_nonneg}

    def __init__(self, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3):
        super().__init__()
        self.k_betas = self.bind_key("betas", betas)
        self.k_eps = self.bind_key("eps", eps)
        self.k_psi = self.bind_key("momentum_decay", momentum_decay)

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h[self.k_betas])
        psi = float(h[self.k_psi])
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = c["mu_product"] * mu
        c["mu_product"] = mu_product
        c_grad = (1.0 - mu) / (1.0 - mu_product)
        c_avg = mu_next / (1.0 - mu_product * mu_next)
        m, v = _update_moments(u, s, b1, b2, tmp)
        np.divide(v, 1.0 - b2 ** t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += float(h[self.k_eps])
        if c_avg != 0.0:  # u ← c_avg (c_grad/c_avg · g + m) / D, without a second scratch array
            u *= c_grad / c_avg
            u += m
            u *= c_avg
        else:  # β₁ = 0: no momentum term
            u *= c_grad
        u /= tmp


class ScaleByLion(Rule):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
    u ← sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g. Key ``'betas'``."""

    state = {"exp_avg": 0.0}
    checks = {"betas": check_betas}

    def __init__(self, betas=(0.9, 0.99)):
        super().__init__()
        self.k_betas = self.bind_key("betas", betas)

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h[self.k_betas])
        m = s["exp_avg"]
        np.subtract(u, m, out=tmp)  # interpolation c = m + (1 − β₁)(g − m)
        tmp *= 1.0 - b1
        tmp += m
        u -= m  # m ← m + (1 − β₂)(g − m), reusing u's storage for g − m
        u *= 1.0 - b2
        m += u
        np.sign(tmp, out=u)


class ScaleByAdadelta(Rule):
    """Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), as ``torch.optim.Adadelta``:
    v ← ρv + (1 − ρ)u²;  δ = √(Δ + ε) / √(v + ε) · u;  Δ ← ρΔ + (1 − ρ)δ²;  u ← δ.

    State ``square_avg`` (v) and ``acc_delta`` (Δ); keys ``'rho'``, ``'eps'``. The paper has no learning
    rate (η = 1, PyTorch's default); a ``scale_by_learning_rate`` after it multiplies δ by η, as PyTorch does.
    δ is computed as (u / √(v + ε))·√(Δ + ε) (PyTorch: (√(Δ + ε)/√(v + ε))·u), equal up to rounding.
    """

    state = {"square_avg": 0.0, "acc_delta": 0.0}
    checks = {"rho": check_closed_unit, "eps": check_nonneg}

    def __init__(self, rho=0.9, eps=1e-6):
        super().__init__()
        self.k_rho = self.bind_key("rho", rho)
        self.k_eps = self.bind_key("eps", eps)

    def update(self, u, p, s, c, h, t, tmp):
        rho, eps = float(h[self.k_rho]), float(h[self.k_eps])
        sq, acc = s["square_avg"], s["acc_delta"]
        sq *= rho
        np.multiply(u, u, out=tmp)
        tmp *= 1.0 - rho
        sq += tmp
        np.add(sq, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        u /= tmp
        np.add(acc, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        u *= tmp  # u = δ
        acc *= rho
        np.multiply(u, u, out=tmp)
        tmp *= 1.0 - rho
        acc += tmp


class ScaleByAdamax(Rule):
    """Adamax (Kingma & Ba 2015, section 7.1: Adam with the infinity norm), as ``torch.optim.Adamax``:
    m ← β₁m + (1 − β₁)u;  w ← max(β₂w, |u| + ε);  u ← (m / (1 − β₁ᵗ)) / w.

    State ``exp_avg`` (m) and ``exp_inf`` (w); keys ``'betas'``, ``'eps'``. ε is added to |u| inside the
    max (PyTorch's placement; the paper has no ε).
    """

    state = {"exp_avg": 0.0, "exp_inf": 0.0}
    checks = {"betas": check_betas, "eps": check_nonneg}

    def __init__(self, betas=(0.9, 0.999), eps=1e-8):
        super().__init__()
        self.k_betas = self.bind_key("betas", betas)
        self.k_eps = self.bind_key("eps", eps)

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h[self.k_betas])
        m, w = s["exp_avg"], s["exp_inf"]
        _lerp_(m, u, 1.0 - b1, tmp)
        w *= b2
        np.absolute(u, out=tmp)
        tmp += float(h[self.k_eps])
        np.maximum(w, tmp, out=w)
        np.divide(m, w, out=u)
        u /= 1.0 - b1 ** t


class ScaleByRadam(Rule):
    """RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), as
    ``torch.optim.RAdam``: m, v as Adam;  ρ∞ = 2/(1 − β₂) − 1;  ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ);
    if ρₜ > 5: rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)) and
    u ← rₜ · (m / (1 − β₁ᵗ)) · √(1 − β₂ᵗ) / (√v + ε);  else u ← m / (1 − β₁ᵗ) (momentum SGD while the
    variance of the adaptive rate is intractable). State ``exp_avg``, ``exp_avg_sq``; keys ``'betas'``, ``'eps'``.
    """

    state = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
    checks = {"betas": check_betas, "eps": check_nonneg}

    def __init__(self, betas=(0.9, 0.999), eps=1e-8):
        super().__init__()
        self.k_betas = self.bind_key("betas", betas)
        self.k_eps = self.bind_key("eps", eps)

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h[self.k_betas])
        m, v = _update_moments(u, s, b1, b2, tmp)
        bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2 ** t / bc2
        np.divide(m, bc1, out=u)
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            np.sqrt(v, out=tmp)
            tmp += float(h[self.k_eps])
            u *= bc2 ** 0.5 * rect
            u /= tmp
