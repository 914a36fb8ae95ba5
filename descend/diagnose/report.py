"""Diagnosis of a run folder (``diagnose_run``), the health plots and the report section.

``diagnose_run(run_dir)`` reads ``history.csv``, ``health.csv`` (HealthMonitor) and ``divergence.json``
(DivergenceGuard) when present and returns the findings of :func:`descend.diagnose.diagnose`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import ReportSection, read_history_csv
from .detectors import diagnose, format_findings, layer_series
from .guard import EVENT_FILE
from .health import HEALTH_FILE, read_health


def load_run_health(run_dir):
    """(history rows, health records, divergence event or None) of a run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a folder; give a run folder written by `descend train`")
    hist_path, health_path, event_path = run_dir / "history.csv", run_dir / HEALTH_FILE, run_dir / EVENT_FILE
    if not hist_path.is_file() and not health_path.is_file() and not event_path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} holds no history.csv, {HEALTH_FILE} or {EVENT_FILE}; give a "
                                f"run folder written by `descend train`")
    history = read_history_csv(hist_path) if hist_path.is_file() else []
    records = read_health(health_path) if health_path.is_file() else []
    event = json.loads(event_path.read_text(encoding="utf-8")) if event_path.is_file() else None
    return history, records, event


def diagnose_run(run_dir) -> list:
    """The findings for a run folder, most severe first (see :func:`descend.diagnose.diagnose`)."""
    return diagnose(*load_run_health(run_dir))


def _legend_beside(ax, fontsize=8):
    """A legend to the right of the axes (constrained layout makes room), so it hides no curve; whole
    steps on the x axis."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_gradient_flow(records, path=None):
    """Gradient norm per layer against the step, log y (PNG bytes, or written to ``path``)."""
    from ..io.plots import new_figure, save_figure, style_axes
    fig, ax = new_figure(figsize=(6.4, 3.6), dpi=120)
    for i, (layer, (_, steps, values, kind)) in enumerate(layer_series(records, "grad_norm").items()):
        ok = np.isfinite(values) & (values > 0)
        ax.plot(steps[ok], values[ok], color=f"C{i % 10}", label=f"{layer} ({kind})", linewidth=1.2)
    ax.set_yscale("log")
    style_axes(ax, "Gradient flow", "step", "gradient norm ‖∇θ‖", legend=False)
    _legend_beside(ax)
    return save_figure(fig, path)


def plot_activations(records, path=None):
    """Activation mean and std per watched module against the step, and (when a module has any) the
    dead-ReLU / saturated fractions in a second panel."""
    from ..io.plots import new_figure, save_figure, style_axes
    fractions = [(f"{layer} ({kind}) {column}", steps, v)
                 for column in ("dead", "saturated")
                 for layer, (_, steps, v, kind) in layer_series(records, column).items()]
    if fractions:
        fig, (ax, ax2) = new_figure(figsize=(6.4, 5.6), dpi=120, nrows=2)
    else:
        fig, ax = new_figure(figsize=(6.4, 3.6), dpi=120)
    means, stds = layer_series(records, "act_mean"), layer_series(records, "act_std")
    for i, (layer, (_, steps, m, kind)) in enumerate(means.items()):
        s = stds[layer][2] if layer in stds else np.zeros_like(m)
        ax.plot(steps, m, color=f"C{i % 10}", label=f"{layer} ({kind})", linewidth=1.2)
        ax.plot(steps, s, color=f"C{i % 10}", linestyle="--", linewidth=1.2)
    style_axes(ax, "Activations: mean (solid), std (dashed)", "step", "activation", legend=False)
    _legend_beside(ax)
    if fractions:
        for j, (label, steps, v) in enumerate(fractions):
            ax2.plot(steps, v, color=f"C{j % 10}", label=label, linewidth=1.2)
        ax2.set_ylim(-0.02, 1.02)
        style_axes(ax2, "Dead ReLU / saturated fraction", "step", "fraction of units", legend=False)
        _legend_beside(ax2)
    return save_figure(fig, path)


def health_sections(ctx, records, event=None) -> None:
    """Append the "Training health" section (diagnosis, plots) to a report context
    (:class:`descend.io.ReportContext`: ``out``, ``history``, ``sections``, ``notes``)."""
    if event is None and (Path(ctx.out) / EVENT_FILE).is_file():
        event = json.loads((Path(ctx.out) / EVENT_FILE).read_text(encoding="utf-8"))
    findings = diagnose(ctx.history, records, event)
    images = []
    if records:
        pdir = Path(ctx.out) / "plots"
        images.append(("Gradient flow: gradient norm per layer (log scale)",
                       plot_gradient_flow(records, pdir / "gradient_flow.png")))
        images.append(("Activation statistics", plot_activations(records, pdir / "activations.png")))
    rows = [{"severity": f.severity, "finding": f.name.replace("_", " "), "layers": ", ".join(map(str, f.layers)),
             "what was seen": f.message, "what to try": "; ".join(f.remedies)} for f in findings] or None
    worst = max((f.level for f in findings), default=0)
    problems = [f.name.replace("_", " ") for f in findings if f.level > 0]
    if worst == 0:
        lead = ("success", format_findings(findings).splitlines()[0])
    else:
        lead = ("error" if worst == 2 else "warning",
                f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found: {', '.join(problems)} (below).")
    ctx.sections.append(ReportSection("Training health (descend doctor)", lead=lead, images=images, rows=rows))
    for f in findings:
        if f.level >= 2:
            ctx.notes.append(f"Diagnosis: {f.name}: {f.message}")
