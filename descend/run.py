"""A training run from a config, and the run folder it writes.

``run_training(config, out=None, resume=None)`` reads the config (a dict, a TOML path, or None for the
default), validates it, loads and checks the data, builds the model, optimiser and schedule, trains
with a :class:`descend.train.Trainer`, and writes the run folder::

    config.toml        the resolved config (every key)
    history.csv        one row per epoch (rewritten atomically after every epoch)
    summary.json       final metrics, epochs, wall time, parameter count
    model.safetensors  the final weights (the best ones when early stopping restored them) + preprocessing
    checkpoints/       last.safetensors (resumable, every epoch) and best.safetensors (lowest val_loss)
    plots/             loss.png, accuracy.png (or metrics.png), lr.png, confusion_matrix.png
    report.html        self-contained: config, model summary, curves, final metrics, notes

Every file is written atomically. ``resume=RUN_DIR`` continues an interrupted run from its last
checkpoint with the run's own ``config.toml`` and reaches the same weights as an uninterrupted run.

The other public helpers (``evaluate_run``, ``predict_run``, ``list_runs``, ``compare_runs``) read run
folders; the command line is a thin layer over them.

Extension point for diagnostics: append a callable ``hook(ctx)`` to :data:`REPORT_HOOKS`; it is called
with the :class:`RunContext` after training and before the report is written and may add sections
(``ctx.sections.append(ReportSection(...))``) and notes (``ctx.notes.append("...")``). Callbacks passed
in ``callbacks=`` that define ``report_sections(ctx)`` are consulted the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from .config import ConfigError, check_config, load_config, to_toml

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.safetensors"
BEST_CHECKPOINT = "best.safetensors"
MODEL_FILE = "model.safetensors"


@dataclass
class ReportSection:
    """One report section: a heading and any of a key-value table, preformatted text, images (PNG bytes,
    embedded), a data table (list of dicts) and notes."""

    title: str
    table: dict | None = None
    text: str | None = None
    images: list = field(default_factory=list)      # [(caption, png_bytes)]
    rows: list | None = None
    notes: list = field(default_factory=list)


#: Callables ``hook(ctx: RunContext)`` run after training, before the report: add sections and notes here.
REPORT_HOOKS: list = []


@dataclass
class RunContext:
    """Everything a report hook may want: the run folder, config, data, model, trainer, history, summary,
    and the report's ``sections`` and ``notes`` (lists to append to)."""

    out: Path
    config: dict
    data: object = None
    model: object = None
    trainer: object = None
    history: object = None
    summary: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class RunResult:
    """What ``run_training`` returns."""

    out: Path
    config: dict
    summary: dict
    history: object
    model: object
    interrupted: bool = False


# ------------------------------------------------------------------------------------------- folder
def resolve_config(config=None, overrides=()) -> dict:
    """A full, validated config from a dict (partial is fine), a TOML path, or None (the defaults)."""
    if config is None:
        config = {}
    return check_config(config, overrides)


