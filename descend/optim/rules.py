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
state dicts read the same) and ``scalars`` (one number per parameter, name → initial value). ``bind(dtype)``
is called once with the parameters' dtype; a rule that stores a state array scaled (value / s, to save
array passes) lists s in ``scales`` (name → s), and the optimiser reports s × stored.
``update(u, p, s, c, h, t, tmp)`` gets the update, the parameters, its state arrays, its per-parameter
scalars (a dict it may rewrite), the group's hyperparameters, the step count t ≥ 1 and the scratch array.
"""

from __future__ import annotations

import numpy as np


class Rule:
    """One step of an update chain (see the module docstring for the contract)."""

    state: dict = {}
    scalars: dict = {}
    #: name → s for a state array kept as (value / s); the optimiser reports value = s × stored
    scales: dict = {}

    def bind(self, dtype):
        """Called once with the parameters' dtype before the first step (a rule may choose its storage)."""

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

    Stored scaled: for float32 parameters the moments are kept as m/s₁ and v/s₂ with s₁ = 1 − β₁ and
    s₂ = 1 − β₂ of the betas the optimiser was made with (:attr:`scales`), so that each moment update is
    two or three array passes (m/s₁ ← β₁·m/s₁ + u, v/s₂ ← β₂·v/s₂ + u²) instead of three or four; the
    scales are folded into the step's scalars. If the betas change later (a momentum schedule) the update
    gains a multiply by (1 − β)/s and stays exact. v/s₂ overflows float32 for gradients of about 6·10¹⁷
    held over many steps (PyTorch's v for about 2·10¹⁹). The optimiser's ``state`` and ``state_dict``
    report m and v themselves (see :class:`~descend.optim.optimizer.Optimizer`). Float64 parameters keep
    m and v as they are.

    :meth:`apply` is the fused form the optimiser uses when this rule is followed only by the learning
    rate (Adam and AdamW without weight decay): the whole step in 10 array passes that read the gradient
    where it lies (no copy).
    """

    def __init__(self, amsgrad: bool = False, betas=(0.9, 0.999)):
        self.amsgrad = amsgrad
        self.state = {"exp_avg": 0.0, "exp_avg_sq": 0.0, **({"max_exp_avg_sq": 0.0} if amsgrad else {})}
        self._initial_betas = tuple(float(b) for b in betas)
        self.scales = {}

    def bind(self, dtype):
        if np.dtype(dtype) == np.float32:  # float64 holds m = s·(m/s) exactly, so state dicts convert exactly
            s1, s2 = (1.0 - b for b in self._initial_betas)
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

    def _denominator(self, v, h, t, lr, tmp):
        """tmp ← (√v/√(1 − β₂ᵗ) + ε)·(1 − β₁ᵗ)/η from the stored v/s₂, so that (m/s₁)/tmp is the step
        (η/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε): tmp = √(v/s₂)·a + b with a = √s₂(1 − β₁ᵗ)/(η s₁ √(1 − β₂ᵗ)) and
        b = ε(1 − β₁ᵗ)/(η s₁)."""
        b1, b2 = (float(b) for b in h["betas"])
        k = (1.0 - b1 ** t) / (lr * self.scales.get("exp_avg", 1.0))
        np.sqrt(v, out=tmp)
        tmp *= self.scales.get("exp_avg_sq", 1.0) ** 0.5 / (1.0 - b2 ** t) ** 0.5 * k
        tmp += float(h["eps"]) * k

    def update(self, u, p, s, c, h, t, tmp):
        # u ← (m/(1 − β₁ᵗ)) / (√v/√(1 − β₂ᵗ) + ε): the step for η = 1, the learning rate follows in the chain
        b1, b2 = (float(b) for b in h["betas"])
        m, v = self._moments(u, s, b1, b2, tmp)
        self._denominator(v, h, t, 1.0, tmp)
        np.divide(m, tmp, out=u)

    def apply(self, g, p, s, h, t, tmp, lr):
        """The whole step on the parameters ``p`` from the gradient ``g`` (only read):
        θ ← θ − (η/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε), as θ ← θ − (m/s₁)/tmp with tmp from
        :meth:`_denominator`: 10 array passes (2 + 3 for the moments, 5 for the step)."""
        b1, b2 = (float(b) for b in h["betas"])
        m, v = self._moments(g, s, b1, b2, tmp)
        if lr == 0.0:
            return
        self._denominator(v, h, t, lr, tmp)
        np.divide(m, tmp, out=tmp)
        p -= tmp


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


def scale_by_adam(amsgrad: bool = False, betas=(0.9, 0.999)) -> Rule:
    return ScaleByAdam(amsgrad, betas)


def scale_by_nadam() -> Rule:
    return ScaleByNadam()


def scale_by_lion() -> Rule:
    return ScaleByLion()


def scale_by_learning_rate(decay_key: str | None = None) -> Rule:
    return ScaleByLearningRate(decay_key)
