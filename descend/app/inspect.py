"""Post-hoc tools over run folders: ``evaluate_run``, ``predict_run``, ``list_runs`` (+ ``format_runs_table``)
and ``compare_runs``. The command line (``descend evaluate / predict / runs / compare``) is a thin layer
over them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..autograd import no_grad
from .config import check_config, load_config
from ..data import Standardizer
from ..data.sources import read_csv_table, read_npz
from ..data.splits import is_number
from ..io import atomic_write_bytes, atomic_write_text
from ..io.records import as_columns
from ..creation import as_tensor
from .errors import ConfigError
from .factories import prepare_data
from .run_folder import CONFIG_FILE, HISTORY_FILE, SUMMARY_FILE, STATUS_FILE, load_run, read_history, read_status

__all__ = ["evaluate_run", "predict_run", "list_runs", "format_runs_table", "compare_runs",
           "compare_histories"]


def _standardize(meta, x):
    if meta.get("standardizer"):
        s = Standardizer()
        s.load_state_dict(meta["standardizer"])
        return s.transform(x)
    return x


def _forward(model, x, batch=512, progress=None) -> np.ndarray:
    outs = []
    with no_grad():
        for i in range(0, len(x), batch):
            chunk = np.ascontiguousarray(x[i:i + batch])
            outs.append(model(as_tensor(chunk, dtype=chunk.dtype)).array)
            if progress is not None:
                progress.update(len(chunk))
    if progress is not None:
        progress.close()
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def evaluate_run(run_dir, data=None, split: str = "test") -> dict:
    """Loss and metrics of a run's final model on a split of its data (or of ``data``: a name or path)."""
    cfg, model, meta = load_run(run_dir)
    if data is not None:
        p = Path(data)
        if p.suffix or p.exists():
            cfg["data"]["path"] = str(data)
        else:
            cfg["data"]["path"], cfg["data"]["name"] = "", data
        check_config(cfg)
    cfg["data"]["standardize"] = False
    splits, _ = prepare_data(cfg)
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    if x is None or not len(x):
        raise ValueError(f"the data has no {split} split; choose --split from "
                         f"{[n for n, xx, _ in splits.parts() if len(xx)]}")
    if tuple(x.shape[1:]) != tuple(meta["input_shape"]):
        raise ValueError(f"the data's samples have shape {tuple(x.shape[1:])} but the model of {run_dir} takes "
                         f"{tuple(meta['input_shape'])}; evaluate it on data like its training data")
    x = _standardize(meta, x)
    out = _forward(model, x)
    result = {"split": split, "samples": int(len(x))}
    if meta["task"] == "language-model":         # next-character scores (N, T, V) against (N, T)
        out, y = out.reshape(-1, out.shape[-1]).astype(np.float64), np.asarray(y).reshape(-1)
        z = out - out.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        result["loss"] = float(-logp[np.arange(len(y)), y].mean())
        result["bits_per_char"] = result["loss"] / float(np.log(2))
        result["accuracy"] = float((out.argmax(axis=1) == y).mean())
    elif meta["task"] == "classification":
        if out.shape[1] != meta["num_outputs"] or int(np.max(y)) >= out.shape[1]:
            raise ValueError(f"labels reach {int(np.max(y))} but the model predicts {out.shape[1]} classes")
        z = out - out.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        result["loss"] = float(-logp[np.arange(len(y)), y].mean())
        result["accuracy"] = float((out.argmax(axis=1) == y).mean())
    else:
        t = np.asarray(y, np.float64).reshape(out.shape)
        err = out.astype(np.float64) - t
        result["loss"] = float((err ** 2).mean())
        result["mae"] = float(np.abs(err).mean())
        result["r2"] = float(1 - (err ** 2).sum() / max(((t - t.mean(axis=0)) ** 2).sum(), 1e-30))
    return result


