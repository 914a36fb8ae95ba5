"""Input/output: checkpoints (safetensors + JSON, no pickle), atomic writes, history files, plots and
self-contained HTML reports.

``descend.io.plots`` imports matplotlib, so it (and the names it defines) load on first use only:
``import descend`` stays fast.
"""

from .atomic import atomic_open, atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text, unused_path
from .checkpoint import CheckpointError, load, save
from .records import (append_jsonl, as_columns, as_rows, read_history_csv, read_jsonl, write_history_csv,
                      write_jsonl)
from .report import Cell, Report, ReportContext, ReportSection

_PLOT_NAMES = {"plot_loss", "plot_metrics", "curves_figure", "plot_lr", "plot_confusion_matrix", "compare", "plot_lines",
               "plot_contour", "figure_to_png", "save_figure", "new_figure"}

__all__ = ["unused_path", "atomic_open", "atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "CheckpointError", "load", "save", "append_jsonl", "as_columns", "as_rows", "read_history_csv",
           "read_jsonl", "write_history_csv", "write_jsonl", "Cell", "Report", "ReportContext", "ReportSection",
           *sorted(_PLOT_NAMES)]


def __getattr__(name):
    if name in _PLOT_NAMES:
        from . import plots
        return getattr(plots, name)
    raise AttributeError(f"module 'descend.io' has no attribute {name!r}")
