"""Update rules: the small steps every optimiser is composed of (Optax-style chains).

An optimiser turns a gradient g into a parameter change Δθ by passing it through a *chain* of rules, each
of which rewrites the update ``u`` in place (``u`` starts as a copy of g):

    Adam  = [add_decayed_weights (coupled L2)] → scale_by_adam → scale_by_learning_rate
    AdamW =  scale_by_adam → add_decayed_weights (decoupled) → scale_by_learning_rate

and then θ ← θ + u. Options are extra rules in the chain, not flags inside one big function.

Every rule works on flat 1-D arrays (all of a parameter group's elements at once, or one parameter's
segment of them), in the parameters' dtype, and never allocates: it writes through ``out=`` into ``u``,
its own state arrays and one scratch array ``tmp``. Hyperparameters are read from the parameter group
(``h``) at every step, so a learning-rate scheduler changing ``group['lr']`` takes effect at once.

A rule declares ``state`` (per-element arrays, name → initial fill value, named as PyTorch names them so
state dicts read the same) and ``scalars`` (one number per parameter, name → initial value).
``update(u, p, s, c, h, t, tmp)`` gets the update, the parameters, its state arrays, its per-parameter
scalars (a dict it may rewrite), the group's hyperparameters, the step count t ≥ 1 and the scratch array.
"""

from __future__ import annotations

import numpy as np


class Rule:
    """One step of an update chain (see the module docstring for the contract)."""

    state: dict = {}
    scalars: dict = {}

    def update(self, u, p, s, c, h, t, tmp):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class AddDecayedWeights(Rule):
    """u ← u + λθ with λ = ``group['weight_decay']``.

    Placed before the scaling rules it is coupled L2 regularisation (the gradient of (λ/2)‖θ‖²); placed
    after them, just before the learning rate, it is decoupled weight decay (Loshchilov & Hutter 2019).
    """

    def update(self, u, p, s, c, h, t, tmp):
        wd = float(h["weight_decay"])
        if wd != 0.0:
            np.multiply(p, wd, out=tmp)
            u += tmp


class Trace(Rule):
    """Heavy-ball momentum: b ← μb + (1 − τ)u (b = u at the first step), then u ← b, or u ← u + μb (Nesterov).

    μ = ``group['momentum']`` (no-op when 0), τ = ``group.get('dampening', 0)``; Sutskever et al. 2013 for
    the Nesterov form, written as PyTorch's SGD writes it.
    """

    state = {"momentum_buffer": 0.0}

    def __init__(self, nesterov_key: str | None = None):
        self.nesterov_key = nesterov_key

    def update(self, u, p, s, c, h, t, tmp):
        mu = float(h["momentum"])
        if mu == 0.0:
            return
        buf = s["momentum_buffer"]
        if t == 1:
            np.copyto(buf, u)
        else:
            buf *= mu
            damp = float(h.get("dampening", 0.0))
            if damp != 0.0:
                np.multiply(u, 1.0 - damp, out=tmp)
                buf += tmp
            else:
                buf += u
        if self.nesterov_key is not None and h[self.nesterov_key]:
            np.multiply(buf, mu, out=tmp)
            u += tmp
        else:
            np.copyto(u, buf)


class ScaleByRss(Rule):
    """Adagrad (Duchi et al. 2011): G ← G + u², u ← u / (√G + ε); G starts at ``initial_accumulator_value``."""

    def __init__(self, initial_accumulator_value: float = 0.0):
        self.state = {"sum": float(initial_accumulator_value)}

    def update(self, u, p, s, c, h, t, tmp):
        acc = s["sum"]
        np.multiply(u, u, out=tmp)
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += float(h["eps"])
        u /= tmp


