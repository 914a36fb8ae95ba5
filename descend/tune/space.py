"""The ``[tune]`` table: study settings and a search space over any config key.

A config file for ``descend tune`` is an ordinary run config plus a ``[tune]`` table::

    [tune]
    method = "bayesian"        # grid | random | bayesian (TPE) | gp (Gaussian process)
    metric = "val_loss"        # a validation metric: val_loss, val_accuracy, val_mae, val_r2
    direction = "minimize"     # default: minimize for losses and errors, maximize for accuracy and r2
    trials = 20
    pruner = "median"          # median | halving (successive halving) | none
    [tune.space]
    "optimizer.lr" = { type = "float", low = 1e-4, high = 1e-1, log = true }
    "data.batch_size" = { type = "categorical", choices = [32, 64, 128] }
    "model.hidden" = { type = "categorical", choices = [[64], [128, 64]] }

A dimension is ``float`` (``low``, ``high``, optional ``log`` or ``step``), ``int`` (``low``, ``high``,
optional ``log`` or ``step``) or ``categorical`` (``choices``: any TOML values, lists and tables included).
:func:`parse_tune` checks everything — the table's own keys, each dimension, and that every value the
space can produce makes a valid run config — and raises :class:`~descend.app.ConfigError` (one line)
before any trial runs.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
from dataclasses import dataclass, field

from ..app.config import ConfigError, all_keys, set_key, validate_config

METHODS = ("grid", "random", "bayesian", "gp")
PRUNERS = ("median", "halving", "none")
#: Validation metrics a study may optimise, with their natural direction. The test split is never used.
METRICS = {"val_loss": "minimize", "val_accuracy": "maximize", "val_mae": "minimize", "val_r2": "maximize"}
DIRECTIONS = ("minimize", "maximize")
TYPES = ("float", "int", "categorical")
MAX_GRID = 100_000

#: ``[tune]`` keys -> (default, one-line meaning). ``space`` is the table of dimensions.
TUNE_KEYS = {
    "method": ("bayesian", "sampler: grid, random, bayesian (TPE) or gp (Gaussian process)"),
    "metric": ("val_loss", "validation metric to optimise: " + ", ".join(METRICS)),
    "direction": ("", "minimize or maximize (empty: follows the metric)"),
    "trials": (20, "total number of finished trials the study should hold"),
    "timeout": (0.0, "stop starting new trials after this many seconds per worker (0: no limit)"),
    "workers": (1, "parallel worker processes on this machine"),
    "pruner": ("median", "stop unpromising trials early: median, halving or none"),
    "startup_trials": (2, "median pruner: trials that finish before pruning starts"),
    "warmup_epochs": (0, "median pruner: epochs of each trial that are never pruned"),
    "min_resource": (1, "halving pruner: epochs before the first rung"),
    "reduction_factor": (3, "halving pruner: keep the best 1/reduction_factor at each rung"),
    "seed": (-1, "sampler seed (-1: the config's seed)"),
    "study_name": ("", "study name in the storage (empty: derived from the config, so a rerun resumes)"),
    "space": ({}, "the search space: dotted config key -> {type, low, high, log, step, choices}"),
}
_DIM_KEYS = {"float": ("type", "low", "high", "log", "step"), "int": ("type", "low", "high", "log", "step"),
             "categorical": ("type", "choices")}


@dataclass(frozen=True)
class Dimension:
    """One searched config key. ``labels`` name categorical choices for Optuna (scalars stay as they
    are; lists and tables become their JSON text) and map back to the config value."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    @property
    def labels(self) -> tuple:
        return tuple(_label(c) for c in self.choices)

    def value_of(self, param):
        """The config value for an Optuna parameter value."""
        if self.type == "categorical":
            return copy.deepcopy(self.choices[self.labels.index(param)])
        return int(param) if self.type == "int" else float(param)

    def suggest(self, trial):
        """Ask an Optuna trial for this dimension; returns the config value."""
        if self.type == "float":
            p = trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        elif self.type == "int":
            p = trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        else:
            p = trial.suggest_categorical(self.key, self.labels)
        return self.value_of(p)

    def grid_values(self) -> list:
        """Optuna parameter values for a grid (categorical labels, or every step in [low, high])."""
        if self.type == "categorical":
            return list(self.labels)
        if self.log:
            raise ConfigError(f"tune.space.{self.key!r}: method = 'grid' cannot enumerate a log scale; list "
                              f"the values as type = \"categorical\"")
        if self.step is None and self.type == "float":
            raise ConfigError(f"tune.space.{self.key!r}: method = 'grid' needs a finite set of values; give "
                              f"this float dimension a step (e.g. step = {(self.high - self.low) / 4:g}) or "
                              f"make it categorical")
        step = self.step or 1
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        vals = [self.low + i * step for i in range(n)]
        return [int(round(v)) for v in vals] if self.type == "int" else [float(round(v, 12)) for v in vals]

    def samples(self) -> list:
        """Config values at the edges of the space (for checking the config before any trial)."""
        if self.type == "categorical":
            return [copy.deepcopy(c) for c in self.choices]
        return [self.value_of(self.low), self.value_of(self.high)]


