"""Training plots as PNG files or PNG bytes, drawn with matplotlib's Agg renderer.

Figures are built as ``matplotlib.figure.Figure`` objects attached to a ``FigureCanvasAgg`` — pyplot
is never imported, so no global state (backend, current figure) is touched and nothing needs a display.

Every function takes ``path=None``: with a path it writes the PNG atomically and returns the
``Path``; without one it returns the PNG ``bytes`` (for embedding in a report). Size is
``figsize`` inches × ``dpi`` (default 6.4 × 4.0 at 100 dpi → 640 × 400 pixels), exactly.

A *history* is anything with per-epoch columns: a ``descend.train.History`` (its ``.history`` dict and
``.epochs``), a dict name → list of values (Keras' ``History.history``), or a list of per-epoch dicts
(``History.to_rows()``, :func:`descend.io.history.read_history_csv`).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .atomic import atomic_write_bytes

__all__ = ["plot_loss", "plot_metrics", "plot_lr", "plot_confusion_matrix", "compare", "compare_figure", "plot_lines",
           "plot_contour", "figure_to_png", "save_figure", "new_figure"]

FIGSIZE = (6.4, 4.0)
DPI = 100
_NON_METRICS = {"epoch", "epochs", "lr", "time", "step", "steps", "batch"}


# --------------------------------------------------------------------------------------- helpers
def new_figure(figsize=FIGSIZE, dpi: int = DPI, nrows: int = 1, ncols: int = 1):
    """A fresh ``(Figure, axes)`` pair on an Agg canvas (constrained layout; no pyplot)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def figure_to_png(fig) -> bytes:
    """Render a matplotlib Figure to PNG bytes (at the figure's own size and dpi)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def save_figure(fig, path=None):
    """PNG bytes of ``fig`` if ``path`` is None, else write them atomically to ``path`` and return it."""
    png = figure_to_png(fig)
    if path is None:
        return png
    return atomic_write_bytes(path, png)


def _columns(history) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """(epochs or None, name → float64 column) from any supported history shape."""
    epochs = None
    if hasattr(history, "history") and isinstance(history.history, dict):
        epochs = getattr(history, "epochs", None)
        history = history.history
    if isinstance(history, (list, tuple)):
        if not all(isinstance(r, dict) for r in history):
            raise TypeError("a history given as a list must hold one dict per epoch")
        names = list(dict.fromkeys(k for row in history for k in row))
        history = {k: [row.get(k) for row in history] for k in names}
    if not isinstance(history, dict):
        raise TypeError(f"history must be a History, a dict name -> values or a list of per-epoch dicts, "
                        f"got {type(history).__name__}")
    cols = {}
    for name, values in history.items():
        try:
            cols[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64).ravel()
        except (TypeError, ValueError):
            continue   # non-numeric column (a note, a name): not plottable
    if epochs is None and "epoch" in cols:
        epochs = cols.pop("epoch")
    cols.pop("epoch", None)
    return (None if epochs is None else np.asarray(epochs, dtype=np.float64)), cols


def _x_for(epochs, n):
    """x positions of per-epoch values, counted from 1 as the progress bar counts (histories store 0-based)."""
    if epochs is not None and len(epochs) == n:
        return epochs + 1
    return np.arange(1, n + 1, dtype=np.float64)


def _require(cols, names, what):
    missing = [n for n in names if n not in cols]
    if missing:
        raise KeyError(f"{what}: history has no {missing}; it recorded {sorted(cols)}")


def _auto_log(values) -> bool:
    """Log scale when all finite values are positive and span more than a factor of 20."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return v.size > 1 and bool(np.all(v > 0)) and v.max() / v.min() > 20


def style_axes(ax, title, xlabel, ylabel, legend=True, legend_fontsize=None):
    """The look every descend plot shares: title, labels, light grid, a frameless legend when labelled."""
    if xlabel == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=legend_fontsize)


