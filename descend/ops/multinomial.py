"""``multinomial``: draw category indices with probabilities proportional to given weights, as PyTorch's
``torch.multinomial`` (from descend's generator, so ``descend.manual_seed`` makes it reproducible).

With replacement each draw is the inverse of the normalised cumulative weights at a uniform u ∈ [0, 1):
index k with c_{k−1} ≤ u < c_k (zero-weight categories are never drawn). Without replacement the draws are
the ``num_samples`` smallest of the exponential "race" keys E_k / w_k (E_k ~ Exp(1)), in increasing order,
which has the distribution of drawing one at a time and removing each drawn category (Efraimidis & Spirakis,
2006). Not differentiable.
"""

from __future__ import annotations

import numpy as np

from ..random import default_generator
from ..tensor import Tensor


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` indices per row of the (n_categories,) or (rows, n_categories) weights ``input``
    (non-negative, finite, a positive sum; they need not sum to 1); int64 of shape (num_samples,) or
    (rows, num_samples). ``generator`` is a ``numpy.random.Generator`` (descend's default when None)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a tensor of weights, got {type(input).__name__}")
    w = input.array
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-D or 2-D (rows of category weights), got shape {w.shape}")
    if w.dtype.kind not in "f":
        raise TypeError(f"multinomial: input must be floating point, got {w.dtype}; convert it with .float()")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive integer, got {num_samples!r}")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"multinomial: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    rows = w.reshape(1, -1) if w.ndim == 1 else w
    rows = rows.astype(np.float64)
    if rows.shape[1] == 0:
        raise ValueError("multinomial: input has no categories")
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise ValueError("multinomial: weights must be finite and non-negative")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise ValueError("multinomial: every row of weights must have a positive sum")
    nonzero = (rows > 0).sum(axis=1)
    if not replacement and num_samples > nonzero.min():
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from a row with "
                         f"{nonzero.min()} categories of non-zero weight; pass replacement=True or fewer samples")
    rng = default_generator() if generator is None else generator
    n_rows, k = rows.shape
    if replacement:
        cums = np.cumsum(rows, axis=1)
        cdf = cums / totals[:, None]
        cdf[cums >= totals[:, None]] = 1.0  # the last non-zero category ends at exactly 1
        offset = np.arange(n_rows, dtype=np.float64)[:, None]
        u = rng.random((n_rows, int(num_samples)))
        # one search over the rows laid end to end: row r's cdf shifted to [r, r + 1]
        flat = np.searchsorted((cdf + offset).reshape(-1), (u + offset).reshape(-1), side="right")
        out = flat.reshape(n_rows, int(num_samples)) - np.arange(n_rows)[:, None] * k
        out = np.minimum(out, k - 1)
    else:
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential((n_rows, k)) / rows  # zero weight -> inf, never among the first
        out = np.argsort(keys, axis=1, kind="stable")[:, :int(num_samples)]
    out = out.astype(np.int64)
    return Tensor.from_array(out[0] if w.ndim == 1 else out)
