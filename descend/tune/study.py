"""A hyperparameter study on Optuna: the objective, the workers and the study's life cycle.

``run_study(config, trials=..., timeout=..., workers=..., storage=..., out=...)`` reads a config with a
``[tune]`` table (see :mod:`descend.tune.space`), checks it before any trial, opens (or resumes) the study
in its storage, runs the trials — in this process for one worker, else in ``workers`` subprocesses with
single-threaded BLAS that share the study through the storage — and writes the results
(:mod:`descend.tune.results`). It returns a :class:`TuneResult` with the best config and metric.

Each trial is an ordinary ``run_training`` run with the sampled keys set, written to
``<out>/trials/trial-NNNN``, judged on a validation metric (``tune.metric``) and reporting it every epoch
to the pruner (:class:`~descend.tune.pruning.PruningCallback`). Every trial uses the config's seed, so
trials differ only by their hyperparameters and ``best.toml`` retrains to the same result.

``tune.trials`` is the number of finished (complete or pruned) trials the study should hold: a rerun with
the same config and folder resumes and only runs the missing ones. Grid points are queued in the storage
up front and each worker takes the next waiting one, so workers never repeat a point.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import numpy as np

from ..app import run_training
from ..app.config import ConfigError, check_config, default_config, flatten, get_key, set_key
from ..io import atomic_write_json, unused_path
from .pruning import PruningCallback
from .results import TuneResult, write_results
from .space import TuneSettings, apply_params, parse_tune
from .storage import fail_dead_trials, open_storage, storage_url, worker_tag

SPEC_FILE = "tune.json"
TRIALS_DIR = "trials"
#: Environment of worker processes: one BLAS thread each, so W workers use W cores.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}


# ------------------------------------------------------------------------------------------- config
def load_tune_config(config) -> tuple[dict, dict]:
    """``(base config, [tune] table)`` from a TOML path or a dict; the base is full and validated."""
    if isinstance(config, (str, Path)):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found")
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    elif isinstance(config, dict):
        user = copy.deepcopy(config)
    else:
        raise TypeError(f"config must be a TOML path or a dict, got {type(config).__name__}")
    table = user.pop("tune", None)
    if table is None:
        raise ConfigError("the config has no [tune] table; add one with a [tune.space], e.g. "
                          "\"optimizer.lr\" = { type = \"float\", low = 1e-4, high = 1e-1, log = true }")
    return check_config(user), table


def prepare(config, **settings) -> tuple[dict, TuneSettings]:
    """Parse and check everything (no trial runs). ``settings`` override ``[tune]`` keys when not None."""
    base, table = load_tune_config(config)
    table = dict(table)
    table.update({k: v for k, v in settings.items() if v is not None})
    return base, parse_tune(table, base)


def default_study_name(base: dict, s: TuneSettings) -> str:
    """``descend-<name>-<hash>``: the same config and space give the same name, so a rerun resumes."""
    if s.study_name:
        return s.study_name
    text = json.dumps({"config": base, "space": s.to_dict()["space"], "method": s.method, "metric": s.metric,
                       "direction": s.direction}, sort_keys=True, default=str)
    name = base["name"] or f"{base['data']['name']}-{base['model']['preset']}"
    return f"descend-{name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


# ------------------------------------------------------------------------------------------- Optuna parts
def make_sampler(s: TuneSettings, seed: int):
    import optuna
    if s.method == "grid":
        return optuna.samplers.GridSampler({d.key: d.grid_values() for d in s.space}, seed=seed)
    if s.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.method == "bayesian":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, s.trials // 3)))
    import importlib.util
    if not hasattr(optuna.samplers, "GPSampler") or importlib.util.find_spec("torch") is None:
        raise ConfigError("tune.method = 'gp' needs Optuna's GPSampler, which needs torch (pip install torch); "
                          "or use method = 'bayesian'")
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=min(10, max(2, s.trials // 3)))


def make_pruner(s: TuneSettings):
    import optuna
    if s.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=s.startup_trials, n_warmup_steps=s.warmup_epochs)
    if s.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=s.min_resource,
                                                      reduction_factor=s.reduction_factor)
    return optuna.pruners.NopPruner()


def _seed(s: TuneSettings, base: dict, *salt) -> int:
    root = s.seed if s.seed >= 0 else base["seed"]
    return int(np.random.SeedSequence([root, *salt]).generate_state(1)[0])


def changed_keys(cfg: dict) -> dict:
    """The keys of a full config that differ from the defaults, as a nested dict (what a user would write).

    ``run_training`` treats every key of the dict it gets as set by the user (for its conflict checks), so
    a trial passes only these."""
    defaults, user = default_config(), {}
    for key, value in flatten(cfg).items():
        if get_key(defaults, key) != value:
            set_key(user, key, copy.deepcopy(value))
    return user


def make_objective(base: dict, s: TuneSettings, out: Path):
    """The objective: sample the space, train a run in ``out/trials``, return its validation metric."""
    import optuna


    def objective(trial):
        for k, v in worker_tag().items():
            trial.set_user_attr(k, v)
        values = {d.key: d.suggest(trial) for d in s.space}
        cfg = apply_params(base, values)
        run_dir = Path(out) / TRIALS_DIR / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        pruning = PruningCallback(trial, s.metric)
        try:
            result = run_training(changed_keys(cfg), out=run_dir, progress=False, callbacks=[pruning])
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500])
            raise
        summary = result.summary
        trial.set_user_attr("epochs", int(summary["epochs"]))
        for k in ("val_loss", "val_accuracy", "val_mae", "val_r2", "wall_time_s"):
            if isinstance(summary.get(k), (int, float)):
                trial.set_user_attr(k, float(summary[k]))
        if result.interrupted:
            raise KeyboardInterrupt
        if pruning.pruned:
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at + 1}")
        value = summary.get(s.metric)
        if value is None:
            raise KeyError(f"tune.metric {s.metric!r} is not in the run's summary; it has "
                           f"{', '.join(k for k in summary if k.startswith('val_'))}")
        if not math.isfinite(value):
            raise FloatingPointError(f"{s.metric} is {value} (the run diverged)")
        return float(value)

    return objective


def open_study(url, name: str, s: TuneSettings, seed: int, create: bool = False):
    """The study (created when ``create``), with this settings' sampler and pruner; ``url``: a storage URL or
    a storage :func:`open_storage` returned."""
    import optuna
    storage = open_storage(url) if isinstance(url, str) else url
    kw = dict(study_name=name, storage=storage, sampler=make_sampler(s, seed), pruner=make_pruner(s))
    if create:
        study = optuna.create_study(direction=s.direction, load_if_exists=True, **kw)
        if study.direction.name.lower() != s.direction:
            raise ConfigError(f"study {name!r} in the storage maximises/minimises differently "
                              f"({study.direction.name.lower()}); set tune.study_name to a new name")
        return study
    return optuna.load_study(**kw)


def run_worker(spec_path, index: int, n_trials: int, callbacks=()) -> None:
    """Run ``n_trials`` trials of the study described by ``spec_path`` (a ``tune.json``) in this process;
    ``callbacks``: more Optuna trial callbacks ``f(study, trial)``."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    base = spec["base_config"]
    s = parse_tune(spec["tune"], base)
    storage = open_storage(spec["storage"])
    study = open_study(storage, spec["study_name"], s, _seed(s, base, index, spec["existing"]))
    fail_dead_trials(study, storage)
    study.optimize(make_objective(base, s, Path(spec["out"])), n_trials=n_trials,
                   timeout=s.timeout or None, catch=(Exception,), gc_after_trial=False,
                   callbacks=[_stop_at(s.trials), *callbacks])