# --------------------------------------------------------------------------------------- curves
def plot_loss(history, path=None, *, title: str = "Loss", logy: bool = False, figsize=FIGSIZE, dpi: int = DPI):
    """Training and validation loss per epoch: every column whose name contains 'loss'
    (``loss`` solid, ``val_loss`` dashed in the same colour)."""
    epochs, cols = _columns(history)
    names = [n for n in cols if "loss" in n]
    if not names:
        raise KeyError(f"plot_loss: history has no loss column; it recorded {sorted(cols)}")
    return _pairs_figure(epochs, names, cols, path, title, "loss", logy, figsize, dpi)


def plot_metrics(history, path=None, *, metrics=None, title: str = "Metrics", logy: bool = False,
                 figsize=FIGSIZE, dpi: int = DPI):
    """Metric curves per epoch (default: every column that is not a loss, ``lr``, ``time`` or ``epoch``);
    a metric and its ``val_`` version share a colour (train solid, validation dashed)."""
    epochs, cols = _columns(history)
    if metrics is None:
        names = [n for n in cols if "loss" not in n and n not in _NON_METRICS]
        if not names:
            raise KeyError(f"plot_metrics: history has no metric columns; it recorded {sorted(cols)}")
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        _require(cols, names, "plot_metrics")
    return _pairs_figure(epochs, names, cols, path, title, "value", logy, figsize, dpi)


def _pairs_figure(epochs, names, cols, path, title, ylabel, logy, figsize, dpi):
    fig, ax = new_figure(figsize, dpi)
    colours = {}
    for name in names:
        base = name[4:] if name.startswith("val_") else name
        if base not in colours:
            colours[base] = f"C{len(colours) % 10}"
        y = cols[name]
        ax.plot(_x_for(epochs, len(y)), y, color=colours[base], linestyle="--" if name.startswith("val_") else "-",
                marker="o" if len(y) <= 30 else None, markersize=3, label=name)
    if logy:
        ax.set_yscale("log")
    style_axes(ax, title, "epoch", ylabel)
    return save_figure(fig, path)


