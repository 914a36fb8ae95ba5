"""Detectors: pure functions of (history, health records) returning :class:`Finding` objects.

``history``: per-epoch columns (a ``History``, a dict name → list, or a list of per-epoch dicts) with
``loss`` and optionally ``val_loss``. ``records``: the HealthMonitor's rows (one per sampled step and
layer). ``event``: a DivergenceGuard event dict, or None. Each detector returns a list of findings;
:func:`diagnose` runs them all and sorts the findings by severity.

Thresholds (calibrated so that well-set runs on digits raise nothing above ``info``):

* vanishing gradients: a weight layer's median gradient norm below ``1e-3 ×`` the last weight layer's
  (``error`` below ``1e-5 ×``), or every gradient norm below 1e-8;
* exploding gradients: any non-finite gradient norm (``error``), or the median global gradient norm of
  the last third of the samples more than 100× that of the first third and above 10;
* divergence: a DivergenceGuard event, a non-finite epoch loss, or the last ``val_loss`` above 4× its best;
* dead ReLUs: median dead fraction over the second half of the samples ≥ 0.5 (``error`` ≥ 0.9);
* saturation: median saturated fraction over the second half ≥ 0.5;
* plateau: the best ``val_loss`` (or ``loss``) of the last ``5`` epochs improves on the best before by
  less than 1 %, with neither loss near zero;
* overfitting: ``val_loss`` 20 % (and 2 % of the first epoch's) above its best, at least 2 epochs after
  the best, while the training loss kept falling;
* underfitting: after 3 or more epochs the training loss is still above 70 % of the first epoch's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

SEVERITIES = ("info", "warning", "error")


@dataclass
class Finding:
    """One diagnosis: ``name``, ``severity`` ('info' | 'warning' | 'error'), the ``layers`` concerned,
    the ``evidence`` (numbers), a one-line ``message`` and the ``remedies`` to try."""

    name: str
    severity: str
    message: str
    layers: list = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    remedies: list = field(default_factory=list)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def level(self) -> int:
        return SEVERITIES.index(self.severity)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        lines = [f"[{self.severity.upper()}] {self.name}: {self.message}"]
        if self.layers:
            lines.append(f"    layers: {', '.join(map(str, self.layers))}")
        if self.evidence:
            lines.append("    evidence: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in self.evidence.items()))
        for r in self.remedies:
            lines.append(f"    - {r}")
        return "\n".join(lines)


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


REMEDIES = {
    "vanishing_gradients": ["use non-saturating activations (ReLU, LeakyReLU, GELU) instead of sigmoid/tanh",
                            "initialise with He (kaiming) initialisation, scaled to the fan-in",
                            "add batch normalisation after the hidden layers",
                            "add residual connections (x + F(x)) so gradients skip layers"],
    "exploding_gradients": ["clip gradients (train.clip_grad_norm = 1.0)", "lower the learning rate",
                            "add normalisation (batch or layer norm)",
                            "initialise weights scaled to fan-in/fan-out (He or Glorot)"],
    "divergence": ["lower the learning rate (a tenth of the current one, or the lr range test's suggestion: "
                   "`descend lr-find`)", "clip gradients (train.clip_grad_norm = 1.0)",
                   "add a learning-rate warm-up (schedule.warmup_epochs)"],
    "dead_relus": ["lower the learning rate", "use LeakyReLU/ELU/GELU, which pass a gradient for x < 0",
                   "initialise biases at 0 (not negative) and weights with He initialisation",
                   "add batch normalisation before the activation"],
    "saturation": ["use ReLU-family activations", "initialise with Glorot (xavier) scaling so pre-activations "
                   "stay near 0", "add batch normalisation before the activation", "lower the learning rate"],
    "plateau": ["use a schedule (step, cosine) or reduce-on-plateau (schedule.name = 'plateau')",
                "use momentum or Adam, which carry through flat regions and past saddle points",
                "try a higher learning rate (see `descend lr-find`)"],
    "overfitting": ["add regularisation (optimizer.weight_decay)", "add dropout (model.dropout)",
                    "use early stopping (train.early_stopping_patience)",
                    "augment the data (data.augment) or get more of it"],
    "underfitting": ["use a bigger model (more or wider layers)", "raise the learning rate (see `descend lr-find`)",
                     "train longer", "reduce regularisation (weight decay, dropout)"],
}


# --------------------------------------------------------------------------------------- helpers
def history_columns(history) -> dict:
    """name → float64 array from any history shape (History, dict of columns, list of per-epoch dicts)."""
    if hasattr(history, "history") and isinstance(history.history, dict):
        history = history.history
    if isinstance(history, (list, tuple)):
        names = list(dict.fromkeys(k for row in history for k in row))
        history = {k: [row.get(k) for row in history] for k in names}
    cols = {}
    for k, v in (history or {}).items():
        try:
            cols[k] = np.array([np.nan if x is None else x for x in v], dtype=np.float64)
        except (TypeError, ValueError):
            continue
    return cols


def _f(v) -> float:
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def layer_series(records, column: str) -> dict:
    """layer → (order, steps array, values array) of one column, in model order (missing values dropped)."""
    out: dict = {}
    for r in records or ():
        v = r.get(column)
        if v is None or v == "":
            continue
        entry = out.setdefault(r["layer"], (r.get("order", 0), [], [], r.get("kind")))
        entry[1].append(_f(r["step"]))
        entry[2].append(_f(v))
    series = {k: (o, np.asarray(s), np.asarray(v), kind) for k, (o, s, v, kind) in out.items()}
    return dict(sorted(series.items(), key=lambda kv: _f(kv[1][0])))


def _late(values):
    """The second half of a series (at least the last value)."""
    return values[len(values) // 2:] if len(values) > 1 else values


# --------------------------------------------------------------------------------------- detectors
WEIGHT_KINDS = ("Linear", "Conv2d", "Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention")


def detect_gradients(records) -> list[Finding]:
    """Vanishing (early layers' gradient norms orders of magnitude below the last layer's, or ~0) and
    exploding (non-finite, or growing a hundredfold) gradients."""
    findings = []
    series = layer_series(records, "grad_norm")
    weights = {k: v for k, v in series.items() if v[3] in WEIGHT_KINDS} or series
    if not weights:
        return findings
    bad = [k for k, (_, _, v, _) in series.items() if not np.isfinite(v).all()]
    if bad:
        worst = max((np.nanmax(np.where(np.isfinite(v), v, np.inf)) for k, (_, _, v, _) in series.items()
                     if k in bad), default=float("inf"))
        findings.append(Finding("exploding_gradients", "error",
                                "gradient norms became infinite or NaN", bad,
                                {"max_grad_norm": float(worst)}, REMEDIES["exploding_gradients"]))
    names = list(weights)
    med = {k: float(np.nanmedian(np.where(np.isfinite(v[2]), v[2], np.nan))) if np.isfinite(v[2]).any()
           else float("nan") for k, v in weights.items()}
    last = med[names[-1]]
    if all(m < 1e-8 for m in med.values() if math.isfinite(m)):
        findings.append(Finding("vanishing_gradients", "error", "every layer's gradient norm is near zero "
                                "(< 1e-8): the network is not learning", names,
                                {k: med[k] for k in names}, REMEDIES["vanishing_gradients"]))
    elif len(names) > 1 and math.isfinite(last) and last > 0:
        ratios = {k: med[k] / last for k in names[:-1] if math.isfinite(med[k])}
        low = {k: r for k, r in ratios.items() if r < 1e-3}
        if low:
            worst = min(low.values())
            findings.append(Finding(
                "vanishing_gradients", "error" if worst < 1e-5 else "warning",
                (f"early layers' gradient norms are {worst:.1e} of the last layer's "
                 f"({-math.log10(worst):.1f} orders of magnitude smaller)") if worst > 0 else
                "early layers get no gradient at all (exactly 0; dead units upstream can cause this)", list(low),
                {"last_layer": names[-1], "last_layer_grad_norm": last,
                 **{f"ratio[{k}]": r for k, r in low.items()}}, REMEDIES["vanishing_gradients"]))
    if not bad:
        steps: dict = {}
        for k, (_, s, v, _) in series.items():
            for st, x in zip(s, v):
                steps[st] = steps.get(st, 0.0) + x * x
        order = sorted(steps)
        total = np.sqrt([steps[s] for s in order])
        if len(total) >= 6:
            third = len(total) // 3
            first, end = float(np.median(total[:third])), float(np.median(total[-third:]))
            if first > 0 and end > 100 * first and end > 10:
                findings.append(Finding("exploding_gradients", "warning",
                                        f"the global gradient norm grew {end / first:.0f}x during training",
                                        names, {"early_grad_norm": first, "late_grad_norm": end},
                                        REMEDIES["exploding_gradients"]))
    return findings


def detect_activations(records) -> list[Finding]:
    """Dead ReLUs (units that never fire on a batch) and saturated sigmoid/tanh units."""
    findings = []
    for column, name, low, high, what in (("dead", "dead_relus", 0.5, 0.9, "never fire on a batch"),
                                          ("saturated", "saturation", 0.5, 2.0, "are saturated")):
        series = layer_series(records, column)
        hit = {}
        for layer, (_, _, v, kind) in series.items():
            m = float(np.median(_late(v))) if len(v) else 0.0
            if m >= low:
                hit[layer] = m
        if hit:
            worst = max(hit.values())
            findings.append(Finding(name, "error" if worst >= high else "warning",
                                    f"{worst:.0%} of the units of {max(hit, key=hit.get)} {what}",
                                    list(hit), {f"fraction[{k}]": v for k, v in hit.items()}, REMEDIES[name]))
    return findings


#: Put first among the divergence remedies of a model with attention layers (post-LN Transformers diverge
#: early at a rate they train at once warmed up: Xiong et al. 2020, "On Layer Normalization in the
#: Transformer Architecture").
ATTENTION_DIVERGENCE_REMEDY = ("attention layers: add a learning-rate warm-up (schedule.warmup_epochs = 3, or "
                               "schedule.warmup_steps = 60 counted in batches) and "
                               "clip gradients (train.clip_grad_norm = 1.0); post-LN transformers need both at "
                               "high rates (or set model.norm_first = true)")


def detect_divergence(history, event=None) -> list[Finding]:
    """A guard event, a non-finite epoch loss, or a validation loss far above its best."""
    if event:
        ev = {k: event[k] for k in ("loss", "lr", "suggested_lr", "checkpoint") if k in event}
        ev.update({k: int(event[k]) + 1 for k in ("epoch", "batch") if k in event})   # 1-based, as printed
        ckpt = event.get("checkpoint")
        msg = (f"training diverged at epoch {int(event.get('epoch', 0)) + 1}, batch {int(event.get('batch', 0)) + 1} "
               f"({event.get('reason', '')}) and was "
               f"stopped at once" + (f"; the last good weights are in {ckpt}" if ckpt else ""))
        remedies = [f"set the learning rate to {float(event['suggested_lr']):.3g} "
                    f"({event.get('suggested_lr_source', 'suggested')}; it was {float(event['lr']):.3g})"] \
            if event.get("suggested_lr") else []
        return [Finding("divergence", "error", msg, [], ev, remedies + REMEDIES["divergence"])]
    cols = history_columns(history)
    for key in ("loss", "val_loss"):
        v = cols.get(key)
        if v is not None and len(v) and not np.isfinite(v).all():
            first = int(np.flatnonzero(~np.isfinite(v))[0])
            return [Finding("divergence", "error", f"{key} became {v[first]} at epoch {first + 1}", [],
                            {"epoch": first + 1}, REMEDIES["divergence"])]
    v = cols.get("val_loss", cols.get("loss"))
    if v is not None and len(v) >= 2:
        best = float(np.min(v))
        if best > 0 and v[-1] > 4 * best:
            return [Finding("divergence", "error", f"the loss rose to {v[-1]:.4g}, {v[-1] / best:.1f}x its best "
                            f"{best:.4g}", [], {"best": best, "last": float(v[-1])}, REMEDIES["divergence"])]
    return []


def detect_curves(history, patience: int = 5) -> list[Finding]:
    """Plateau, overfitting and underfitting from the per-epoch losses."""
    cols = history_columns(history)
    train = cols.get("loss")
    if train is None or len(train) < 2 or not np.isfinite(train).all():
        return []
    val = cols.get("val_loss")
    if val is not None and not np.isfinite(val).all():
        return []
    findings = []
    n = len(train)
    # overfitting: validation rising from its best while training keeps falling
    if val is not None and n >= 3:
        b = int(np.argmin(val))
        rise = float(val[-1] - val[b])
        if (n - 1 - b >= 2 and val[-1] > 1.2 * val[b] and rise > 0.02 * val[0] and train[-1] < train[b]):
            findings.append(Finding("overfitting", "warning",
                                    f"val_loss rose {rise / val[b]:.0%} above its best (epoch {b + 1}) while the "
                                    f"training loss kept falling", [],
                                    {"best_val_loss": float(val[b]), "val_loss": float(val[-1]),
                                     "train_loss": float(train[-1]), "gap": float(val[-1] - train[-1]),
                                     "gap_at_best": float(val[b] - train[b])}, REMEDIES["overfitting"]))
    # plateau: the watched loss has not improved by 1 % in the last `patience` epochs
    watched = val if val is not None else train
    if n > patience:
        before, recent = float(np.min(watched[:-patience])), float(np.min(watched[-patience:]))
        near_zero = watched[-1] < 0.02 * watched[0] or train[-1] < 0.02 * train[0]
        if recent > 0.99 * before and not near_zero and not findings:
            findings.append(Finding("plateau", "warning",
                                    f"{'val_loss' if val is not None else 'loss'} has not improved by 1% for "
                                    f"{patience} epochs", [], {"best_before": before, "best_recent": recent},
                                    REMEDIES["plateau"]))
    # underfitting: the training loss barely moved
    if n >= 3 and train[-1] > 0.7 * train[0]:
        ev = {"first_loss": float(train[0]), "last_loss": float(train[-1])}
        if val is not None:
            ev["last_val_loss"] = float(val[-1])
        findings.append(Finding("underfitting", "warning",
                                f"after {n} epochs the training loss is still {train[-1] / train[0]:.0%} of the "
                                f"first epoch's", [], ev, REMEDIES["underfitting"]))
    return findings


def diagnose(history=None, records=None, event=None) -> list[Finding]:
    """Every finding for a run, most severe first: divergence, gradients, activations, curves."""
    findings = detect_divergence(history or {}, event)
    if any(r.get("kind") == "MultiheadAttention" for r in records or []):     # attention: warm-up first
        for f in findings:
            f.remedies = [ATTENTION_DIVERGENCE_REMEDY, *f.remedies]
    findings += detect_gradients(records or [])
    findings += detect_activations(records or [])
    if not any(f.name == "divergence" for f in findings):
        findings += detect_curves(history or {})
    return sorted(findings, key=lambda f: -f.level)


def format_findings(findings) -> str:
    """The findings as text; a clean bill of health when none is above 'info'."""
    findings = list(findings)
    worst = max((f.level for f in findings), default=0)
    head = ("No problems found: gradients, activations and loss curves look healthy." if worst == 0 else
            f"{sum(f.level > 0 for f in findings)} problem(s) found:")
    return "\n".join([head, *(str(f) for f in findings)])
