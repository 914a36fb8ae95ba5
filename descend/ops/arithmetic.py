"""Element-wise arithmetic and its gradients.

For y = f(a, b) the backward gives dL/da = unbroadcast(dL/dy · ∂f/∂a) (and the same for b): a broadcast
input's gradient is summed back to its own shape.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import _GradMode
from ..tensor import Tensor, attach, record
from ._util import binary_operands, broadcast_error, operand, unbroadcast


def _binary(name, a, b, forward, grad_a, grad_b):
    """Apply ``forward`` to two operands (Tensors, numbers or arrays) and record the node.

    ``grad_a(g, x, y, out)`` and ``grad_b`` give dL/da and dL/db before summing back over broadcast axes.
    This is the hottest path of the library, so the Tensor ⊕ Tensor case does the least work it can.
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        return _binary_with_constant(name, a, b, forward, grad_a, grad_b)
    x, y = a.array, b.array
    try:
        out = forward(x, y)
    except ValueError:
        raise broadcast_error(name, x.shape, y.shape) from None
    if type(out) is not np.ndarray or out.dtype is not x.dtype:  # rare: a 0-d result or mixed dtypes
        x, y, out = _fix_result(forward, x, y, out)
    need_a, need_b = a.requires_grad, b.requires_grad
    if not ((need_a or need_b) and _GradMode.enabled):
        return Tensor.from_array(out)

    def backward(g):
        ga = gb = None
        if need_a:
            ga = grad_a(g, x, y, out)
            if ga.shape != x.shape:  # x was broadcast: sum the gradient back to its shape
                ga = unbroadcast(ga, x.shape)
        if need_b:
            gb = grad_b(g, x, y, out)
            if gb.shape != y.shape:
                gb = unbroadcast(gb, y.shape)
        return ga, gb

    return attach(out, (a, b), backward, name)


def _fix_result(forward, x, y, out):
    """Keep PyTorch's dtype rules where NumPy's differ: an integer or boolean operand takes the other's
    floating dtype (int64 · float32 is float32, not float64), and integer division gives float32."""
    if x.dtype.kind == "f" and y.dtype.kind in "iub":
        y = y.astype(x.dtype)
        out = forward(x, y)
    elif y.dtype.kind == "f" and x.dtype.kind in "iub":
        x = x.astype(y.dtype)
        out = forward(x, y)
    out = np.asarray(out)
    if out.dtype == np.float64 and x.dtype.kind in "iub" and y.dtype.kind in "iub":
        out = out.astype(backend.DEFAULT_FLOAT)
    return x, y, out


def _binary_with_constant(name, a, b, forward, grad_a, grad_b):
    """A binary op with a Python number (or an array) on one side: only the Tensor side gets a gradient."""
    a, b = binary_operands(a, b)
    if isinstance(b, Tensor) and isinstance(a, Tensor):  # an array was wrapped as a constant Tensor
        return _binary(name, a, b, forward, grad_a, grad_b)
    if isinstance(a, Tensor):  # tensor op scalar
        x = a.array
        if x.dtype.kind in "iub" and type(b) is float:  # labels * 0.5 is float32 (PyTorch), not float64
            x = x.astype(backend.DEFAULT_FLOAT)
        out = _integer_division_to_float(forward(x, b), x)
        return record(out, (a,), lambda g: (grad_a(g, x, b, out),), name)
    y = b.array  # scalar op tensor
    if y.dtype.kind in "iub" and type(a) is float:
        y = y.astype(backend.DEFAULT_FLOAT)
    out = _integer_division_to_float(forward(a, y), y)
    return record(out, (b,), lambda g: (grad_b(g, a, y, out),), name)


def _integer_division_to_float(out, data):
    """labels / 2 is float32 (PyTorch), not NumPy's float64."""
    if data.dtype.kind in "iub" and out.dtype == np.float64:
        return np.asarray(out, dtype=backend.DEFAULT_FLOAT)
    return out


def add(a, b):
    """a + b."""
    return _binary("add", a, b, np.add, lambda g, x, y, o: g, lambda g, x, y, o: g)


def sub(a, b):
    """a − b."""
    return _binary("sub", a, b, np.subtract, lambda g, x, y, o: g, lambda g, x, y, o: -g)


def mul(a, b):
    """a · b;  d/da = b, d/db = a."""
    return _binary("mul", a, b, np.multiply, lambda g, x, y, o: g * y, lambda g, x, y, o: g * x)


def div(a, b):
    """a / b;  d/da = 1/b, d/db = −a/b²."""
    return _binary("div", a, b, np.true_divide, lambda g, x, y, o: g / y, lambda g, x, y, o: -g * o / y)


def _pow_grad_exponent(g, x, y, o):
    if not isinstance(x, np.ndarray):  # a Python number as the base: keep its log a Python float
        return g * o * (math.log(x) if x > 0 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logx = np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0).astype(x.dtype, copy=False)
    return g * o * logx