def _label(choice):
    if choice is None or isinstance(choice, (bool, int, float, str)):
        return choice
    return json.dumps(choice, sort_keys=True)


@dataclass
class TuneSettings:
    """The parsed ``[tune]`` table (see :data:`TUNE_KEYS`)."""

    method: str = "bayesian"
    metric: str = "val_loss"
    direction: str = ""            # empty: follows the metric
    trials: int = 20
    timeout: float = 0.0
    workers: int = 1
    pruner: str = "median"
    startup_trials: int = 2
    warmup_epochs: int = 0
    min_resource: int = 1
    reduction_factor: int = 3
    seed: int = -1
    study_name: str = ""
    space: list = field(default_factory=list)    # [Dimension]

    def grid(self) -> list[dict]:
        """Every grid point as {key: Optuna parameter value}, in a fixed order."""
        axes = [d.grid_values() for d in self.space]
        size = math.prod(len(a) for a in axes)
        if size > MAX_GRID:
            raise ConfigError(f"the grid has {size} points (more than {MAX_GRID}); coarsen the steps or use "
                              f"method = 'random' or 'bayesian'")
        return [dict(zip((d.key for d in self.space), combo)) for combo in itertools.product(*axes)]

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in TUNE_KEYS if k != "space"}
        out["space"] = {d.key: _dim_table(d) for d in self.space}
        return out


def _dim_table(d: Dimension) -> dict:
    if d.type == "categorical":
        return {"type": "categorical", "choices": list(d.choices)}
    t = {"type": d.type, "low": d.low, "high": d.high}
    if d.log:
        t["log"] = True
    if d.step is not None:
        t["step"] = d.step
    return t


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _nearest(word, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.5)
    return (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
            else f"; valid: {', '.join(candidates)}")


