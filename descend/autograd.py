"""Reverse-mode automatic differentiation: the graph, the backward walk, grad mode, custom operations
and gradient checking.

Every differentiable operation records a :class:`Node` on its output: the input tensors (``parents``)
and a ``backward`` function that maps the gradient of the output, dL/dy, to the gradients of the inputs,
dL/dx_i = dL/dy · ∂y/∂x_i (the chain rule). :func:`run_backward` visits the recorded graph once, in
reverse topological order, so a single pass gives the gradient of a scalar loss with respect to every
tensor that requires it.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import sys

import numpy as np

from . import buffers, grad_hooks, layout


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """Whether operations are recorded for backward right now."""
    return _GradMode.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager (or decorator) that turns graph recording on or off inside it."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """Context manager (or decorator) under which no graph is recorded: for evaluation and in-place updates.

    >>> with descend.no_grad():
    ...     y = model(x)          # y.requires_grad is False, nothing is kept for backward
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager (or decorator) that turns recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


_creation_order = itertools.count()


class Node:
    """One recorded operation: where its inputs came from and the function giving their gradients from the
    output's.

    ``inputs`` has one entry per input of the operation: the input's own :class:`Node` when the input was
    computed by a recorded operation, the input tensor itself when it is a leaf that requires grad (its
    ``.grad`` receives the gradient), or ``None`` when it needs no gradient. A node never refers to the
    tensors an operation produced, so an intermediate result lives only as long as the user's code (or an
    operation's backward, for the arrays it saved) keeps it: memory is freed during the forward pass, as
    in PyTorch, rather than held until backward.

    ``seq`` numbers nodes in creation order. An operation's inputs always exist before its output, so
    sorting nodes by ``seq`` is a topological order of any graph. ``hooks`` (unset unless a
    :mod:`descend.grad_hooks` hook is registered on the tensor it computed) holds that tensor's hooks.
    """

    __slots__ = ("inputs", "backward", "name", "freed", "seq", "hooks")

    def __init__(self, parents, backward, name):
        self.inputs = tuple((p._node or p) if p.requires_grad else None for p in parents)
        self.backward = backward
        self.name = name
        self.freed = False
        self.seq = next(_creation_order)


class GraphFreedError(RuntimeError):
    """backward() reached a part of the graph that an earlier backward() freed (no ``retain_graph=True``)."""


_node_seq = operator.attrgetter("seq")


def _topological_order(root):
    """The nodes and leaf tensors ``root`` (a Node or a leaf tensor) depends on, each once, every entry
    after all it depends on.

    One breadth-first sweep (no recursion, so no depth limit) collects them; the nodes are then sorted by
    creation number, which puts every node after the nodes it was computed from and is the same on every
    run. Leaves come first.
    """
    seen = {id(root)}
    reached = [root]
    leaves, inner = [], []
    mark, extend = seen.add, reached.append
    for item in reached:  # the list grows as the sweep goes
        if type(item) is not Node:
            leaves.append(item)
            continue
        if item.freed:
            raise GraphFreedError(
                f"backward went through the graph of a '{item.name}' operation a second time, but that "
                "graph was freed by an earlier backward(); pass retain_graph=True to the first "
                "backward() if you need to go through the graph again")
        inner.append(item)
        for parent in item.inputs:
            if parent is not None:
                key = id(parent)
                if key not in seen:
                    mark(key)
                    extend(parent)
    inner.sort(key=_node_seq)
    leaves.extend(inner)
    return leaves


def _leaves_at_first_use(order):
    """``order`` (leaves, then nodes by ``seq``) with each leaf moved to just before the first node that
    uses it: the reverse walk then reaches a leaf as soon as its gradient is complete (after its earliest
    use is back-propagated), so post-accumulate hooks fire during backward, not all at its end."""
    first_use = {}
    for item in order:
        if type(item) is Node:
            for parent in item.inputs:
                if parent is not None and type(parent) is not Node:
                    first_use.setdefault(id(parent), item.seq)
    return sorted(order, key=lambda item: item.seq if type(item) is Node else first_use.get(id(item), 0) - 0.5)


_at_end: list = []   # callbacks queued (queue_callback) for the end of the backward running now


def queue_callback(callback) -> None:
    """Call ``callback()`` once the backward pass running now has finished (from a gradient hook: e.g.
    DistributedDataParallel waits there for the allreduces its hooks started). PyTorch:
    ``Variable._execution_engine.queue_callback``."""
    if not callable(callback):
        raise TypeError(f"queue_callback needs a callable, got {callback!r}")
    _at_end.append(callback)