def _progress_callback(progress):
    """An Optuna callback telling ``progress`` (``update(n, note)``) of each finished trial and the best so far."""
    def callback(study, trial):
        try:
            best = f"best {study.best_value:.4g} (trial {study.best_trial.number})"
        except ValueError:           # no completed trial yet
            best = "no completed trial yet"
        value = f"{trial.value:.4g}" if trial.value is not None else trial.state.name.lower()
        progress.update(1, f"trial {trial.number}: {value}; {best}")
    return callback


def _stop_at(total: int):
    """Stop this worker once the study holds ``total`` finished trials (other machines may add trials to a
    shared database study meanwhile)."""
    def callback(study, trial):
        if len(_finished(study)) >= total:
            study.stop()
    return callback


# ------------------------------------------------------------------------------------------- the study
def default_out() -> Path:
    return unused_path(Path("runs") / f"tune-{datetime.now():%Y%m%d-%H%M%S}")


def _finished(study) -> list:
    from optuna.trial import TrialState
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _queue_grid(study, s: TuneSettings, remaining: int) -> int:
    """Enqueue grid points not yet finished nor waiting (at most ``remaining``); returns the number waiting."""
    from optuna.trial import TrialState
    key = lambda params: json.dumps(params, sort_keys=True, default=str)   # noqa: E731
    done = {key(t.params) for t in _finished(study)}
    waiting = {key(t.params) for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))}
    for point in s.grid():
        if len(waiting) >= remaining:
            break
        k = key(point)
        if k not in done and k not in waiting:
            study.enqueue_trial(point)
            waiting.add(k)
    return len(waiting)


