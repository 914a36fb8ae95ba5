"""The optimiser core: parameter groups, flat buffers, the step loop and exact state dicts.

:class:`Optimizer` holds ``param_groups`` (a list of dicts: ``'params'`` and that group's
hyperparameters), as PyTorch's does. Its speed comes from keeping, per group (and dtype), every
parameter's ``.data`` as a *view into one contiguous flat buffer*: a step copies each gradient into a
small update array and runs the update chain (see :mod:`descend.optim.rules`) as a few vectorised in-place
operations over each parameter's segment, in chunks of ``CHUNK`` elements (so the update and scratch
arrays stay small and in cache), with the moments stored as flat arrays too. A chain that is Adam followed
only by the learning rate (Adam, AdamW with weight decay 0) runs as one fused rule
(:meth:`~descend.optim.rules.ScaleByAdam.apply`) that updates the parameters itself.

A parameter whose ``.grad`` is None is skipped (its state does not move), as in PyTorch; when some are
skipped, or parameters' step counts differ, the same chain runs on each parameter's segment instead.
If someone rebinds ``p.data`` to a new array, the next step copies it back into the buffer.

Every :data:`FLUSH_EVERY` steps (counted per parameter, so a resumed run flushes at the same steps) the
state arrays' *subnormal* entries, those smaller in magnitude than the dtype's smallest normal number
(1.2·10⁻³⁸ in float32), are set to zero. A moment of a unit that gets no gradient (a dead ReLU) decays
by β each step until it reaches a few subnormal units, where β·m rounds back to m (in PyTorch's update as
in descend's), and stays there for good; every later step then computes on subnormal numbers, which the
CPU handles far more slowly (measured: the benchmark's W2 training step 0.38–0.39 instead of 0.36 ms once
two thirds of its first moments sat there). The parameters do not change: such a moment moves its weight
by less than 10⁻³⁰. It is what the processor's flush-to-zero mode does (which some frameworks switch on
for their CPU kernels), applied only to the optimiser's own state.
"""

from __future__ import annotations

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor
from .rules import AddDecayedWeights, ScaleByAdam, ScaleByLearningRate


#: Elements per chunk of the update chain: the update and scratch arrays are this size (512 KiB in
#: float32, cache-resident), instead of two extra copies of every parameter.
CHUNK = 1 << 17

#: Every this many steps of a parameter, its optimiser state's subnormal entries are set to zero (0: never).
FLUSH_EVERY = 128