def default_run_dir(config: dict, root="runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<name>`` (name: the config's ``name`` or ``<data>-<preset>``)."""
    name = config["name"] or "-".join([Path(config["data"]["path"]).stem if config["data"]["path"]
                                       else config["data"]["name"],
                                       "layers" if config["model"]["layers"] else config["model"]["preset"]])
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    base = Path(root) / f"{datetime.now():%Y%m%d-%H%M%S}-{safe}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def _write_text(path, text):
    from .io import atomic_write_text
    return atomic_write_text(path, text)


def _write_json(path, obj):
    from .io import atomic_write_json
    return atomic_write_json(path, obj)


def write_history_csv(path, history) -> None:
    """One row per epoch (``epoch`` first, counted from 1, then every logged column), written atomically."""
    from .io.records import as_rows
    from .io.records import write_history_csv as write_rows
    rows = [dict(row) for row in as_rows(history)]
    write_rows([{"epoch": row.pop("epoch", i) + 1, **row} for i, row in enumerate(rows)], path)


def read_history_csv(path) -> dict:
    """``history.csv`` back as a dict column → list of floats (``epoch`` included; NaN where not a number)."""
    from .io.records import read_history_csv as read_rows
    cols: dict = {}
    for row in read_rows(path):
        for k, v in row.items():
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            cols.setdefault(k, []).append(float(v) if number else float("nan"))
    return cols


# ------------------------------------------------------------------------------------------- data
def prepare_data(config: dict):
    """Load, split, subset, validate and (optionally) standardise the data a config names.

    Returns ``(splits, standardizer_or_None)`` with ``splits`` a ``descend.data.DataSplits``.
    """
    from .data import load_dataset
    d, seed = config["data"], config["seed"]
    source = d["path"] or d["name"]
    if d["path"] and not Path(d["path"]).exists():
        raise FileNotFoundError(f"data.path {d['path']!r} does not exist; give a .npz, .csv or IDX folder")
    kwargs = dict(val_fraction=d["val_fraction"], test_fraction=d["test_fraction"], seed=seed)
    if not d["path"] and d["name"] == "fashion-mnist":
        del kwargs["test_fraction"]          # it has its own test split
    if d["path"] and Path(d["path"]).suffix.lower() == ".csv":
        kwargs["label_column"] = d["label_column"]
    splits = load_dataset(source, **kwargs)
    if d["subset"] and d["subset"] < len(splits.x_train):
        import dataclasses
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


# ------------------------------------------------------------------------------------------- training parts
def build_loss(task: str):
    from .nn import CrossEntropyLoss, MSELoss
    return CrossEntropyLoss() if task == "classification" else MSELoss()


def build_optimizer(opt_cfg: dict, params):
    """The optimiser ``[optimizer]`` names (``momentum`` = SGD with momentum, ``nesterov`` = SGD Nesterov)."""
    from . import optim
    name, lr, wd, m = opt_cfg["name"], opt_cfg["lr"], opt_cfg["weight_decay"], opt_cfg["momentum"]
    params = list(params)
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        if m == 0:
            raise ConfigError(f"optimizer.name = {name!r} needs optimizer.momentum > 0")
        return optim.SGD(params, lr=lr, momentum=m, nesterov=name == "nesterov", weight_decay=wd)
    cls = {"adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adam": optim.Adam, "adamw": optim.AdamW,
           "nadam": optim.NAdam, "lion": optim.Lion}[name]
    return cls(params, lr=lr, weight_decay=wd)


def build_scheduler(cfg: dict, optimizer, steps_per_epoch: int):
    """(scheduler or None, interval 'epoch' | 'batch') for ``[schedule]`` with optional linear warm-up."""
    from . import optim
    s, epochs = cfg["schedule"], cfg["train"]["epochs"]
    name, warm = s["name"], s["warmup_epochs"]
    if name == "onecycle":
        group = optimizer.param_groups[0]     # cycle momentum only where the optimiser has one
        cycle = "betas" in group or group.get("momentum", 0) > 0
        return optim.OneCycleLR(optimizer, max_lr=cfg["optimizer"]["lr"], total_steps=epochs * steps_per_epoch,
                                cycle_momentum=cycle), "batch"
    main = None
    if name == "step":
        main = optim.StepLR(optimizer, step_size=s["step_size"], gamma=s["gamma"])
    elif name == "cosine":
        main = optim.CosineAnnealingLR(optimizer, T_max=max(1, epochs - warm), eta_min=s["min_lr"])
    elif name == "plateau":
        main = optim.ReduceLROnPlateau(optimizer, mode="min", factor=s["factor"], patience=s["patience"],
                                       min_lr=s["min_lr"])
    if not warm:
        return main, "epoch"
    warmup = optim.LinearLR(optimizer, start_factor=1.0 / (warm + 1), end_factor=1.0, total_iters=warm)
    if main is None:
        return warmup, "epoch"
    return optim.SequentialLR(optimizer, [warmup, main], milestones=[warm]), "epoch"


def history_writer(path):
    """A callback rewriting ``history.csv`` atomically after every epoch (a crash loses no finished epoch)."""
    from .train.callbacks.base import Callback

    class HistoryWriter(Callback):
        def on_epoch_end(self, epoch, logs=None):
            history = getattr(self.trainer, "history", None)
            if history is not None and history.epochs:
                write_history_csv(path, history)

    return HistoryWriter()


def build_callbacks(cfg: dict, out: Path, progress: bool, has_val: bool = True) -> list:
    from . import train
    callbacks = [train.TerminateOnNaN()]
    patience = cfg["train"]["early_stopping_patience"]
    if patience:
        callbacks.append(train.EarlyStopping(monitor="val_loss", mode="min", patience=patience,
                                             restore_best_weights=True))
    if has_val:   # best.safetensors: the weights of the lowest val_loss (last.safetensors is the trainer's)
        callbacks.append(train.ModelCheckpoint(out / CHECKPOINT_DIR / BEST_CHECKPOINT, monitor="val_loss",
                                               mode="min", save_best_only=True))
    callbacks.append(history_writer(out / "history.csv"))
    diag = cfg.get("diagnose", {})
    if diag.get("monitor") or diag.get("guard"):   # training health (descend.diagnose)
        from . import diagnose
        if diag.get("monitor"):
            callbacks.append(diagnose.HealthMonitor(every=diag["every"], path=out / diagnose.health.HEALTH_FILE))
        if diag.get("guard"):
            callbacks.append(diagnose.DivergenceGuard(checkpoint=out / CHECKPOINT_DIR / "last_good.safetensors",
                                                      event_path=out / diagnose.guard.EVENT_FILE))
    if progress:
        callbacks.append(train.ProgressBar())
    return callbacks


# ------------------------------------------------------------------------------------------- run
def run_training(config=None, out=None, resume=None, overrides=(), progress: bool = True, callbacks=()):
    """Train from a config and write a run folder; returns a :class:`RunResult`.

    ``config``: a dict (partial; defaults fill the rest), a TOML path, or None for the default (a small
    CNN on digits). ``overrides``: ``["key=value", ...]`` as ``--set``. ``out``: the run folder (default
    ``runs/<time>-<name>``). ``resume``: a run folder to continue from its last checkpoint (its own
    config is used; ``config`` and ``overrides`` must then be empty). ``callbacks``: extra callbacks.
    A Ctrl-C during training stops after the last finished epoch (its checkpoint kept) and returns a
    result with ``interrupted=True``.
    """
    from . import manual_seed
    from .train import Trainer
    start = time.perf_counter()
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.toml").is_file():
            raise FileNotFoundError(f"--resume {str(resume)!r}: no config.toml there; give a run folder "
                                    f"written by `descend train`")
        ckpt = resume / CHECKPOINT_DIR / LAST_CHECKPOINT
        if not ckpt.is_file():
            raise FileNotFoundError(f"--resume {str(resume)!r}: no checkpoint {ckpt} (the run stopped before "
                                    f"its first epoch finished); start it again")
        if config or overrides:
            raise ConfigError("resume continues a run with its own config.toml; give no config or overrides")
        cfg = load_config(resume / "config.toml")
        out = resume
    else:
        cfg = resolve_config(config, overrides)
        ckpt = None
        out = Path(out) if out is not None else default_run_dir(cfg)
        if (out / CHECKPOINT_DIR / LAST_CHECKPOINT).exists():
            raise FileExistsError(f"{out} already holds a run; resume it with --resume {out} or choose "
                                  f"another --out")
    out.mkdir(parents=True, exist_ok=True)

    splits, scaler = prepare_data(cfg)
    manual_seed(cfg["seed"])
    from .models import build_model
    model = build_model(cfg["model"], splits.input_shape, splits.num_outputs)
    _write_text(out / "config.toml", to_toml(cfg))

    from .data import DataLoader
    bs = cfg["data"]["batch_size"]
    train_loader = DataLoader((splits.x_train, _targets(splits, splits.y_train)), batch_size=bs,
                              shuffle=True, seed=cfg["seed"])
    val_data = None
    if splits.x_val is not None and len(splits.x_val):
        val_data = DataLoader((splits.x_val, _targets(splits, splits.y_val)), batch_size=max(bs, 256))
    optimizer = build_optimizer(cfg["optimizer"], model.parameters())
    scheduler, interval = build_scheduler(cfg, optimizer, len(train_loader))
    augmentation = None
    if cfg["data"]["augment"]:
        from .data import build_augmentation
        augmentation = build_augmentation(cfg["data"]["augment"])
    all_callbacks = build_callbacks(cfg, out, progress, val_data is not None) + list(callbacks)
    metrics = ["accuracy"] if splits.task == "classification" else ["mae", "r2"]
    t = cfg["train"]
    trainer = Trainer(model, build_loss(splits.task), optimizer, scheduler=scheduler, metrics=metrics,
                      callbacks=all_callbacks, seed=cfg["seed"], clip_grad_norm=t["clip_grad_norm"] or None,
                      l1=t["l1"] or 0.0, augmentation=augmentation, scheduler_interval=interval)
    history = trainer.fit(train_loader, val_data, epochs=t["epochs"], checkpoint_dir=out / CHECKPOINT_DIR,
                          resume_from=ckpt)
    interrupted = bool(getattr(history, "interrupted", False))
    if history.epochs:
        write_history_csv(out / "history.csv", history)

    ctx = RunContext(out=out, config=cfg, data=splits, model=model, trainer=trainer, history=history)
    summary = _summarise(ctx, trainer, splits, interrupted, time.perf_counter() - start)
    ctx.summary = summary
    if not interrupted:
        _save_model(out / MODEL_FILE, model, splits, scaler, cfg)
    _write_json(out / "summary.json", summary)
    write_plots_and_report(ctx, all_callbacks)
    return RunResult(out=out, config=cfg, summary=summary, history=history, model=model, interrupted=interrupted)


def _targets(splits, y):
    """Regression targets as (N, k) float32 (so MSELoss compares like shapes); labels unchanged."""
    if splits.task == "regression" and y is not None and np.ndim(y) == 1:
        return np.asarray(y, np.float32).reshape(-1, 1)
    return y


def _evaluate(trainer, splits, x, y) -> dict:
    return {k: float(v) for k, v in trainer.evaluate((x, _targets(splits, y))).items()}


def _last(history, key):
    col = history.history.get(key) if hasattr(history, "history") else None
    return float(col[-1]) if col else None


def _summarise(ctx, trainer, splits, interrupted, wall) -> dict:
    history, model = ctx.history, ctx.model
    summary = {"task": splits.task, "data": splits.name, "epochs": len(history.epochs),
               "interrupted": interrupted, "stopped_early": any(
                   type(cb).__name__ == "EarlyStopping" and getattr(cb, "stopped_epoch", None) is not None
                   for cb in trainer.callbacks),
               "train_loss": _last(history, "loss"), "val_loss": _last(history, "val_loss"),
               "wall_time_s": round(wall, 3),
               "train_time_s": round(float(np.nansum(history.history.get("time", [0.0]))), 3),
               "parameters": int(sum(p.data.size for p in model.parameters())),
               "train_samples": int(len(splits.x_train))}
    for part, x, y in (("val", splits.x_val, splits.y_val), ("test", splits.x_test, splits.y_test)):
        if x is None or not len(x) or (interrupted and part == "test"):
            continue
        for k, v in _evaluate(trainer, splits, x, y).items():
            summary[f"{part}_{k}"] = v
    if summary["stopped_early"]:
        ctx.notes.append(f"Early stopping ended training after epoch {summary['epochs']} (patience "
                         f"{ctx.config['train']['early_stopping_patience']}); the best weights were restored.")
    if interrupted:
        ctx.notes.append(f"Interrupted after epoch {summary['epochs']}; resume with "
                         f"`descend train --resume {ctx.out}`.")
    if any(isinstance(v, float) and not math.isfinite(v) for v in summary.values()):
        ctx.notes.append("The loss became NaN or infinite: lower optimizer.lr or set train.clip_grad_norm.")
    return summary


def _save_model(path, model, splits, scaler, cfg):
    from .io import save
    save({"model": dict(model.state_dict()), "task": splits.task, "input_shape": list(splits.input_shape),
          "num_outputs": int(splits.num_outputs), "class_names": [str(c) for c in (splits.class_names or [])],
          "standardizer": scaler.state_dict() if scaler is not None else None}, path)


# ------------------------------------------------------------------------------------------- report
def write_plots_and_report(ctx: RunContext, callbacks=()) -> Path:
    """Write ``plots/*.png`` and ``report.html`` for a finished (or interrupted) run."""
    from .io import plots
    from .io.report import Report
    out, history, cfg = ctx.out, ctx.history, ctx.config
    pdir = out / "plots"
    images = []
    if history.epochs:
        images.append(("Loss", plots.plot_loss(history, pdir / "loss.png")))
        metric_names = [k for k in history.history if k in ("accuracy", "val_accuracy", "mae", "val_mae",
                                                              "r2", "val_r2")]
        if metric_names:
            name = "accuracy" if "accuracy" in metric_names else "metrics"
            images.append((name.capitalize(), plots.plot_metrics(history, pdir / f"{name}.png",
                                                                 metrics=metric_names, title=name.capitalize())))
        if "lr" in history.history:
            images.append(("Learning rate", plots.plot_lr(history, pdir / "lr.png", xlabel="epoch")))
    cm_path = None
    splits = ctx.data
    if splits is not None and splits.task == "classification" and not ctx.summary.get("interrupted"):
        x, y = (splits.x_test, splits.y_test) if splits.x_test is not None else (splits.x_val, splits.y_val)
        if x is not None and len(x):
            pred = np.asarray(ctx.trainer.predict(x)).argmax(axis=1)
            k = int(splits.num_outputs)
            cm = np.bincount(np.asarray(y) * k + pred, minlength=k * k).reshape(k, k)
            cm_path = plots.plot_confusion_matrix(cm, pdir / "confusion_matrix.png",
                                                  class_names=splits.class_names)
    for hook in list(REPORT_HOOKS) + [getattr(cb, "report_sections") for cb in callbacks
                                      if hasattr(type(cb), "report_sections")]:
        hook(ctx)

    report = Report(f"descend run: {out.name}", subtitle=_subtitle(ctx))
    report.section("Final metrics").kv(ctx.summary)
    if ctx.notes:
        report.section("Notes")
        for note in ctx.notes:
            report.note(note, level="warning" if "NaN" in note or "Interrupted" in note else "info")
    report.section("Curves")
    for caption, path in images:
        report.image(path, caption=caption)
    if cm_path is not None:
        report.section("Confusion matrix").image(cm_path, caption="rows: true class, columns: predicted class")
    report.section("Model").pre(_model_summary(ctx))
    for section in ctx.sections:            # added by REPORT_HOOKS and callbacks (diagnostics)
        report.section(section.title)
        if section.table:
            report.kv(section.table)
        if section.text:
            report.pre(section.text)
        for caption, png in section.images:
            report.image(png, caption=caption)
        if section.rows:
            report.table(section.rows)
        for note in section.notes:
            report.note(note, level="warning")
    report.section("Configuration").kv(cfg)
    return report.save(out / "report.html")


def _subtitle(ctx) -> str:
    s = ctx.summary
    return (f"{s.get('data')} ({s.get('task')}), {s.get('epochs')} epochs, {s.get('parameters')} parameters, "
            f"{s.get('wall_time_s', 0):.1f} s")


def _model_summary(ctx) -> str:
    model = ctx.model
    try:
        table = model.summary(tuple(ctx.data.input_shape), print_summary=False)
        return f"{model!r}\n\n{table}"
    except Exception:   # the summary is informative only; never fail a finished run over it
        return repr(model)


# ------------------------------------------------------------------------------------------- reading runs
def load_run(run_dir):
    """(config, model in eval mode, saved metadata) of a finished run folder."""
    from .io import load
    from .models import build_model
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run folder (no config.toml)")
    if not (run_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} has no {MODEL_FILE}: the run did not finish; "
                                f"continue it with `descend train --resume {run_dir}`")
    cfg = load_config(run_dir / "config.toml")
    meta = load(run_dir / MODEL_FILE)
    model = build_model(cfg["model"], tuple(meta["input_shape"]), int(meta["num_outputs"]))
    model.load_state_dict(meta["model"])
    model.eval()
    return cfg, model, meta


