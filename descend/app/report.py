"""A run's plots and ``report.html``: a page a person can send to a colleague.

The report holds, in order: a header (the run's name; its task, data set, epochs, size and time; the
headline metric at a glance), the final metrics (one row per metric, one column per split, with units:
:mod:`descend.app.report_format`), notes, the curves side by side (loss named by the task's loss,
accuracy or the regression metrics, the learning rate, or a sentence when it was constant), the confusion
matrix (classification), the model summary, then the sections contributed by the parts that own them,
then the configuration (the settings that differ from the defaults; every setting folded away). A contribution is a
:class:`descend.io.ReportSection` added to ``ctx.sections`` (and notes to ``ctx.notes``) by any callback
of the run that defines ``report_sections(ctx)``, ``ctx`` a :class:`descend.io.ReportContext` — e.g.
``descend.diagnose.HealthMonitor`` adds the training-health diagnosis. There is no global hook list.

Every raw ``summary.json`` key stays on the page as the tooltip of the value it labels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..io import Cell, Report, ReportContext
from .config import default_config
from .report_format import (SPLITS, format_duration, format_metric, headline_key, loss_name, metric_label,
                            lr_statement, split_key)
from .run_folder import PLOTS_DIR, REPORT_FILE

__all__ = ["write_plots_and_report", "collect_sections", "run_name", "task_title", "REPORT_FIGSIZE", "REPORT_DPI"]

#: Size of the report's curve plots: 5 × 3.2 inches at 150 dpi (750 × 480 pixels), drawn at about
#: half a page's width, so the text in them reads at the page's own size.
REPORT_FIGSIZE = (5.0, 3.2)
REPORT_DPI = 150
_SEQUENCE_PRESETS = ("rnn", "lstm", "gru", "transformer")
_LEGEND = {"loss": "training", "val_loss": "validation", "accuracy": "training", "val_accuracy": "validation",
           "mae": "training", "val_mae": "validation", "r2": "training", "val_r2": "validation"}
_RUN_FACTS = ("epochs", "parameters", "train_samples", "train_time_s", "wall_time_s", "stopped_early",
              "interrupted", "diverged")
_WARNING_WORDS = ("NaN", "Interrupted", "Diagnosis:", "diverged")      # a note holding one is a warning


def collect_sections(ctx: ReportContext, parts=()) -> None:
    """Ask every part that defines ``report_sections(ctx)`` (callbacks of the run) for its sections."""
    for part in parts:
        if hasattr(type(part), "report_sections"):
            part.report_sections(ctx)


def run_name(ctx: ReportContext) -> str:
    """The run's config ``name`` when set, else its folder's name."""
    name = (ctx.config or {}).get("name", "")
    return name.strip() if isinstance(name, str) and name.strip() else Path(ctx.out).name


def task_title(task: str | None, preset: str | None = None) -> str:
    """'Classification', 'Sequence classification' (a recurrent or attention preset), 'Regression',
    'Character-level language model'."""
    if task == "language-model":
        return "Character-level language model"
    if task == "classification" and preset in _SEQUENCE_PRESETS:
        return "Sequence classification"
    return str(task or "run").capitalize()


# ------------------------------------------------------------------------------------------- curves
def _column(history, key):
    col = history.history.get(key) if history is not None and hasattr(history, "history") else None
    return list(col) if col else []


def _loss_figure(history, task):
    from ..io.plots import curves_figure
    names = [k for k in ("loss", "val_loss") if _column(history, k)]
    unit = " (nats/char)" if task == "language-model" else ""
    fig = curves_figure(history, names, title="Loss", ylabel=f"{loss_name(task)}{unit}", labels=_LEGEND,
                        figsize=REPORT_FIGSIZE, dpi=REPORT_DPI)
    if task == "language-model":      # the same curve read in bits: bits = nats / ln 2
        ax = fig.axes[0]
        ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2))) \
            .set_ylabel("bits per character")
    return fig


def _curves(ctx: ReportContext, pdir: Path, task) -> tuple[list, str | None]:
    """([(caption, png path)], the learning-rate sentence when the rate was constant, else None)."""
    from ..io import plots
    history, images, lr_text = ctx.history, [], None
    if not (history is not None and getattr(history, "epochs", None)):
        return images, lr_text
    if _column(history, "loss") or _column(history, "val_loss"):
        caption = f"Loss ({loss_name(task)}) per epoch: training solid, validation dashed"
        images.append((caption, plots.save_figure(_loss_figure(history, task), pdir / "loss.png")))
    panels = {"accuracy": ("Accuracy", "accuracy", "accuracy.png"),
              "mae": ("Mean absolute error", "mean absolute error", "mae.png"),
              "r2": ("R² (coefficient of determination)", "R²", "r2.png")}
    for base, (title, ylabel, file) in panels.items():
        names = [k for k in (base, f"val_{base}") if _column(history, k)]
        if names:
            fig = plots.curves_figure(history, names, title=title, ylabel=ylabel, labels=_LEGEND,
                                      percent=base == "accuracy", figsize=REPORT_FIGSIZE, dpi=REPORT_DPI)
            images.append((f"{title} per epoch", plots.save_figure(fig, pdir / file)))
    lrs = _column(history, "lr")
    if lrs:                 # plots/lr.png always; the report shows a constant rate as a sentence instead
        lr_png = plots.plot_lr(history, pdir / "lr.png", xlabel="epoch", title="Learning rate",
                               figsize=REPORT_FIGSIZE, dpi=REPORT_DPI)
        lr_text = lr_statement(lrs)
        if lr_text is None:
            schedule = ((ctx.config or {}).get("schedule") or {}).get("name") or "schedule"
            images.append((f"Learning rate at the start of each epoch ({schedule})", lr_png))
    return images, lr_text


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
    split = "test" if splits.x_test is not None else "validation"
    return plots.plot_confusion_matrix(cm, pdir / "confusion_matrix.png", class_names=splits.class_names,
                                       title=f"Confusion matrix ({split} split, {len(y):,} samples)")


# ------------------------------------------------------------------------------------------- tables
def _metric_rows(summary: dict, history, task) -> list[dict]:
    """One row per metric (loss first), one cell per split; the training metrics other than the loss
    are the last epoch's running values from the history."""
    bases = []
    for key in summary:
        split, base = split_key(key)
        if split is not None and base not in bases and not key.endswith("_time_s") and key != "train_samples":
            bases.append(base)
    for base in ("accuracy", "mae", "r2"):
        if _column(history, base) and base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: (b != "loss", b == "bits_per_char"))
    rows = []
    for base in bases:
        label = metric_label(base)
        if base == "loss":
            label = f"Loss ({loss_name(task)}{', nats/char' if task == 'language-model' else ''})"
        elif base == "bits_per_char":
            label = "Bits per character"
        row = {"metric": label}
        for split, title in SPLITS.items():
            key = f"{split}_{base}"
            value, hint = summary.get(key), key
            if value is None and split == "train" and _column(history, base):
                value, hint = float(_column(history, base)[-1]), f"{base}, last epoch of history.csv"
            if value is not None:
                row[title] = Cell(format_metric(key, value, task, unit=False), hint=hint, numeric=True)
        rows.append(row)
    return rows


