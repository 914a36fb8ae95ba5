"""The one place where a failing command becomes a one-line message and a documented exit status.

=====  =====================================================================================
0      success
1      an internal error (a bug): one line plus the path of the log holding the traceback
2      bad input: a config key, a data or model file, a missing path, an argument
3      training diverged (NaN, inf or a runaway loss); the run folder keeps the last good weights
4      an I/O or resource fault: disk full, read-only, permission denied, out of memory
130    interrupted (Ctrl-C or SIGTERM)
=====  =====================================================================================

:func:`classify` maps an exception to ``(status, message)``; :func:`report_failure` prints the line and,
for internal errors, writes the traceback to ``error.log`` in the run folder the failure happened in (an
exception carrying a ``run_dir`` attribute, set by ``run_training``) or else under :data:`CRASH_DIR`.
``descend --debug COMMAND`` lets the exception (and its traceback) through instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import warnings
import zipfile
from pathlib import Path

__all__ = ["EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_IO", "EXIT_INTERRUPTED",
           "CRASH_DIR", "classify", "one_line", "report_failure", "cli_environment", "output_folder"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_IO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

#: Where the traceback of an internal error goes when it happened outside a run folder.
CRASH_DIR = Path.home() / ".cache" / "descend"

#: Exceptions that mean "bad input" (wrong paths included: they name what the user gave).
BAD_INPUT = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, NotADirectoryError,
             IsADirectoryError, zipfile.BadZipFile, EOFError, UnicodeError)

_IO_HINTS = {
    errno.ENOSPC: "the disk is full; free space or write elsewhere (--out / --output)",
    getattr(errno, "EDQUOT", -1): "the disk quota is exhausted; free space or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere (--out / --output)",
    errno.EACCES: "permission denied; write elsewhere (--out / --output) or fix the folder's permissions",
    errno.EPERM: "operation not permitted; write elsewhere or fix the permissions",
    errno.EISDIR: "it is a directory; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "it already exists",
}


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (a KeyError's message unquoted; the type name when empty)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, OSError) and exc.errno in _IO_HINTS and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {_IO_HINTS[exc.errno]}" if where else _IO_HINTS[exc.errno]
    if isinstance(exc, MemoryError):
        text = (f"out of memory ({text or 'an allocation failed'}); make the model or the batches smaller "
                f"(model.hidden, data.batch_size, data.subset)")
    return " ".join(text.split()) or type(exc).__name__


def classify(exc: BaseException) -> int:
    """The exit status for ``exc`` (see the table in the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BAD_INPUT):
        # a read-only folder surfaces as PermissionError / EROFS, never as one of these
        return EXIT_BAD_INPUT
    if isinstance(exc, (OSError, MemoryError)):
        return EXIT_IO
    return EXIT_INTERNAL


def _write_log(exc: BaseException) -> Path | None:
    run_dir = getattr(exc, "run_dir", None)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
    for folder, name in ((run_dir, "error.log"), (CRASH_DIR, f"error-{stamp}.log")):
        if folder is None:
            continue
        try:
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def report_failure(exc: BaseException, stream=None) -> int:
    """Print the one-line message for ``exc`` to ``stream`` (stderr) and return the exit status."""
    stream = stream or sys.stderr
    status = classify(exc)
    if status == EXIT_INTERRUPTED:
        print("descend: interrupted", file=stream)
    elif status == EXIT_INTERNAL:
        log = _write_log(exc)
        where = f"the traceback is in {log}" if log else "the traceback could not be written"
        print(f"descend: internal error: {type(exc).__name__}: {one_line(exc)} ({where}; rerun with "
              f"`descend --debug ...` to see it, and please report it)", file=stream)
    else:
        print(f"descend: error: {one_line(exc)}", file=stream)
    return status


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def cli_environment(stream=None):
    """While a command runs: SIGTERM behaves like Ctrl-C (KeyboardInterrupt), and warnings print as one line
    ``descend: warning: ...`` each."""
    stream = stream or sys.stderr
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    old_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"descend: warning: {' '.join(str(message).split())}", file=stream)
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old_show
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def output_folder(path):
    """For a command writing a folder of results: a ``path`` that is a file is refused; if the command
    fails (a full disk, Ctrl-C) and the folder did not exist before, the partial folder is removed."""
    import shutil
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{str(path)!r} is a file; give a folder for the results (--out)")
    existed = path.exists()
    try:
        yield path
    except BaseException:
        if not existed:
            shutil.rmtree(path, ignore_errors=True)
        raise
