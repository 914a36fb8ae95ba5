"""Per-epoch records (a training history) as CSV or JSON lines, written atomically, read back typed.

``write_history_csv(rows, path)`` takes a list of per-epoch dicts (or a ``History``, via its
``to_rows()``, or a dict name → column) and writes one header line plus one line per epoch. Floats are
written with ``repr`` (exact round trip, ``nan``/``inf`` included); ``read_history_csv`` parses each
cell back to int, float, bool or None (an empty cell), leaving other text as str, and returns the rows
(a list of dicts, one per line); ``as_columns(rows)`` turns them into a dict name → column. These are the
only history-CSV writer and reader: a run folder's ``history.csv`` (``epoch`` counted from 1, see
``descend.app.run_folder``), ``health.csv`` and ``descend compare`` all go through them.

JSON lines (one JSON object per line) suit logs that grow during training: ``append_jsonl`` adds one
record and flushes it to disk, ``write_jsonl`` rewrites the whole file atomically. Non-finite floats
are written as ``null`` so that every line is standard JSON; they read back as None.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text

__all__ = ["write_history_csv", "read_history_csv", "write_jsonl", "read_jsonl", "append_jsonl", "as_rows",
           "as_columns"]


def as_rows(history) -> list[dict]:
    """A list of per-epoch dicts from a History (``to_rows``), a dict name → column, or a list of dicts."""
    if hasattr(history, "to_rows"):
        return list(history.to_rows())
    if isinstance(history, dict):
        lengths = {k: len(v) for k, v in history.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"history columns have different lengths: {lengths}")
        n = next(iter(lengths.values()), 0)
        return [{k: v[i] for k, v in history.items()} for i in range(n)]
    rows = list(history)
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise TypeError(f"history row {i} is a {type(r).__name__}, expected a dict")
    return rows


def as_columns(rows) -> dict:
    """A dict name → list of values from per-epoch rows (the inverse of :func:`as_rows`); a cell a row lacks
    is None. Columns keep their first-seen order."""
    rows = as_rows(rows)
    names = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in names}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _cell(value) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def write_history_csv(history, path, columns=None) -> Path:
    """Write per-epoch records as CSV atomically; ``columns`` picks/orders the columns (default: all keys
    in first-seen order). Missing cells are left empty. Returns the path."""
    rows = as_rows(history)
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return atomic_write_text(path, buf.getvalue())


def read_history_csv(path) -> list[dict]:
    """Read a CSV written by :func:`write_history_csv`: a list of dicts with numbers parsed."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{str(path)!r} is empty; expected a header line of column names") from None
        rows = []
        for lineno, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(cells) != len(header):
                raise ValueError(f"{str(path)!r} line {lineno} has {len(cells)} cells, the header has "
                                 f"{len(header)}")
            rows.append({k: _parse(v) for k, v in zip(header, cells)})
    return rows


def _json_safe(value):
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def _line(record) -> str:
    if not isinstance(record, dict):
        raise TypeError(f"a JSON-lines record must be a dict, got {type(record).__name__}")
    return json.dumps(_json_safe(record), allow_nan=False) + "\n"


def write_jsonl(records, path) -> Path:
    """Write records (dicts, or a History) as JSON lines, atomically. Returns the path."""
    return atomic_write_text(path, "".join(_line(r) for r in as_rows(records)))


def append_jsonl(record: dict, path) -> Path:
    """Append one record as a JSON line and fsync it (a crash loses at most the line being written)."""
    line = _line(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return path


def read_jsonl(path) -> list[dict]:
    """Read JSON lines; a final line cut short by a crash is skipped, a bad line elsewhere is an error."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:   # no trailing newline: the last write was interrupted
                break
            raise ValueError(f"{str(path)!r} line {i + 1} is not valid JSON ({exc})") from None
    return records
