"""An exponential moving average of the weights, used for evaluation and kept as the final model."""

from __future__ import annotations

import numpy as np

from .base import Callback


class EMA(Callback):
    """Keep ``ema ← decay · ema + (1 − decay) · w`` of every floating parameter, updated after each optimiser
    step, starting from the weights at the start of training (``ema₀ = w₀``, no bias correction).

    While the trainer evaluates or predicts (validation each epoch included) the model holds the averaged
    weights and gets its own back afterwards; at the end of training the averaged weights are copied into the
    model for good, so what is saved or evaluated after ``fit`` is the average. Buffers (BatchNorm's running
    statistics) are not averaged: the model's own are used. The average is part of the callback's state, so a
    resumed run continues it exactly. With ``EarlyStopping(restore_best_weights=True)`` the callback listed
    later wins at the end of training (the app puts EMA last: the average is kept).
    """

    def __init__(self, decay: float = 0.999):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be a number in [0, 1) (e.g. 0.999), got {decay!r}")
        self.decay = float(decay)
        self.shadow: dict[str, np.ndarray] = {}
        self.updates = 0
        self._live: dict[str, np.ndarray] | None = None
        self.applied = False

    def _params(self):
        return [(name, p) for name, p in self.trainer.model.named_parameters()
                if np.issubdtype(p.array.dtype, np.floating)]

    def on_train_begin(self, logs=None):
        self.shadow = {name: p.array.copy() for name, p in self._params()}   # replaced on a resume
        self.updates = 0
        self.applied = False

    def on_after_step(self, trainer):
        d = np.float32(self.decay)
        for name, p in self._params():
            s = self.shadow[name]
            s *= d.astype(s.dtype)
            s += (1 - d).astype(s.dtype) * p.array
        self.updates += 1

    def on_evaluate_begin(self, trainer):
        if self.applied or not self.shadow or self._live is not None:
            return
        self._live = {}
        for name, p in self._params():
            self._live[name] = p.array.copy()
            p.array[...] = self.shadow[name]

    def on_evaluate_end(self, trainer):
        if self._live is None:
            return
        for name, p in self._params():
            p.array[...] = self._live[name]
        self._live = None

    def on_train_end(self, logs=None):
        if self.shadow:
            for name, p in self._params():
                p.array[...] = self.shadow[name]
            self.applied = True

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": int(self.updates),
                "shadow": {k: v.copy() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.shadow = {k: np.array(v, copy=True) for k, v in state["shadow"].items()}