def _standardize(meta, x):
    if meta.get("standardizer"):
        from .data import Standardizer
        s = Standardizer()
        s.load_state_dict(meta["standardizer"])
        return s.transform(x)
    return x


def _forward(model, x, batch=512) -> np.ndarray:
    from .autograd import no_grad
    from .tensor import Tensor
    outs = []
    with no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(Tensor._from_array(np.ascontiguousarray(x[i:i + batch]))).data)
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def evaluate_run(run_dir, data=None, split: str = "test") -> dict:
    """Loss and metrics of a run's final model on a split of its data (or of ``data``: a name or path)."""
    cfg, model, meta = load_run(run_dir)
    if data is not None:
        p = Path(data)
        if p.suffix or p.exists():
            cfg["data"]["path"] = str(data)
        else:
            cfg["data"]["path"], cfg["data"]["name"] = "", data
        check_config(cfg)
    cfg["data"]["standardize"] = False
    splits, _ = prepare_data(cfg)
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    if x is None or not len(x):
        raise ValueError(f"the data has no {split} split; choose --split from "
                         f"{[n for n, xx, _ in splits.parts() if len(xx)]}")
    if tuple(x.shape[1:]) != tuple(meta["input_shape"]):
        raise ValueError(f"the data's samples have shape {tuple(x.shape[1:])} but the model of {run_dir} takes "
                         f"{tuple(meta['input_shape'])}; evaluate it on data like its training data")
    x = _standardize(meta, x)
    out = _forward(model, x)
    result = {"split": split, "samples": int(len(x))}
    if meta["task"] == "classification":
        if out.shape[1] != meta["num_outputs"] or int(np.max(y)) >= out.shape[1]:
            raise ValueError(f"labels reach {int(np.max(y))} but the model predicts {out.shape[1]} classes")
        z = out - out.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        result["loss"] = float(-logp[np.arange(len(y)), y].mean())
        result["accuracy"] = float((out.argmax(axis=1) == y).mean())
    else:
        t = np.asarray(y, np.float64).reshape(out.shape)
        err = out.astype(np.float64) - t
        result["loss"] = float((err ** 2).mean())
        result["mae"] = float(np.abs(err).mean())
        result["r2"] = float(1 - (err ** 2).sum() / max(((t - t.mean(axis=0)) ** 2).sum(), 1e-30))
    return result


