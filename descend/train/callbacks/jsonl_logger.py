"""Append one JSON object per epoch (JSON Lines)."""

from __future__ import annotations

import json
import math
import os

import numpy as np

from .base import Callback


def _jsonable(value):
    if np.ndim(value) > 0:
        return np.asarray(value).tolist()
    value = float(value) if not isinstance(value, (int, str)) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


class JSONLinesLogger(Callback):
    """Write ``{"epoch": e, "loss": ..., ...}`` as one line of ``filename`` per epoch, flushed each time.

    Arrays (a confusion matrix) are written as nested lists; NaN as ``null`` and ±inf as strings, so every
    line is strict JSON. A fresh run overwrites the file unless ``append=True``; a resumed run appends.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, filename, append: bool = False):
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self._file = None

    def on_train_begin(self, logs=None):
        resuming = self.trainer is not None and self.trainer.start_epoch > 0
        os.makedirs(os.path.dirname(os.path.abspath(self.filename)), exist_ok=True)
        self._file = open(self.filename, "a" if (self.append or resuming) else "w", encoding="utf-8")

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch, **{k: _jsonable(v) for k, v in (logs or {}).items()}}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
