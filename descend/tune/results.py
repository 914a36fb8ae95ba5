"""The results of a study, written to the tuning folder (every file atomically)::

    trials.csv      one row per trial: number, state, metric value, epochs run, the sampled config values
    best.toml       the best trial's complete config (no [tune] table): `descend train best.toml` reproduces it
    plots/          history.png (value per trial, best so far), importance.png (fANOVA parameter
                    importances), slices.png (value against each parameter), parallel.png (coordinates)
    report.html     best trial, trials table, plots and the study settings (:mod:`descend.tune.report`)

The plots are drawn with matplotlib from the trials table (Optuna's own matplotlib views need pyplot).
Only COMPLETE trials carry a final metric; pruned trials show their last reported value in the history.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..app.config import to_toml
from ..app.report_format import metric_label
from ..io import atomic_write_text
from .report import write_tune_report
from .space import TuneSettings, apply_params
from .storage import open_storage, redact

MIN_TRIALS_FOR_IMPORTANCE = 3


@dataclass
class TuneResult:
    """What :func:`run_study` returns: the best trial's complete config and metric, and where things are."""

    best_config: dict | None
    best_value: float | None
    metric: str
    direction: str
    best_trial: int | None
    best_params: dict
    out: Path
    study_name: str
    storage: str
    counts: dict = field(default_factory=dict)      # trial state -> number of trials
    notes: list = field(default_factory=list)

    def __repr__(self):
        value = "none" if self.best_value is None else f"{self.best_value:.6g}"
        return (f"TuneResult({self.metric} = {value} ({self.direction}) at trial {self.best_trial}, "
                f"params={self.best_params}, out={str(self.out)!r})")


def _state(t) -> str:
    return t.state.name


def trial_rows(study, s: TuneSettings) -> list[dict]:
    """One dict per trial, in trial-number order (config values, not Optuna labels)."""
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        row = {"trial": t.number, "state": _state(t), s.metric: t.value if t.values else None,
               "epochs": t.user_attrs.get("epochs", len(t.intermediate_values) or None)}
        for d in s.space:
            row[d.key] = d.value_of(t.params[d.key]) if d.key in t.params else None
        row["duration_s"] = round(t.duration.total_seconds(), 2) if t.duration is not None else None
        reason = t.user_attrs.get("fail_reason") or t.system_attrs.get("fail_reason") or ""
        row["note"] = " ".join(str(reason).split())[:120]
        rows.append(row)
    return rows


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def format_table(rows: list[dict]) -> str:
    """The trials as an aligned text table."""
    if not rows:
        return "(no trials)"
    cols = list(rows[0])
    table = [cols] + [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in table)