def run_backward(root, grad=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root``: accumulate d(root)/d(leaf), weighted by ``grad``, into each leaf's ``.grad``.

    Each node's ``backward`` is called once, with the sum of the gradients of every path to it.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward() was called on a tensor that does not require grad: none of the tensors it was "
            "computed from has requires_grad=True. Create the leaves with requires_grad=True (parameters "
            "already are), and do not compute the loss inside descend.no_grad()")
    data = root.array
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward() without a grad argument needs a scalar, but this tensor has shape "
                f"{tuple(root.shape)}; reduce it first (loss.mean() or loss.sum()) or pass "
                f"grad= an array of shape {tuple(root.shape)}")
        grad = np.array(1, dtype=data.dtype).reshape(data.shape)
    else:
        grad = np.array(getattr(grad, "array", grad), dtype=data.dtype)  # a copy: the caller keeps theirs
        if grad.shape != data.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape} but the tensor has shape {data.shape}; "
                             "they must be equal")
    start = root._node or root
    hooked = grad_hooks.active()
    if hooked:
        _at_end.clear()   # left by a backward that raised
    order = _topological_order(start) if not hooked else _leaves_at_first_use(_topological_order(start))
    grads = {id(start): grad}
    take, peek = grads.pop, grads.get
    del grad
    for index in range(len(order) - 1, -1, -1):
        item = order[index]
        order[index] = None  # the walk is done with it: what its backward saved can be freed as backward goes
        g = take(id(item), None)
        if type(item) is not Node:
            if g is not None:
                if hooked:
                    _accumulate_hooked_leaf(item, g)
                else:
                    _accumulate_leaf(item, g)
            continue
        if g is not None:
            if hooked and getattr(item, "hooks", None):
                g = grad_hooks.apply(item.hooks, g, np.shape(g))
            for parent, pg in zip(item.inputs, item.backward(g)):
                if pg is None or parent is None:
                    continue
                key = id(parent)
                previous = peek(key)
                grads[key] = pg if previous is None else _sum_gradients(previous, pg)
            del g
        if not retain_graph:
            item.inputs = ()
            item.backward = None
            item.freed = True
            if hooked:
                grad_hooks.node_freed(item)
    if _at_end:
        callbacks = list(_at_end)
        _at_end.clear()
        for callback in callbacks:
            callback()


def _sum_gradients(a, b):
    """a + b for two paths' gradients of one tensor, laid out in memory as the one that is a dense block
    (a convolution's batch-innermost layout, say) when they differ: NumPy would make the sum row-major, and
    every later pass that mixes it with arrays in the other layout then reads one of them with strides."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim >= 3 and a.shape == b.shape
            and not (a.flags.c_contiguous and b.flags.c_contiguous)):
        like = a if buffers.dense_order(a) is not None else b if buffers.dense_order(b) is not None else None
        if like is not None:
            return np.add(a, b, out=buffers.empty_like(like, np.result_type(a.dtype, b.dtype)))
    return a + b


def _accumulate_hooked_leaf(tensor, g) -> None:
    """``_accumulate_leaf`` between the leaf's ``register_hook`` hooks (which may replace ``g``) and its
    post-accumulate hooks."""
    pre, post = grad_hooks.leaf_hooks(tensor)
    walk_g = g
    if pre:
        g = grad_hooks.apply(pre, g, np.shape(g))
    # the walk's own gradient is also referenced from here (one more reference than _accumulate_leaf expects)
    extra = 1 if g is walk_g else 0
    del walk_g
    _accumulate_leaf(tensor, g, extra)
    if post:
        for hook in list(post.values()):
            hook(tensor)


#: References to a gradient array that only :func:`run_backward` holds, seen from inside
#: :func:`_accumulate_leaf`: the walk's local, the argument, and ``sys.getrefcount``'s own.
#: (:func:`_unshared` adds its own argument.)
_UNSHARED_REFS = 3

_Tensor = None  # descend.tensor.Tensor, bound on first use (tensor.py imports this module)


def _accumulate_leaf(tensor, g, extra_refs: int = 0) -> None:
    global _Tensor
    data = tensor.array
    if type(g) is not np.ndarray or g.shape != data.shape:  # a NumPy scalar, or a 0-d gradient for a 1-element leaf
        g = np.broadcast_to(np.asarray(g), data.shape)
    grad = tensor.grad
    if grad is None:
        if _Tensor is None:
            from .tensor import Tensor as _Tensor
        if g.dtype == data.dtype and g.flags.writeable and _unshared(g, extra_refs):
            # a fresh array that nothing else refers to: the leaf can own it as it is, without a copy
            tensor.grad = _Tensor.from_array(g)
        else:
            tensor.grad = _Tensor.from_array(g.astype(data.dtype))  # astype copies: the leaf owns its gradient
    else:
        grad.array += g


def _unshared(g, extra_refs: int = 0) -> bool:
    """Whether only the walk refers to ``g``'s memory: ``g`` owns it, or is a full view of a fresh array that
    only ``g`` refers to, and nothing but the walk holds ``g``. The view case is how a gradient laid out as
    its transpose arrives (dL/dW of a Linear layer, ``(xᵀ g)ᵀ``: see :mod:`descend.layout`); the leaf can
    then own it as it is, keeping the weight's memory order, without a copy."""
    if sys.getrefcount(g) > _UNSHARED_REFS + 1 + extra_refs:  # + this function's own argument
        return False
    base = g.base
    if base is None:
        return True
    # only g refers to its base: g's own reference, this local and getrefcount's argument
    return type(base) is np.ndarray and base.base is None and base.size == g.size and sys.getrefcount(base) <= 3


