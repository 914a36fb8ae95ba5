"""The optimiser: parameter groups, a chain of update rules, the step, exact state dicts.

An :class:`Optimizer` is a *chain* of update rules (:mod:`descend.optim.rules`) applied to parameter groups,
as Optax composes ``init``/``update`` transformations and with PyTorch's API: ``param_groups`` (a list of
dicts: ``'params'`` and that group's hyperparameters), ``zero_grad``, ``step``, ``state``, ``state_dict`` /
``load_state_dict``. :func:`chain` builds one from any rules; the named optimisers (SGD, Adam, AdamW,
Adagrad, RMSprop, NAdam, Lion, Adadelta, Adamax, RAdam, ASGD, Rprop) are thin wrappers choosing theirs
(LBFGS, not element-wise, is a class of its own: :mod:`descend.optim.lbfgs`)::

    opt = descend.optim.chain(model.parameters(), rules.add_decayed_weights(1e-2),
                              rules.scale_by_adam(betas=(0.9, 0.99)), rules.scale_by_learning_rate(1e-3))

Every rule's hyperparameter is bound to a key of the parameter group (its default is the value the rule
was given), so ``opt.param_groups[0]['lr']`` is *the* learning rate: schedulers write it, per-group dicts
override it, state dicts save it. The state is kept flat per group and dtype and the step runs in chunks
(see :mod:`descend.optim.bucket`); the parameters keep their own arrays (an array taken from ``p.array``
before the optimiser was built sees every update). A parameter whose ``.grad`` is None is skipped (its
state does not move), as in PyTorch.

Options (keyword-only, not in PyTorch): ``flush_subnormals_every`` (default 128; 0: off) sets the optimiser
state's subnormal entries to zero every that many steps of a parameter (why: :mod:`descend.optim.bucket`);
it is saved in the state dict. ``chunk_size`` (default 131,072 elements, 512 KiB in float32) is the size
of the pieces the step works on; it does not change the values.
"""

from __future__ import annotations

import copy

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from .bucket import Bucket, _chunk_bounds  # noqa: F401  (_chunk_bounds: the chunking, tested by itself)
from .checks import check_betas, check_nonneg, check_unit  # noqa: F401  (re-exported for the named optimisers)
from .rule import Rule

#: Elements per chunk of the update chain by default: the update and scratch arrays are this size (512 KiB
#: in float32, cache-resident), instead of two extra copies of every parameter.
DEFAULT_CHUNK = 1 << 17

#: By default, every this many steps of a parameter its optimiser state's subnormal entries are set to zero.
DEFAULT_FLUSH_EVERY = 128


def _check_flush_every(value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"invalid flush_subnormals_every: {value!r}; give a whole number of steps >= 0 (0: never)")
    return int(value)


def _same(a, b) -> bool:
    try:
        return bool(tuple(a) == tuple(b)) if isinstance(a, (tuple, list)) else bool(a == b)
    except (TypeError, ValueError):
        return a is b


