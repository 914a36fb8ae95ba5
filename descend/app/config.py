"""The run configuration: a TOML file of sections and keys, every key with a default and a comment.

``default_config()`` gives the full default as a nested dict; ``load_config(path)`` reads a TOML file and
``merge_config(user)`` lays a user's (partial) dict over the defaults; ``apply_overrides(cfg, ["a.b=v"])``
applies command-line ``--set`` pairs (values parsed as TOML, falling back to a bare string);
``validate_config(cfg)`` checks everything before any training starts: unknown keys (naming the nearest
valid ones), wrong types, values out of range and conflicting keys. Every failure raises
:class:`ConfigError`, a ``ValueError`` whose message is one line naming the key, the bad value and the fix.
``to_toml(cfg)`` writes a config back as TOML with a one-line comment above every key.

The names a key accepts (data sets, presets, activations, optimisers, schedules) are not listed here: the
schema reads them from the registries in :mod:`descend.app.registry` at validation time, and the comments
name them through the ``{names}`` / ``{names_or}`` placeholders, so a registered name is valid at once.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from .errors import ConfigError
from .registry import ACTIVATIONS, DATA_SOURCES, OPTIMIZERS, PRESETS, SCHEDULES, names_text
from .sequence import SEQUENCE_LAYER_REQUIRED, SEQUENCE_LAYER_TYPES
from ..data.augment import AUGMENTATIONS as _AUGMENTATION_TABLE
from ..registry import Registry

__all__ = ["ConfigError", "Key", "SCHEMA", "INITS", "AUGMENTATIONS", "layer_types", "LAYER_REQUIRED",
           "all_keys", "key_spec", "default_config", "flatten", "set_key", "get_key", "merge_config",
           "parse_value", "apply_overrides", "load_config", "validate_config", "check_config", "to_toml"]


@dataclass(frozen=True)
class Key:
    """One config key: its default, its type ('int', 'float', 'bool', 'str', 'list[str]', 'list[int]',
    'list[table]'), a one-line comment, and optional constraints. ``choices`` is a tuple or a
    :class:`~descend.registry.Registry` (its names, read when checked); ``{names}`` / ``{names_or}`` in the
    comment become the choices joined by commas (``a, b, c`` / ``a, b or c``)."""

    default: object
    kind: str
    comment: str
    choices: tuple = ()
    low: float | None = None          # inclusive lower bound
    high: float | None = None         # upper bound
    high_open: bool = False           # True: value must be < high
    low_open: bool = False            # True: value must be > low
    extra: dict = field(default_factory=dict)

    def options(self) -> tuple:
        """The allowed values now (a registry's names at this moment)."""
        return self.choices.names() if isinstance(self.choices, Registry) else tuple(self.choices)

    def describe(self) -> str:
        """The comment with the choices filled in."""
        if isinstance(self.choices, Registry):
            plain, ored = names_text(self.choices), names_text(self.choices, last=" or ")
        else:
            plain = ", ".join(self.options())
            ored = plain if len(self.options()) < 2 else ", ".join(self.options()[:-1]) + " or " + self.options()[-1]
        return self.comment.replace("{names_or}", ored).replace("{names}", plain)


INITS = ("auto", "default", "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal",
         "orthogonal")
AUGMENTATIONS = tuple(_AUGMENTATION_TABLE)

#: The schema: section -> key -> Key. Top-level keys live in the "" section. Order is the TOML order.
SCHEMA: dict[str, dict[str, Key]] = {
    "": {
        "seed": Key(0, "int", "random seed fixing initialisation, splits, shuffling, dropout and augmentation",
                    low=0),
        "name": Key("", "str", "run name used in the run folder runs/<time>-<name> (empty: <data>-<preset>)"),
    },
    "data": {
        "name": Key("digits", "str", "built-in data set: {names_or}",
                    choices=DATA_SOURCES),
        "path": Key("", "str", "your own data instead: a .npz (x_train, y_train[, x_val, y_val, x_test, y_test]), "
                    ".csv, IDX folder, image folder (photos/<class>/*.png) or a .txt file (a character-level "
                    "language model) (empty: use data.name)"),
        "label_column": Key("label", "str", "CSV only: the name of the label column"),
        "batch_size": Key(64, "int", "mini-batch size (1: stochastic, the training-set size: full-batch)",
                          low=1),
        "val_fraction": Key(0.1, "float", "fraction of the training data held out for validation, in [0, 1)",
                            low=0.0, high=1.0, high_open=True),
        "test_fraction": Key(0.2, "float", "fraction held out for testing when the data set has no test split, "
                             "in [0, 1)", low=0.0, high=1.0, high_open=True),
        "subset": Key(0, "int", "use only this many training samples, drawn with the seed (0: all)", low=0),
        "augment": Key([], "list[str]", "training-only augmentations for images, from: {names}",
                       choices=AUGMENTATIONS),
        "standardize": Key(False, "bool", "standardize features with the training split's mean and std"),
        "image_size": Key([], "list[int]", "image folders: resize every image to [H, W] (empty: all images must "
                          "share one size)", low=1),
        "skip_bad_files": Key(False, "bool", "image folders: skip corrupt or non-image files with a warning "
                              "instead of stopping"),
        "cache_dir": Key("", "str", "image folders and mnist1d: where the decoded images (the generated "
                         "MNIST-1D) are cached (empty: ~/.cache/descend/image-folders, ~/.cache/descend)"),
        "task": Key("auto", "str", "data.path only: what the labels mean: {names_or} (auto: integer labels "
                    "are classes, real-valued ones regression targets; a mix, or text labels, is reported)",
                    choices=("auto", "classification", "regression")),
        "context": Key(64, "int", "text (.txt) only: characters per training window of the language model", low=1),
    },
    "model": {
        "preset": Key("cnn", "str", "architecture preset: {names_or}", choices=PRESETS),
        "hidden": Key([], "list[int]", "layer widths: hidden units (mlp) or channels per block (cnn, resnet); "
                      "empty: the preset's default", low=1),
        "activation": Key("relu", "str", "activation: {names}", choices=ACTIVATIONS),
        "dropout": Key(0.0, "float", "dropout probability before the output layer, in [0, 1)",
                       low=0.0, high=1.0, high_open=True),
        "batchnorm": Key(True, "bool", "batch normalisation after each hidden layer"),
        "init": Key("auto", "str", "weight init: auto (He for ReLU-like, Glorot otherwise), default (PyTorch's), "
                    "kaiming_*, xavier_*, orthogonal", choices=INITS),
        "heads": Key(4, "int", "transformer: attention heads per layer (must divide the width)", low=1),
        "norm_first": Key(False, "bool", "transformer: pre-LN x + SA(LN(x)) instead of post-LN LN(x + SA(x))"),
        "layers": Key([], "list[table]", "explicit layers instead of a preset, e.g. "
                      "[{type=\"conv2d\", out_channels=16, kernel_size=3}, {type=\"relu\"}]; input sizes inferred"),
    },
    "optimizer": {
        "name": Key("adam", "str", "optimiser: {names}", choices=OPTIMIZERS),
        "lr": Key(0.003, "float", "learning rate (the peak rate for onecycle), > 0", low=0.0, low_open=True),
        "weight_decay": Key(0.0, "float", "L2 weight decay (decoupled for adamw and lion), >= 0", low=0.0),
        "momentum": Key(0.9, "float", "momentum for the momentum and nesterov optimisers, in [0, 1)",
                        low=0.0, high=1.0, high_open=True),
    },
    "schedule": {
        "name": Key("none", "str", "learning-rate schedule: {names}", choices=SCHEDULES),
        "warmup_epochs": Key(0, "int", "linear warm-up epochs before the schedule (not with onecycle)", low=0),
        "warmup_steps": Key(0, "int", "linear warm-up optimiser steps (batches) before the schedule, stepped per "
                            "batch (not with onecycle or plateau, nor with warmup_epochs)", low=0),
        "step_size": Key(10, "int", "step: epochs between decays", low=1),
        "gamma": Key(0.1, "float", "step: decay factor per step_size epochs, in (0, 1]",
                     low=0.0, low_open=True, high=1.0),
        "factor": Key(0.5, "float", "plateau: factor the rate is multiplied by on a plateau, in (0, 1)",
                      low=0.0, low_open=True, high=1.0, high_open=True),
        "patience": Key(2, "int", "plateau: epochs without val_loss improvement before reducing", low=0),
        "min_lr": Key(0.0, "float", "cosine and plateau: the lowest learning rate, >= 0", low=0.0),
    },
    "train": {
        "epochs": Key(6, "int", "number of epochs", low=1),
        "early_stopping_patience": Key(0, "int", "stop after this many epochs without val_loss improvement "
                                       "and restore the best weights (0: off)", low=0),
        "clip_grad_norm": Key(0.0, "float", "clip the global gradient norm to this value (0: off)", low=0.0),
        "l1": Key(0.0, "float", "L1 penalty weight added to the loss (0: off)", low=0.0),
        "accumulate_batches": Key(1, "int", "gradient accumulation: one optimiser step per this many batches "
                                  "(1: off)", low=1),
        "ema_decay": Key(0.0, "float", "keep an exponential moving average of the weights with this decay, in "
                         "[0, 1); evaluation and the saved model use it (0: off)", low=0.0, high=1.0,
                         high_open=True),
    },
    "diagnose": {
        "monitor": Key(True, "bool", "record per-layer training health (gradients, updates, activations) to "
                       "health.csv and diagnose the run in the report"),
        "every": Key(10, "int", "health monitor: sample every this many optimiser steps", low=1),
        "guard": Key(True, "bool", "stop at once when the loss diverges (NaN, inf or 4x its best) and keep "
                     "the last good weights in checkpoints/last_good.safetensors"),
    },
    "log": {
        "tensorboard": Key(False, "bool", "write TensorBoard event files to <run>/tensorboard (needs the "
                           "'logging' extra: pip install descend[logging])"),
        "mlflow": Key("", "str", "log params, metrics and the run folder to this MLflow tracking URI, e.g. "
                      "sqlite:///mlflow.db (empty: off)"),
    },
}

#: Layer tables for ``model.layers`` other than activations: type -> {argument: kind}. Sizes of inputs are
#: inferred. :func:`layer_types` adds every registered activation.
BASE_LAYER_TYPES: dict[str, dict[str, str]] = {
    "linear": {"out_features": "int", "bias": "bool"},
    "conv2d": {"out_channels": "int", "kernel_size": "int", "stride": "int", "padding": "int",
               "dilation": "int", "bias": "bool"},
    "maxpool2d": {"kernel_size": "int", "stride": "int", "padding": "int"},
    "avgpool2d": {"kernel_size": "int", "stride": "int", "padding": "int"},
    "globalavgpool2d": {},
    "flatten": {},
    "batchnorm": {"momentum": "float", "eps": "float"},
    "dropout": {"p": "float"},
    "dropout2d": {"p": "float"},
    "residual": {"layers": "list[table]"},
}
LAYER_REQUIRED = {"linear": ("out_features",), "conv2d": ("out_channels", "kernel_size"),
                  "maxpool2d": ("kernel_size",), "avgpool2d": ("kernel_size",), "residual": ("layers",)}
LAYER_REQUIRED.update(SEQUENCE_LAYER_REQUIRED)


def layer_types() -> dict[str, dict[str, str]]:
    """Every layer type a ``model.layers`` table may name: :data:`BASE_LAYER_TYPES`, then each registered
    activation with its arguments."""
    return {**BASE_LAYER_TYPES, **SEQUENCE_LAYER_TYPES, **{name: dict(ACTIVATIONS.info(name).get("args", {})) for name in ACTIVATIONS}}


def all_keys() -> list[str]:
    """Every valid dotted key, in schema order (``seed``, ``data.name``, ...)."""
    return [(f"{s}.{k}" if s else k) for s, keys in SCHEMA.items() for k in keys]


def key_spec(dotted: str) -> Key:
    section, _, name = dotted.rpartition(".")
    return SCHEMA[section][name]


def default_config() -> dict:
    """The full default configuration as a nested dict (a fresh copy)."""
    cfg: dict = {}
    for section, keys in SCHEMA.items():
        target = cfg if not section else cfg.setdefault(section, {})
        for name, spec in keys.items():
            target[name] = copy.deepcopy(spec.default)
    return cfg


def _nearest(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        f"; valid keys: {', '.join(candidates)}"


def _unknown_key_error(dotted: str) -> ConfigError:
    return ConfigError(f"unknown config key {dotted!r}{_nearest(dotted, all_keys())}")


def flatten(cfg: dict) -> dict:
    """Nested dict -> {dotted key: value}; raises ConfigError on unknown sections or keys."""
    flat = {}
    for top, value in cfg.items():
        if top in SCHEMA and top != "":
            if not isinstance(value, dict):
                raise ConfigError(f"config section [{top}] must be a table of keys, got {value!r}")
            for name, v in value.items():
                if name not in SCHEMA[top]:
                    raise _unknown_key_error(f"{top}.{name}")
                flat[f"{top}.{name}"] = v
        elif top in SCHEMA[""]:
            flat[top] = value
        else:
            if isinstance(value, dict):
                raise ConfigError(f"unknown config section [{top}]{_nearest(top, [s for s in SCHEMA if s])}")
            raise _unknown_key_error(top)
    return flat


def set_key(cfg: dict, dotted: str, value) -> None:
    """Set one dotted key in a nested config (checking the key exists)."""
    section, _, name = dotted.rpartition(".")
    if section not in SCHEMA or name not in SCHEMA[section]:
        raise _unknown_key_error(dotted)
    (cfg.setdefault(section, {}) if section else cfg)[name] = value


def get_key(cfg: dict, dotted: str):
    section, _, name = dotted.rpartition(".")
    return (cfg[section] if section else cfg)[name]


def merge_config(user: dict | None) -> dict:
    """The defaults with a user's (partial, nested) dict laid over them; unknown keys raise."""
    cfg = default_config()
    for dotted, value in flatten(user or {}).items():
        set_key(cfg, dotted, copy.deepcopy(value))
    return cfg


def parse_value(text: str):
    """A ``--set`` value: TOML syntax (``3``, ``0.1``, ``true``, ``[64, 32]``, ``"x"``); else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: dict, pairs) -> dict:
    """Apply ``key=value`` strings (as given to ``--set``) to a nested config, in place; returns it."""
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value (e.g. optimizer.lr=0.01), got {pair!r}")
        set_key(cfg, key, parse_value(text.strip()))
    return cfg


def load_config(path, overrides=()) -> dict:
    """Read a TOML config file, lay it over the defaults, apply overrides and validate it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a directory; give the TOML file (a run folder's is "
                          f"{path / 'config.toml'})")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; write one with `descend config show > "
                          f"{path.name}`")
    try:
        user = tomllib.loads(path.read_text(encoding="utf-8-sig"))   # -sig: a byte-order mark is skipped
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TOML expected)") from None
    cfg = merge_config(user)
    apply_overrides(cfg, overrides)
    return validate_config(cfg, user=user)


# ------------------------------------------------------------------------------------------------ checks
_KIND_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
               "list[str]": "a list of strings", "list[int]": "a list of integers",
               "list[table]": "a list of tables"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _type_ok(v, kind):
    if kind == "int":
        return _is_int(v)
    if kind == "float":
        return (_is_int(v) or isinstance(v, float))
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "str":
        return isinstance(v, str)
    if kind == "list[str]":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if kind == "list[int]":
        return isinstance(v, list) and all(_is_int(x) for x in v)
    if kind == "list[table]":
        return isinstance(v, list) and all(isinstance(x, dict) for x in v)
    raise AssertionError(kind)


def _range_text(spec: Key) -> str:
    lo = "" if spec.low is None else ("(" if spec.low_open else "[") + f"{spec.low:g}"
    hi = "" if spec.high is None else f"{spec.high:g}" + (")" if spec.high_open else "]")
    if lo and hi:
        return f"in {lo}, {hi}"
    if lo:
        return ("> " if spec.low_open else ">= ") + f"{spec.low:g}"
    return ("< " if spec.high_open else "<= ") + f"{spec.high:g}"


def _in_range(x, spec: Key) -> bool:
    if isinstance(x, float) and not math.isfinite(x):
        return False
    if spec.low is not None and (x <= spec.low if spec.low_open else x < spec.low):
        return False
    if spec.high is not None and (x >= spec.high if spec.high_open else x > spec.high):
        return False
    return True


def _check_key(dotted: str, value) -> None:
    spec = key_spec(dotted)
    if not _type_ok(value, spec.kind):
        raise ConfigError(f"{dotted} must be {_KIND_NAMES[spec.kind]}, got {value!r} "
                          f"({type(value).__name__})")
    items = value if isinstance(value, list) else [value]
    for item in items:
        options = spec.options()
        if options and isinstance(item, str) and item not in options:
            close = difflib.get_close_matches(item, options, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{dotted} = {item!r} is not one of {', '.join(options)}{hint}")
        if (spec.low is not None or spec.high is not None) and not isinstance(item, (str, dict, bool)):
            if not _in_range(item, spec):
                raise ConfigError(f"{dotted} = {item!r} is out of range; it must be {_range_text(spec)}")


def _check_layers(layers, where="model.layers") -> None:
    types = layer_types()
    for i, layer in enumerate(layers):
        at = f"{where}[{i}]"
        kind = layer.get("type")
        if kind is None:
            raise ConfigError(f"{at} has no 'type'; use one of {', '.join(types)}")
        if kind not in types:
            close = difflib.get_close_matches(str(kind), types, n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else \
                f"; valid types: {', '.join(types)}"
            raise ConfigError(f"{at}: unknown layer type {kind!r}{hint}")
        args = types[kind]
        for name, v in layer.items():
            if name == "type":
                continue
            if name not in args:
                close = difflib.get_close_matches(name, list(args), n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"{at} ({kind}): unknown argument {name!r}; {hint}"
                                  f"valid arguments: {', '.join(args) or 'none'}")
            if not _type_ok(v, args[name]):
                raise ConfigError(f"{at} ({kind}): {name} must be {_KIND_NAMES[args[name]]}, got {v!r}")
            if args[name] == "int" and v < (0 if name == "padding" else 1):
                raise ConfigError(f"{at} ({kind}): {name} = {v} must be >= {0 if name == 'padding' else 1}")
            if name == "p" and not 0 <= v < 1:
                raise ConfigError(f"{at} ({kind}): p = {v} must be in [0, 1)")
        for name in LAYER_REQUIRED.get(kind, ()):
            if name not in layer:
                raise ConfigError(f"{at} ({kind}) needs {name!r}")
        if kind == "residual":
            if not layer["layers"]:
                raise ConfigError(f"{at} (residual): 'layers' is empty; give the block's layers")
            _check_layers(layer["layers"], f"{at}.layers")


def validate_config(cfg: dict, user: dict | None = None) -> dict:
    """Check a full nested config; returns it unchanged or raises :class:`ConfigError` (one line).

    Conflicts are keys set away from their defaults that contradict each other (``model.layers`` with
    ``model.preset`` or ``model.hidden``), so a resolved config (every key written out) validates too.
    ``user`` is accepted for compatibility and unused.
    """
    flat = flatten(cfg)
    missing = [k for k in all_keys() if k not in flat]
    if missing:
        raise ConfigError(f"config is missing keys {', '.join(missing)}; build it with merge_config()")
    for dotted, value in flat.items():
        _check_key(dotted, value)
        if key_spec(dotted).kind == "float" and _is_int(value):      # 1 -> 1.0: floats stay floats
            set_key(cfg, dotted, float(value))
    _check_layers(flat["model.layers"])
    if flat["model.layers"]:       # a value set away from its default alongside explicit layers
        for other in ("model.preset", "model.hidden"):
            if flat[other] != key_spec(other).default:
                raise ConfigError(f"model.layers conflicts with {other} = {flat[other]!r}: give either explicit "
                                  f"layers or a preset, not both")
    sched, warm, epochs = flat["schedule.name"], flat["schedule.warmup_epochs"], flat["train.epochs"]
    if sched == "onecycle" and warm:
        raise ConfigError("schedule.warmup_epochs conflicts with schedule.name = 'onecycle' (it has its own "
                          "warm-up); set warmup_epochs = 0")
    if warm and warm >= epochs:
        raise ConfigError(f"schedule.warmup_epochs = {warm} must be less than train.epochs = {epochs}")
    if warm and flat["schedule.warmup_steps"]:
        raise ConfigError(f"schedule.warmup_steps = {flat['schedule.warmup_steps']} conflicts with "
                          f"schedule.warmup_epochs = {warm}: warm up in steps or in epochs; set the other to 0")
    if sched in ("onecycle", "plateau") and flat["schedule.warmup_steps"]:
        raise ConfigError(f"schedule.warmup_steps conflicts with schedule.name = {sched!r} ("
                          + ("it has its own warm-up" if sched == "onecycle" else "it steps per epoch on val_loss")
                          + "); set warmup_steps = 0")
    if flat["data.val_fraction"] + flat["data.test_fraction"] >= 1:
        raise ConfigError(f"data.val_fraction + data.test_fraction = "
                          f"{flat['data.val_fraction'] + flat['data.test_fraction']:g} leaves no training data; "
                          f"keep the sum below 1")
    if flat["data.image_size"] and len(flat["data.image_size"]) != 2:
        raise ConfigError(f"data.image_size = {flat['data.image_size']} must be [H, W] (two integers) or []")
    if flat["data.path"] == "" and flat["data.task"] != "auto":
        raise ConfigError(f"data.task = {flat['data.task']!r} applies only with data.path (a built-in data set "
                          f"has its own task); remove it or set data.task = \"auto\"")
    if flat["data.path"] == "" and flat["data.label_column"] != key_spec("data.label_column").default:
        raise ConfigError("data.label_column applies only with data.path pointing at a .csv file")
    if sched == "plateau" and flat["data.val_fraction"] == 0 and not flat["data.path"]:
        raise ConfigError("schedule.name = 'plateau' watches val_loss; set data.val_fraction > 0")
    if flat["train.early_stopping_patience"] and flat["data.val_fraction"] == 0 and not flat["data.path"]:
        raise ConfigError("train.early_stopping_patience watches val_loss; set data.val_fraction > 0")
    return cfg


def check_config(cfg_or_path, overrides=()) -> dict:
    """Validate a config given as a path or a (partial) dict; returns the full validated config."""
    if isinstance(cfg_or_path, (str, Path)):
        return load_config(cfg_or_path, overrides)
    user = copy.deepcopy(cfg_or_path or {})
    cfg = merge_config(user)
    apply_overrides(cfg, overrides)
    return validate_config(cfg, user=user)


# ------------------------------------------------------------------------------------------------ TOML out
def _toml_value(value) -> str:
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _toml_inline(value) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "[" + ", ".join("{" + ", ".join(f"{k} = {_toml_inline(v)}" for k, v in t.items()) + "}"
                               for t in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_inline(v)}" for k, v in value.items()) + "}"
    return _toml_value(value)


def to_toml(cfg: dict | None = None, comments: bool = True) -> str:
    """The config as TOML text, one ``# comment`` line above each key (the defaults if ``cfg`` is None)."""
    cfg = default_config() if cfg is None else cfg
    lines = ["# descend run configuration. Every key is optional: a missing key takes the default shown.",
             ""] if comments else []
    for section, keys in SCHEMA.items():
        if section:
            lines.append(f"[{section}]")
        values = cfg.get(section, {}) if section else cfg
        for name, spec in keys.items():
            if comments:
                lines.append(f"# {spec.describe()}")
            lines.append(f"{name} = {_toml_inline(values.get(name, spec.default))}")
        lines.append("")
    return "\n".join(lines)
