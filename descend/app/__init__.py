"""The application layer: a run from a config, one registry per kind of name, the run folder, the
post-hoc tools and the report.

=====================  ==============================================================================
``errors``             ConfigError (re-exported by descend.app.config)
``registry``           OPTIMIZERS, SCHEDULES, PRESETS, ACTIVATIONS, LOSSES, DATA_SOURCES (name → factory)
``presets``            the mlp / cnn / resnet presets as layer tables
``factories``          config → parts: resolve_config, prepare_data, build_model, build_loss,
                       build_optimizer, build_scheduler, build_loaders, build_augmentation, as_targets
``callbacks``          the callbacks a config asks for (build_callbacks, HistoryWriter)
``training``           run_training → RunResult
``run_folder``         file names, history.csv / summary.json / model.safetensors, load_run
``inspect``            evaluate_run, predict_run, list_runs, format_runs_table, compare_runs
``report``             plots and report.html, sections from the parts that own them
``lr_find``            the learning-rate range test of a config (``descend lr-find``)
``playground``         named optimisers on 2-D test surfaces (``descend playground``)
``config``             the config schema: defaults, validation, ``config show``, TOML in and out
``models``             a model from ``[model]`` (a preset or a layer table)
=====================  ==============================================================================

See docs/app.md for registering an optimiser or a preset.

Import order: the registries and factories load before ``callbacks``, which imports ``descend.diagnose``,
whose ``lr_finder`` and ``playground`` read those two modules (the module graph has no cycle).
"""

from .errors import ConfigError
from .registry import ACTIVATIONS, DATA_SOURCES, LOSSES, OPTIMIZERS, PRESETS, SCHEDULES, Registry
from .factories import (as_targets, build_augmentation, build_loaders, build_loss, build_model, build_optimizer,
                        build_scheduler, prepare_data, resolve_config, task_metrics)
from .run_folder import default_run_dir, load_run, read_history, write_history
from .callbacks import HistoryWriter, build_callbacks
from .report import write_plots_and_report
from .training import RunResult, launched_world_size, run_training, summarise
from .inspect import compare_runs, evaluate_run, format_runs_table, list_runs, predict_run
from .lr_find import lr_find_config
from .playground import SURFACES, run_playground, trajectory
from .generate import generate_text

__all__ = ["ConfigError", "Registry", "OPTIMIZERS", "SCHEDULES", "PRESETS", "ACTIVATIONS", "LOSSES",
           "DATA_SOURCES", "resolve_config", "prepare_data", "build_model", "build_loss", "build_optimizer",
           "build_scheduler", "build_loaders", "build_augmentation", "as_targets", "task_metrics",
           "default_run_dir", "load_run", "read_history", "write_history", "HistoryWriter", "build_callbacks",
           "write_plots_and_report", "RunResult", "launched_world_size", "run_training", "summarise", "evaluate_run", "predict_run",
           "list_runs", "format_runs_table", "compare_runs", "lr_find_config", "SURFACES", "run_playground",
           "trajectory", "generate_text"]