def _facts(summary: dict, ctx) -> dict:
    facts = {}
    for key in _RUN_FACTS:
        if key in summary and (key != "diverged" or summary[key]):
            text = format_metric(key, summary[key])
            if key == "stopped_early" and summary[key]:
                text += f" (patience {ctx.config['train']['early_stopping_patience']})"
            facts[metric_label(key)] = Cell(text, hint=key, numeric=isinstance(summary[key], (int, float))
                                            and not isinstance(summary[key], bool))
    return facts


def _toml_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (str, list, dict)):
        return json.dumps(value)
    return str(value)


def _configuration(report: Report, cfg: dict) -> None:
    """The settings that differ from the defaults as one table, then every setting (folded away) as one
    small table per TOML table, side by side, the defaults greyed."""
    try:
        defaults = default_config()
    except Exception:       # informative only
        defaults = {}
    groups = {"run": {k: v for k, v in cfg.items() if not isinstance(v, dict)}}
    groups.update({k: v for k, v in cfg.items() if isinstance(v, dict)})
    changed, tables = {}, {}
    for group, table in groups.items():
        base = defaults if group == "run" else defaults.get(group, {})
        cells = {}
        for key, value in table.items():
            dotted = key if group == "run" else f"{group}.{key}"
            default = key in base and base[key] == value
            cells[key] = Cell(_toml_text(value), hint=dotted, muted=default)
            if not default:
                changed[dotted] = Cell(_toml_text(value), hint=f"default: {_toml_text(base[key])}"
                                       if key in base else "no default")
        tables[group] = cells
    if changed:
        report.kv(changed, caption="Settings that differ from the defaults (as in config.toml)")
    else:
        report.text("Every setting is the default.")
    report.html("<details><summary>Every setting (greyed: the default)</summary><div class=grid>")
    for group, cells in tables.items():
        report.html("<div>").kv(cells, caption=group if group == "run" else f"[{group}]").html("</div>")
    report.html("</div></details>")