def parse_dimension(key: str, spec) -> Dimension:
    """One ``[tune.space]`` entry -> :class:`Dimension`; raises ConfigError naming the key and the fix."""
    where = f"tune.space.{key!r}"
    if key not in all_keys():
        raise ConfigError(f"{where}: unknown config key {key!r}{_nearest(key, all_keys())}")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table like {{ type = \"float\", low = 0.001, high = 0.1 }}, "
                          f"got {spec!r}")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(f"{where}: unknown type {kind!r}; use one of {', '.join(TYPES)}"
                          + (_nearest(str(kind), TYPES) if isinstance(kind, str) else ""))
    for name in spec:
        if name not in _DIM_KEYS[kind]:
            raise ConfigError(f"{where} ({kind}): unknown field {name!r}; valid fields: "
                              f"{', '.join(_DIM_KEYS[kind])}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: categorical needs a non-empty list 'choices', got {choices!r}")
        labels = [_label(c) for c in choices]
        if len(set(map(repr, labels))) != len(labels):
            raise ConfigError(f"{where}: choices {choices!r} repeat a value; list each once")
        return Dimension(key, kind, choices=tuple(choices))
    for name in ("low", "high"):
        if name not in spec:
            raise ConfigError(f"{where} ({kind}) needs {name!r}")
        if not _is_num(spec[name]) or not math.isfinite(spec[name]):
            raise ConfigError(f"{where}: {name} must be a finite number, got {spec[name]!r}")
        if kind == "int" and not isinstance(spec[name], int):
            raise ConfigError(f"{where}: an int dimension needs integer bounds, got {name} = {spec[name]!r}")
    low, high = spec["low"], spec["high"]
    log, step = spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if low > high:
        raise ConfigError(f"{where}: low = {low!r} is greater than high = {high!r}; swap them")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0, got low = {low!r}; raise low or set log = false")
    if step is not None:
        if log:
            raise ConfigError(f"{where}: step and log = true cannot be combined; drop one")
        if not _is_num(step) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise ConfigError(f"{where}: step must be a positive {'integer' if kind == 'int' else 'number'}, "
                              f"got {step!r}")
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def parse_tune(table, base_config: dict) -> TuneSettings:
    """Parse and check a ``[tune]`` table against the (full, validated) base config."""
    if not isinstance(table, dict):
        raise ConfigError(f"[tune] must be a table, got {table!r}")
    for name in table:
        if name not in TUNE_KEYS:
            raise ConfigError(f"unknown key tune.{name}{_nearest(name, TUNE_KEYS)}")
    s = TuneSettings()
    for name, (default, _) in TUNE_KEYS.items():
        if name == "space" or name not in table:
            continue
        v = table[name]
        ok = isinstance(v, str) if isinstance(default, str) else (
            _is_num(v) if isinstance(default, float) else (isinstance(v, int) and not isinstance(v, bool)))
        if not ok:
            raise ConfigError(f"tune.{name} must be {type(default).__name__}, got {v!r}")
        setattr(s, name, v)
    for name, valid in (("method", METHODS), ("metric", tuple(METRICS)), ("pruner", PRUNERS)):
        value = getattr(s, name)
        if value not in valid:
            extra = "; tuning judges on validation metrics, never the test split" if name == "metric" else ""
            raise ConfigError(f"tune.{name} = {value!r} is not one of {', '.join(valid)}{extra}")
    s.direction = s.direction or METRICS[s.metric]
    if s.direction not in DIRECTIONS:
        raise ConfigError(f"tune.direction = {s.direction!r} must be minimize or maximize")
    for name, low in (("trials", 1), ("workers", 1), ("startup_trials", 0), ("warmup_epochs", 0),
                      ("min_resource", 1), ("reduction_factor", 2), ("timeout", 0)):
        if getattr(s, name) < low:
            raise ConfigError(f"tune.{name} = {getattr(s, name)!r} must be >= {low}")
    space = table.get("space", {})
    if not isinstance(space, dict) or not space:
        raise ConfigError("the [tune.space] table is missing or empty; add a dimension, e.g. "
                          "\"optimizer.lr\" = { type = \"float\", low = 1e-4, high = 1e-1, log = true }")
    s.space = [parse_dimension(k, v) for k, v in space.items()]
    check_space(s, base_config)
    if s.method == "grid":
        s.grid()
    return s


def apply_params(base_config: dict, values: dict) -> dict:
    """A copy of ``base_config`` with ``{dotted key: config value}`` set (checked)."""
    cfg, user = copy.deepcopy(base_config), {}
    for key, value in values.items():
        set_key(cfg, key, copy.deepcopy(value))
        set_key(user, key, value)
    return validate_config(cfg, user=user)     # user: the keys set here, for the conflict checks


def check_space(s: TuneSettings, base_config: dict) -> None:
    """Every edge value of every dimension must give a valid run config, judged on validation data."""
    for d in s.space:
        for v in d.samples():
            try:
                apply_params(base_config, {d.key: v})
            except ConfigError as exc:
                raise ConfigError(f"tune.space.{d.key!r} can produce {v!r}, which the config rejects: "
                                  f"{exc}") from None
    if base_config["data"]["val_fraction"] == 0 and not base_config["data"]["path"]:
        raise ConfigError("tuning judges trials on validation data; set data.val_fraction > 0")
