"""``Standardize``: the input standardisation ``(x − mean) / std`` of a run, as a module that exports.

``descend export`` puts it in front of a run's model when the run standardised its inputs, so the ONNX
file takes the same raw inputs as ``descend predict``. Exported as ``Div(Sub(x, mean), std)``.
"""

from __future__ import annotations

import numpy as np

from ..nn import Module
from .graph import Value


class Standardize(Module):
    """``Standardize(mean, std)``: y = (x − mean) / std, with ``mean`` and ``std`` broadcasting against a
    batch (shape (1, ...) as :class:`descend.data.Standardizer` stores them)."""

    def __init__(self, mean, std):
        super().__init__()
        mean, std = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
        if mean.shape != std.shape:
            raise ValueError(f"Standardize: mean {mean.shape} and std {std.shape} must have the same shape")
        if not np.all(std > 0):
            raise ValueError("Standardize: every std must be > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        from ..tensor import Tensor
        return (x - Tensor.from_array(self.mean.array)) / Tensor.from_array(self.std.array)


def standardize(g, m, x, path, convert):
    from .layers import run_eval
    centred = g.node("Sub", [x.name, g.const(m.mean.array, f"{path}.mean")], path)
    return Value(g.node("Div", [centred, g.const(m.std.array, f"{path}.std")], path), run_eval(m, x.example))


CONVERTERS = {Standardize: standardize}