# ------------------------------------------------------------------------------------------- the report
def write_plots_and_report(ctx: ReportContext, callbacks=()) -> Path:
    """Write ``plots/*.png`` and ``report.html`` for a finished (or interrupted) run; ``callbacks`` are
    asked for their sections (:func:`collect_sections`)."""
    out = Path(ctx.out)
    pdir = out / PLOTS_DIR
    s = ctx.summary
    task = s.get("task") or getattr(ctx.data, "task", None)
    images, lr_text = _curves(ctx, pdir, task)
    cm_path = _confusion_matrix(ctx, pdir)
    collect_sections(ctx, callbacks)

    report = Report(run_name(ctx), subtitle=_subtitle(ctx, task))
    report.stats(_glance(s, task), lead=headline_key(s, task) is not None)
    report.section("Final metrics").html("<div class=row><div>")
    report.table(_metric_rows(s, ctx.history, task), columns=["metric", *SPLITS.values()], row_headers=True,
                 headers={"metric": ""}, caption="Metrics at the end of training")
    report.html("</div><div>").kv(_facts(s, ctx), caption="The run").html("</div></div>")
    notes = list(ctx.notes)
    if s.get("divergence") and not any("diverged" in n for n in notes):
        notes.insert(0, f"Training {s['divergence']}.")
    if notes:
        report.section("Notes")
        for note in notes:
            report.note(note, level="warning" if any(w in note for w in _WARNING_WORDS) else "info")
    report.section("Curves")
    if lr_text:
        report.note(lr_text, level="info")
    report.gallery(images)
    if cm_path is not None:
        report.section("Confusion matrix").gallery([("rows: true class, columns: predicted class", cm_path)])
    report.section("Model").pre(_model_summary(ctx))
    for section in ctx.sections:
        report.add(section)
    report.section("Configuration")
    _configuration(report, ctx.config or {})
    return report.save(out / REPORT_FILE)


def _glance(s: dict, task) -> list:
    """The header's figures: the headline metric first, then the test (else validation) loss, the
    validation twin of the headline, and the epochs."""
    items = []
    key = headline_key(s, task)
    if key is not None:
        items.append((metric_label(key), format_metric(key, s[key], task), key))
        _, base = split_key(key)
        for other in (f"val_{base}" if key.startswith("test_") else None,
                      next((k for k in ("test_loss", "val_loss", "train_loss") if s.get(k) is not None), None)):
            if other and other != key and s.get(other) is not None:
                items.append((metric_label(other), format_metric(other, s[other], task), other))
    if task == "regression" and s.get("test_mae") is not None:
        items.insert(1, (metric_label("test_mae"), format_metric("test_mae", s["test_mae"], task), "test_mae"))
    if s.get("epochs") is not None:
        items.append(("Epochs", format_metric("epochs", s["epochs"]), "epochs"))
    return items


def _subtitle(ctx, task) -> str:
    s = ctx.summary
    preset = ((ctx.config or {}).get("model") or {}).get("preset")
    data = (ctx.config or {}).get("data") or {}
    name = Path(str(data["path"])).name if data.get("path") else data.get("name") or s.get("data")
    epochs = s.get("epochs")
    parts = [f"{task_title(task, preset)} on {name}",
             f"{format_metric('epochs', epochs)} epoch{'' if epochs == 1 else 's'}"]
    if s.get("parameters") is not None:
        parts.append(f"{format_metric('parameters', s['parameters'])} parameters")
    if isinstance(s.get("wall_time_s"), (int, float)) and math.isfinite(s["wall_time_s"]):
        parts.append(f"{format_duration(s['wall_time_s'])} in all")
    return " · ".join(parts)


def _model_summary(ctx) -> str:
    model = ctx.model
    try:
        table = model.summary(tuple(ctx.data.input_shape), print_summary=False)
        return f"{model!r}\n\n{table}"
    except Exception:   # the summary is informative only; never fail a finished run over it
        return repr(model)