# --------------------------------------------------------------------------------------------------
# Custom differentiable operations


class Context:
    """What a :class:`Function` keeps between its forward and backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_arrays = ()

    def save_for_backward(self, *arrays):
        self.saved_arrays = arrays

    @property
    def saved_tensors(self):
        """PyTorch's name for what ``save_for_backward`` kept: here the NumPy arrays ``forward`` received
        (descend's ``Function`` works on arrays), so code using ``*``, ``**``, ``+`` on them runs as is."""
        return self.saved_arrays


class Function:
    """Base class for a user-defined differentiable operation.

    Subclass it with two static methods working on NumPy arrays, then call ``apply``::

        class Cube(descend.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):            # dL/dx = dL/dy · 3x²
                (x,) = ctx.saved_arrays
                return grad * 3 * x ** 2

        y = Cube.apply(t)                       # a Tensor in the graph; descend.gradcheck(Cube.apply, [t])

    ``backward`` returns one gradient per argument of ``forward`` (a tuple when there are several; ``None``
    for an argument that needs none), each of that argument's shape.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor, record

        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = Context(needs)
        out = cls.forward(ctx, *(a.array if isinstance(a, Tensor) else a for a in args))
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def backward(g):
            grads = cls.backward(ctx, g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradients for "
                                   f"{len(args)} inputs of forward; return one per input (None where unneeded)")
            result = []
            for i in tensor_positions:
                gi = grads[i]
                if gi is not None:
                    gi = np.asarray(gi, dtype=args[i].array.dtype)
                    if gi.shape != args[i].array.shape:
                        raise RuntimeError(f"{cls.__name__}.backward returned a gradient of shape {gi.shape} "
                                           f"for input {i} of shape {args[i].array.shape}")
                result.append(gi)
            return tuple(result)

        return record(np.asarray(out), tuple(args[i] for i in tensor_positions), backward, cls.__name__)


# --------------------------------------------------------------------------------------------------
# Gradient checking


class GradcheckError(AssertionError):
    pass


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Check ``fn``'s analytic gradients against central finite differences, in float64.

    For a fixed random weighting ``w`` of the output, ``L = Σ w · fn(*inputs)``; for every element x_j of
    every input that requires grad, the numerical derivative

        (L(x_j + eps) − L(x_j − eps)) / (2 eps)

    must equal the analytic dL/dx_j from one backward pass within ``atol + rtol·|numerical|``.
    Inputs that require grad must be float64 (float32 differences are too coarse to be meaningful).
    Returns True, or raises :class:`GradcheckError` naming the input, the element and both values
    (returns False instead when ``raise_exception=False``).
    """
    from .tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].array.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].array.dtype}; create it with dtype='float64' "
                             "so finite differences are accurate")

    out = fn(*inputs)
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal(out.array.shape)

    def objective():
        with no_grad():
            return float(np.sum(fn(*inputs).array * weight))

    for i in checked:
        inputs[i].grad = None
    (out * Tensor.from_array(weight)).sum().backward()

    for i in checked:
        x = inputs[i]
        if not (x.array.flags.c_contiguous or x.array.flags.f_contiguous):
            x.array = np.ascontiguousarray(x.array)
        analytic = np.zeros_like(x.array) if x.grad is None else x.grad.array
        order = layout.memory_order(x.array)  # perturb the elements where they are (a transposed weight too)
        flat = layout.flat_view(x.array)
        numeric = np.empty(flat.size)
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = objective()
            flat[j] = original - eps
            minus = objective()
            flat[j] = original
            numeric[j] = (plus - minus) / (2 * eps)
        numeric = layout.from_flat(numeric, x.array.shape, order)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            j = tuple(int(k) for k in np.argwhere(bad)[0])
            message = (f"gradcheck failed for input {i} at index {j}: analytic {analytic[j]!r}, "
                       f"numerical {numeric[j]!r} ({int(bad.sum())} of {bad.size} elements off)")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
