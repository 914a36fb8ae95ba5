"""A study's ``report.html``: the best trial at a glance, the trials table (best row highlighted), the
plots and the study's settings.

The trials table fits the page: its columns are headed by short names (a searched key's last part,
``optimizer.lr`` → ``lr``, unless two keys share it; the full key is the header's tooltip), numbers carry
3–4 significant digits, durations read ``1.3 s``, and on a narrow screen (a phone) the table scrolls
sideways inside its own box instead of widening the page.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

from ..app.report_format import format_duration, format_metric, format_number, metric_label
from ..io import Cell, Report
from .space import TuneSettings

__all__ = ["write_tune_report", "short_names", "trial_table"]

_METHODS = {"grid": "grid search", "random": "random search", "bayesian": "Bayesian search (TPE)",
            "gp": "Gaussian-process search"}


def short_names(keys) -> dict:
    """Column headers for dotted config keys: the last part of each key, or the whole key where two
    keys would share a last part (``{"optimizer.lr": "lr", "model.dropout": "dropout"}``)."""
    keys = list(keys)
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _value_text(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, numbers.Real):
        return f"{v:,}" if isinstance(v, numbers.Integral) else format_number(v, 3)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, separators=(",", ":"))       # no space: a short list never wraps
    return str(v)


def _short(x) -> str:
    """A range bound as written in a config: 0.0001, 0.03, 1e-5 (3 significant digits)."""
    return f"{x:.3g}".replace("e-0", "e-").replace("e+0", "e")


def trial_table(rows: list[dict], s: TuneSettings, best_number: int | None) -> tuple[list, dict, list]:
    """(rows of :class:`descend.io.Cell`, column headers, indices of the best row) for the trials table."""
    params = [d.key for d in s.space]
    headers = {"trial": "trial", "state": "state", s.metric: metric_label(s.metric), "epochs": "epochs",
               **short_names(params), "duration_s": "time", "note": "note"}
    out, best = [], []
    for i, r in enumerate(rows):
        is_best = r["trial"] == best_number
        cells = {"trial": Cell(f"{r['trial']} ★" if is_best else str(r["trial"]), hint="best trial" if is_best
                               else None, numeric=True),
                 "state": Cell(str(r["state"]).lower(), muted=r["state"] != "COMPLETE"),
                 s.metric: Cell(format_metric(s.metric, r[s.metric]), hint=None if r["state"] == "COMPLETE" else
                                "the last value reported" if r[s.metric] is not None else None, numeric=True),
                 "epochs": Cell(_value_text(r.get("epochs")), numeric=True)}
        for key in params:
            v = r.get(key)
            cells[key] = Cell(_value_text(v), hint=key, numeric=isinstance(v, numbers.Real)
                              and not isinstance(v, bool))
        d = r.get("duration_s")
        cells["duration_s"] = Cell(format_duration(d) if isinstance(d, (int, float)) else "—", numeric=True)
        cells["note"] = Cell(r.get("note") or "")
        out.append(cells)
        if is_best:
            best.append(i)
    if not any(r.get("note") for r in rows):
        headers.pop("note")
        for cells in out:
            cells.pop("note")
    return out, headers, best


def _space_rows(s: TuneSettings) -> list[dict]:
    rows = []
    for d in s.space:
        if d.type == "categorical":
            values = ", ".join(json.dumps(c) for c in d.choices)
            scale = "one of"
        else:
            values = f"{_short(d.low)} to {_short(d.high)}" + (f", step {_short(d.step)}" if d.step is not None else "")
            scale = "log" if d.log else "linear"
        rows.append({"parameter": d.key, "type": d.type, "values": values, "scale": scale})
    return rows


def write_tune_report(path, *, title: str, s: TuneSettings, rows: list, counts: dict, best, best_params: dict,
                      notes: list, images: list, importances: dict | None, study_name: str, storage: str) -> Path:
    """Write the study's report.html to ``path``; ``images`` are ``(caption, png, wide)`` with ``wide``
    plots (many panels) drawn at full width below the others."""
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    direction = "minimising" if s.direction == "minimize" else "maximising"
    rep = Report(title, subtitle=f"{_METHODS.get(s.method, s.method)} · {len(rows)} trials ({states}) · "
                                 f"{direction} {metric_label(s.metric).lower()} · study {study_name}")
    best_number = best.number if best is not None else None
    if best is not None:
        rep.stats([(f"Best {metric_label(s.metric).lower()}", format_metric(s.metric, best.value), s.metric),
                   ("Best trial", str(best_number)), ("Trials", f"{len(rows)}", states)], lead=True)
    rep.section("Best trial")
    if best is not None:
        rep.kv({"trial": best_number, metric_label(s.metric): Cell(format_metric(s.metric, best.value),
                                                                    hint=s.metric, numeric=True),
                **{k: Cell(_value_text(v), hint=k, numeric=isinstance(v, numbers.Real) and not isinstance(v, bool))
                   for k, v in best_params.items()},
                "run folder": Cell(str(best.user_attrs.get("run_dir", "")))})
        rep.note("Retrain it with `descend train best.toml`.", level="success")
    for note in notes:
        rep.note(note, level="warning")
    table, headers, marked = trial_table(rows, s, best_number)
    rep.section("Trials").table(table, columns=list(headers), headers=headers, highlight=marked,
                                caption="★ and the highlighted row: the best trial; pruned trials show the "
                                        "last value they reported")
    rep.section("Plots")
    rep.gallery([(caption, png) for caption, png, wide in images if not wide])
    for caption, png, wide in images:
        if wide:
            rep.image(png, caption=caption)
    if importances:
        rep.section("Importances").kv({k: Cell(f"{100 * v:.1f} %", hint=k, numeric=True)
                                       for k, v in importances.items()},
                                      caption="share of the metric's variance each parameter explains (fANOVA)")
    rep.section("Study settings").html("<div class=row><div>")
    rep.table(_space_rows(s), caption="search space")
    settings = {k: v for k, v in s.to_dict().items() if k != "space"}
    rep.html("</div><div>").kv({k: Cell(_value_text(v), hint=f"tune.{k}") for k, v in
                                {**settings, "storage": storage}.items()}, caption="[tune]").html("</div></div>")
    return rep.save(path)
