"""Differentiable primitives, grouped by family; each keeps its forward and backward side by side.

``bind_tensor_methods`` attaches them to :class:`~descend.tensor.Tensor` as methods and operators.
"""

from .activation import elu, gelu, identity, leaky_relu, relu, sigmoid, silu, swish, tanh
from .arithmetic import (abs, add, cast, clip, clone, cos, div, exp, log, maximum, minimum, mul, neg, pow, sin,
                         sqrt, sub, where)
from .linalg import linear, linear_relu, matmul
from .reduction import amax, amin, log_softmax, logsumexp, max, mean, min, softmax, std, sum, var
from .shape import (broadcast_to, cat, chunk, concatenate, contiguous, expand, expand_dims, flatten, getitem, narrow,
                    pad, permute, reshape, split, squeeze, stack, swapaxes, t, transpose, tril, triu, unsqueeze,
                    view_as)
from .sorting import argsort, sort, topk
from .indexing import (ceil, cumsum, flip, floor, gather, isfinite, isinf, isnan, masked_fill, nonzero, repeat, round,
                       sign)
from .einsum import einsum
from .multinomial import multinomial
from .norm import norm, tensor_norm
from .prod import prod
from .scatter import scatter, scatter_, scatter_add, scatter_add_
from .unique import unique


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _where_method(self, condition, other):
    """``x.where(condition, y)``: PyTorch's method form of ``where(condition, x, y)``."""
    return where(condition, self, other)


def bind_tensor_methods(cls) -> None:
    """Give the Tensor class its operators and PyTorch-named methods."""
    operators = {
        "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
        "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
        "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
        "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    }
    methods = {
        "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
        "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "sin": sin, "cos": cos, "clip": clip, "clamp": clip,
        "maximum": maximum, "minimum": minimum, "where": _where_method,
        "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "var": var, "std": std,
        "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
        "reshape": reshape, "view": reshape, "flatten": flatten, "transpose": transpose, "permute": permute,
        "swapaxes": swapaxes, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand_dims": expand_dims,
        "broadcast_to": broadcast_to, "expand": expand, "pad": pad, "tril": tril, "triu": triu, "split": split,
        "chunk": chunk, "narrow": narrow, "t": t, "view_as": view_as, "contiguous": contiguous, "sort": sort,
        "argsort": argsort, "topk": topk, "gather": gather, "repeat": repeat, "flip": flip, "cumsum": cumsum,
        "masked_fill": masked_fill, "nonzero": nonzero, "isnan": isnan, "isfinite": isfinite, "isinf": isinf,
        "sign": sign, "floor": floor, "ceil": ceil, "round": round,
        "relu": relu, "leaky_relu": leaky_relu, "elu": elu, "sigmoid": sigmoid, "tanh": tanh, "gelu": gelu,
        "silu": silu,
        "scatter": scatter, "scatter_": scatter_, "scatter_add": scatter_add, "scatter_add_": scatter_add_,
        "prod": prod, "norm": tensor_norm, "unique": unique, "multinomial": multinomial,
    }
    for name, fn in {**operators, **methods}.items():
        setattr(cls, name, fn)


__all__ = [
    "elu", "gelu", "identity", "leaky_relu", "relu", "sigmoid", "silu", "swish", "tanh",
    "abs", "add", "cast", "clip", "clone", "cos", "div", "exp", "log", "maximum", "minimum", "mul", "neg", "pow",
    "sin", "sqrt",
    "sub", "where", "linear", "linear_relu", "matmul", "log_softmax", "logsumexp", "max", "mean", "min", "amax",
    "amin", "softmax",
    "std", "sum", "var", "broadcast_to", "cat", "concatenate", "expand", "expand_dims", "flatten", "getitem", "pad",
    "permute",
    "reshape", "squeeze", "stack", "swapaxes", "transpose", "unsqueeze", "tril", "triu", "split", "chunk", "narrow",
    "t", "view_as", "contiguous", "sort", "argsort", "topk", "gather", "repeat", "flip", "cumsum", "masked_fill",
    "nonzero", "isnan", "isfinite", "isinf", "sign", "floor", "ceil", "round",
    "einsum", "multinomial", "norm", "prod", "scatter", "scatter_", "scatter_add", "scatter_add_", "unique",
]