def _read_inputs(path, cfg, input_shape) -> np.ndarray:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"input {str(path)!r} is a directory; give a .npz or .csv file")
    if not path.is_file():
        raise FileNotFoundError(f"input file {str(path)!r} not found")
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path)
        if not arrays:
            raise ValueError(f"{path} holds no arrays; save the inputs as array 'x'")
        key = next((k for k in ("x", "x_test", "inputs", "X") if k in arrays), next(iter(arrays)))
        x = arrays[key]
        if x.dtype.kind not in "iufb":
            raise ValueError(f"{path}: array {key!r} has dtype {x.dtype}; the inputs must be numbers")
    elif path.suffix.lower() == ".csv":
        header, table = read_csv_table(path)
        keep = [i for i, h in enumerate(header) if h != cfg["data"]["label_column"]]
        cells = np.char.strip(table[:, keep])
        try:
            x = cells.astype(np.float64)
        except ValueError:
            bad = np.argwhere(~np.vectorize(is_number, otypes=[bool])(cells))[0]
            raise ValueError(f"{path}: column {header[keep[bad[1]]]!r} is not numeric (data row {bad[0]}: "
                             f"{str(cells[tuple(bad)])!r}); give numbers") from None
    else:
        raise ValueError(f"input {str(path)!r}: use a .npz (array 'x') or a .csv of features")
    x = np.asarray(x, dtype=np.float32)
    n_features = int(np.prod(input_shape))
    if x.ndim < 2 and n_features != 1 and x.ndim == 1 and x.size == n_features:
        raise ValueError(f"inputs of shape {x.shape} look like one sample; give shape (N, {n_features}) "
                         f"(x.reshape(1, -1) for one sample)")
    if x.ndim == 1 and n_features == 1:
        x = x.reshape(-1, 1)
    if x.ndim == 0 or len(x) == 0 or x[0].size != n_features:
        raise ValueError(f"inputs of shape {x.shape} do not fit the model's input shape {tuple(input_shape)} "
                         f"({n_features} features per sample)")
    x = x.reshape(len(x), *input_shape)
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
        raise ValueError(f"input row {rows[0]} contains NaN or inf ({len(rows)} rows affected)")
    return x


def predict_run(run_dir, inputs, output, progress=None) -> Path:
    """Predict with a run's final model; write ``output`` (.csv or .npz). Classification writes the class
    ``prediction`` and ``probabilities`` (softmax); regression writes the predicted values. ``progress``: a
    function of the number of inputs returning an object with ``update(n)`` / ``close()``, told of every
    batch of 512 (or None)."""
    output = Path(output)
    if output.suffix.lower() not in (".csv", ".npz"):
        raise ValueError(f"--output {str(output)!r}: use a .csv or .npz file name")
    cfg, model, meta = load_run(run_dir)
    x = _standardize(meta, _read_inputs(inputs, cfg, meta["input_shape"]))
    out = _forward(model, x, progress=progress(len(x)) if progress is not None else None)
    arrays = {}
    if meta["task"] == "classification":
        z = np.exp(out - out.max(axis=1, keepdims=True))
        arrays["probabilities"] = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        arrays["prediction"] = out.argmax(axis=1).astype(np.int64)
    else:
        arrays["prediction"] = out.astype(np.float32)
    if output.suffix.lower() == ".npz":
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(output, buf.getvalue())
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if meta["task"] == "classification":
            k = arrays["probabilities"].shape[1]
            w.writerow(["prediction", *(f"p_{c}" for c in range(k))])
            for p, row in zip(arrays["prediction"], arrays["probabilities"]):
                w.writerow([int(p), *(f"{v:.6g}" for v in row)])
        else:
            pred = arrays["prediction"].reshape(len(x), -1)
            w.writerow([f"prediction_{j}" if pred.shape[1] > 1 else "prediction" for j in range(pred.shape[1])])
            w.writerows([[f"{v:.7g}" for v in row] for row in pred])
        atomic_write_text(output, buf.getvalue())
    return output


