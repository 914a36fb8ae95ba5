"""Training progress: a live line on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time

import numpy as np

from .base import Callback


def _format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key in ("size", "time") or np.ndim(value) > 0:
            continue
        parts.append(f"{key} {value:.4g}" if key != "lr" else f"lr {value:.3g}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """Show the running loss, the training metrics, samples per second and the time left in the epoch.

    When ``stream`` (default ``sys.stdout``) is a terminal the line is redrawn in place (``\\r``) at most
    every ``refresh`` seconds; otherwise (a log file, CI) one line is printed per epoch, so logs stay
    readable. Either way the epoch's summary line lists every logged value.
    """

    rank_zero_only = True   # writes files / the console; under MPI rank 0 alone runs it

    def __init__(self, stream=None, refresh: float = 0.1):
        self.stream = stream
        self.refresh = float(refresh)

    @property
    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _live(self) -> bool:
        isatty = getattr(self._out, "isatty", None)
        return bool(isatty and isatty())

    def on_train_begin(self, logs=None):
        self._epochs = self.trainer.epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = self._last_draw = time.perf_counter()
        self._seen = 0
        self._loss_sum = 0.0
        try:
            self._total = len(self.trainer.train_loader)
        except TypeError:
            self._total = None

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        n = int(logs.get("size", 0))
        self._seen += n
        self._loss_sum += float(logs.get("loss", float("nan"))) * n
        if not self._live():
            return
        now = time.perf_counter()
        if now - self._last_draw < self.refresh and (self._total is None or batch + 1 < self._total):
            return
        self._last_draw = now
        elapsed = now - self._start
        rate = self._seen / elapsed if elapsed > 0 else float("nan")
        done = batch + 1
        parts = [f"epoch {self._epoch + 1}/{self._epochs}"]
        if self._total:
            width = 20
            filled = int(width * done / self._total)
            eta = elapsed / done * (self._total - done)
            parts.append(f"[{'=' * filled}{'.' * (width - filled)}] {done}/{self._total}")
        parts.append(f"loss {self._loss_sum / max(self._seen, 1):.4g}")
        metrics = {m.name: m.compute() for m in self.trainer.metrics if m.scalar}
        if metrics:
            parts.append(_format_logs(metrics))
        parts.append(f"{rate:.0f} samples/s")
        if self._total:
            parts.append(f"ETA {_format_seconds(eta)}")
        self._out.write("\r" + "  ".join(parts) + "\033[K")
        self._out.flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self._start
        rate = self._seen / elapsed if elapsed > 0 else float("nan")
        line = (f"epoch {epoch + 1}/{self._epochs}  {_format_logs(logs)}  "
                f"{_format_seconds(logs.get('time', elapsed))}  {rate:.0f} samples/s")
        self._out.write(("\r" + line + "\033[K\n") if self._live() else (line + "\n"))
        self._out.flush()
