"""Shared base for callbacks that watch one logged value (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau)."""

from __future__ import annotations

import math

from .base import Callback


class MonitorCallback(Callback):
    """Watches ``logs[monitor]`` each epoch and says whether it improved on the best so far.

    ``mode='min'``: improved when value < best − min_delta; ``mode='max'``: when value > best + min_delta.
    The mode is explicit (no guessing from the name). A monitored key missing from the logs raises a
    KeyError listing the keys that are there.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' (lower is better) or 'max' (higher is better), got {mode!r}")
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = float(min_delta)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1

    def current(self, logs) -> float:
        logs = logs or {}
        if self.monitor not in logs:
            hint = " (pass validation data to fit to get val_ values)" if self.monitor.startswith("val_") else ""
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, which is not in the logs; "
                           f"available: {sorted(logs)}{hint}")
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self) -> dict:
        return {"best": float(self.best), "best_epoch": int(self.best_epoch)}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