def list_runs(root="runs") -> list[dict]:
    """One dict per run folder under ``root`` (sorted by name, i.e. by start time): its path, data, model,
    epochs and final metrics from ``summary.json``, and its status from ``status.json`` (done, interrupted,
    diverged, failed with its ``reason``, or unfinished: killed, or still running)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder {str(root)!r}; train one with `descend train` (or give DIR)")
    rows = []
    for d in sorted(p for p in root.iterdir()
                    if p.is_dir() and ((p / CONFIG_FILE).is_file() or (p / STATUS_FILE).is_file())):
        row = {"run": d.name, "path": str(d)}
        try:
            cfg = load_config(d / CONFIG_FILE)
            row["data"] = Path(cfg["data"]["path"]).name if cfg["data"]["path"] else cfg["data"]["name"]
            row["model"] = "layers" if cfg["model"]["layers"] else cfg["model"]["preset"]
            row["optimizer"] = cfg["optimizer"]["name"]
        except (ConfigError, OSError):
            row["data"] = row["model"] = row["optimizer"] = "?"
        status = read_status(d)
        row["status"] = status["status"]
        if status.get("reason"):
            row["reason"] = status["reason"]
        try:
            s = json.loads((d / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            s = None
        if isinstance(s, dict):
            for k in ("epochs", "val_loss", "val_accuracy", "test_accuracy", "test_loss", "test_r2",
                      "wall_time_s"):
                if s.get(k) is not None:
                    row[k] = s[k]
        rows.append(row)
    return rows


def format_runs_table(rows: list[dict]) -> str:
    """The rows of :func:`list_runs` as an aligned text table (floats to 4 decimals, '-' where missing)."""
    cols = ["run", "status", "data", "model", "optimizer", "epochs", "val_loss", "val_accuracy", "test_accuracy",
            "test_r2", "wall_time_s", "reason"]
    cols = [c for c in cols if any(c in r for r in rows)]

    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else ("-" if v is None else str(v))
    table = [cols] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table)


def compare_histories(run_dirs, metric: str = "loss") -> tuple[dict, list]:
    """The data ``compare_runs`` draws: ``({label: {column: [float, ...]}}, [columns])``.

    The columns are ``metric`` and, when ``metric`` has no ``val_`` prefix and a run recorded it,
    ``val_<metric>`` (training solid, validation dashed in the plot). A run is labelled by its config
    ``name`` (from its ``config.toml``) when set, else by its folder's name; two runs sharing a label
    get their folder's name added.
    """
    if isinstance(run_dirs, (str, Path)) or not run_dirs:
        raise ValueError(f"run_dirs must be a non-empty list of run folders, got {run_dirs!r}")
    loaded = []
    for d in run_dirs:
        d = Path(d)
        if not (d / HISTORY_FILE).is_file():
            raise FileNotFoundError(f"{str(d)!r} has no history.csv; give run folders written by `descend train`")
        cols = {k: [_number(v) for v in col] for k, col in as_columns(read_history(d)).items()}
        if metric not in cols:
            raise KeyError(f"run {d.name} has no {metric!r} column; it has {', '.join(cols)}")
        cols.pop("epoch", None)  # history.csv counts from 1; the plots number epochs 1..n themselves
        loaded.append((d, _run_label(d), cols))
    labels = [label for _, label, _ in loaded]
    runs = {}
    for d, label, cols in loaded:
        name = label if labels.count(label) == 1 or label == d.name else f"{label} ({d.name})"
        while name in runs:
            name += "'"
        runs[name] = cols
    columns = [metric]
    val = f"val_{metric}"
    if not metric.startswith("val_") and any(val in cols for cols in runs.values()):
        columns.append(val)
    return runs, columns


def compare_runs(run_dirs, output=None, metric: str = "loss") -> Path:
    """Overlay ``metric`` and its validation twin ``val_<metric>`` (when recorded and ``metric`` is
    unprefixed) of several runs in one PNG, training solid and validation dashed, one colour per run
    labelled by its name (:func:`compare_histories`); returns its path (default ``compare.png`` beside
    the first run)."""
    from ..io import plots
    runs, columns = compare_histories(run_dirs, metric)
    output = Path(output) if output else Path(run_dirs[0]).parent / "compare.png"
    if output.suffix.lower() != ".png":
        raise ValueError(f"--output {str(output)!r}: the overlay is a PNG; end the name with .png")
    return Path(plots.compare(runs, metric=metric, metrics=columns, path=output))


def _run_label(d: Path) -> str:
    """A run's config ``name`` when its config.toml sets one, else the folder's name."""
    try:
        import tomllib
        name = tomllib.loads((d / CONFIG_FILE).read_text(encoding="utf-8")).get("name", "")
    except (OSError, ValueError):
        return d.name
    return name if isinstance(name, str) and name.strip() else d.name


def _number(v) -> float:
    """A history cell as a float for plotting: NaN where it is not a number (an empty cell, text)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
