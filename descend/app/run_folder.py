"""The run folder: its file names, and writing and reading what ``run_training`` leaves there::

    config.toml        the resolved config (every key)
    history.csv        one row per epoch, ``epoch`` counted from 1 (rewritten atomically after every epoch)
    summary.json       final metrics, epochs, wall time, parameter count
    model.safetensors  the final weights (the best ones when early stopping restored them) + preprocessing
    checkpoints/       last.safetensors (resumable, every epoch) and best.safetensors (lowest val_loss)
    plots/             loss.png, accuracy.png (or metrics.png), lr.png, confusion_matrix.png
    report.html        self-contained: config, model summary, curves, final metrics, notes
    status.json        {"status": running | done | interrupted | diverged | failed, "reason": ...}: written
                       first as 'running' and last as the outcome, so a run killed while writing its
                       report is not 'done'
    error.log          the traceback of an internal error (``descend`` prints only its path)

Every file is written atomically. The history CSV is written and read by ``descend.io.records`` (one
writer, one reader); this module only adds the run folder's convention of counting epochs from 1.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .config import load_config, to_toml
from ..io import atomic_write_json, atomic_write_text, load, save, unused_path
from ..io.records import as_rows, read_history_csv, write_history_csv
from .models import build_model

__all__ = ["STATUS_FILE", "STATUSES", "write_status", "read_status",
           "CONFIG_FILE", "HISTORY_FILE", "SUMMARY_FILE", "MODEL_FILE", "REPORT_FILE", "PLOTS_DIR",
           "CHECKPOINT_DIR", "LAST_CHECKPOINT", "BEST_CHECKPOINT", "LAST_GOOD_CHECKPOINT", "default_run_dir",
           "history_rows", "write_history", "read_history", "write_config", "write_summary", "save_model",
           "load_run"]

STATUS_FILE = "status.json"
STATUSES = ("running", "done", "interrupted", "diverged", "failed")
CONFIG_FILE = "config.toml"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.safetensors"
REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.safetensors"
BEST_CHECKPOINT = "best.safetensors"
LAST_GOOD_CHECKPOINT = "last_good.safetensors"


def default_run_dir(config: dict, root="runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<name>`` (name: the config's ``name`` or ``<data>-<preset>``)."""
    name = config["name"] or "-".join([Path(config["data"]["path"]).stem if config["data"]["path"]
                                       else config["data"]["name"],
                                       "layers" if config["model"]["layers"] else config["model"]["preset"]])
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return unused_path(Path(root) / f"{datetime.now():%Y%m%d-%H%M%S}-{safe}")


def history_rows(history) -> list[dict]:
    """The rows of ``history.csv``: ``epoch`` first, counted from 1 (a History counts from 0), then every
    logged column."""
    rows = [dict(row) for row in as_rows(history)]
    return [{"epoch": row.pop("epoch", i) + 1, **row} for i, row in enumerate(rows)]


def write_history(history, path) -> Path:
    """Write a History (or rows / columns) as a run folder's ``history.csv``, atomically."""
    return write_history_csv(history_rows(history), path)


def read_history(run_dir) -> list[dict]:
    """The rows of a run folder's ``history.csv`` (``epoch`` counted from 1)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} has no {HISTORY_FILE}; give run folders written by "
                                f"`descend train`")
    return read_history_csv(path)


def write_config(out, cfg: dict) -> Path:
    """``config.toml``: the resolved config, every key with its comment."""
    return atomic_write_text(Path(out) / CONFIG_FILE, to_toml(cfg))


def write_summary(out, summary: dict) -> Path:
    return atomic_write_json(Path(out) / SUMMARY_FILE, summary)


def write_status(out, status: str, reason: str | None = None) -> Path:
    """``status.json``: the run's state (one of :data:`STATUSES`) and, for a failure, the one-line reason."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    record = {"status": status, "updated": datetime.now().isoformat(timespec="seconds")}
    if reason:
        record["reason"] = reason
    return atomic_write_json(Path(out) / STATUS_FILE, record)


def read_status(run_dir) -> dict:
    """The run's ``status.json`` as a dict; for a folder without one (older runs), the status read from
    ``summary.json``: 'done' or 'interrupted', else 'unfinished'. A folder whose status is still 'running'
    (the process was killed, or still runs) reads as 'unfinished'."""
    run_dir = Path(run_dir)
    try:
        record = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("status") not in STATUSES:
            raise ValueError("bad status file")
    except FileNotFoundError:
        try:
            summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
            return {"status": "interrupted" if summary.get("interrupted") else "done"}
        except (OSError, ValueError, AttributeError):
            return {"status": "unfinished"}
    except (OSError, ValueError):
        return {"status": "unfinished", "reason": f"unreadable {STATUS_FILE}"}
    if record["status"] == "running":
        return {**record, "status": "unfinished"}
    return record


def save_model(path, model, splits, scaler) -> None:
    """``model.safetensors``: the weights plus what prediction needs (task, shapes, class names, scaler)."""
    save({"model": dict(model.state_dict()), "task": splits.task, "input_shape": list(splits.input_shape),
          "num_outputs": int(splits.num_outputs), "class_names": [str(c) for c in (splits.class_names or [])],
          "standardizer": scaler.state_dict() if scaler is not None else None}, path)


def load_run(run_dir):
    """(config, model in eval mode, saved metadata) of a finished run folder."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run folder (no config.toml)")
    if not (run_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} has no {MODEL_FILE}: the run did not finish; "
                                f"continue it with `descend train --resume {run_dir}`")
    cfg = load_config(run_dir / CONFIG_FILE)
    path = run_dir / MODEL_FILE
    meta = load(path)               # a truncated or foreign file raises CheckpointError (a ValueError), one line
    if not isinstance(meta, dict) or not {"model", "input_shape", "num_outputs", "task"} <= set(meta):
        raise ValueError(f"{path} is a checkpoint but not a run's final model (it lacks model / input_shape / "
                         f"num_outputs / task); restore the file `descend train` wrote, or retrain")
    model = build_model(cfg["model"], tuple(meta["input_shape"]), int(meta["num_outputs"]),
                        per_step=meta["task"] == "language-model")
    try:
        model.load_state_dict(meta["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = " ".join(str(exc).split("  hint:")[0].split())
        raise ValueError(f"{path} does not fit the model {run_dir / CONFIG_FILE} describes ({first}); it comes "
                         f"from another architecture: put back the run's own {MODEL_FILE} or retrain") from None
    model.eval()
    return cfg, model, meta