def run_study(config, trials=None, timeout=None, workers=None, storage=None, out=None, method=None,
              study_name=None, report: bool = True, progress=None) -> TuneResult:
    """Tune a config's ``[tune.space]`` with Optuna and write the tuning folder; returns a :class:`TuneResult`.

    ``config``: a TOML path or a dict holding a ``[tune]`` table. ``trials``, ``timeout`` (seconds per worker),
    ``workers``, ``method``, ``study_name`` override the table's keys. ``storage``: any database URL Optuna
    supports (default: a journal file in ``out``). ``out``: the tuning folder (default
    ``runs/tune-<time>``); running again with the same folder and config resumes the study. ``progress``: a
    function of the number of trials to run returning an object with ``update(n, note)`` / ``close()``, told
    of each finished trial and the best value so far (in-process studies, ``workers = 1``).
    """
    base, s = prepare(config, trials=trials, timeout=timeout, workers=workers, method=method,
                      study_name=study_name)
    out = Path(out) if out is not None else default_out()
    out.mkdir(parents=True, exist_ok=True)
    url = storage_url(out, storage)
    name = default_study_name(base, s)
    spec_path = out / SPEC_FILE
    if spec_path.is_file():
        old = json.loads(spec_path.read_text(encoding="utf-8"))
        if old.get("study_name") != name:
            raise ConfigError(f"{out} holds study {old.get('study_name')!r} (another config or space); "
                              f"choose another --out or restore that config to resume it")
    storage = open_storage(url)
    study = open_study(storage, name, s, _seed(s, base, 0), create=True)
    dead = fail_dead_trials(study, storage)
    existing = len(study.trials)
    remaining = max(0, s.trials - len(_finished(study)))
    if s.method == "grid":
        remaining = _queue_grid(study, s, remaining)
    atomic_write_json(spec_path, {"base_config": base, "tune": s.to_dict(), "storage": url, "study_name": name,
                                  "out": str(out.resolve()), "existing": existing})
    notes = [f"Resumed: trial(s) {', '.join(map(str, dead))} of a worker that died were marked failed."] \
        if dead else []
    try:
        if remaining and s.workers == 1:
            bar = progress(remaining) if progress is not None else None
            try:
                run_worker(spec_path, 0, remaining, [_progress_callback(bar)] if bar is not None else [])
            finally:
                if bar is not None:
                    bar.close()
        elif remaining:
            notes += _run_processes(spec_path, out, s.workers, remaining)
    except KeyboardInterrupt:
        notes.append("Interrupted; run the same command again (same --out) to resume the study.")
    result = write_results(study_name=name, url=url, base=base, settings=s, out=out, report=report)
    result.notes = notes + result.notes
    return result


def _run_processes(spec_path: Path, out: Path, workers: int, remaining: int) -> list[str]:
    """Start ``workers`` worker processes sharing ``remaining`` trials; wait for them; notes on failures."""
    env = {**os.environ, **WORKER_ENV}
    n = min(workers, remaining)
    shares = [remaining // n + (i < remaining % n) for i in range(n)]
    logs = out / "workers"
    logs.mkdir(exist_ok=True)
    procs = []
    for i, share in enumerate(shares):
        log = open(logs / f"worker-{i}.log", "ab")
        procs.append((subprocess.Popen([sys.executable, "-m", "descend.tune.worker", str(spec_path), str(i),
                                        str(share)], env=env, stdout=log, stderr=subprocess.STDOUT), log))
    notes = []
    try:
        for i, (p, log) in enumerate(procs):
            p.wait()
            log.close()
            if p.returncode:
                notes.append(f"Worker {i} exited with status {p.returncode}; see {logs / f'worker-{i}.log'}.")
    except KeyboardInterrupt:
        for p, _ in procs:
            p.terminate()
        for p, _ in procs:
            p.wait()
        raise
    return notes
