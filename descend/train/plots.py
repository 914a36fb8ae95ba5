"""Curves of a training run as PNG files."""

from __future__ import annotations

import os


def plot_history(history, directory) -> dict:
    """Write ``loss.png`` (loss and val_loss), ``metrics.png`` (each metric with its ``val_`` version, when
    there are metrics) and ``lr.png`` (learning rate per epoch) into ``directory``; returns name → path.

    ``history`` is a :class:`~descend.train.History` (or anything ``descend.io.plots`` accepts).
    """
    from ..io import plots

    columns = history.history if hasattr(history, "history") else history
    directory = os.fspath(directory)
    written = {"loss": plots.plot_loss(history, os.path.join(directory, "loss.png"))}
    metric_names = [k for k in columns if "loss" not in k and k not in ("lr", "time", "epoch")
                    and all(isinstance(v, (int, float)) for v in columns[k])]
    if metric_names:
        written["metrics"] = plots.plot_metrics(history, os.path.join(directory, "metrics.png"), metrics=metric_names)
    if "lr" in columns:
        written["lr"] = plots.plot_lr(history, os.path.join(directory, "lr.png"), xlabel="epoch")
    return written