class ScaleByRms(Rule):
    """RMSprop (Hinton 2012): v ← αv + (1 − α)u², u ← u / (√v + ε).

    Centered (Graves 2013): also ḡ ← αḡ + (1 − α)u and the denominator is √(v − ḡ²) + ε.
    """

    def __init__(self, centered: bool = False):
        self.centered = centered
        self.state = {"square_avg": 0.0, **({"grad_avg": 0.0} if centered else {})}

    def update(self, u, p, s, c, h, t, tmp):
        alpha = float(h["alpha"])
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
        tmp += float(h["eps"])
        u /= tmp


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

    AMSGrad (Reddi et al. 2018) uses v̂ ← max(v̂, v) in place of v. ε is added after the bias correction of
    √v, as PyTorch does (the paper's ε̂ form differs by a factor √(1 − β₂ᵗ)).

    :meth:`apply` is the fused form the optimiser uses when this rule is followed only by the learning
    rate (Adam and AdamW without weight decay): the same step with the bias corrections folded into two
    scalars, in 12 array passes that read the gradient where it lies (no copy).
    """

    def __init__(self, amsgrad: bool = False):
        self.amsgrad = amsgrad
        self.state = {"exp_avg": 0.0, "exp_avg_sq": 0.0, **({"max_exp_avg_sq": 0.0} if amsgrad else {})}

    def _second_moment(self, s, v):
        """v, or with AMSGrad v̂ ← max(v̂, v)."""
        if not self.amsgrad:
            return v
        np.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
        return s["max_exp_avg_sq"]

    def _denominator(self, s, v, h, t, tmp):
        """tmp ← √v / √(1 − β₂ᵗ) + ε (v̂ = max(v̂, v) with AMSGrad)."""
        v = self._second_moment(s, v)
        np.sqrt(v, out=tmp)
        tmp /= (1.0 - float(h["betas"][1]) ** t) ** 0.5
        tmp += float(h["eps"])

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h["betas"])
        m, v = _update_moments(u, s, b1, b2, tmp)
        self._denominator(s, v, h, t, tmp)
        np.divide(m, tmp, out=u)
        u *= 1.0 / (1.0 - b1 ** t)

    def apply(self, g, p, s, h, t, tmp, lr, u):
        """The whole step on the parameters ``p`` from the gradient ``g`` (only read; ``u`` may be ``g``):
        θ ← θ − α·m / (√v + ε̂) with α = η√(1 − β₂ᵗ)/(1 − β₁ᵗ) and ε̂ = ε√(1 − β₂ᵗ) — the same step as
        θ − (η/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε), written as Kingma & Ba's efficient form (Section 2), with
        the bias corrections folded into two scalars: 12 array passes. ``u`` and ``tmp`` are scratch."""
        b1, b2 = (float(b) for b in h["betas"])
        m, v = _update_moments(g, s, b1, b2, tmp)
        v = self._second_moment(s, v)
        root_bc2 = (1.0 - b2 ** t) ** 0.5
        np.sqrt(v, out=tmp)
        tmp += float(h["eps"]) * root_bc2
        np.divide(m, tmp, out=u)
        u *= -lr * root_bc2 / (1.0 - b1 ** t)
        p += u


class ScaleByNadam(Rule):
    """NAdam (Dozat 2016), as ``torch.optim.NAdam``: the momentum schedule μₜ = β₁(1 − ½·0.96^(tψ)),
    ψ = ``momentum_decay``; m and v as Adam; with D = √(v / (1 − β₂ᵗ)) + ε,
    u ← ((1 − μₜ)/(1 − Πμ₁..ₜ)) g / D + (μₜ₊₁/(1 − Πμ₁..ₜ₊₁)) m / D.
    """

    state = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
    scalars = {"mu_product": 1.0}

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h["betas"])
        psi = float(h["momentum_decay"])
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = c["mu_product"] * mu
        c["mu_product"] = mu_product
        c_grad = (1.0 - mu) / (1.0 - mu_product)
        c_avg = mu_next / (1.0 - mu_product * mu_next)
        m, v = _update_moments(u, s, b1, b2, tmp)
        np.divide(v, 1.0 - b2 ** t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += float(h["eps"])
        if c_avg != 0.0:  # u ← c_avg (c_grad/c_avg · g + m) / D, without a second scratch array
            u *= c_grad / c_avg
            u += m
            u *= c_avg
        else:  # β₁ = 0: no momentum term
            u *= c_grad
        u /= tmp


class ScaleByLion(Rule):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"):
    u ← sign(β₁m + (1 − β₁)g), then m ← β₂m + (1 − β₂)g."""

    state = {"exp_avg": 0.0}

    def update(self, u, p, s, c, h, t, tmp):
        b1, b2 = (float(b) for b in h["betas"])
        m = s["exp_avg"]
        np.subtract(u, m, out=tmp)  # interpolation c = m + (1 − β₁)(g − m)
        tmp *= 1.0 - b1
        tmp += m
        u -= m  # m ← m + (1 − β₂)(g − m), reusing u's storage for g − m
        u *= 1.0 - b2
        m += u
        np.sign(tmp, out=u)


class ScaleByLearningRate(Rule):
    """u ← −η u with η = ``group['lr']``; with ``decay_key`` (Adagrad's lr_decay d), η / (1 + (t − 1) d)."""

    def __init__(self, decay_key: str | None = None):
        self.decay_key = decay_key

    def update(self, u, p, s, c, h, t, tmp):
        lr = float(h["lr"])
        if self.decay_key is not None:
            lr = lr / (1 + (t - 1) * float(h[self.decay_key]))
        u *= -lr


# Optax-style constructors ------------------------------------------------------------------------
def add_decayed_weights() -> Rule:
    return AddDecayedWeights()


def trace(nesterov_key: str | None = None) -> Rule:
    return Trace(nesterov_key)


def scale_by_rss(initial_accumulator_value: float = 0.0) -> Rule:
    return ScaleByRss(initial_accumulator_value)


def scale_by_rms(centered: bool = False) -> Rule:
    return ScaleByRms(centered)


def scale_by_adam(amsgrad: bool = False) -> Rule:
    return ScaleByAdam(amsgrad)


def scale_by_nadam() -> Rule:
    return ScaleByNadam()


def scale_by_lion() -> Rule:
    return ScaleByLion()


def scale_by_learning_rate(decay_key: str | None = None) -> Rule:
    return ScaleByLearningRate(decay_key)