def write_trials_csv(path, rows: list[dict]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if rows:
        w.writerow(list(rows[0]))
        w.writerows([[_cell(v) for v in r.values()] for r in rows])
    return atomic_write_text(path, buf.getvalue())


def best_toml(base: dict, s: TuneSettings, trial, study_name: str) -> tuple[dict, str]:
    """(config, TOML text) of ``trial``: the base config with its sampled values set."""
    cfg = apply_params(base, {d.key: d.value_of(trial.params[d.key]) for d in s.space})
    head = [f"# best trial {trial.number} of study {study_name!r}: {s.metric} = {trial.value:.6g} ({s.direction})",
            "# retrain it with: descend train best.toml", ""]
    return cfg, "\n".join(head) + _loadable_toml(cfg)


def _loadable_toml(cfg: dict) -> str:
    """``to_toml(cfg)`` with the keys the config checks reject merely for being present commented out
    (``data.label_column`` without a CSV path; ``model.preset``/``model.hidden`` next to ``model.layers``):
    they hold their defaults and are unused, so the file loads back to the same config."""
    unused = set()
    if not str(cfg["data"]["path"]).lower().endswith(".csv"):
        unused.add(("data", "label_column"))
    if cfg["model"]["layers"]:
        unused |= {("model", "preset"), ("model", "hidden")}
    lines, section = [], ""
    for line in to_toml(cfg).splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif (section, line.split(" = ", 1)[0]) in unused and " = " in line:
            line = "# " + line + "    (unused here)"
        lines.append(line)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- plots
def _numeric(d, values) -> tuple[np.ndarray, list | None]:
    """Plot positions for a dimension's values (categorical: the index of each choice) and tick labels."""
    if d.type == "categorical":
        labels = [_cell(c) for c in d.choices]
        index = {json.dumps(c, sort_keys=True): i for i, c in enumerate(d.choices)}
        return np.array([index[json.dumps(v, sort_keys=True)] for v in values], float), labels
    return np.array(values, float), None


def plot_history(rows, s: TuneSettings, path):
    from ..io.plots import new_figure, save_figure
    fig, ax = new_figure()
    done = [(r["trial"], r[s.metric]) for r in rows if r["state"] == "COMPLETE"]
    if done:
        x, y = np.array(done, float).T
        ax.scatter(x, y, s=22, label="complete", zorder=3)
        best = np.minimum.accumulate(y) if s.direction == "minimize" else np.maximum.accumulate(y)
        ax.step(x, best, where="post", color="C3", label="best so far")
    pruned = [r["trial"] for r in rows if r["state"] == "PRUNED"]
    if pruned:
        ax.scatter(pruned, [np.nan] * len(pruned), s=0)
        for n in pruned:
            ax.axvline(n, color="0.8", lw=0.8, zorder=0)
        ax.plot([], [], color="0.8", label="pruned")
    ax.set(xlabel="trial", ylabel=metric_label(s.metric).lower(), title="Optimisation history")
    if done or pruned:
        ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def importances(study, s: TuneSettings):
    """fANOVA importances {key: share} of the complete trials, or (None, reason) when they cannot be had."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, (f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} complete trials "
                      f"(this study has {len(done)})")
    try:
        return get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0)), None
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return None, f"parameter importances unavailable: {' '.join(str(exc).split())[:200]}"


def plot_importance(imp: dict, path):
    from ..io.plots import new_figure, save_figure
    fig, ax = new_figure()
    names = list(imp)[::-1]
    ax.barh(names, [imp[n] for n in names], color="C0")
    ax.set(xlabel="importance (fANOVA share of variance)", title="Parameter importances")
    return save_figure(fig, path)


def plot_slices(rows, s: TuneSettings, path):
    from ..io.plots import new_figure, save_figure
    done = [r for r in rows if r["state"] == "COMPLETE"]
    k = len(s.space)
    fig, axes = new_figure(figsize=(min(3.2 * k, 12.8), 3.4), ncols=k)
    axes = np.atleast_1d(axes)
    y = np.array([r[s.metric] for r in done], float)
    for ax, d in zip(axes, s.space):
        x, labels = _numeric(d, [r[d.key] for r in done])
        ax.scatter(x, y, c=[r["trial"] for r in done], cmap="viridis", s=20)
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7)
        elif d.log:
            from matplotlib.ticker import NullFormatter
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())     # the minor labels overlap on a narrow panel
        ax.set_xlabel(d.key, fontsize=8)
    axes[0].set_ylabel(metric_label(s.metric).lower())
    fig.suptitle("Slices (colour: trial number)")
    return save_figure(fig, path)


def plot_parallel(rows, s: TuneSettings, path):
    from ..io.plots import new_figure, save_figure
    done = [r for r in rows if r["state"] == "COMPLETE"]
    fig, ax = new_figure(figsize=(max(6.4, 1.6 * (len(s.space) + 1)), 4.0))
    cols, ticks = [], []
    for d in s.space:
        x, labels = _numeric(d, [r[d.key] for r in done])
        if d.type != "categorical" and d.log:
            x = np.log10(x)
            lo, hi = math.log10(d.low), math.log10(d.high)
        elif labels is not None:
            lo, hi = 0.0, max(1.0, len(labels) - 1.0)
        else:
            lo, hi = float(d.low), float(d.high)
        cols.append((x - lo) / (hi - lo if hi > lo else 1.0))
        ticks.append(d.key)
    y = np.array([r[s.metric] for r in done], float)
    span = np.ptp(y) if len(y) else 0.0
    cols.append((y - y.min()) / span if len(y) and span > 0 else np.full(len(y), 0.5))
    ticks.append(s.metric)
    if done:
        data = np.stack(cols, axis=1)
        good = 1 - cols[-1] if s.direction == "minimize" else cols[-1]
        from matplotlib import colormaps
        cmap = colormaps["viridis"]
        for line, g in zip(data, good):
            ax.plot(range(len(ticks)), line, color=cmap(float(g)), alpha=0.8, lw=1.2)
    ax.set_xticks(range(len(ticks)), ticks, rotation=20, fontsize=8)
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_title("Parallel coordinates")
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------------- all of it
def write_results(study_name: str, url: str, base: dict, settings: TuneSettings, out, report: bool = True):
    """Write trials.csv, best.toml, plots/ and report.html for a study; returns a :class:`TuneResult`."""
    import optuna

    s, out = settings, Path(out)
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    rows = trial_rows(study, s)
    write_trials_csv(out / "trials.csv", rows)
    counts: dict = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    notes = []
    best_cfg = best_value = best_number = None
    best_params: dict = {}
    try:
        best = study.best_trial
    except ValueError:
        best = None
        notes.append("No trial completed, so there is no best config; see trials.csv for what failed.")
    if best is not None:
        best_cfg, text = best_toml(base, s, best, study_name)
        atomic_write_text(out / "best.toml", text)
        best_value, best_number = float(best.value), best.number
        best_params = {d.key: d.value_of(best.params[d.key]) for d in s.space}
    if not report:
        return TuneResult(best_cfg, best_value, s.metric, s.direction, best_number, best_params, out,
                          study_name, url, counts, notes)
    pdir = out / "plots"
    images = [("Optimisation history: the metric of each trial and the best so far",
               plot_history(rows, s, pdir / "history.png"), False)]
    imp, why = importances(study, s)
    if imp:
        images.append(("Parameter importances (fANOVA)", plot_importance(imp, pdir / "importance.png"), False))
    else:
        notes.append(why[0].upper() + why[1:] + ".")
    if counts.get("COMPLETE"):
        images.append(("Slices: the metric against each parameter", plot_slices(rows, s, pdir / "slices.png"),
                       len(s.space) > 2))
        images.append(("Parallel coordinates: one line per complete trial, yellow the best; each axis scaled to "
                       "its range (log axes in log10)", plot_parallel(rows, s, pdir / "parallel.png"),
                       len(s.space) > 2))
    name = base.get("name") if isinstance(base.get("name"), str) and base.get("name") else out.name
    write_tune_report(out / "report.html", title=f"Tuning {name}", s=s, rows=rows, counts=counts, best=best,
                      best_params=best_params, notes=notes, images=images, importances=imp, study_name=study_name,
                      storage=_safe_url(url))
    return TuneResult(best_cfg, best_value, s.metric, s.direction, best_number, best_params, out, study_name,
                      _safe_url(url), counts, notes)


def _safe_url(url: str) -> str:
    return redact(url)
