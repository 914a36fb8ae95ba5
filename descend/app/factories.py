"""The parts of a run, each built from a validated config by a public function.

``resolve_config`` → ``prepare_data`` (splits + standardiser) → ``build_model`` → ``build_loss`` →
``build_optimizer`` → ``build_scheduler`` → ``build_loaders`` / ``build_augmentation``. ``run_training``
(:mod:`descend.app.training`) chains them; the learning-rate finder and the tuner call the same functions,
so there is one way to turn a config into parts. Names (optimisers, schedules, presets, losses) are looked up
in :mod:`descend.app.registry`.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np

from .. import optim
from .config import check_config
from ..data import DataLoader, folder_kind, load_dataset
from ..data.text import TEXT_SUFFIXES
from ..data import build_augmentation as _augmentation_pipeline
from .models import build_model
from .errors import ConfigError
from .registry import DATA_SOURCES, LOSSES, OPTIMIZERS, SCHEDULES

__all__ = ["resolve_config", "prepare_data", "build_model", "build_loss", "build_optimizer", "build_scheduler",
           "as_targets", "build_loaders", "build_augmentation", "task_metrics"]


def resolve_config(config=None, overrides=()) -> dict:
    """A full, validated config from a dict (partial is fine), a TOML path, or None (the defaults)."""
    if config is None:
        config = {}
    return check_config(config, overrides)


def prepare_data(config: dict):
    """Load, split, subset, validate and (optionally) standardise the data a config names.

    Returns ``(splits, standardizer_or_None)`` with ``splits`` a ``descend.data.DataSplits``.
    """
    d, seed = config["data"], config["seed"]
    source = d["path"] or d["name"]
    if d["path"] and not Path(d["path"]).exists():
        raise FileNotFoundError(f"data.path {d['path']!r} does not exist; give a .npz, .csv, IDX folder or image folder")
    kwargs = dict(val_fraction=d["val_fraction"], test_fraction=d["test_fraction"], seed=seed)
    if not d["path"] and not _accepts(DATA_SOURCES.get(d["name"]), "test_fraction"):
        del kwargs["test_fraction"]          # a data set with its own test split (fashion-mnist)
    if not d["path"] and d["cache_dir"] and _accepts(DATA_SOURCES.get(d["name"]), "cache_dir"):
        kwargs["cache_dir"] = d["cache_dir"]  # a generated data set cached on disk (mnist1d)
    if d["path"] and Path(d["path"]).suffix.lower() == ".csv":
        kwargs["label_column"] = d["label_column"]
    if d["path"] and Path(d["path"]).suffix.lower() in TEXT_SUFFIXES:
        kwargs["context"] = d["context"]
    else:
        if d["path"] and Path(d["path"]).is_dir() and folder_kind(d["path"]) == "images":
            kwargs.update(image_size=d["image_size"] or None, skip_bad_files=d["skip_bad_files"],
                          cache_dir=d["cache_dir"] or None)
        if d["path"] and Path(d["path"]).suffix.lower() in (".csv", ".npz"):
            kwargs["task"] = None if d.get("task", "auto") == "auto" else d["task"]
        elif d["path"] and d.get("task") == "regression":
            raise ConfigError("data.task = 'regression': an IDX folder holds class labels; set data.task = "
                              "\"classification\" or \"auto\"")
    splits = load_dataset(source, **kwargs)
    if d["subset"] and d["subset"] < len(splits.x_train):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.permutation(len(splits.x_train))[: d["subset"]])
        splits = dataclasses.replace(splits, x_train=splits.x_train[keep], y_train=splits.y_train[keep])
    splits.validate()
    if d["augment"] and len(splits.input_shape) != 3:
        raise ConfigError(f"data.augment = {d['augment']} needs image data (C, H, W) but the data has samples of "
                          f"shape {tuple(splits.input_shape)}; set data.augment = []")
    scaler = None
    if d["standardize"]:
        splits, scaler = splits.standardized()
    return splits, scaler


def _accepts(reader, name: str) -> bool:
    return name in inspect.signature(reader).parameters


def build_loss(task: str):
    """The loss registered for the task (``classification``: CrossEntropyLoss, ``regression``: MSELoss)."""
    return LOSSES.build(task)


def build_optimizer(opt_cfg: dict, params):
    """The optimiser ``[optimizer]`` names (``momentum`` = SGD with momentum, ``nesterov`` = SGD Nesterov),
    from the OPTIMIZERS registry, over ``params``."""
    return OPTIMIZERS.build(opt_cfg["name"], list(params), opt_cfg)


def build_scheduler(cfg: dict, optimizer, steps_per_epoch: int):
    """(scheduler or None, interval 'epoch' | 'batch') for ``[schedule]`` with optional linear warm-up:
    ``LinearLR`` from 1/(w+1) to 1 over w epochs (``warmup_epochs``) or w optimiser steps (``warmup_steps``,
    stepped per batch, the named schedule then counted in batches), then the named schedule (``SequentialLR``)."""
    s = cfg["schedule"]
    name, warm, steps = s["name"], s["warmup_epochs"], s.get("warmup_steps", 0)
    main, interval = SCHEDULES.build(name, cfg, optimizer, steps_per_epoch)
    if steps:
        if main is not None and interval != "batch" or name == "onecycle":
            raise ConfigError(f"schedule.warmup_steps conflicts with schedule.name = {name!r}; set warmup_steps = 0")
        if steps >= cfg["train"]["epochs"] * steps_per_epoch:
            raise ConfigError(f"schedule.warmup_steps = {steps} must be less than the run's "
                              f"{cfg['train']['epochs'] * steps_per_epoch} optimiser steps (train.epochs x batches)")
        warm, interval = steps, "batch"
    if not warm:
        return main, interval
    if interval != "epoch" and not steps:
        raise ConfigError(f"schedule.warmup_epochs conflicts with schedule.name = {name!r} (it steps per batch "
                          f"and has its own warm-up); set warmup_epochs = 0")
    warmup = optim.LinearLR(optimizer, start_factor=1.0 / (warm + 1), end_factor=1.0, total_iters=warm)
    if main is None:
        return warmup, interval
    return optim.SequentialLR(optimizer, [warmup, main], milestones=[warm]), interval


def as_targets(splits, y):
    """Targets as the loss wants them: regression targets as (N, k) float32 (so MSELoss compares like
    shapes); class labels unchanged."""
    if splits.task == "regression" and y is not None and np.ndim(y) == 1:
        return np.asarray(y, np.float32).reshape(-1, 1)
    return y


def build_loaders(cfg: dict, splits):
    """(training loader, validation loader or None): shuffled batches of ``data.batch_size`` seeded by
    ``seed``; validation in batches of max(batch_size, 256)."""
    bs = cfg["data"]["batch_size"]
    train = DataLoader((splits.x_train, as_targets(splits, splits.y_train)), batch_size=bs, shuffle=True,
                       seed=cfg["seed"])
    val = None
    if splits.x_val is not None and len(splits.x_val):
        val = DataLoader((splits.x_val, as_targets(splits, splits.y_val)), batch_size=max(bs, 256))
    return train, val


def build_augmentation(cfg: dict):
    """The training-only augmentation pipeline ``data.augment`` names, or None."""
    return _augmentation_pipeline(cfg["data"]["augment"]) if cfg["data"]["augment"] else None


def task_metrics(task: str) -> list:
    """The metrics a run reports: accuracy for classification, MAE and R² for regression, none beyond the
    loss (nats per token) for a language model."""
    if task == "language-model":
        return []
    return ["accuracy"] if task == "classification" else ["mae", "r2"]
