"""Update rules: the small steps every optimiser is composed of (Optax-style chains).

An optimiser turns a gradient g into a parameter change by passing it through a *chain* of rules, each of
which rewrites the update ``u`` in place (``u`` starts as a copy of g), and then θ ← θ + u::

    Adam  = add_decayed_weights (coupled L2) → scale_by_adam → scale_by_learning_rate
    AdamW = scale_by_adam → add_decayed_weights (decoupled) → scale_by_learning_rate

Options are extra rules in the chain, not flags inside one big function;
:func:`descend.optim.chain` builds an optimiser from any chain.

**Hyperparameters.** A rule takes its hyperparameters as constructor arguments, and each is *bound to a
key of the parameter group*: ``scale_by_learning_rate(1e-3)`` binds ``group['lr']`` with default 1e-3, and
the rule reads ``group['lr']`` at every step, so a scheduler writing ``group['lr']`` (or OneCycleLR cycling
``group['momentum']`` / ``group['betas']``) takes effect at once, per group, as in PyTorch. The group is the
one place the value lives; the rule keeps only the key. ``group_key('l2', 1e-4)`` binds another key (for a
chain with two rules of a kind). Options that shape the state (``amsgrad``, ``centered``,
``initial_accumulator_value``) are read once, when the optimiser lays out its state.

**The contract** (for writing a rule). ``__init__`` binds each hyperparameter with
``self.k_x = self.bind_key('x', x)`` and reads ``h[self.k_x]`` in ``update``; ``checks`` (name → check
function) or an overridden ``check(group)`` validate the group's values. Every rule works on flat 1-D arrays (a chunk of a parameter group's
elements), in the parameters' dtype, and never allocates: it writes through ``out=`` into ``u``, its own
state arrays and one scratch array ``tmp``. A rule declares ``state`` (per-element arrays, name → initial
fill, named as PyTorch names them so state dicts read the same), ``scalars`` (one number per parameter,
name → initial value) and ``reads_params`` (whether it may read θ; ``needs_params(group)`` says whether
it does this step, so that weight decay of 0 costs nothing). ``bind(dtype, group)`` is called once per
parameter group and dtype, on the optimiser's own copy of the rule; a rule that stores a state array
scaled (value / s, to save array passes) lists s in ``scales`` (name → s), and the optimiser reports
s × stored. ``update(u, p, s, c, h, t, tmp)`` gets the update, the parameters (None when the rule does
not read them), its state arrays, its per-parameter scalars (a dict it may rewrite), the group, the
step count t ≥ 1 and the scratch array.

**Fused steps.** A rule may own a faster form of a whole chain: ``fuse(chain)`` returns an object with
``prepare(h, t)`` (the step's numbers, or None when the fused form does not apply this step) and
``apply(g, s, t, tmp, args)`` (the update u for gradient ``g``, only read, returned in ``tmp``; None
for no change). It may also offer a compiled step over a whole parameter range: ``kernel_args(h, t,
dtype)`` (its numbers, or None) and ``step_in_place(g, theta, s, args)`` (θ updated in place), which the
engine prefers where a chunk holds one parameter. :class:`~descend.optim.moment_rules.ScaleByAdam` fuses
[add_decayed_weights…] scale_by_adam [add_decayed_weights…] scale_by_learning_rate when every decay is 0
and there is no lr decay, and compiles it (:mod:`descend.kernels.optim`, decays included) for float32.
The optimiser asks each rule of its chain and knows no rule by name.
"""

from __future__ import annotations

__all__ = ["Rule", "GroupKey", "group_key"]


class GroupKey:
    """A hyperparameter bound to ``group[key]``, with ``default`` as the value a new group gets."""

    __slots__ = ("key", "default")

    def __init__(self, key: str, default):
        if not isinstance(key, str) or not key or key == "params":
            raise ValueError(f"invalid group key {key!r}; give a non-empty string other than 'params'")
        self.key, self.default = key, default

    def __repr__(self):
        return f"group_key({self.key!r}, {self.default!r})"


def group_key(key: str, default) -> GroupKey:
    """Bind a rule's hyperparameter to ``group[key]`` (default ``default``) instead of its usual key, e.g.
    ``add_decayed_weights(group_key('l2', 1e-4))``."""
    return GroupKey(key, default)


class Rule:
    """One step of an update chain (see the module docstring for the contract)."""

    state: dict = {}
    scalars: dict = {}
    #: name → s for a state array kept as (value / s); the optimiser reports value = s × stored
    scales: dict = {}
    #: whether update() reads the parameters θ (then it gets them; otherwise p is None)
    reads_params = False
    #: hyperparameter name → check(name, value) returning the value to store (see descend.optim.checks)
    checks: dict = {}

    def __init__(self):
        self.keys = {}  # hyperparameter name → the group key it is bound to
        self.defaults = {}  # group key → default value

    def bind_key(self, name: str, value) -> str:
        """Bind hyperparameter ``name`` to its group key (``name``, or a :func:`group_key`'s)."""
        key, default = (value.key, value.default) if isinstance(value, GroupKey) else (name, value)
        self.keys[name] = key
        self.defaults[key] = default
        return key

    def check(self, h: dict) -> None:
        """Check (and normalise) this rule's hyperparameters in the group ``h``."""
        for name, key in self.keys.items():
            if key not in h:
                raise ValueError(f"{self!r} reads group[{key!r}], which this parameter group lacks; add {key!r} "
                                 "to the group or to the optimiser's defaults")
            check = self.checks.get(name)
            if check is not None:
                h[key] = check(key, h[key])

    def needs_params(self, h: dict) -> bool:
        """Whether update() reads θ this step (default: ``reads_params``; weight decay only when λ ≠ 0)."""
        return self.reads_params

    def bind(self, dtype, h: dict) -> None:
        """Called once, on the optimiser's own copy, with the parameters' dtype and their group."""

    def fuse(self, chain: list):
        """A fused form of the whole ``chain`` this rule owns (see the module docstring), else None."""
        return None

    def update(self, u, p, s, c, h, t, tmp):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{n}=group[{k!r}]" for n, k in self.keys.items())
        return f"{type(self).__name__}({args})"
