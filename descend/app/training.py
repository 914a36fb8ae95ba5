"""A training run from a config: ``run_training(config, out=None, resume=None)``.

It reads the config (a dict, a TOML path, or None for the default), validates it, builds the parts with
the public factories of :mod:`descend.app.factories` (data, model, loss, optimiser, schedule, loaders,
augmentation) and the callbacks of :mod:`descend.app.callbacks`, trains with a
:class:`descend.train.Trainer`, and writes the run folder (:mod:`descend.app.run_folder`) and its report
(:mod:`descend.app.report`). ``resume=RUN_DIR`` continues an interrupted run from its last checkpoint
with the run's own ``config.toml`` and reaches the same weights as an uninterrupted run.

Under MPI (``mpiexec -n N``, or ``descend train --nproc N``) every process calls ``run_training``: it joins
the process group (``descend.distributed.init_process_group("mpi")``), the run folder is rank 0's,
BatchNorm layers become :class:`descend.nn.SyncBatchNorm`, the Trainer shards each global batch of
``data.batch_size`` rows, and rank 0 alone writes the folder. The weights equal the one-process run's
to float32 rounding.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import distributed as dist
from ..distributed import data_parallel as dp
from ..nn import SyncBatchNorm
from .config import load_config
from ..io import ReportContext
from ..random import manual_seed
from ..train import Callback, EarlyStopping, MLflowLogger, Trainer
from .callbacks import build_callbacks
from .errors import ConfigError
from .factories import (as_targets, build_augmentation, build_loaders, build_loss, build_model, build_optimizer,
                        build_scheduler, prepare_data, resolve_config, task_metrics)
from .report import write_plots_and_report
from .run_folder import (CHECKPOINT_DIR, CONFIG_FILE, HISTORY_FILE, LAST_CHECKPOINT, MODEL_FILE,
                         default_run_dir, read_status, save_model, write_config, write_history, write_status,
                         write_summary)

__all__ = ["RunResult", "run_training", "summarise", "launched_world_size"]

#: Variables an MPI launcher sets in each process it starts: Open MPI's, then MPICH/Hydra's.
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def launched_world_size() -> int:
    """How many processes the MPI launcher that started this one started (1 when not under ``mpiexec``).

    Read from what the launcher tells each process (Open MPI's ``OMPI_COMM_WORLD_SIZE``, MPICH's
    ``PMI_SIZE``), so it is known without importing mpi4py."""
    import os
    for name in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def _join_mpi() -> bool:
    """Join the process group when started by an MPI launcher with more than one process; whether this run
    is data-parallel (a group of more than one process, joined here or by the caller)."""
    if not dist.is_initialized() and launched_world_size() > 1:
        if not dist.is_available():
            raise RuntimeError("this process was started by mpiexec with several processes but mpi4py is "
                               "missing; install the distributed extra: pip install 'descend[distributed]'")
        dist.init_process_group("mpi")
    return dp.is_data_parallel()


def _agree_on_folder(out: Path) -> Path:
    """Rank 0's run folder on every process (a broadcast; also a barrier after every rank's checks)."""
    raw = np.zeros(4096, np.uint8)
    if dist.get_rank() == 0:
        text = str(out).encode()
        if len(text) >= raw.size:
            raise ValueError(f"--out: the run folder's path is {len(text)} bytes long; give one under 4096")
        raw[:len(text)] = np.frombuffer(text, np.uint8)
    dist.broadcast(raw, 0)
    return Path(bytes(raw).rstrip(b"\0").decode())


class _Muted(Callback):
    """Stands in, on a rank other than 0, for a callback that only logs elsewhere (TensorBoard, MLflow): it
    takes the callback's class name, so a checkpoint holding that callback's state resumes on every rank."""

    def load_state_dict(self, state: dict) -> None:
        pass


def _rank_zero_callbacks(callbacks) -> list:
    """The callbacks of a rank other than 0: the same ones, writing no file (the Trainer itself already
    silences its own file and console writers there)."""
    from ..diagnose.guard import DivergenceGuard
    from ..diagnose.health import HealthMonitor
    from ..train import TensorBoard
    from .callbacks import HistoryWriter
    kept = []
    for cb in callbacks:
        if isinstance(cb, HistoryWriter):
            continue
        if isinstance(cb, HealthMonitor):
            cb.path = None                          # records kept in memory only
        elif isinstance(cb, DivergenceGuard):
            cb.checkpoint = cb.event_path = None    # still rolls back and stops, as rank 0 does
        elif isinstance(cb, (TensorBoard, MLflowLogger)):
            cb = type(type(cb).__name__, (_Muted,), {})()
        kept.append(cb)
    return kept


@dataclass
class RunResult:
    """What ``run_training`` returns."""

    out: Path
    config: dict
    summary: dict
    history: object
    model: object
    interrupted: bool = False


def _resume_config(resume, config, overrides):
    resume = Path(resume)
    if not (resume / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"--resume {str(resume)!r}: no config.toml there; give a run folder "
                                f"written by `descend train`")
    ckpt = resume / CHECKPOINT_DIR / LAST_CHECKPOINT
    if not ckpt.is_file():
        raise FileNotFoundError(f"--resume {str(resume)!r}: no checkpoint {ckpt} (the run stopped before "
                                f"its first epoch finished); start it again")
    if config or overrides:
        raise ConfigError("resume continues a run with its own config.toml; give no config or overrides")
    status = read_status(resume)["status"]
    if status == "done":
        raise ValueError(f"--resume {str(resume)!r}: the run already finished; nothing to resume (nothing was "
                         f"changed). To train longer start a new run: descend train {resume / CONFIG_FILE} "
                         f"--set train.epochs=N")
    return load_config(resume / CONFIG_FILE), resume, ckpt


def run_training(config=None, out=None, resume=None, overrides=(), progress: bool = True, callbacks=()):
    """Train from a config and write a run folder; returns a :class:`RunResult`.

    ``config``: a dict (partial; defaults fill the rest), a TOML path, or None for the default (a small
    CNN on digits). ``overrides``: ``["key=value", ...]`` as ``--set``. ``out``: the run folder (default
    ``runs/<time>-<name>``). ``resume``: a run folder to continue from its last checkpoint (its own
    config is used; ``config`` and ``overrides`` must then be empty). ``callbacks``: extra callbacks
    (one defining ``report_sections(ctx)`` adds to the report). A Ctrl-C during training stops after the
    last finished epoch (its checkpoint kept) and returns a result with ``interrupted=True``.
    """
    start = time.perf_counter()
    parallel = _join_mpi()
    lead = not parallel or dist.get_rank() == 0
    if resume is not None:
        cfg, out, ckpt = _resume_config(resume, config, overrides)
    else:
        cfg = resolve_config(config, overrides)
        ckpt = None
        out = Path(out) if out is not None else default_run_dir(cfg)
        if parallel:
            out = _agree_on_folder(out)
        if (out / CHECKPOINT_DIR / LAST_CHECKPOINT).exists():
            raise FileExistsError(f"{out} already holds a run; resume it with --resume {out} or choose "
                                  f"another --out")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {str(out)!r} is a file; give a folder for the run")

    splits, scaler = prepare_data(cfg)          # everything the user gave is checked before a file is written
    manual_seed(cfg["seed"])
    model = build_model(cfg["model"], splits.input_shape, splits.num_outputs,
                        per_step=splits.task == "language-model")
    if parallel:     # every rank has checked the config and data (and read the checkpoint) before rank 0 writes
        model = SyncBatchNorm.convert_sync_batchnorm(model)
        dist.barrier()
    if lead:
        out.mkdir(parents=True, exist_ok=True)
    try:
        if lead:
            write_status(out, "running")
        result = _train(cfg, out, ckpt, splits, scaler, model, progress, callbacks, start, lead)
    except BaseException as exc:
        if lead:
            _record_failure(out, exc)
        raise
    s = result.summary
    if lead:
        write_status(out, "interrupted" if result.interrupted else "diverged" if s.get("diverged") else "done",
                 s.get("divergence"))
    return result


def _record_failure(out, exc) -> None:
    """Mark the run folder failed (best effort: the disk may be full) and tell the CLI where it is."""
    from contextlib import suppress
    with suppress(AttributeError, TypeError):
        exc.run_dir = out
    text = " ".join((str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)).split())
    with suppress(OSError, ValueError):
        if isinstance(exc, KeyboardInterrupt):
            write_status(out, "interrupted", "interrupted outside training (loading, or writing the report)")
        else:
            write_status(out, "failed", f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _train(cfg, out, ckpt, splits, scaler, model, progress, callbacks, start, lead=True) -> RunResult:
    if lead:
        write_config(out, cfg)
    train_loader, val_data = build_loaders(cfg, splits)
    optimizer = build_optimizer(cfg["optimizer"], model.parameters())
    scheduler, interval = build_scheduler(cfg, optimizer, math.ceil(len(train_loader)
                                                                    / cfg["train"]["accumulate_batches"]))
    augmentation = build_augmentation(cfg)
    all_callbacks = build_callbacks(cfg, out, progress, val_data is not None) + list(callbacks)
    if not lead:
        all_callbacks = _rank_zero_callbacks(all_callbacks)
    t = cfg["train"]
    trainer = Trainer(model, build_loss(splits.task), optimizer, scheduler=scheduler,
                      metrics=task_metrics(splits.task), callbacks=all_callbacks, seed=cfg["seed"],
                      clip_grad_norm=t["clip_grad_norm"] or None, l1=t["l1"] or 0.0,
                      augmentation=augmentation, scheduler_interval=interval,
                      accumulate_batches=t["accumulate_batches"])
    history = trainer.fit(train_loader, val_data, epochs=t["epochs"], checkpoint_dir=out / CHECKPOINT_DIR,
                          resume_from=ckpt)
    interrupted = bool(getattr(history, "interrupted", False))
    if history.epochs and lead:
        write_history(history, out / HISTORY_FILE)

    ctx = ReportContext(out=out, config=cfg, data=splits, model=model, trainer=trainer, history=history)
    summary = summarise(ctx, interrupted, time.perf_counter() - start)
    event = next((cb.event for cb in all_callbacks if getattr(cb, "event", None)), None)
    if event and event.get("diverged"):
        summary["diverged"] = True
        summary["divergence"] = (f"diverged at epoch {event.get('epoch', 0) + 1}, batch {event.get('batch', 0) + 1} "
                                 f"({event.get('reason', 'loss')}) with lr {event.get('lr', float('nan')):.3g}")
    elif isinstance(summary["train_loss"], float) and not math.isfinite(summary["train_loss"]):
        summary["diverged"] = True
        summary["divergence"] = f"the training loss became {summary['train_loss']} (NaN/inf stop)"
    ctx.summary = summary
    if not lead:
        return RunResult(out=out, config=cfg, summary=summary, history=history, model=model, interrupted=interrupted)
    if not interrupted:
        save_model(out / MODEL_FILE, model, splits, scaler)
    write_summary(out, summary)
    write_plots_and_report(ctx, all_callbacks)
    for cb in all_callbacks:     # MLflow gets the finished run folder and the final metrics
        if isinstance(cb, MLflowLogger) and cb.run_id is not None:
            cb.log_run_folder(out, summary)
    return RunResult(out=out, config=cfg, summary=summary, history=history, model=model, interrupted=interrupted)


def _last(history, key):
    col = history.history.get(key) if hasattr(history, "history") else None
    return float(col[-1]) if col else None


def summarise(ctx: ReportContext, interrupted: bool, wall: float) -> dict:
    """``summary.json``: task, data, epochs, losses, validation/test metrics, times and sizes; adds the
    notes (early stop, interruption, non-finite loss) to ``ctx.notes``."""
    history, model, trainer, splits = ctx.history, ctx.model, ctx.trainer, ctx.data
    summary = {"task": splits.task, "data": splits.name, "epochs": len(history.epochs),
               "interrupted": interrupted, "stopped_early": any(
                   isinstance(cb, EarlyStopping) and getattr(cb, "stopped_epoch", None) is not None
                   for cb in trainer.callbacks),
               "train_loss": _last(history, "loss"), "val_loss": _last(history, "val_loss"),
               "wall_time_s": round(wall, 3),
               "train_time_s": round(float(np.nansum(history.history.get("time", [0.0]))), 3),
               "parameters": int(sum(p.array.size for p in model.parameters())),
               "train_samples": int(len(splits.x_train))}
    for part, x, y in (("val", splits.x_val, splits.y_val), ("test", splits.x_test, splits.y_test)):
        if x is None or not len(x) or (interrupted and part == "test"):
            continue
        for k, v in trainer.evaluate((x, as_targets(splits, y))).items():
            summary[f"{part}_{k}"] = float(v)
    if splits.task == "language-model":        # nats per character and the same in bits
        for part in ("train", "val", "test"):
            loss = summary.get(f"{part}_loss")
            if loss is not None and math.isfinite(loss):
                summary[f"{part}_bits_per_char"] = loss / math.log(2)
    if summary["stopped_early"]:
        ctx.notes.append(f"Early stopping ended training after epoch {summary['epochs']} (patience "
                         f"{ctx.config['train']['early_stopping_patience']}); the best weights were restored.")
    if interrupted:
        ctx.notes.append(f"Interrupted after epoch {summary['epochs']}; resume with "
                         f"`descend train --resume {ctx.out}`.")
    if any(isinstance(v, float) and not math.isfinite(v) for v in summary.values()):
        ctx.notes.append("The loss became NaN or infinite: lower optimizer.lr or set train.clip_grad_norm.")
    return summary