def _read_inputs(path, cfg, input_shape) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {str(path)!r} not found")
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if not z.files:
                raise ValueError(f"{path} holds no arrays; save the inputs as array 'x'")
            key = next((k for k in ("x", "x_test", "inputs", "X") if k in z.files), z.files[0])
            x = z[key]
    elif path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
        if header is None:
            raise ValueError(f"{path} is empty; give a header row and one row of features per sample")
        keep = [i for i, h in enumerate(header) if h != cfg["data"]["label_column"]]
        x = np.loadtxt(path, delimiter=",", skiprows=1, usecols=keep, ndmin=2, dtype=np.float64)
    else:
        raise ValueError(f"input {str(path)!r}: use a .npz (array 'x') or a .csv of features")
    x = np.asarray(x, dtype=np.float32)
    n_features = int(np.prod(input_shape))
    if x.ndim == 0 or len(x) == 0 or x[0].size != n_features:
        raise ValueError(f"inputs of shape {x.shape} do not fit the model's input shape {tuple(input_shape)} "
                         f"({n_features} features per sample)")
    x = x.reshape(len(x), *input_shape)
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
        raise ValueError(f"input row {rows[0]} contains NaN or inf ({len(rows)} rows affected)")
    return x


def predict_run(run_dir, inputs, output) -> Path:
    """Predict with a run's final model; write ``output`` (.csv or .npz). Classification writes the class
    ``prediction`` and ``probabilities`` (softmax); regression writes the predicted values."""
    output = Path(output)
    if output.suffix.lower() not in (".csv", ".npz"):
        raise ValueError(f"--output {str(output)!r}: use a .csv or .npz file name")
    cfg, model, meta = load_run(run_dir)
    x = _standardize(meta, _read_inputs(inputs, cfg, meta["input_shape"]))
    out = _forward(model, x)
    arrays = {}
    if meta["task"] == "classification":
        z = np.exp(out - out.max(axis=1, keepdims=True))
        arrays["probabilities"] = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
        arrays["prediction"] = out.argmax(axis=1).astype(np.int64)
    else:
        arrays["prediction"] = out.astype(np.float32)
    if output.suffix.lower() == ".npz":
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        from .io import atomic_write_bytes
        atomic_write_bytes(output, buf.getvalue())
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if meta["task"] == "classification":
            k = arrays["probabilities"].shape[1]
            w.writerow(["prediction", *(f"p_{c}" for c in range(k))])
            for p, row in zip(arrays["prediction"], arrays["probabilities"]):
                w.writerow([int(p), *(f"{v:.6g}" for v in row)])
        else:
            pred = arrays["prediction"].reshape(len(x), -1)
            w.writerow([f"prediction_{j}" if pred.shape[1] > 1 else "prediction" for j in range(pred.shape[1])])
            w.writerows([[f"{v:.7g}" for v in row] for row in pred])
        _write_text(output, buf.getvalue())
    return output


