"""The Tensor: an array, its gradient, and the node of the graph that produced it.

A :class:`Tensor` wraps a NumPy array (``.array``; ``.data`` is PyTorch's tensor sharing that storage).
Operations on tensors that require grad record a :class:`~descend.autograd.Node`; ``loss.backward()``
walks those nodes in reverse and accumulates gradients into the ``.grad`` of every leaf tensor with
``requires_grad=True``. The interface follows PyTorch's (``x.sum(dim=1, keepdim=True)``, ``x.relu()``,
``x.detach()``) and NumPy's (``axis``, ``keepdims``, ``np.asarray(x)``).
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Node, _GradMode, run_backward
from .conversions import ConversionMethods
from .size import Size, ShapeCount, sizes  # noqa: F401  (sizes: re-exported, creation and conversions use it)
from .unsupported import unsupported


class Tensor(ConversionMethods):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Create one with :func:`descend.tensor` (or ``Tensor(data, requires_grad=False, dtype=None)``): floating
    data becomes float32 unless ``dtype`` says otherwise (``dtype='float64'`` for gradient checks), integer
    data int64 (labels and indices).
    """

    __slots__ = ("array", "_grad", "requires_grad", "_node", "_hooks", "__weakref__")  # _hooks: descend.grad_hooks
    __array_ufunc__ = None  # NumPy defers to our reflected operators, so ``2 * x`` and ``arr + x`` stay Tensors

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.array
        self.array = backend.as_array(data, dtype)
        self._grad = None
        self._node = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ``array`` (a slot) is the NumPy array holding the values: descend's own code reads and writes storage
    # through it. ``data`` below is PyTorch's view of the same storage as a tensor.

    @property
    def data(self) -> "Tensor":
        """PyTorch's ``Tensor.data``: a tensor sharing this one's storage, ``requires_grad=False`` and outside
        the graph (a leaf), so ``p.data.mul_(0.5)``, ``p.data[0] = 1`` or ``p.data.copy_(t)`` change ``p``
        without the in-place-on-a-leaf error and without recording anything. ``p.data = t`` makes ``p`` hold
        ``t``'s storage (any shape or dtype, as PyTorch allows). The NumPy array itself is ``.array``."""
        return Tensor.from_array(self.array)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {_type_name(value)} (to set the values "
                            "from an array, use x.data = descend.tensor(a) or x.array = a)")
        self.array = value.array

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (a Tensor of this tensor's shape and dtype), or None.

        Assigning checks as PyTorch does: a Tensor or None (TypeError otherwise), of this tensor's shape and
        dtype (RuntimeError otherwise)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            new = value.array if isinstance(value, Tensor) else None
            own = self.array
            if new is None or new.shape != own.shape or new.dtype != own.dtype:
                raise _grad_error(value, own)
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @classmethod
    def from_array(cls, array, requires_grad=False):
        """A tensor around ``array`` as it is: no copy, no dtype conversion, no checks — the constructor for
        code that made the array itself (operations, layers, loaders). Users want :func:`descend.tensor`
        (copies, float32 by default) or :func:`descend.from_numpy` (shares memory, checks the array)."""
        t = cls.__new__(cls)
        t.array = array
        t._grad = None
        t._node = None
        t.requires_grad = requires_grad
        return t

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> Size:
        """The sizes of the dimensions, a :class:`~descend.Size` (a tuple); ``self.array.shape`` is the plain one."""
        return _new_size(Size, self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def size(self):
        return ShapeCount(self.array.size, self.array.shape)

    def numel(self) -> int:
        return self.array.size

    def dim(self) -> int:
        return self.array.ndim

    @property
    def T(self):
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __repr__(self):
        body = np.array2string(self.array, separator=", ", prefix="tensor(")
        extra = ""
        if self.array.dtype != backend.DEFAULT_FLOAT:
            extra += f", dtype={self.array.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{GradFn(self._node).name()}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.array.dtype:
            return self.array.astype(dtype)
        return self.array

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__

    def __bool__(self):
        if self.array.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.array.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # ---------------------------------------------------------------- conversion and graph control
    def mm(self, mat2) -> "Tensor":
        """PyTorch's ``Tensor.mm``: the matrix product of this 2-D tensor and ``mat2`` (2-D), no broadcasting."""
        from .functions import mm
        return mm(self, mat2)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, as PyTorch's ``.numpy()``)."""
        return self.array

    def __format__(self, spec):
        """``format(t, '.2f')`` formats a 0-d tensor's value (as PyTorch); other tensors take no spec."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"format spec {spec!r} applies to 0-d tensors; this one has shape {self.array.shape} "
                            "(format t.item() or each element)")
        return str(self)

    def __index__(self):
        """A 0-d integer tensor used as an index (``items[t]``, ``range(t)``)."""
        if self.array.ndim != 0 or self.array.dtype.kind not in "iu":
            raise TypeError(f"only 0-d integer tensors can be used as an index, not a {self.array.dtype} tensor of "
                            f"shape {self.array.shape}")
        return int(self.array)

    @property
    def grad_fn(self):
        """The node that computed this tensor (printable, ``.name()``), or None for a leaf."""
        return None if self._node is None else GradFn(self._node)

    def __getattr__(self, name):
        # only reached for names the class lacks: say it is PyTorch API descend does not have
        if name in Tensor.__slots__:
            raise AttributeError(f"tensor attribute {name!r} is not set")
        raise unsupported("Tensor", "torch.Tensor", name, self)

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, but this one has shape {self.array.shape}")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.array.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside the graph."""
        return Tensor.from_array(self.array)

    def clone(self) -> "Tensor":
        from .ops.arithmetic import clone
        return clone(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, but this one is {self.array.dtype}; "
                            "create it with float data or dtype='float32'")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, *, grad=None) -> None:
        """Accumulate the gradient of this tensor into every leaf it depends on (``leaf.grad``).

        A scalar (a loss) needs no ``gradient`` (or ``grad=``); a non-scalar needs one of its own shape (the
        vector in the vector-Jacobian product). The graph is freed afterwards unless ``retain_graph=True``.
        """
        if grad is not None:
            if gradient is not None:
                raise TypeError("backward: give gradient (PyTorch's name) or grad, not both")
            gradient = grad
        if create_graph:
            raise ValueError("backward(create_graph=True): higher-order gradients are not supported; see "
                             "docs/from-pytorch.md")
        run_backward(self, gradient, bool(retain_graph))

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time backward computes this tensor's gradient; a Tensor it returns replaces
        the gradient. Returns a handle (``handle.remove()``). See :mod:`descend.grad_hooks`."""
        from .grad_hooks import register_hook
        return register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """(A leaf.) Call ``hook(tensor)`` each time backward has accumulated into ``.grad``. Returns a handle."""
        from .grad_hooks import register_post_accumulate_grad_hook
        return register_post_accumulate_grad_hook(self, hook)

    def zero_grad(self) -> None:
        self._grad = None

    def astype(self, dtype) -> "Tensor":
        from .ops.arithmetic import cast
        return cast(self, dtype)

    # ---------------------------------------------------------------- in-place updates (outside the graph)
    def _check_inplace(self, what):
        if self.requires_grad and _GradMode.enabled:
            raise RuntimeError(f"in-place {what} on a tensor that requires grad would corrupt the graph; do it "
                               "inside `with descend.no_grad():` (as optimisers do) or on .data")

    def _inplace(self, other, what, fn):
        self._check_inplace(what)
        fn(self.array, other.array if isinstance(other, Tensor) else other, out=self.array, casting="same_kind")
        return self

    def __iadd__(self, other):
        return self._inplace(other, "addition", np.add)

    def __isub__(self, other):
        return self._inplace(other, "subtraction", np.subtract)

    def __imul__(self, other):
        return self._inplace(other, "multiplication", np.multiply)

    def __itruediv__(self, other):
        return self._inplace(other, "division", np.divide)

    def add_(self, other, *, alpha=1) -> "Tensor":
        """self ← self + alpha · other (in place, outside the graph)."""
        return self._inplace(other if alpha == 1 else _scaled(other, alpha), "add_", np.add)

    def sub_(self, other, *, alpha=1) -> "Tensor":
        return self._inplace(other if alpha == 1 else _scaled(other, alpha), "sub_", np.subtract)

    def mul_(self, other) -> "Tensor":
        return self._inplace(other, "mul_", np.multiply)

    def div_(self, other) -> "Tensor":
        return self._inplace(other, "div_", np.divide)

    def clamp_(self, min=None, max=None) -> "Tensor":
        self._check_inplace("clamp_")
        np.clip(self.array, min, max, out=self.array)
        return self

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> "Tensor":
        """Fill with draws from N(mean, std²) (descend's generator unless ``generator``), in place."""
        self._check_inplace("normal_")
        self.array[...] = _rng(generator).normal(mean, std, self.array.shape)
        return self

    def uniform_(self, a=0.0, b=1.0, *, generator=None) -> "Tensor":
        """Fill with draws from U[a, b), in place."""
        self._check_inplace("uniform_")
        self.array[...] = _rng(generator).uniform(a, b, self.array.shape)
        return self

    def __setitem__(self, index, value):
        """``x[index] = value`` writes into the data, outside the graph (like the other in-place updates)."""
        self._check_inplace("item assignment")
        if isinstance(index, tuple):
            index = tuple(i.array if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.array
        self.array[index] = value.array if isinstance(value, Tensor) else value

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.array[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.array[...] = value
        return self

    def copy_(self, other) -> "Tensor":
        self._check_inplace("copy_")
        src = other.array if isinstance(other, Tensor) else np.asarray(other)
        if src.shape != self.array.shape:
            np.broadcast_to(src, self.array.shape)  # raises with both shapes when they do not fit
        self.array[...] = src
        return self

    # ---------------------------------------------------------------- comparisons (not differentiable)
    def _compare(self, other, fn):
        return Tensor.from_array(np.asarray(fn(self.array, other.array if isinstance(other, Tensor) else other)))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def eq(self, other):
        return self._compare(other, np.equal)

    def ne(self, other):
        return self._compare(other, np.not_equal)

    def lt(self, other):
        return self._compare(other, np.less)

    def le(self, other):
        return self._compare(other, np.less_equal)

    def gt(self, other):
        return self._compare(other, np.greater)

    def ge(self, other):
        return self._compare(other, np.greater_equal)

    def equal(self, other) -> bool:
        """True when ``other`` has this shape and the same elements."""
        other = np.asarray(other.array if isinstance(other, Tensor) else other)
        return self.array.shape == other.shape and bool(np.array_equal(self.array, other))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        """|self − other| ≤ atol + rtol·|other| everywhere (broadcasting)."""
        return bool(np.allclose(self.array, np.asarray(other.array if isinstance(other, Tensor) else other),
                                rtol=rtol, atol=atol, equal_nan=equal_nan))

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the (first) maximum, over everything (``dim=None``) or along ``dim``; int64."""
        return self._arg(np.argmax, dim, keepdim, axis, keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Index of the (first) minimum (see :meth:`argmax`)."""
        return self._arg(np.argmin, dim, keepdim, axis, keepdims)

    def _arg(self, fn, dim, keepdim, axis, keepdims):
        axis = dim if dim is not None else axis
        keep = bool(keepdims if keepdims is not None else keepdim)
        if axis is None and keep:
            return Tensor.from_array(np.asarray(fn(self.array), dtype=np.int64).reshape((1,) * self.array.ndim))
        return Tensor.from_array(np.asarray(fn(self.array, axis=axis, keepdims=keep), dtype=np.int64))

    def any(self):
        return bool(np.any(self.array))

    def all(self):
        return bool(np.all(self.array))


def record(data, parents, backward, name: str) -> Tensor:
    """Wrap an operation's output; record its node when grad mode is on and some input requires grad.

    ``backward(g)`` receives dL/d(output) and returns one gradient (or ``None``) per parent, each of that
    parent's shape.
    """
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    t = _new_tensor(Tensor)
    t.array = data
    t._grad = None
    if _GradMode.enabled:
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._node = Node(parents, backward, name)
                return t
    t.requires_grad = False
    t._node = None
    return t


def attach(data, parents, backward, name: str) -> Tensor:
    """Like :func:`record` for a caller that already knows grad mode is on and some parent requires grad
    (the fast path of the binary operations); ``data`` must be an ndarray."""
    t = _new_tensor(Tensor)
    t.array = data
    t._grad = None
    t.requires_grad = True
    t._node = Node(parents, backward, name)
    return t


_new_tensor = object.__new__
_new_size = tuple.__new__


def _grad_error(value, own) -> Exception:
    """PyTorch's error for ``x.grad = value`` when ``value`` is not a Tensor of ``own``'s shape and dtype."""
    if not isinstance(value, Tensor):
        return TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {_type_name(value)} "
                         "(wrap it: x.grad = descend.tensor(g, dtype=x.dtype))")
    new = value.array
    if new.shape != own.shape:
        return RuntimeError(f"attempting to assign a gradient of size '{list(new.shape)}' to a tensor of size "
                            f"'{list(own.shape)}'. Please ensure that the gradient and the tensor are the same size")
    return RuntimeError(f"attempting to assign a gradient with dtype '{new.dtype}' to a tensor with dtype "
                        f"'{own.dtype}'; the gradient must have the tensor's dtype (convert it: g.to(x.dtype))")


def _type_name(value) -> str:
    """``float``, ``list``, ``numpy.ndarray``: a type as PyTorch's messages name it."""
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _rng(generator):
    from .random import default_generator
    return default_generator() if generator is None else generator


def _scaled(other, alpha):
    return (other.array if isinstance(other, Tensor) else np.asarray(other)) * alpha


class GradFn:
    """The graph node behind ``tensor.grad_fn``: ``print``-able (``<MulBackward>``), with ``name()``."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node

    def name(self) -> str:
        return "".join(part.capitalize() for part in self.node.name.split("_")) + "Backward"

    @property
    def next_functions(self):
        """``(GradFn or None, 0)`` per input, as PyTorch's (a leaf's entry is None here)."""
        return tuple((GradFn(i) if type(i) is Node else None, 0) for i in self.node.inputs)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self.node))}>"

    def __eq__(self, other):
        return isinstance(other, GradFn) and other.node is self.node

    def __hash__(self):
        return hash(id(self.node))