class _Bucket:
    """All parameters of one group with one dtype, as segments of flat buffers."""

    def __init__(self, params, rules):
        self.params = params
        self.rules = rules
        dtype = params[0].data.dtype
        for rule in rules:
            rule.bind(dtype)
        # name → s for state arrays a rule keeps as (value / s)
        self.scales = {name: s for rule in rules for name, s in rule.scales.items() if s != 1.0}
        self.shapes = [p.data.shape for p in params]
        # each parameter's memory order ('F' for a transposed array, as Linear's weight): its segment of the
        # flat buffers, its gradient and its state are flattened in that order, so nothing is copied
        self.orders = [_memory_order(p.data) for p in params]
        self.sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int).tolist()
        n = self.offsets[-1]
        self.flat = np.empty(n, dtype)
        # the scratch array is chunk-sized (no full-size copies); the update array is made when a chunk first
        # needs one (the fused Adam step reads a lone parameter's gradient where it lies and needs none)
        self.tmp = np.empty(min(n, CHUNK), dtype)
        self.update = np.empty(0, dtype)
        # the flat range cut into chunks; each chunk lists the gradient pieces that fill it:
        # (parameter, start, stop within its gradient, position in the chunk)
        self.chunks = []
        for start, stop in _chunk_bounds(self.offsets, CHUNK):
            pieces = []
            for i in range(len(params)):
                lo, hi = max(self.offsets[i], start), min(self.offsets[i + 1], stop)
                if lo < hi:
                    pieces.append((i, lo - self.offsets[i], hi - self.offsets[i], lo - start))
            self.chunks.append((start, stop, pieces))
        self.views = []
        for i, p in enumerate(params):
            seg = self.flat[self.offsets[i]:self.offsets[i + 1]]
            seg[...] = p.data.reshape(-1, order=self.orders[i])
            view = seg.reshape(self.shapes[i], order=self.orders[i])
            p.data = view
            self.views.append(view)
        self.state = {}
        self.state_init = {}
        self.scalars = {}
        self.scalar_init = {}
        for rule in rules:
            for name, fill in rule.state.items():
                if name in self.state:
                    raise ValueError(f"two rules of the chain both keep a state named {name!r}")
                self.state[name] = np.full(n, fill / self.scales.get(name, 1.0), dtype)
                self.state_init[name] = fill
            for name, value in rule.scalars.items():
                self.scalars[name] = np.full(len(params), value, np.float64)
                self.scalar_init[name] = value
        self.steps = np.zeros(len(params), np.int64)
        self.uniform = True  # all parameters have taken the same steps (the flat fast path applies)
        # each chunk's slices of the parameters and of the state arrays, made once (they never move)
        self.chunk_views = [(self.flat[a:b], {k: v[a:b] for k, v in self.state.items()}, self.tmp[:b - a])
                            for a, b, _ in self.chunks]
        self.fused = _fused_rule(rules)

    def state_value(self, name, i, exact=False):
        """Parameter ``i``'s state array ``name`` as a C-ordered copy in its parameter's shape, unscaled
        (value = s × stored); ``exact`` gives a scaled array in float64, which holds s × stored exactly and
        converts back to the same float32 array."""
        a, e = self.offsets[i], self.offsets[i + 1]
        stored = self.state[name][a:e].reshape(self.shapes[i], order=self.orders[i])
        s = self.scales.get(name)
        if s is None:
            return stored.copy(order="C")
        if exact:
            return np.multiply(stored, s, dtype=np.float64, order="C")
        return np.multiply(stored, s, dtype=stored.dtype, order="C")

    def set_state_value(self, name, i, value):
        """Store ``value`` (parameter ``i``'s shape) as state array ``name``, scaled as the rule keeps it."""
        a, e = self.offsets[i], self.offsets[i + 1]
        flat = np.asarray(value).reshape(-1, order=self.orders[i])
        s = self.scales.get(name)
        self.state[name][a:e] = flat if s is None else np.divide(flat, s, dtype=np.float64)

    def _resync(self, i, p):
        data = np.asarray(p.data)
        if data.shape != self.shapes[i] or data.dtype != self.flat.dtype:
            raise ValueError(f"parameter {i} of its group was replaced by an array of shape {data.shape} and dtype "
                             f"{data.dtype}, but the optimiser holds it as shape {self.shapes[i]}, dtype "
                             f"{self.flat.dtype}; create a new optimiser after changing a parameter's shape or dtype")
        self.views[i][...] = data
        p.data = self.views[i]

    def step(self, h):
        params, shapes = self.params, self.shapes
        grads, active = [], []
        for i, p in enumerate(params):
            if p.data is not self.views[i]:
                self._resync(i, p)
            g = p.grad
            if g is None:
                continue
            g = g.data if isinstance(g, Tensor) else np.asarray(g)
            if g.shape != shapes[i]:
                raise ValueError(f"parameter {i} has shape {shapes[i]} but its gradient has shape {g.shape}; "
                                 "they must be equal")
            grads.append(g.reshape(-1, order=self.orders[i]))
            active.append(i)
        if not active:
            return
        offsets, state, flat = self.offsets, self.state, self.flat
        if self.uniform and len(active) == len(params):  # one step count for all: chunks of the flat range
            self.steps += 1
            t = int(self.steps[0])
            c0 = {name: float(v[0]) for name, v in self.scalars.items()}
            c = c0
            fused = self._fused_lr(h)
            for (a, b, pieces), (p, s, tmp) in zip(self.chunks, self.chunk_views):
                if fused is not None and len(pieces) == 1 and grads[pieces[0][0]].dtype == p.dtype:
                    i, lo, hi, _ = pieces[0]  # one parameter's gradient fills the chunk: read it where it is
                    self.fused.apply(grads[i][lo:hi], p, s, h, t, tmp, fused)
                    continue
                u = self._update_array(b - a)
                for i, lo, hi, at in pieces:
                    np.copyto(u[at:at + hi - lo], grads[i][lo:hi], casting="same_kind")
                if fused is not None:
                    self.fused.apply(u, p, s, h, t, tmp, fused)
                    continue
                c = dict(c0)  # per-parameter scalars advance once per step, not once per chunk
                self._run(u, p, s, c, h, t, tmp)
                p += u
            for name, v in self.scalars.items():
                v[...] = c[name]
            if FLUSH_EVERY and t % FLUSH_EVERY == 0:
                self._flush_subnormals(0, offsets[-1])
            return
        for i, g in zip(active, grads):  # per-parameter segments: some grads missing, or steps differ
            self.steps[i] += 1
            t = int(self.steps[i])
            c0 = {name: float(v[i]) for name, v in self.scalars.items()}
            c = c0
            fused = self._fused_lr(h)
            base, size = offsets[i], g.size
            for lo in range(0, size, CHUNK):
                hi = min(lo + CHUNK, size)
                a, b = base + lo, base + hi
                u = self._update_array(hi - lo)
                np.copyto(u, g[lo:hi], casting="same_kind")
                s = {k: v[a:b] for k, v in state.items()}
                if fused is not None:
                    self.fused.apply(u, flat[a:b], s, h, t, self.tmp[:hi - lo], fused)
                    continue
                c = dict(c0)
                self._run(u, flat[a:b], s, c, h, t, self.tmp[:hi - lo])
                flat[a:b] += u
            for name, v in self.scalars.items():
                v[i] = c[name]
            if FLUSH_EVERY and t % FLUSH_EVERY == 0:
                self._flush_subnormals(base, base + size)
        self._check_uniform()

    def _update_array(self, size):
        """The update array u for a chunk of ``size`` elements (grown when a larger chunk first needs it)."""
        if self.update.size < size:
            self.update = np.empty(size, self.flat.dtype)
        return self.update[:size]

    def _flush_subnormals(self, start, stop):
        """Set to zero the state entries in [start, stop) whose magnitude is below the smallest normal
        number of their dtype (see the module docstring); NaN and infinity stay as they are."""
        tiny = np.finfo(self.flat.dtype).tiny
        for lo in range(start, stop, CHUNK):
            hi = min(lo + CHUNK, stop)
            keep = self.tmp[:hi - lo]
            for v in self.state.values():
                seg = v[lo:hi]
                np.greater_equal(np.absolute(seg, out=keep), tiny, out=keep)  # 1 where normal or infinite, else 0
                seg *= keep  # a subnormal × 0 = 0; NaN × 0 stays NaN

    def _check_uniform(self):
        self.uniform = bool((self.steps == self.steps[0]).all()) and all(
            bool((v == v[0]).all()) for v in self.scalars.values())

    def _run(self, u, p, s, c, h, t, tmp):
        for rule in self.rules:
            rule.update(u, p, s, c, h, t, tmp)

    def _fused_lr(self, h):
        """The learning rate when the chain can run as one fused rule this step (else None): Adam or AdamW
        with no weight decay, whose chain then reduces to scale_by_adam → scale_by_learning_rate."""
        if self.fused is None or float(h.get("weight_decay", 0.0)) != 0.0:
            return None
        return float(h["lr"])


def _memory_order(a: np.ndarray) -> str:
    """'F' for an array laid out as its transpose (Fortran order), else 'C'."""
    return "F" if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def _chunk_bounds(offsets, chunk):
    """(start, stop) chunks of the flat range of parameters at ``offsets``, each at most ``chunk`` elements: a
    parameter of at least half a chunk gets chunks of its own (equal pieces of it), so that its gradient
    can be read in place; runs of smaller ones share a chunk."""
    bounds, start = [], None
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        if hi - lo >= chunk // 2:
            if start is not None:
                bounds.append((start, lo))
                start = None
            pieces = -(-(hi - lo) // chunk)
            size = -(-(hi - lo) // pieces)
            bounds.extend((a, min(a + size, hi)) for a in range(lo, hi, size))
            continue
        if start is None:
            start = lo
        elif hi - start > chunk:
            bounds.append((start, lo))
            start = lo
    if start is not None:
        bounds.append((start, offsets[-1]))
    return bounds


def _fused_rule(rules):
    """The ScaleByAdam rule of a chain [add_decayed_weights…] scale_by_adam [add_decayed_weights…]
    scale_by_learning_rate (no lr decay), which can apply the whole step itself; else None."""
    if not rules or type(rules[-1]) is not ScaleByLearningRate or rules[-1].decay_key is not None:
        return None
    adams = [r for r in rules[:-1] if type(r) is ScaleByAdam]
    if len(adams) != 1 or any(type(r) not in (ScaleByAdam, AddDecayedWeights) for r in rules[:-1]):
        return None
    return adams[0]


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``; subclasses give ``_chain(group)`` and ``_check(group)``.

    ``params`` is an iterable of Tensors, or of dicts ``{'params': [...], 'lr': ..., ...}`` (parameter
    groups; missing options are taken from ``defaults``). Use as in PyTorch::

        opt = descend.optim.Adam(model.parameters(), lr=1e-3)
        opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor) or isinstance(params, np.ndarray):
            raise TypeError(f"params given to the optimiser should be an iterable of Tensors or dicts, but got "
                            f"{type(params).__name__}; pass model.parameters() or [tensor]")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._buckets: list[list[_Bucket]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimiser got an empty parameter list; pass model.parameters() of a model that has "
                             "parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ for subclasses
    def _chain(self, group: dict) -> list:
        raise NotImplementedError

    def _check(self, group: dict) -> None:
        pass

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
            if p.data.dtype.kind != "f":
                raise TypeError(f"optimisers can only update floating-point tensors, got dtype {p.data.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError("a parameter appears more than once in the optimiser's parameter groups; give each "
                             "parameter once (deduplicate tied weights)")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        self._check(group)
        buckets = []
        for dtype in dict.fromkeys(p.data.dtype for p in params):
            members = [p for p in params if p.data.dtype == dtype]
            buckets.append(_Bucket(members, self._chain(group)))
        self.param_groups.append(group)
        self._buckets.append(buckets)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

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
        """``{'state': {index: {'step': t, name: array, ...}}, 'param_groups': [{options..., 'params': [index, ...]}]}``

        Parameters are referred to by their index across all groups (as PyTorch does); the arrays are
        copies shaped like their parameter; only parameters that have taken a step have an entry. State a
        rule stores scaled (Adam's moments of float32 parameters, kept as m/(1 − β₁) and v/(1 − β₂)) is
        given as its value in float64, the precision that makes loading it restore the optimiser bit for bit.
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
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by :meth:`state_dict` (the same parameter layout is required)."""
        groups = state_dict["param_groups"]
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


# ---------------------------------------------------------------------- argument checks
def check_nonneg(name: str, value) -> None:
    if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"invalid {name}: {value!r}; it must be a number >= 0")


def check_betas(betas) -> None:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"invalid betas: {betas!r}; give two numbers (beta1, beta2) in [0, 1)") from None
    for k, b in enumerate((b1, b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"invalid beta parameter at index {k}: {b!r}; betas must be in [0, 1)")
    return (b1, b2)


def check_unit(name: str, value) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"invalid {name}: {value!r}; it must be in [0, 1)")
