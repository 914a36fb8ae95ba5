"""A one-line progress display for long commands (lr-find, tune, playground, predict).

``Progress(total, label)`` writes ``label  done/total  pct  elapsed  eta  note`` to stderr. On a terminal it
redraws one line in place; elsewhere (a log file, CI) it prints a line at most every ``interval`` seconds and
at the end, so logs stay short. The app functions take any object with ``update(n=1, note=None)`` and
``close(note=None)`` as their ``progress=`` argument; they never import this module.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``'42s'``, ``'3m07s'``, ``'1h02m'``."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """``Progress(total, label, stream=sys.stderr, interval=None)``: count ``update()`` calls up to ``total``.

    The ETA is elapsed · (total − done) / done. ``interval``: seconds between lines when the stream is not a
    terminal (default 5; on a terminal 0.1 between redraws).
    """

    def __init__(self, total: int, label: str, stream=None, interval: float | None = None):
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be a non-negative integer, got {total!r}")
        self.total, self.label = total, str(label)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.1 if self.tty else 5.0)
        self.done = 0
        self.note = ""
        self.start = time.perf_counter()
        self._last = -float("inf")
        self._closed = False

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        parts = [self.label, f"{self.done}/{self.total}" if self.total else str(self.done)]
        if self.total:
            parts.append(f"{100 * self.done / self.total:3.0f}%")
        parts.append(format_duration(elapsed))
        if self.total and 0 < self.done < self.total:
            parts.append(f"eta {format_duration(elapsed * (self.total - self.done) / self.done)}")
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)

    def _write(self, final=False):
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def update(self, n: int = 1, note: str | None = None) -> None:
        self.done += n
        if note is not None:
            self.note = note
        now = time.perf_counter()
        if now - self._last >= self.interval and not self._closed:
            self._last = now
            self._write()

    def close(self, note: str | None = None) -> None:
        if self._closed:
            return
        if note is not None:
            self.note = note
        self._closed = True
        self._write(final=True)