def pow(a, b):
    """a ** b;  d/da = b·a^(b−1), d/db = a^b · ln a (taken as 0 where a ≤ 0, as PyTorch does for a = 0)."""
    return _binary("pow", a, b, np.power,
                   lambda g, x, y, o: g * y * np.power(x, y - 1),
                   _pow_grad_exponent)


def neg(a):
    """−a."""
    return record(-a.array, (a,), lambda g: (-g,), "neg")


def _floating(x):
    """An integer or boolean input of a transcendental function as the default float (PyTorch gives float32
    for ``exp`` of an int64 tensor, NumPy float64)."""
    return x.astype(backend.DEFAULT_FLOAT) if x.dtype.kind in "iub" else x


def exp(a):
    """e^a;  d/da = e^a."""
    out = np.exp(_floating(a.array))
    return record(out, (a,), lambda g: (g * out,), "exp")


def log(a):
    """ln a;  d/da = 1/a."""
    x = _floating(a.array)
    return record(np.log(x), (a,), lambda g: (g / x,), "log")


def sin(a):
    """sin a;  d/da = cos a."""
    x = _floating(a.array)
    return record(np.sin(x), (a,), lambda g: (g * np.cos(x),), "sin")


def cos(a):
    """cos a;  d/da = −sin a."""
    x = _floating(a.array)
    return record(np.cos(x), (a,), lambda g: (-g * np.sin(x),), "cos")


def sqrt(a):
    """√a;  d/da = 1/(2√a)."""
    out = np.sqrt(_floating(a.array))
    return record(out, (a,), lambda g: (g / (2 * out),), "sqrt")


def abs(a):
    """|a|;  d/da = sign(a) (0 at 0)."""
    x = a.array
    return record(np.abs(x), (a,), lambda g: (g * np.sign(x),), "abs")


def clip(a, min=None, max=None):
    """Clamp into [min, max]; the gradient passes where min ≤ a ≤ max (PyTorch's ``clamp``)."""
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    x = a.array
    out = np.clip(x, min, max)

    def backward(g):
        mask = np.ones(x.shape, dtype=bool)
        if min is not None:
            mask &= x >= min
        if max is not None:
            mask &= x <= max
        return (g * mask,)

    return record(out, (a,), backward, "clip")


def _extremum(name, a, b, pick):
    a, b = binary_operands(a, b)
    if not isinstance(a, Tensor):
        a, b = b, a
    bt = b if isinstance(b, Tensor) else Tensor.from_array(np.asarray(b, dtype=a.array.dtype))
    try:
        out = pick(a.array, bt.array)
    except ValueError:
        raise broadcast_error(name, a.shape, bt.shape) from None
    def backward(g):
        x, y = a.array, bt.array
        wa = np.asarray((x > y) if pick is np.maximum else (x < y), dtype=g.dtype)  # a's share of the gradient
        wa[np.broadcast_to(x == y, wa.shape)] = 0.5  # ties share the gradient equally, as in PyTorch
        ga = unbroadcast(g * wa, x.shape) if a.requires_grad else None
        gb = unbroadcast(g * (1 - wa), y.shape) if bt.requires_grad else None
        return ga, gb

    return record(out.astype(np.result_type(out), copy=False), (a, bt), backward, name)


def maximum(a, b):
    """Element-wise maximum; at ties each input gets half the gradient."""
    return _extremum("maximum", a, b, np.maximum)


def minimum(a, b):
    """Element-wise minimum; at ties each input gets half the gradient."""
    return _extremum("minimum", a, b, np.minimum)


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b``; each input's gradient is masked accordingly."""
    cond = np.asarray(condition.array if isinstance(condition, Tensor) else condition, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a = operand(a, like)
    b = operand(b, like)
    ad = a.array if isinstance(a, Tensor) else a
    bd = b.array if isinstance(b, Tensor) else b
    try:
        out = np.where(cond, ad, bd)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape}, {np.shape(ad)} and {np.shape(bd)} cannot be broadcast "
                         "together") from None
    parents = tuple(t for t in (a, b) if isinstance(t, Tensor))

    def backward(g):
        grads = []
        if isinstance(a, Tensor):
            grads.append(unbroadcast(np.where(cond, g, 0).astype(g.dtype, copy=False), a.array.shape)
                         if a.requires_grad else None)
        if isinstance(b, Tensor):
            grads.append(unbroadcast(np.where(cond, 0, g).astype(g.dtype, copy=False), b.array.shape)
                         if b.requires_grad else None)
        return tuple(grads)

    return record(out, parents, backward, "where")


def clone(a):
    """A copy that stays in the graph."""
    return record(a.array.copy(), (a,), lambda g: (g,), "clone")


def cast(a, dtype):
    """Convert to ``dtype``; the gradient is converted back."""
    dtype = backend.resolve_dtype(dtype)
    source = a.array.dtype
    if dtype == source:
        return a
    out = a.array.astype(dtype)
    if dtype.kind != "f":
        return Tensor.from_array(out)
    return record(out, (a,), lambda g: (g.astype(source),), "cast")
