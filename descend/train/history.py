"""The record of a training run: one value per epoch for every logged quantity."""

from __future__ import annotations

import numpy as np


class History:
    """Per-epoch values of the loss, the metrics (and their ``val_`` versions), ``lr`` and ``time``.

    ``history.history`` is a dict name → list (as Keras'), also reachable as attributes
    (``history.loss``, ``history.val_accuracy``) or items (``history["loss"]``). ``epochs`` lists the
    epoch indices recorded; ``interrupted`` is True when a KeyboardInterrupt ended ``fit``; ``stopped_epoch``
    is the epoch after which a callback stopped training (None when every epoch ran).
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epochs: list[int] = []
        self.interrupted = False
        self.stopped_epoch: int | None = None

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's logs; a key missing in earlier epochs is back-filled with NaN."""
        n = len(self.epochs)
        for key, value in logs.items():
            column = self.history.setdefault(key, [float("nan")] * n)
            column.append(value)
        for key, column in self.history.items():
            if len(column) == n:
                column.append(float("nan"))
        self.epochs.append(int(epoch))

    def __getattr__(self, name):
        history = self.__dict__.get("history")
        if history is not None and name in history:
            return history[name]
        raise AttributeError(f"History has no {name!r}; it recorded {sorted(history or {})}")

    def __getitem__(self, name):
        return self.history[name]

    def __contains__(self, name):
        return name in self.history

    def __len__(self):
        return len(self.epochs)

    def keys(self):
        return self.history.keys()

    def to_rows(self) -> list[dict]:
        """One dict per epoch: ``{"epoch": e, "loss": ..., "val_loss": ..., ...}`` (for CSV or a table)."""
        return [{"epoch": e, **{k: v[i] for k, v in self.history.items()}} for i, e in enumerate(self.epochs)]

    def best(self, monitor: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best ``monitor`` value (``mode`` 'min' or 'max')."""
        if monitor not in self.history:
            raise KeyError(f"History has no {monitor!r}; it recorded {sorted(self.history)}")
        values = np.asarray(self.history[monitor], dtype=np.float64)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        i = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        return self.epochs[i], float(values[i])

    def state_dict(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()}, "epochs": list(self.epochs),
                "stopped_epoch": -1 if self.stopped_epoch is None else self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epochs = [int(e) for e in state["epochs"]]
        stopped = int(state.get("stopped_epoch", -1))
        self.stopped_epoch = None if stopped < 0 else stopped

    def __repr__(self):
        return f"History(epochs={len(self.epochs)}, keys={list(self.history)})"
