"""Append one CSV row per epoch."""

from __future__ import annotations

import csv
import os

import numpy as np

from .base import Callback


def scalar_logs(epoch, logs) -> dict:
    """``{"epoch": epoch, ...}`` with the scalar entries of ``logs`` as floats (arrays left out)."""
    row = {"epoch": epoch}
    for key, value in (logs or {}).items():
        if np.ndim(value) == 0:
            row[key] = float(value)
    return row


class CSVLogger(Callback):
    """Write ``epoch`` and every scalar log (loss, metrics, ``val_`` values, lr, time) to ``filename``.

    The header is taken from the first epoch. The file is flushed after each row, so it is readable
    while training runs. A fresh run overwrites the file unless ``append=True``; a resumed run appends.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        resuming = self.trainer is not None and self.trainer.start_epoch > 0
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        mode = "a" if (self.append or resuming) and exists else "w"
        directory = os.path.dirname(os.path.abspath(self.filename))
        os.makedirs(directory, exist_ok=True)
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        self._writer = None
        self._header_written = mode == "a"
        self._fields = None
        if mode == "a":
            with open(self.filename, newline="", encoding="utf-8") as f:
                first = f.readline().strip()
            self._fields = first.split(self.separator) if first else None

    def on_epoch_end(self, epoch, logs=None):
        row = scalar_logs(epoch, logs)
        if self._writer is None:
            if self._fields is None:
                self._fields = list(row)
            self._writer = csv.DictWriter(self._file, fieldnames=self._fields, delimiter=self.separator,
                                          extrasaction="ignore", restval="")
            if not self._header_written:
                self._writer.writeheader()
                self._header_written = True
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