class Optimizer:
    """An optimiser from a chain of update rules: ``Optimizer(params, rules)``; see :func:`chain`.

    ``params`` is an iterable of Tensors, or of dicts ``{'params': [...], 'lr': ..., ...}`` (parameter
    groups; missing options are taken from ``defaults``). ``defaults`` holds the group options in order:
    ``defaults`` given here first (options no rule reads, such as NAdam's ``decoupled_weight_decay``), then
    every rule's bound keys with the values the rules were given. Use as in PyTorch::

        opt = descend.optim.Adam(model.parameters(), lr=1e-3)
        opt.zero_grad(); loss.backward(); opt.step()

    A subclass may override ``_chain(group)`` to choose the rules per group (default: copies of ``rules``).
    """

    def __init__(self, params, rules, *, defaults: dict | None = None,
                 flush_subnormals_every: int = DEFAULT_FLUSH_EVERY, chunk_size: int = DEFAULT_CHUNK):
        if isinstance(params, Tensor) or isinstance(params, np.ndarray):
            raise TypeError(f"params given to the optimiser should be an iterable of Tensors or dicts, but got "
                            f"{type(params).__name__}; pass model.parameters() or [tensor]")
        rules = list(rules)
        bad = [r for r in rules if not isinstance(r, Rule)]
        if bad or not rules:
            raise TypeError(f"an optimiser needs one or more update rules (descend.optim.rules), got "
                            f"{bad[0] if bad else 'none'!r}; e.g. chain(params, rules.scale_by_learning_rate(0.1))")
        if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"invalid chunk_size: {chunk_size!r}; give a whole number of elements >= 1")
        merged = dict(defaults or {})
        for rule in rules:
            for key, value in rule.defaults.items():
                if key in merged and not _same(merged[key], value):
                    raise ValueError(f"two rules of the chain bind group key {key!r}, with {merged[key]!r} and "
                                     f"{value!r}; bind one to another key: rules.group_key('{key}_2', {value!r})")
                merged.setdefault(key, value)
        self.defaults = merged
        self._rules = rules
        self._options = {"flush_subnormals_every": _check_flush_every(flush_subnormals_every),
                         "chunk_size": int(chunk_size)}
        self.param_groups: list[dict] = []
        self._buckets: list[list[Bucket]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimiser got an empty parameter list; pass model.parameters() of a model that has "
                             "parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def _chain(self, group: dict) -> list:
        """The rules for ``group`` (fresh copies: each bucket binds its own to its dtype and group)."""
        return [copy.copy(rule) for rule in self._rules]

    # ------------------------------------------------------------------ options
    @property
    def flush_subnormals_every(self) -> int:
        """Every this many steps of a parameter its subnormal state entries are set to zero (0: never)."""
        return self._options["flush_subnormals_every"]

    @flush_subnormals_every.setter
    def flush_subnormals_every(self, value: int) -> None:
        self._options["flush_subnormals_every"] = _check_flush_every(value)

    @property
    def chunk_size(self) -> int:
        """Elements per chunk of the step (fixed when the optimiser is made)."""
        return self._options["chunk_size"]

    # ------------------------------------------------------------------ PyTorch API
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (others default to the constructor's)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict with a 'params' key, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry (a list of Tensors)")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimisers can only update Tensors, but a parameter is a {type(p).__name__}")
            if p.array.dtype.kind != "f":
                raise TypeError(f"optimisers can only update floating-point tensors, got dtype {p.array.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError("a parameter appears more than once in the optimiser's parameter groups; give each "
                             "parameter once (deduplicate tied weights)")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        for rule in self._chain(group):
            rule.check(group)
        buckets = []
        for dtype in dict.fromkeys(p.array.dtype for p in params):
            members = [p for p in params if p.array.dtype == dtype]
            buckets.append(Bucket(members, self._chain(group), group, self._options))
        self.param_groups.append(group)
        self._buckets.append(buckets)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.array[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates and returns the loss) is
        called first, with grad enabled, and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group, buckets in zip(self.param_groups, self._buckets):
            for bucket in buckets:
                bucket.step(group)
        return loss

    @property
    def state(self) -> dict:
        """Per-parameter state, ``{param: {'step': t, 'exp_avg': array, ...}}``: copies in the parameters'
        dtype, with moments a rule stores scaled (Adam's) given as their values."""
        out = {}
        for buckets in self._buckets:
            for b in buckets:
                for i, p in enumerate(b.params):
                    if b.steps[i] == 0:
                        continue
                    entry = {"step": int(b.steps[i])}
                    entry.update({k: b.state_value(k, i) for k in b.state})
                    entry.update({k: float(v[i]) for k, v in b.scalars.items()})
                    out[p] = entry
        return out

    def _indexed(self):
        """(global index, bucket, position in bucket) for every parameter, in param_groups order."""
        index = 0
        for group, buckets in zip(self.param_groups, self._buckets):
            where = {id(p): (b, i) for b in buckets for i, p in enumerate(b.params)}
            for p in group["params"]:
                b, i = where[id(p)]
                yield index, b, i
                index += 1

    def state_dict(self) -> dict:
        """``{'state': {index: {'step': t, name: array, ...}}, 'param_groups': [{options..., 'params': [index, ...]}],
        'options': {'flush_subnormals_every': n}}``

        Parameters are referred to by their index across all groups (as PyTorch does); the arrays are
        copies shaped like their parameter; only parameters that have taken a step have an entry. State a
        rule stores scaled (Adam's moments of float32 parameters, kept as m/(1 − β₁) and v/(1 − β₂)) is
        given as its value in float64, the precision that makes loading it restore the optimiser bit for bit.
        ``'options'`` (not in PyTorch's) holds the optimiser's options that change values.
        """
        state = {}
        for index, b, i in self._indexed():
            if b.steps[i] == 0:
                continue
            entry = {"step": int(b.steps[i])}
            entry.update({k: b.state_value(k, i, exact=True) for k in b.state})
            entry.update({k: float(v[i]) for k, v in b.scalars.items()})
            state[index] = entry
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            opts = {k: (tuple(v) if isinstance(v, list) else v) for k, v in group.items() if k != "params"}
            groups.append({**opts, "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups,
                "options": {"flush_subnormals_every": self._options["flush_subnormals_every"]}}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by :meth:`state_dict` (the same parameter layout is required); a
        state dict without ``'options'`` (PyTorch's) keeps this optimiser's."""
        groups = state_dict["param_groups"]
        options = dict(state_dict.get("options", {}))
        flush = _check_flush_every(options.pop("flush_subnormals_every", self.flush_subnormals_every))
        if options:
            raise ValueError(f"the state dict has unknown optimiser options {sorted(options)}; it was saved by "
                             "another version of descend (known: ['flush_subnormals_every'])")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(groups)} parameter groups but this optimiser has "
                             f"{len(self.param_groups)}; build the optimiser with the same groups")
        for k, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {k} has {len(group['params'])} parameters but the state dict's "
                                 f"has {len(saved['params'])}")
        state = {int(k): v for k, v in state_dict["state"].items()}
        saved_index = [i for g in groups for i in g["params"]]
        for (index, b, i) in self._indexed():
            a, e = b.offsets[i], b.offsets[i + 1]
            entry = state.get(saved_index[index])
            if entry is None:
                b.steps[i] = 0
                for k, v in b.state.items():
                    v[a:e] = b.state_init[k] / b.scales.get(k, 1.0)
                for k, v in b.scalars.items():
                    v[i] = b.scalar_init[k]
                continue
            b.steps[i] = int(entry["step"])
            for k, v in b.state.items():
                if k not in entry:
                    raise ValueError(f"the state of parameter {index} has no {k!r}; it was saved by a differently "
                                     f"configured optimiser (it has {sorted(entry)})")
                arr = np.asarray(entry[k])
                if arr.shape != b.shapes[i]:
                    raise ValueError(f"state {k!r} of parameter {index} has shape {arr.shape} but the parameter "
                                     f"has shape {b.shapes[i]}")
                b.set_state_value(k, i, arr)
            for k, v in b.scalars.items():
                v[i] = float(entry[k])
        self._options["flush_subnormals_every"] = flush
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v
        for buckets in self._buckets:
            for b in buckets:
                b._check_uniform()

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            lines += [f"    {key}: {val}" for key, val in group.items() if key != "params"]
        return "\n".join(lines + [")"])




def chain(params, *rules, flush_subnormals_every: int = DEFAULT_FLUSH_EVERY,
          chunk_size: int = DEFAULT_CHUNK) -> Optimizer:
    """An optimiser that passes each gradient through ``rules`` in order and adds the result: u ← g, then
    u ← rule(u) for each rule, then θ ← θ + u (the last rule is usually ``scale_by_learning_rate``).

    Each rule's hyperparameters become options of every parameter group (``param_groups[k]['lr']`` etc.,
    defaults from the rules), so PyTorch-style per-group dicts, schedulers and ``state_dict`` work as for
    the named optimisers::

        from descend.optim import chain, rules
        adam_l2 = chain(model.parameters(), rules.add_decayed_weights(1e-2),
                        rules.scale_by_adam(betas=(0.9, 0.99)), rules.scale_by_learning_rate(1e-3))
        sgd_decoupled = chain(model.parameters(), rules.trace(momentum=0.9),
                              rules.add_decayed_weights(1e-4), rules.scale_by_learning_rate(0.1))

    ``flush_subnormals_every`` and ``chunk_size``: see :mod:`descend.optim.optimizer`.
    """
    return Optimizer(params, rules, flush_subnormals_every=flush_subnormals_every, chunk_size=chunk_size)