def plot_lr(lrs, path=None, *, logy: bool | None = None, xlabel: str = "step", title: str = "Learning rate",
            figsize=FIGSIZE, dpi: int = DPI):
    """Learning rate against step (or epoch). ``lrs`` is a sequence of rates or a history with an ``lr``
    column (then x is the epoch). ``logy=None`` picks a log axis when the rates are positive and span
    more than a factor of 20 (a warm-up from ~0, a range test)."""
    x = None
    if isinstance(lrs, (dict, list, tuple)) or hasattr(lrs, "history"):
        if isinstance(lrs, (list, tuple)) and (not lrs or not isinstance(lrs[0], dict)):
            y = np.asarray(lrs, dtype=np.float64)
        else:
            epochs, cols = _columns(lrs)
            _require(cols, ["lr"], "plot_lr")
            y = cols["lr"]
            x = _x_for(epochs, len(y))
            xlabel = "epoch" if xlabel == "step" else xlabel
    else:
        y = np.asarray(lrs, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("plot_lr: no learning rates to plot")
    x = np.arange(y.size, dtype=np.float64) if x is None else x
    fig, ax = new_figure(figsize, dpi)
    ax.plot(x, y, color="C0", label="lr")
    if (_auto_log(y) if logy is None else logy):
        ax.set_yscale("log")
    style_axes(ax, title, xlabel, "learning rate", legend=False)
    return save_figure(fig, path)


_RUN_STYLES = ("-", "--", ":", "-.")


def compare_figure(runs: dict, metrics=("val_loss",), *, title: str | None = None, logy: bool = False,
                   figsize=FIGSIZE, dpi: int = DPI):
    """The overlay as a ``Figure``: for run i (colour ``C{i}``) one line per column of ``metrics``
    (line style ``-``, ``--``, ``:``, ``-.`` in that order), labelled ``"<run> <column>"``.

    ``runs`` maps a run name to its history. The first metric must exist in every run; the others
    are drawn where a run recorded them (a run without validation data has no ``val_loss``).
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("compare needs a non-empty dict run name -> history")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics or not all(isinstance(m, str) for m in metrics) or len(metrics) > len(_RUN_STYLES):
        raise ValueError(f"metrics must be 1 to {len(_RUN_STYLES)} column names, got {metrics!r}")
    fig, ax = new_figure(figsize, dpi)
    for i, (name, history) in enumerate(runs.items()):
        epochs, cols = _columns(history)
        _require(cols, metrics[:1], f"compare: run {name!r}")
        for style, metric in zip(_RUN_STYLES, metrics):
            if metric in cols:
                y = cols[metric]
                label = str(name) if len(metrics) == 1 else f"{name} {metric}"
                ax.plot(_x_for(epochs, len(y)), y, color=f"C{i % 10}", linestyle=style, label=label)
    if logy:
        ax.set_yscale("log")
    style_axes(ax, title or f"{' / '.join(metrics)} by run", "epoch", " / ".join(metrics))
    return fig


def compare(runs: dict, metric: str = "val_loss", path=None, *, metrics=None, title: str | None = None,
            logy: bool = False, figsize=FIGSIZE, dpi: int = DPI):
    """Overlay one metric (or several: ``metrics``, e.g. ``["loss", "val_loss"]``, solid then dashed)
    from several runs in one PNG; ``runs`` maps a run name to its history (see :func:`compare_figure`)."""
    fig = compare_figure(runs, [metric] if metrics is None else metrics, title=title, logy=logy,
                         figsize=figsize, dpi=dpi)
    return save_figure(fig, path)


def plot_lines(x, ys, path=None, *, logx: bool = False, logy: bool = False, xlabel: str = "x", ylabel: str = "y",
               title: str = "", vlines: dict | None = None, figsize=FIGSIZE, dpi: int = DPI):
    """A generic line plot: ``ys`` is one sequence or a dict label → sequence, all the length of ``x``.

    ``vlines`` maps a label to an x position to mark with a vertical dotted line (e.g. the learning
    rate a range test suggests). ``logx`` for a learning-rate axis.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    series = ys if isinstance(ys, dict) else {ylabel: ys}
    fig, ax = new_figure(figsize, dpi)
    for i, (label, y) in enumerate(series.items()):
        y = np.asarray(y, dtype=np.float64).ravel()
        if y.shape != x.shape:
            raise ValueError(f"plot_lines: series {label!r} has {y.size} values but x has {x.size}")
        ax.plot(x, y, color=f"C{i % 10}", label=str(label))
    for j, (label, xv) in enumerate((vlines or {}).items()):
        ax.axvline(float(xv), color=f"C{(len(series) + j) % 10}", linestyle=":", label=f"{label} = {float(xv):.3g}")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    style_axes(ax, title, xlabel, ylabel, legend=len(series) > 1 or bool(vlines))
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------- matrices
def plot_confusion_matrix(cm, path=None, *, class_names=None, normalize: bool = False,
                          title: str = "Confusion matrix", figsize=(5.6, 5.0), dpi: int = DPI):
    """Confusion matrix ``cm[true, predicted]`` as a heat map with the count in every cell.

    ``normalize=True`` colours by the row fraction (recall per class) and prints ``count`` and the
    percentage. Cell labels are skipped beyond 30 classes (they would not be readable).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (classes, classes), got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names but the matrix has {k} classes")
    counts = cm.astype(np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    shown = frac if normalize else counts
    fig, ax = new_figure(figsize, dpi)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(shown.max(), 1))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(np.arange(k), labels=names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_yticks(np.arange(k), labels=names)
    if k <= 30:
        threshold = (1 if normalize else max(shown.max(), 1)) / 2
        is_int = np.issubdtype(cm.dtype, np.integer) or np.all(counts == np.round(counts))
        for i in range(k):          # k² text labels: a drawing loop, not a data path
            for j in range(k):
                label = f"{int(counts[i, j])}" if is_int else f"{counts[i, j]:.3g}"
                if normalize:
                    label += f"\n{100 * frac[i, j]:.0f}%"
                ax.text(j, i, label, ha="center", va="center", fontsize=8 if k <= 12 else 6,
                        color="white" if shown[i, j] > threshold else "black")
    ax.set_title(title)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return save_figure(fig, path)


def plot_contour(f, trajectories: dict | None = None, path=None, *, xlim=None, ylim=None, resolution: int = 200,
                 levels: int = 30, log_levels: bool = True, title: str = "", figsize=(6.4, 5.2), dpi: int = DPI):
    """Contours of ``f(x, y)`` with optimiser trajectories drawn on top.

    ``f`` is called once on the 2-D grid arrays ``(X, Y)`` (it should broadcast, like ``x**2 + y**2``;
    a Tensor result is accepted); if that raises ``TypeError``/``ValueError`` or does not return one
    value per grid point, ``f`` is called point by point with floats instead (slower).
    ``trajectories`` maps a name to a ``(T, 2)`` array of visited points (start ``o``, end ``*``).
    Without ``xlim``/``ylim`` the window fits the trajectories with a 10 % margin ((-2, 2) if none).
    ``log_levels`` spaces the levels geometrically above the minimum, which shows the floor of a
    narrow valley (Rosenbrock) that linear levels hide.
    """
    trajectories = dict(trajectories or {})
    paths = {}
    for name, t in trajectories.items():
        t = np.asarray(getattr(t, "array", t), dtype=np.float64)
        if t.ndim != 2 or t.shape[1] != 2:
            raise ValueError(f"trajectory {name!r} must have shape (T, 2), got {t.shape}")
        paths[name] = t
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    pts = np.concatenate(list(paths.values())) if paths else np.zeros((0, 2))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    xlim = _window(xlim, pts[:, 0])
    ylim = _window(ylim, pts[:, 1])
    X, Y = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    try:
        Z = f(X, Y)
        Z = np.asarray(getattr(Z, "array", Z), dtype=np.float64)
    except (TypeError, ValueError):   # f takes scalars only
        Z = None
    if Z is None or Z.shape != X.shape:
        Z = np.vectorize(lambda a, b: _scalar(f(float(a), float(b))), otypes=[np.float64])(X, Y)
    finite = np.isfinite(Z)
    if not finite.any():
        raise ValueError("plot_contour: f is not finite anywhere on the grid")
    fig, ax = new_figure(figsize, dpi)
    if log_levels:
        lo = Z[finite].min()
        shifted = np.where(finite, Z - lo, np.nan)
        top = max(np.nanmax(shifted), 1e-12)
        floor = max(top * 1e-6, np.nanmin(shifted[shifted > 0]) if (shifted > 0).any() else top * 1e-6)
        ax.contour(X, Y, shifted + floor, levels=np.geomspace(floor, top + floor, levels),
                        cmap="viridis", linewidths=0.8)
    else:
        ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.8)
    for i, (name, t) in enumerate(paths.items()):
        c = f"C{(i + 1) % 10}"
        ax.plot(t[:, 0], t[:, 1], color=c, linewidth=1.2, marker=".", markersize=3, label=str(name))
        ax.plot(t[:1, 0], t[:1, 1], "o", color=c, markersize=6)
        ax.plot(t[-1:, 0], t[-1:, 1], "*", color=c, markersize=10)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    style_axes(ax, title, "x", "y", legend=bool(paths))
    return save_figure(fig, path)


def _scalar(v) -> float:
    return float(np.asarray(getattr(v, "array", v)))


def _window(lim, values):
    if lim is not None:
        lo, hi = map(float, lim)
        if not hi > lo:
            raise ValueError(f"axis limits must satisfy low < high, got {lim}")
        return lo, hi
    if values.size == 0:
        return -2.0, 2.0
    lo, hi = float(values.min()), float(values.max())
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad

