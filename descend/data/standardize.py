"""Standardizer: rescale features to zero mean and unit variance, with statistics from training data only.

    x' = (x − μ) / σ,   μ = mean of x_train,   σ = std of x_train (population, ddof 0)

Fit it on the training split only; applying the same μ, σ to validation and test data keeps them unseen.
A feature with σ = 0 (constant in training, e.g. an always-black border pixel) gets σ := 1, so it maps to
x − μ (zero for the training data) instead of dividing by zero.
"""

from __future__ import annotations

import numpy as np

from .dataset import to_array


class Standardizer:
    """Per-feature standardisation ``(x − mean) / std`` fitted with :meth:`fit` on training data.

    ``axis`` names the axes the statistics are taken over: ``0`` (default) gives one mean/std per
    feature (per pixel for images); ``(0, 2, 3)`` one per channel of ``(N, C, H, W)`` images.
    The state (:meth:`state_dict`) is ``{'mean': array, 'std': array}``, the shapes broadcasting against
    one sample batch.
    """

    def __init__(self, axis=0):
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        if 0 not in axes:
            raise ValueError(f"Standardizer axis must include 0 (the sample axis), got {axis!r}")
        self.axis = axes
        self.mean = None
        self.std = None

    def fit(self, x) -> "Standardizer":
        """Compute mean and std of ``x`` (the training features) over ``axis``; returns self."""
        x = to_array(x, "x")
        if len(x) == 0:
            raise ValueError("Standardizer.fit got 0 samples; fit it on the training split")
        if any(a >= x.ndim or a < -x.ndim for a in self.axis):
            raise ValueError(f"Standardizer axis {self.axis} does not fit data of shape {x.shape}")
        x64 = x.astype(np.float64)  # accumulate in float64 for accuracy; the state is stored float32
        mean = x64.mean(axis=self.axis, keepdims=True)
        std = x64.std(axis=self.axis, keepdims=True)
        std[std == 0] = 1.0
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        return self

    def _require_fit(self, x):
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted; call fit(x_train) (or load_state_dict) first")
        x = to_array(x, "x")
        if x.ndim != self.mean.ndim or any(m != 1 and m != s for m, s in zip(self.mean.shape[1:], x.shape[1:])):
            raise ValueError(f"Standardizer was fitted on samples of shape {self.mean.shape[1:]} "
                             f"(statistics shape {self.mean.shape}) but got data of shape {x.shape}")
        return x

    def transform(self, x) -> np.ndarray:
        """``(x − mean) / std`` as float32."""
        x = self._require_fit(x)
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        """``x · std + mean``: back to the original units."""
        x = self._require_fit(x)
        return (x * self.std + self.mean).astype(np.float32, copy=False)

    def state_dict(self) -> dict:
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted; nothing to save")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state: dict) -> None:
        missing = {"mean", "std"} - set(state)
        if missing:
            raise KeyError(f"Standardizer state is missing {sorted(missing)}; it has {sorted(state)}")
        mean, std = np.asarray(state["mean"], np.float32), np.asarray(state["std"], np.float32)
        if mean.shape != std.shape:
            raise ValueError(f"Standardizer state: mean shape {mean.shape} != std shape {std.shape}")
        if (std <= 0).any():
            raise ValueError("Standardizer state: std must be positive everywhere")
        self.mean, self.std = mean, std

    def __repr__(self):
        fitted = f"fitted on samples of shape {self.mean.shape[1:]}" if self.mean is not None else "not fitted"
        return f"Standardizer(axis={self.axis}, {fitted})"
