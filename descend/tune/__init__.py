"""Hyperparameter search on Optuna: a search space over any config key, pruning, parallel workers, results.

``descend.tune`` is both this package and a function: ``descend.tune(config, trials=..., ...)`` is
:func:`run_study` (the module is callable), returning a :class:`TuneResult` with the best config and metric::

    import descend
    result = descend.tune("tune.toml", trials=20, workers=2, out="runs/tune-lr")
    result.best_value, result.best_config["optimizer"]["lr"]

The parts: :mod:`.space` (the ``[tune]`` table and its checks), :mod:`.pruning` (the per-epoch report to the
pruner), :mod:`.storage` (journal file or database, dead-worker trials failed), :mod:`.study` (the objective,
workers and study life cycle), :mod:`.results` (trials.csv, best.toml, plots, report.html). Optuna is
imported only when a study runs, so ``import descend`` stays fast.
"""

import sys as _sys
import types as _types

from .space import Dimension, TuneSettings, parse_tune
from .study import TuneResult, load_tune_config, prepare, run_study

__all__ = ["run_study", "TuneResult", "TuneSettings", "Dimension", "parse_tune", "prepare", "load_tune_config"]


class _CallableModule(_types.ModuleType):
    """Lets ``descend.tune(config, ...)`` call :func:`run_study` while ``descend.tune.*`` stays the package."""

    def __call__(self, config, **kwargs):
        return run_study(config, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
