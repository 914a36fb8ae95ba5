"""Training diagnostics: a health monitor, detectors and a doctor, a divergence guard, the learning-rate
range test (the config-driven tools, ``descend lr-find`` and the optimiser playground, are in
:mod:`descend.app`).

* :class:`HealthMonitor` (a callback): per-layer gradient/weight norms, update ratios, activation
  statistics, dead ReLUs and saturated units every N steps → ``health.csv``.
* :class:`DivergenceGuard` (a callback): stop at once when the loss diverges, keep the last good weights.
* :func:`diagnose` (history, records) / :func:`diagnose_run` (run folder) → :class:`Finding` list.
* :func:`lr_find` / :func:`suggest_lr`: the learning-rate range test.
"""

from .detectors import (Finding, detect_activations, detect_curves, detect_divergence, detect_gradients, diagnose,
                        format_findings)
from .guard import DivergenceGuard
from .health import HealthMonitor, activation_stats, read_health
from .lr_finder import LRFindResult, lr_find, smooth_losses, suggest_lr
from .report import diagnose_run, load_run_health, plot_activations, plot_gradient_flow

__all__ = ["HealthMonitor", "DivergenceGuard", "Finding", "diagnose", "diagnose_run", "format_findings",
           "detect_gradients", "detect_activations", "detect_divergence", "detect_curves", "activation_stats",
           "read_health", "load_run_health", "plot_gradient_flow", "plot_activations", "lr_find",
           "suggest_lr", "smooth_losses", "LRFindResult"]
