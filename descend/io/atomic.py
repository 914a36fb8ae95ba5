"""Atomic file writes: a file is either the old version or the complete new one, never half of each.

The recipe (POSIX): write to a temporary file in the *same directory* as the target, flush it and
``fsync`` it so the bytes are on disk, ``os.replace`` it over the target (an atomic rename on one file
system), then ``fsync`` the directory so the rename itself survives a power cut. If anything fails
before the rename (a full disk, a Ctrl-C), the temporary file is removed and the target is untouched; an
``OSError`` about the temporary file is re-raised naming the target. After a hard crash
(the process killed mid-write) a hidden ``.<name>.<random>.tmp`` file may remain beside the target;
the target itself still holds the previous version.

``atomic_path`` is the general tool (give a writer, e.g. ``Figure.savefig``, a temporary path);
``atomic_write_bytes`` / ``atomic_write_text`` / ``atomic_write_json`` cover the common cases.
Missing parent directories are created.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path

__all__ = ["atomic_path", "atomic_open", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "unused_path"]


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable. Not possible on every platform (Windows): skipped there."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(path: Path) -> Path:
    """Create an empty, hidden temporary file beside ``path`` (umask-respecting permissions)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        os.close(fd)
        return tmp


def _check_target(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a directory; give a file name inside it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(path.parent)!r} is a file, not a "
                                 f"folder") from None
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path to write; on success it atomically replaces ``path``.

    The temporary file lies in the same directory and keeps ``path``'s suffix (so writers that infer
    the format from the extension work). If the block raises, the temporary file is deleted and
    ``path`` keeps its previous content. An existing target's permission bits are kept.

    >>> with atomic_path("plot.png") as tmp:          # doctest: +SKIP
    ...     fig.savefig(tmp)
    """
    path = _check_target(path)
    try:
        tmp = _create_temp(path)
    except OSError as exc:          # a read-only or full folder: name the target, not the temporary file
        raise _for_target(exc, path) from None
    try:
        yield tmp
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:    # disk full half-way, Ctrl-C, a failing writer: the temporary file goes
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is not None and Path(exc.filename).name == tmp.name:
            raise _for_target(exc, path) from None
        raise
    _fsync_directory(path.parent)


def _for_target(exc: OSError, path: Path) -> OSError:
    """The same OSError (class, errno, reason) naming ``path`` instead of its temporary file."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """Context manager yielding an open file (``mode`` 'w' or 'wb') whose content replaces ``path`` atomically."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        if mode == "wb":
            f = open(tmp, "wb")
        else:
            f = open(tmp, "w", encoding=encoding, newline=newline)
        with f:
            yield f
            f.flush()


def atomic_write_bytes(path, data) -> Path:
    """Write ``data`` (bytes-like) to ``path`` atomically; returns the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write_bytes needs bytes, got {type(data).__name__}; "
                        "use atomic_write_text for str")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (no newline translation); returns the path."""
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text needs str, got {type(text).__name__}; "
                        "use atomic_write_bytes for bytes")
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path, obj, indent: int | None = 2) -> Path:
    """Serialise ``obj`` as JSON (strict: NaN/inf rejected) and write it atomically; returns the path.

    The object is serialised before the file is touched, so an unserialisable object leaves no trace.
    """
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"cannot write {str(path)!r} as JSON: {exc}") from exc
    return atomic_write_text(path, text + "\n")


def unused_path(base) -> Path:
    """``base`` if nothing exists there yet, else the first of ``base-2``, ``base-3``, … that is free (for
    new run and output folders named by their start time, which two runs in one second would share)."""
    base = Path(base)
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path
