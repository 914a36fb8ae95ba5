"""ArrayDataset: aligned arrays (features, labels, ...) indexed together along their first axis.

Sample ``i`` is ``(arrays[0][i], arrays[1][i], ...)``; indexing with a slice or an integer array returns
a whole batch at once, so a loader never does per-sample Python work.
"""

from __future__ import annotations

import numpy as np

from .. import backend


def to_array(data, name: str = "array") -> np.ndarray:
    """A contiguous NumPy array from an array, a descend Tensor or nested lists.

    Floating data becomes float32 (descend trains in float32, float64 input included), signed integers
    int64, unsigned integers and booleans stay as they are.
    """
    if hasattr(data, "data") and isinstance(getattr(data, "data"), np.ndarray):  # a descend Tensor
        data = data.data
    try:
        arr = backend.as_array(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot turn data of type {type(data).__name__} into a numeric array ({exc})") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar; give an array with one row per sample")
    return np.ascontiguousarray(arr)


class ArrayDataset:
    """Aligned arrays indexed together: ``ArrayDataset(x, y)[i] == (x[i], y[i])``.

    Every array needs the same length (first axis); the error names each array's length. Floating data
    is stored as float32 and signed integer data (labels) as int64, converted once here.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array, e.g. ArrayDataset(x, y)")
        self.arrays = tuple(to_array(a, f"array {i}") for i, a in enumerate(arrays))
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            listed = ", ".join(f"array {i}: {n}" for i, n in enumerate(lengths))
            raise ValueError(f"ArrayDataset arrays must have the same length (first axis); got {listed}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        """One sample (integer index) or a batch (slice or integer array) from every array."""
        return tuple(a[index] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"ArrayDataset({shapes})"
