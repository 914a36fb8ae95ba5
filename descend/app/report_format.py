"""Words and numbers for a run's report: human labels, units and precision for ``summary.json`` keys.

``metric_label("test_accuracy") == "Test accuracy"``; ``format_metric("test_accuracy", 0.93036) == "93.04 %"``.
A key is an optional split prefix (``train_`` training, ``val_`` validation, ``test_`` test) and a base:

===================  ===================================  ==============================================
base                 label                                shown as
===================  ===================================  ==============================================
``loss``             loss (the task's loss, see below)    4 significant digits; ``nats/char`` for a
                                                          language model
``accuracy``         accuracy                             a percentage with 2 decimals (``93.04 %``)
``mae``              mean absolute error                  4 significant digits
``r2``               R²                                   3 decimals
``bits_per_char``    bits per character                   3 decimals and ``bits/char`` (= loss / ln 2)
``*_time_s``         time                                 ``3.3 s``, ``2 min 05 s``, ``1 h 02 min``
counts               parameters, samples, epochs          with thousands separators (``12,345``)
===================  ===================================  ==============================================

Booleans read ``yes``/``no``, a missing value ``—``, NaN ``NaN`` and infinities ``∞``/``-∞``, so no
``True``/``False``/``None`` reaches the page. The loss of a task is named by :func:`loss_name`:
classification and language models use cross-entropy (in nats; bits = nats / ln 2), regression the
mean squared error.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["SPLITS", "loss_name", "metric_label", "format_metric", "format_number", "format_duration",
           "split_key", "headline_key", "lr_statement"]

#: Prefix of a ``summary.json`` key → the split's name in the report.
SPLITS = {"train": "Training", "val": "Validation", "test": "Test"}

_BASES = {"loss": "loss", "accuracy": "accuracy", "mae": "mean absolute error", "mse": "mean squared error",
          "rmse": "root mean squared error", "r2": "R²", "bits_per_char": "bits per character"}
_OTHER = {"task": "Task", "data": "Data set", "epochs": "Epochs", "interrupted": "Interrupted",
          "stopped_early": "Stopped early", "wall_time_s": "Wall time", "train_time_s": "Training time",
          "parameters": "Parameters", "train_samples": "Training samples", "diverged": "Diverged",
          "divergence": "Divergence"}
_LOSSES = {"classification": "cross-entropy", "regression": "mean squared error",
           "language-model": "cross-entropy"}
_HEADLINES = {"classification": ("accuracy", "loss"), "regression": ("r2", "mae", "loss"),
              "language-model": ("bits_per_char", "loss")}


def loss_name(task: str | None) -> str:
    """The loss a task trains with: 'cross-entropy' (classification), 'mean squared error' (regression),
    'cross-entropy' (a language model, per character); 'loss' for an unknown task."""
    return _LOSSES.get(task, "loss")


def split_key(key: str) -> tuple[str | None, str]:
    """``"val_accuracy"`` → ``("val", "accuracy")``; a key without a split prefix → ``(None, key)``."""
    if not isinstance(key, str):
        raise TypeError(f"a metric key is a string like 'val_loss', got {type(key).__name__}")
    head, _, rest = key.partition("_")
    if head in SPLITS and rest and key not in _OTHER:
        return head, rest
    return None, key


def metric_label(key: str) -> str:
    """A human label for a ``summary.json`` key: ``"val_loss"`` → ``"Validation loss"``, ``"test_r2"`` →
    ``"Test R²"``, ``"wall_time_s"`` → ``"Wall time"``; an unknown key has its underscores spaced."""
    if key in _OTHER:
        return _OTHER[key]
    split, base = split_key(key)
    words = _BASES.get(base, base.replace("_", " "))
    if split is None:
        return words[:1].upper() + words[1:]
    return f"{SPLITS[split]} {words}"


def format_number(x, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits, fixed-point between 1e-3 and 1e6 (thousands separated),
    else scientific (``1.234e-5``): 0.351592 → '0.3516', 12.3456 → '12.35', 123456.7 → '123,457'."""
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"format_number needs a real number, got {type(x).__name__}")
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e6:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        return f"{x:,.{decimals}f}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def format_duration(seconds) -> str:
    """Seconds as '3.3 s' (under a minute), '2 min 05 s' (under an hour) or '1 h 02 min'."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds) \
            or seconds < 0:
        raise ValueError(f"a duration is a finite number of seconds >= 0, got {seconds!r}")
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_metric(key: str, value, task: str | None = None, unit: bool = True) -> str:
    """``value`` of ``summary.json`` key ``key`` as the report shows it, with its unit (see the module
    docstring): ``("test_accuracy", 0.93036)`` → '93.04 %', ``("val_loss", 3.5477, "language-model")`` →
    '3.548 nats/char', ``("stopped_early", False)`` → 'no', ``("val_mae", None)`` → '—'. ``unit=False``
    leaves off a per-character unit (for a table whose row label names it): '3.548'."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, numbers.Real):
        return str(value)
    if key.endswith("_time_s"):
        return format_duration(value) if math.isfinite(value) and value >= 0 else format_number(value)
    if key in ("parameters", "train_samples", "epochs") and float(value).is_integer():
        return f"{int(value):,}"
    _, base = split_key(key)
    if not math.isfinite(value):
        return format_number(value)
    if base == "accuracy":
        return f"{100.0 * value:.2f} %"
    if base == "r2":
        return f"{value:.3f}"
    if base == "bits_per_char":
        return f"{value:.3f}" + (" bits/char" if unit else "")
    if base == "loss" and task == "language-model":
        return f"{value:.3f}" + (" nats/char" if unit else "")
    return format_number(value)


def headline_key(summary: dict, task: str | None = None) -> str | None:
    """The one metric the report's header leads with: the test split's (else validation's, else the
    training loss) accuracy for classification, R² for regression, bits per character for a language
    model; ``None`` when the summary holds none of them."""
    task = summary.get("task") if task is None else task
    for base in _HEADLINES.get(task, ("loss",)):
        for split in ("test", "val", "train"):
            value = summary.get(f"{split}_{base}")
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                return f"{split}_{base}"
    return None


def lr_statement(lrs, rtol: float = 1e-9) -> str | None:
    """'Learning rate 0.001 throughout.' when every recorded rate is the same (to ``rtol``), else None
    (the rates change: plot them). An empty sequence gives None."""
    values = [float(v) for v in lrs if v is not None and math.isfinite(float(v))]
    if not values:
        return None
    first = values[0]
    if all(abs(v - first) <= rtol * max(abs(first), 1e-300) for v in values):
        short = f"{first:.3g}".replace("e-0", "e-").replace("e+0", "e")
        return f"Learning rate {short} throughout (constant: no schedule)."
    return None
