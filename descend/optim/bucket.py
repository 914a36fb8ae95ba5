"""The optimiser's engine: one parameter group's parameters of one dtype, with their state in flat arrays.

A :class:`Bucket` keeps every state array of its chain (moments, momentum buffers) as one flat array over
all its parameters, each parameter's segment in that parameter's memory order (:mod:`descend.layout`), so
the update chain runs as a few vectorised in-place operations per *chunk* of the flat range
(``chunk_size`` elements: the update and scratch arrays stay small and in cache, and no full-size copy is
made). The parameters themselves keep their own arrays for their whole life, as in PyTorch: each step
writes into ``flat_view(p.array)``. A parameter of at least half a chunk has chunks of its own and is
updated in place (a fused step reads its gradient where it lies and adds u to it directly); small
parameters share a chunk, whose gradients are gathered into the update array and whose update is
scattered back, one slice operation per parameter (their values are gathered too only when a rule of the
chain reads θ, as weight decay does). If ``p.array`` is rebound to another array of the same shape and
dtype, the bucket uses that array from then on.

A fused step is used when a rule of the chain offers one (``rule.fuse(chain)``, see
:mod:`descend.optim.rule`); the bucket knows no rule by name.

Every ``flush_subnormals_every`` steps of a parameter (counted per parameter, so a resumed run flushes at
the same steps; 0: never) its state entries smaller in magnitude than the dtype's smallest normal number
(1.2·10⁻³⁸ in float32) are set to zero. A moment of a unit that gets no gradient (a dead ReLU) decays by β
each step until it reaches a few subnormal units, where β·m rounds back to m (in PyTorch's update as in
descend's), and stays there for good; every later step then computes on subnormal numbers, which the CPU
handles far more slowly (measured: the benchmark's W2 training step 0.38–0.39 instead of 0.36 ms once two
thirds of its first moments sat there). The parameters do not change: such a moment moves its weight by
less than 10⁻³⁰. It is what the processor's flush-to-zero mode does, applied only to the optimiser's state.
"""

from __future__ import annotations

import numpy as np

from ..layout import flat_view, memory_order
from ..tensor import Tensor


