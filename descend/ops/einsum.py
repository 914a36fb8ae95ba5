"""``einsum``: Einstein summation over any number of tensors, as PyTorch's ``torch.einsum``.

out[o] = Σ over the letters not in the output of Π_k operand_k[s_k], for the subscripts s_k of each operand
and o of the output (``"ij,jk->ik"`` is a matrix product). The forward is ``numpy.einsum`` (contraction order
optimised when there are several operands). The gradient of operand k is itself an einsum: the output
gradient contracted with every other operand onto s_k; letters only operand k has (summed away in the forward)
are broadcast back, a letter repeated in s_k (a diagonal, ``"ii->i"``) receives the gradient on that diagonal,
and a size-1 dimension broadcast against a larger one is summed back.
"""

from __future__ import annotations

import string

import numpy as np

from ..tensor import Tensor, record

_LETTERS = string.ascii_letters


def _parse(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """Each operand's subscripts and the output's, with ``...`` written out as letters of its own."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string such as 'ij,jk->ik', got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum: equation {equation!r} has {len(inputs)} operand(s) but {len(ndims)} tensor(s) "
                         "were given")
    bad = set(eq) - set(_LETTERS) - set(",->.")
    if bad:
        raise ValueError(f"einsum: equation {equation!r} has invalid subscript(s) {sorted(bad)}; use letters a-z, A-Z")
    free = [c for c in _LETTERS if c not in eq]
    ell_dims = 0
    for s, nd in zip(inputs, ndims):
        if "." in s:
            if s.count("...") != 1 or s.replace("...", "").count("."):
                raise ValueError(f"einsum: subscripts {s!r} must have at most one '...' and no other '.'")
            ell_dims = max(ell_dims, nd - (len(s) - 3))
    ell = "".join(free[:ell_dims])
    subs = []
    for s, nd in zip(inputs, ndims):
        if "..." in s:
            n = nd - (len(s) - 3)
            if n < 0:
                raise ValueError(f"einsum: subscripts {s!r} name more dimensions than the operand's {nd}")
            s = s.replace("...", ell[ell_dims - n:])
        if len(s) != nd:
            raise ValueError(f"einsum: subscripts {s!r} name {len(s)} dimensions for an operand with {nd}")
        subs.append(s)
    if arrow:
        if "..." in rhs:
            if rhs.count("...") != 1 or rhs.replace("...", "").count("."):
                raise ValueError(f"einsum: output subscripts {rhs!r} must have at most one '...'")
            rhs = rhs.replace("...", ell)
        elif "." in rhs:
            raise ValueError(f"einsum: output subscripts {rhs!r} have a '.' outside '...'")
        used = set("".join(subs))
        for c in rhs:
            if c not in used:
                raise ValueError(f"einsum: output subscript {c!r} appears in no operand of {equation!r}")
            if rhs.count(c) > 1:
                raise ValueError(f"einsum: output subscript {c!r} appears more than once in {equation!r}")
        out = rhs
    else:  # implicit output: the ellipsis, then the letters used exactly once, sorted (A-Z before a-z)
        joined = "".join(subs)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return subs, out


def _contract(spec: str, arrays):
    return np.einsum(spec, *arrays, optimize="greedy" if len(arrays) > 1 else False)


def einsum(equation, *operands):
    """Einstein summation ``einsum("ij,jk->ik", a, b)`` (or the operands as one list); ``...`` stands for
    broadcast dimensions; without ``->`` the output is the letters used once, sorted (PyTorch's rules)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: give at least one tensor after the equation")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} must be a tensor, got {type(t).__name__}")
    arrays = [t.array for t in operands]
    subs, out_sub = _parse(equation, [a.ndim for a in arrays])
    sizes = {}
    for s, a in zip(subs, arrays):
        for c, n in zip(s, a.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {n} in another "
                                 f"in {equation!r}")
            sizes[c] = max(sizes.get(c, 1), n)
    out = _contract(",".join(subs) + "->" + out_sub, arrays)

    def backward(g):
        return tuple(_operand_grad(k, g, subs, out_sub, arrays, sizes) if t.requires_grad else None
                     for k, t in enumerate(operands))

    return record(out, tuple(operands), backward, "einsum")


def _operand_grad(k, g, subs, out_sub, arrays, sizes):
    """dL/d(operand k): g contracted with the other operands onto operand k's subscripts."""
    s = subs[k]
    others = [(subs[j], arrays[j]) for j in range(len(arrays)) if j != k]
    available = set(out_sub).union(*(set(o) for o, _ in others))
    target = "".join(dict.fromkeys(s))  # distinct letters, in order
    made = "".join(c for c in target if c in available)
    spec = ",".join([out_sub] + [o for o, _ in others]) + "->" + made
    h = _contract(spec, [g] + [a for _, a in others])
    # letters operand k alone had were summed in the forward: every element got the same gradient
    h = h.reshape([sizes[c] if c in made else 1 for c in target])
    h = np.broadcast_to(h, [sizes[c] for c in target])
    x = arrays[k]
    full_shape = tuple(sizes[c] for c in s)
    if len(target) == len(s):
        grad = h
    else:  # a repeated letter: the gradient lies on that (generalised) diagonal, zero elsewhere
        grad = np.zeros(full_shape, dtype=g.dtype)
        np.einsum(s + "->" + target, grad)[...] = h
    axes = tuple(i for i, n in enumerate(x.shape) if n == 1 and full_shape[i] != 1)
    if axes:  # a size-1 dimension broadcast against a larger one
        grad = grad.sum(axis=axes, keepdims=True)
    return np.ascontiguousarray(grad, dtype=x.dtype)