def list_runs(root="runs") -> list[dict]:
    """One dict per run folder under ``root`` (sorted by name, i.e. by start time): its path, data, model,
    epochs and final metrics from ``summary.json`` (status 'unfinished' without one)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder {str(root)!r}; train one with `descend train` (or give DIR)")
    rows = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.toml").is_file()):
        row = {"run": d.name, "path": str(d)}
        try:
            cfg = load_config(d / "config.toml")
            row["data"] = Path(cfg["data"]["path"]).name if cfg["data"]["path"] else cfg["data"]["name"]
            row["model"] = "layers" if cfg["model"]["layers"] else cfg["model"]["preset"]
            row["optimizer"] = cfg["optimizer"]["name"]
        except (ConfigError, OSError):
            row["data"] = row["model"] = row["optimizer"] = "?"
        if (d / "summary.json").is_file():
            s = json.loads((d / "summary.json").read_text(encoding="utf-8"))
            row["status"] = "interrupted" if s.get("interrupted") else "done"
            for k in ("epochs", "val_loss", "val_accuracy", "test_accuracy", "test_loss", "test_r2",
                      "wall_time_s"):
                if s.get(k) is not None:
                    row[k] = s[k]
        else:
            row["status"] = "unfinished"
        rows.append(row)
    return rows


def format_runs_table(rows: list[dict]) -> str:
    cols = ["run", "status", "data", "model", "optimizer", "epochs", "val_loss", "val_accuracy", "test_accuracy",
            "test_r2", "wall_time_s"]
    cols = [c for c in cols if any(c in r for r in rows)]

    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else ("-" if v is None else str(v))
    table = [cols] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table)


def compare_runs(run_dirs, output=None, metric: str = "loss") -> Path:
    """Overlay ``metric`` (and its ``val_`` version when both exist and metric is unprefixed) of several runs
    in one PNG; returns its path (default ``compare.png`` beside the first run)."""
    from .io import plots
    runs = {}
    for d in run_dirs:
        d = Path(d)
        if not (d / "history.csv").is_file():
            raise FileNotFoundError(f"{str(d)!r} has no history.csv; give run folders written by `descend train`")
        cols = read_history_csv(d / "history.csv")
        if metric not in cols:
            raise KeyError(f"run {d.name} has no {metric!r} column; it has {', '.join(cols)}")
        cols.pop("epoch", None)  # history.csv counts from 1; the plots number epochs 1..n themselves
        name = d.name
        while name in runs:
            name += "'"
        runs[name] = cols
    output = Path(output) if output else Path(run_dirs[0]).parent / "compare.png"
    if output.suffix.lower() != ".png":
        raise ValueError(f"--output {str(output)!r}: the overlay is a PNG; end the name with .png")
    return Path(plots.compare(runs, metric=metric, path=output))
