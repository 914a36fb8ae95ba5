"""The Tensor: an array, its gradient, and the node of the graph that produced it.

A :class:`Tensor` wraps a NumPy array (``.data``). Operations on tensors that require grad record a
:class:`~descend.autograd.Node`; ``loss.backward()`` walks those nodes in reverse and accumulates
gradients into the ``.grad`` of every leaf tensor with ``requires_grad=True``. The interface follows
PyTorch's (``x.sum(dim=1, keepdim=True)``, ``x.relu()``, ``x.detach()``) and NumPy's (``axis``,
``keepdims``, ``np.asarray(x)``).
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Node, _GradMode, run_backward


class _Size(int):
    """Element count that is also callable: ``x.size`` (NumPy) is an int, ``x.size()`` (PyTorch) the shape."""

    def __new__(cls, count, shape):
        obj = super().__new__(cls, count)
        obj._shape = shape
        return obj

    def __call__(self, dim=None):
        return self._shape if dim is None else self._shape[dim]


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Create one with :func:`descend.tensor` (or ``Tensor(data, requires_grad=False, dtype=None)``): floating
    data becomes float32 unless ``dtype`` says otherwise (``dtype='float64'`` for gradient checks), integer
    data int64 (labels and indices).
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators, so ``2 * x`` and ``arr + x`` stay Tensors

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = backend.as_array(data, dtype)
        self.grad = None
        self._node = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_array(cls, array, requires_grad=False):
        t = cls.__new__(cls)
        t.data = array
        t.grad = None
        t._node = None
        t.requires_grad = requires_grad
        return t

    # ---------------------------------------------------------------- properties
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def T(self):
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != backend.DEFAULT_FLOAT:
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.data.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # ---------------------------------------------------------------- conversion and graph control
    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, as PyTorch's ``.numpy()``)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, but this one has shape {self.data.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside the graph."""
        return Tensor._from_array(self.data)

    def clone(self) -> "Tensor":
        from .ops.arithmetic import clone
        return clone(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, but this one is {self.data.dtype}; "
                            "create it with float data or dtype='float32'")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into every leaf it depends on (``leaf.grad``).

        A scalar (a loss) needs no ``grad``; a non-scalar needs ``grad`` of its own shape (the vector in the
        vector-Jacobian product). The graph is freed afterwards unless ``retain_graph=True``.
        """
        run_backward(self, grad, retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def astype(self, dtype) -> "Tensor":
        from .ops.arithmetic import cast
        return cast(self, dtype)

    def to(self, dtype) -> "Tensor":
        return self.astype(dtype)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        return self.astype(np.int64)

    # ---------------------------------------------------------------- in-place updates (outside the graph)
    def _check_inplace(self, what):
        if self.requires_grad and _GradMode.enabled:
            raise RuntimeError(f"in-place {what} on a tensor that requires grad would corrupt the graph; do it "
                               "inside `with descend.no_grad():` (as optimisers do) or on .data")

    def _inplace(self, other, what, fn):
        self._check_inplace(what)
        fn(self.data, other.data if isinstance(other, Tensor) else other, out=self.data, casting="same_kind")
        return self

    def __iadd__(self, other):
        return self._inplace(other, "addition", np.add)

    def __isub__(self, other):
        return self._inplace(other, "subtraction", np.subtract)

    def __imul__(self, other):
        return self._inplace(other, "multiplication", np.multiply)

    def __itruediv__(self, other):
        return self._inplace(other, "division", np.divide)

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, other) -> "Tensor":
        self._check_inplace("copy_")
        src = other.data if isinstance(other, Tensor) else np.asarray(other)
        if src.shape != self.data.shape:
            np.broadcast_to(src, self.data.shape)  # raises with both shapes when they do not fit
        self.data[...] = src
        return self

    # ---------------------------------------------------------------- comparisons (not differentiable)
    def _compare(self, other, fn):
        return Tensor._from_array(np.asarray(fn(self.data, other.data if isinstance(other, Tensor) else other)))

    def __eq__(self, other):
        return self._compare(other, np.equal)

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

    def argmax(self, axis=None, dim=None, keepdims=False, keepdim=None):
        axis = dim if dim is not None else axis
        return Tensor._from_array(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdim or keepdims)))

    def argmin(self, axis=None, dim=None, keepdims=False, keepdim=None):
        axis = dim if dim is not None else axis
        return Tensor._from_array(np.asarray(np.argmin(self.data, axis=axis, keepdims=keepdim or keepdims)))

    def any(self):
        return bool(np.any(self.data))

    def all(self):
        return bool(np.all(self.data))


def record(data, parents, backward, name: str) -> Tensor:
    """Wrap an operation's output; record its node when grad mode is on and some input requires grad.

    ``backward(g)`` receives dL/d(output) and returns one gradient (or ``None``) per parent, each of that
    parent's shape.
    """
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    t = _new_tensor(Tensor)
    t.data = data
    t.grad = None
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
    t.data = data
    t.grad = None
    t.requires_grad = True
    t._node = Node(parents, backward, name)
    return t


_new_tensor = object.__new__


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a tensor from a number, a nested list, an array or another tensor (copying the data)."""
    t = Tensor.__new__(Tensor)
    t.data = backend.as_array(data.data if isinstance(data, Tensor) else data, dtype, copy=True)
    t.grad = None
    t._node = None
    t.requires_grad = False
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None) -> Tensor:
    """Like :func:`tensor` but shares memory with ``data`` where no conversion is needed."""
    if isinstance(data, Tensor) and (dtype is None or backend.resolve_dtype(dtype) == data.dtype):
        return data
    return Tensor._from_array(backend.as_array(data.data if isinstance(data, Tensor) else data, dtype))


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    return Tensor._from_array(backend.zeros(_shape(shape), dtype)).requires_grad_(requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    return Tensor._from_array(backend.ones(_shape(shape), dtype)).requires_grad_(requires_grad)


def full(shape, value, dtype=None, requires_grad=False) -> Tensor:
    return Tensor._from_array(backend.full(_shape((shape,)), value, dtype)).requires_grad_(requires_grad)


def zeros_like(t, dtype=None) -> Tensor:
    return Tensor._from_array(np.zeros_like(np.asarray(t), dtype=backend.resolve_dtype(dtype)))


def ones_like(t, dtype=None) -> Tensor:
    return Tensor._from_array(np.ones_like(np.asarray(t), dtype=backend.resolve_dtype(dtype)))


def arange(*args, dtype=None) -> Tensor:
    arr = np.arange(*args)
    return Tensor._from_array(backend.as_array(arr, dtype))


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
