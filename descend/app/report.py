"""A run's plots and ``report.html``.

The report holds, in order: the final metrics, notes, the curves (loss, accuracy or the regression metrics,
learning rate), the confusion matrix (classification), the model summary, then the sections contributed
by the parts that own them, then the configuration. A contribution is a
:class:`descend.io.ReportSection` added to ``ctx.sections`` (and notes to ``ctx.notes``) by any callback
of the run that defines ``report_sections(ctx)``, ``ctx`` a :class:`descend.io.ReportContext` — e.g.
``descend.diagnose.HealthMonitor`` adds the training-health diagnosis. There is no global hook list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import Report, ReportContext
from .run_folder import PLOTS_DIR, REPORT_FILE

__all__ = ["write_plots_and_report", "collect_sections"]

_METRIC_COLUMNS = ("accuracy", "val_accuracy", "mae", "val_mae", "r2", "val_r2")


def collect_sections(ctx: ReportContext, parts=()) -> None:
    """Ask every part that defines ``report_sections(ctx)`` (callbacks of the run) for its sections."""
    for part in parts:
        if hasattr(type(part), "report_sections"):
            part.report_sections(ctx)


def _curves(ctx: ReportContext, pdir: Path) -> list:
    from ..io import plots
    history, images = ctx.history, []
    if history.epochs:
        images.append(("Loss", plots.plot_loss(history, pdir / "loss.png")))
        metric_names = [k for k in history.history if k in _METRIC_COLUMNS]
        if metric_names:
            name = "accuracy" if "accuracy" in metric_names else "metrics"
            images.append((name.capitalize(), plots.plot_metrics(history, pdir / f"{name}.png",
                                                                 metrics=metric_names, title=name.capitalize())))
        if "lr" in history.history:
            images.append(("Learning rate", plots.plot_lr(history, pdir / "lr.png", xlabel="epoch")))
    return images


def _confusion_matrix(ctx: ReportContext, pdir: Path):
    """The confusion matrix PNG on the test split (else validation) of a finished classification run."""
    from ..io import plots
    splits = ctx.data
    if splits is None or splits.task != "classification" or ctx.summary.get("interrupted"):
        return None
    x, y = (splits.x_test, splits.y_test) if splits.x_test is not None else (splits.x_val, splits.y_val)
    if x is None or not len(x):
        return None
    pred = np.asarray(ctx.trainer.predict(x)).argmax(axis=1)
    k = int(splits.num_outputs)
    cm = np.bincount(np.asarray(y) * k + pred, minlength=k * k).reshape(k, k)
    return plots.plot_confusion_matrix(cm, pdir / "confusion_matrix.png", class_names=splits.class_names)


def write_plots_and_report(ctx: ReportContext, callbacks=()) -> Path:
    """Write ``plots/*.png`` and ``report.html`` for a finished (or interrupted) run; ``callbacks`` are
    asked for their sections (:func:`collect_sections`)."""
    out = Path(ctx.out)
    pdir = out / PLOTS_DIR
    images = _curves(ctx, pdir)
    cm_path = _confusion_matrix(ctx, pdir)
    collect_sections(ctx, callbacks)

    report = Report(f"descend run: {out.name}", subtitle=_subtitle(ctx))
    report.section("Final metrics").kv(ctx.summary)
    if ctx.notes:
        report.section("Notes")
        for note in ctx.notes:
            report.note(note, level="warning" if "NaN" in note or "Interrupted" in note else "info")
    report.section("Curves")
    for caption, path in images:
        report.image(path, caption=caption)
    if cm_path is not None:
        report.section("Confusion matrix").image(cm_path, caption="rows: true class, columns: predicted class")
    report.section("Model").pre(_model_summary(ctx))
    for section in ctx.sections:
        report.add(section)
    report.section("Configuration").kv(ctx.config)
    return report.save(out / REPORT_FILE)


def _subtitle(ctx) -> str:
    s = ctx.summary
    return (f"{s.get('data')} ({s.get('task')}), {s.get('epochs')} epochs, {s.get('parameters')} parameters, "
            f"{s.get('wall_time_s', 0):.1f} s")


def _model_summary(ctx) -> str:
    model = ctx.model
    try:
        table = model.summary(tuple(ctx.data.input_shape), print_summary=False)
        return f"{model!r}\n\n{table}"
    except Exception:   # the summary is informative only; never fail a finished run over it
        return repr(model)