class Bucket:
    """All parameters of one group with one dtype; ``rules`` is the bucket's own copy of the chain and
    ``options`` the optimiser's dict of ``chunk_size`` and ``flush_subnormals_every`` (read at each step)."""

    def __init__(self, params, rules, group, options):
        self.params = params
        self.rules = rules
        self.options = options
        dtype = params[0].array.dtype
        for rule in rules:
            rule.bind(dtype, group)
        self.dtype = dtype
        # name → s for state arrays a rule keeps as (value / s)
        self.scales = {name: s for rule in rules for name, s in rule.scales.items() if s != 1.0}
        self.reads_params = any(rule.reads_params for rule in rules)
        self.param_readers = [rule for rule in rules if rule.reads_params]
        self.shapes = [p.array.shape for p in params]
        self.orders = [memory_order(p.array) for p in params]
        self.arrays = [p.array for p in params]  # the arrays the parameters hold (p.array), as last seen
        self.flats = [_flat(i, a) for i, a in enumerate(self.arrays)]  # their 1-D views in memory order
        sizes = [p.array.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        n = self.offsets[-1]
        chunk = options["chunk_size"]
        self.chunk = chunk
        self.tmp = np.empty(min(n, chunk), dtype)  # the scratch array: chunk-sized
        # the flat range cut into chunks; each chunk lists the parameter pieces that fill it:
        # (parameter, start, stop within the parameter, position in the chunk)
        self.chunks = []
        for start, stop in _chunk_bounds(self.offsets, chunk):
            pieces = []
            for i in range(len(params)):
                lo, hi = max(self.offsets[i], start), min(self.offsets[i + 1], stop)
                if lo < hi:
                    pieces.append((i, lo - self.offsets[i], hi - self.offsets[i], lo - start))
            self.chunks.append((start, stop, pieces))
        self.state = {}
        self.state_init = {}
        self.scalars = {}
        self.scalar_init = {}
        for rule in rules:
            for name, fill in rule.state.items():
                if name in self.state:
                    raise ValueError(f"two rules of the chain both keep a state named {name!r}; a chain can hold "
                                     "one rule of each stateful kind")
                self.state[name] = np.full(n, fill / self.scales.get(name, 1.0), dtype)
                self.state_init[name] = fill
            for name, value in rule.scalars.items():
                self.scalars[name] = np.full(len(params), value, np.float64)
                self.scalar_init[name] = value
        self.steps = np.zeros(len(params), np.int64)
        self.uniform = True  # all parameters have taken the same steps (the chunked fast path applies)
        # each chunk's slices of the state arrays and the scratch array, made once (they never move)
        self.chunk_views = [({k: v[a:b] for k, v in self.state.items()}, self.tmp[:b - a]) for a, b, _ in self.chunks]
        self.fused = next((f for f in (rule.fuse(rules) for rule in rules) if f is not None), None)
        # the update array u, as large as the largest chunk that needs one: every shared chunk, and a lone
        # parameter's chunks unless a fused step reads its gradient in place (then u grows if the chain runs);
        # the gathered parameter values, for rules that read θ, as large as the largest shared chunk
        shared = [b - a for a, b, pieces in self.chunks if len(pieces) > 1]
        own = [b - a for a, b, pieces in self.chunks if len(pieces) == 1] if self.fused is None else []
        self.update = np.empty(max(shared + own, default=0), dtype)
        self.gathered = np.empty(max(shared, default=0) if self.reads_params else 0, dtype)
        self._slice_params()

    def _slice_params(self):
        """Per chunk, its parameter's flat view (a lone parameter) or a :class:`_Shared` of the slices that
        gather and scatter its pieces (remade when a parameter's array is rebound)."""
        self.piece_views = []
        for (a, b, pieces), (_, tmp) in zip(self.chunks, self.chunk_views):
            views = [self.flats[i][lo:hi] for i, lo, hi, _ in pieces]
            if len(pieces) == 1:
                self.piece_views.append(views[0])
                continue
            gathered = self.gathered[:b - a] if self.reads_params else None
            self.piece_views.append(_Shared(self.update[:b - a], gathered, tmp, pieces, views, self.shapes))

    # ------------------------------------------------------------------ state as the user sees it
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

    def _rebind(self, i, p):
        """``p.array`` is a new array: check it and update it in place from now on (its state segment is
        re-laid in the new array's memory order if that differs)."""
        data = p.array
        if not isinstance(data, np.ndarray) or data.shape != self.shapes[i] or data.dtype != self.dtype:
            raise ValueError(f"parameter {i} of its group was replaced by an array of shape {np.shape(data)} and "
                             f"dtype {getattr(data, 'dtype', type(data).__name__)}, but the optimiser holds it as "
                             f"shape {self.shapes[i]}, dtype {self.dtype}; create a new optimiser after changing a "
                             "parameter's shape or dtype")
        flat = _flat(i, data)
        order = memory_order(data)
        if order != self.orders[i]:
            a, e = self.offsets[i], self.offsets[i + 1]
            for v in self.state.values():
                seg = v[a:e]
                seg[...] = seg.reshape(self.shapes[i], order=self.orders[i]).ravel(order=order)
            self.orders[i] = order
        self.arrays[i], self.flats[i] = data, flat
        self._slice_params()

    # ------------------------------------------------------------------ the step
    def step(self, h):
        params, shapes, arrays = self.params, self.shapes, self.arrays
        grads, active = [], []
        for i, p in enumerate(params):
            if p.array is not arrays[i]:
                self._rebind(i, p)
            g = p.grad
            if g is None:
                continue
            g = g.array if isinstance(g, Tensor) else np.asarray(g)
            if g.shape != shapes[i]:
                raise ValueError(f"parameter {i} has shape {shapes[i]} but its gradient has shape {g.shape}; "
                                 "they must be equal")
            grads.append(g.reshape(-1, order=self.orders[i]))
            active.append(i)
        if not active:
            return
        if self.uniform and len(active) == len(params):
            self._step_chunks(h, grads)
        else:
            self._step_each(h, active, grads)
            self._check_uniform()

    def _step_chunks(self, h, grads):
        """All parameters at one step count: the chunks of the flat range."""
        self.steps += 1
        t = int(self.steps[0])
        fused = self.fused
        args = fused.prepare(h, t) if fused is not None else None
        kargs = fused.kernel_args(h, t, self.dtype) if hasattr(fused, "kernel_args") else None
        c0 = {name: float(v[0]) for name, v in self.scalars.items()}
        c = c0
        dtype = self.dtype
        reads = any(rule.needs_params(h) for rule in self.param_readers)  # θ gathered only if read this step
        for (a, b, pieces), (s, tmp), pv in zip(self.chunks, self.chunk_views, self.piece_views):
            if len(pieces) == 1:  # one parameter fills the chunk: update it in place
                i, lo, hi, _ = pieces[0]
                g = grads[i][lo:hi]
                if kargs is not None and g.dtype == dtype:  # the compiled step: θ updated in one pass
                    fused.step_in_place(g, pv, s, kargs)
                    continue
                if args is not None and g.dtype == dtype:  # the fused step reads the gradient where it lies
                    u = fused.apply(g, s, t, tmp, args)
                else:
                    u = self._update_array(b - a)
                    np.copyto(u, g, casting="same_kind")
                    if args is not None:
                        u = fused.apply(u, s, t, tmp, args)
                    else:
                        c = dict(c0)  # per-parameter scalars advance once per step, not once per chunk
                        self._run(u, pv if reads else None, s, c, h, t, tmp)
                if u is not None:
                    pv += u
                continue
            sh = pv  # several small parameters: gather, update, scatter
            u = sh.u
            for i, lo, hi, us in sh.gather:
                np.copyto(us, grads[i] if lo is None else grads[i][lo:hi], casting="same_kind")
            if args is not None:
                u = fused.apply(u, s, t, tmp, args)
                scatter = sh.from_tmp if u is tmp else None if u is None else sh.scatter_from(u)
            else:
                p = None
                if reads:
                    for qs, view in sh.gather_params:
                        np.copyto(qs, view)
                    p = sh.gathered
                c = dict(c0)
                self._run(u, p, s, c, h, t, tmp)
                scatter = sh.from_u
            if scatter is not None:
                for view, us in scatter:
                    view += us
        for name, v in self.scalars.items():
            v[...] = c[name]
        every = self.options["flush_subnormals_every"]
        if every and t % every == 0:
            self._flush_subnormals(0, self.offsets[-1])

    def _step_each(self, h, active, grads):
        """Parameter by parameter (some gradients are missing, or the step counts differ): each parameter's
        own segment, in chunks, updated in place."""
        fused, dtype, chunk, every = self.fused, self.dtype, self.chunk, self.options["flush_subnormals_every"]
        for i, g in zip(active, grads):
            self.steps[i] += 1
            t = int(self.steps[i])
            args = fused.prepare(h, t) if fused is not None else None
            kargs = fused.kernel_args(h, t, dtype) if hasattr(fused, "kernel_args") else None
            c0 = {name: float(v[i]) for name, v in self.scalars.items()}
            c = c0
            base, size, flat = self.offsets[i], g.size, self.flats[i]
            for lo in range(0, size, chunk):
                hi = min(lo + chunk, size)
                a, b = base + lo, base + hi
                s = {k: v[a:b] for k, v in self.state.items()}
                tmp, pv = self.tmp[:hi - lo], flat[lo:hi]
                if kargs is not None and g.dtype == dtype:
                    fused.step_in_place(g[lo:hi], pv, s, kargs)
                    continue
                if args is not None and g.dtype == dtype:
                    u = fused.apply(g[lo:hi], s, t, tmp, args)
                else:
                    u = self._update_array(hi - lo)
                    np.copyto(u, g[lo:hi], casting="same_kind")
                    if args is not None:
                        u = fused.apply(u, s, t, tmp, args)
                    else:
                        c = dict(c0)
                        self._run(u, pv if self.reads_params else None, s, c, h, t, tmp)
                if u is not None:
                    pv += u
            for name, v in self.scalars.items():
                v[i] = c[name]
            if every and t % every == 0:
                self._flush_subnormals(base, base + size)

    def _run(self, u, p, s, c, h, t, tmp):
        for rule in self.rules:
            rule.update(u, p, s, c, h, t, tmp)

    def _update_array(self, size):
        """The update array u for a chunk of ``size`` elements (grown when a larger chunk first needs it)."""
        if self.update.size < size:
            self.update = np.empty(size, self.dtype)
        return self.update[:size]

    def _gathered_array(self, size):
        """The array a shared chunk's parameter values are gathered into, for rules that read θ."""
        if self.gathered.size < size:
            self.gathered = np.empty(size, self.dtype)
        return self.gathered[:size]

    def _flush_subnormals(self, start, stop):
        """Set to zero the state entries in [start, stop) whose magnitude is below the smallest normal
        number of their dtype (see the module docstring); NaN and infinity stay as they are."""
        tiny = np.finfo(self.dtype).tiny
        for lo in range(start, stop, self.chunk):
            hi = min(lo + self.chunk, stop)
            keep = self.tmp[:hi - lo]
            for v in self.state.values():
                seg = v[lo:hi]
                np.greater_equal(np.absolute(seg, out=keep), tiny, out=keep)  # 1 where normal or infinite, else 0
                seg *= keep  # a subnormal × 0 = 0; NaN × 0 stays NaN

    def _check_uniform(self):
        self.uniform = bool((self.steps == self.steps[0]).all()) and all(
            bool((v == v[0]).all()) for v in self.scalars.values())


class _Shared:
    """The slices of a chunk shared by several parameters: ``gather`` (parameter, start, stop or None for
    the whole gradient, the update's slice), ``gather_params`` (gathered slice, parameter view),
    ``from_u`` / ``from_tmp`` (parameter view, the slice of u / tmp that updates it)."""

    __slots__ = ("u", "gathered", "gather", "gather_params", "from_u", "from_tmp", "spans", "views")

    def __init__(self, u, gathered, tmp, pieces, views, shapes):
        self.u, self.gathered, self.views = u, gathered, views
        self.spans = [(at, at + hi - lo) for _, lo, hi, at in pieces]
        self.gather = [(i, None, None, u[x:y]) if lo == 0 and hi == int(np.prod(shapes[i])) else (i, lo, hi, u[x:y])
                       for (i, lo, hi, _), (x, y) in zip(pieces, self.spans)]
        self.gather_params = [] if gathered is None else [(gathered[x:y], v) for v, (x, y) in zip(views, self.spans)]
        self.from_u = [(v, u[x:y]) for v, (x, y) in zip(views, self.spans)]
        self.from_tmp = [(v, tmp[x:y]) for v, (x, y) in zip(views, self.spans)]

    def scatter_from(self, out):
        return [(v, out[x:y]) for v, (x, y) in zip(self.views, self.spans)]


def _flat(i, a):
    """Parameter ``i``'s array as a 1-D view in memory order (the optimiser writes through it)."""
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        raise ValueError(f"parameter {i} of its group holds a non-contiguous array (shape {a.shape}, strides "
                         f"{a.strides}), which the optimiser cannot update in place; give it a contiguous array "
                         "(p.array = np.ascontiguousarray(p.array))")
    if not a.flags.writeable:
        raise ValueError(f"parameter {i} of its group holds a read-only array; give it a writeable copy "
                         "(p.array = p.array.copy())")
    return flat_view(a)


def _chunk_bounds(offsets, chunk):
    """(start, stop) chunks of the flat range of parameters at ``offsets``, each at most ``chunk`` elements: a
    parameter of at least half a chunk gets chunks of its own (equal pieces of it), so that it can be
    updated in place; runs of smaller ones share a chunk."""
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
