"""Trainer: the training loop, once.

For every epoch::

    model.train()
    for x, y in train_loader:
        x = augmentation(x)                              # training only, own generator
        loss = loss_fn(model(x), y)                      # + l1 · Σ|w| when asked
        optimizer.zero_grad(); loss.backward()           # accumulate_batches = k: one step per k batches
        callbacks.on_after_backward(trainer)             # gradients are fresh here
        clip_grad_norm_(params, max_norm)                # when asked
        optimizer.step(); callbacks.on_after_step(trainer)
        scheduler.step()                                 # when scheduler_interval == 'batch'
    with no_grad(): model.eval(); validate               # loss and metrics, prefixed val_
    scheduler.step() / scheduler.step(logs[monitor])     # when scheduler_interval == 'epoch'
    history.append(logs); callbacks.on_epoch_end(epoch, logs)
    save the resumable checkpoint                        # when checkpoint_dir is given

The epoch's loss is Σ batch_loss · batch_size / N: the exact mean over the epoch for a mean-reduced
loss; metrics accumulate statistics over the epoch (see :mod:`descend.train.metrics`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import time

import numpy as np

from .. import random as drandom
from ..distributed import data_parallel as dp
from ..autograd import no_grad
from ..nn.functional import l1_penalty
from ..nn.sync_batchnorm import SyncBatchNorm
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor
from .callbacks import CSVLogger, JSONLinesLogger, ModelCheckpoint, ProgressBar
from .callbacks.base import Callback
from .history import History
from .metrics import get_metric

CHECKPOINT_FORMAT = "descend.trainer"
CHECKPOINT_VERSION = 1
LAST_CHECKPOINT = "last.safetensors"
#: under MPI with several processes these callbacks (they write files or the console) run on rank 0 only
RANK_ZERO_ONLY = (CSVLogger, JSONLinesLogger, ModelCheckpoint, ProgressBar)


def _is_plateau(scheduler) -> bool:
    return any(cls.__name__ == "ReduceLROnPlateau" for cls in type(scheduler).__mro__)


class Trainer:
    """Fit a model with a loss and an optimiser; evaluate and predict in batches.

    ``Trainer(model, loss, optimizer, scheduler=None, metrics=(), callbacks=(), seed=None, batch_size=32,
    shuffle=True, scheduler_interval='epoch', scheduler_monitor='val_loss', clip_grad_norm=None, l1=0.0,
    augmentation=None)``

    * ``model``: a Module, or a zero-argument function building one (built after seeding, so ``seed``
      fixes the initial weights too); ``optimizer``: an optimiser, or a function of the parameters
      (``lambda p: SGD(p, lr=0.1)``); ``scheduler``: a scheduler or a function of the optimiser.
    * ``loss``: ``loss(output, target) -> scalar Tensor`` (``nn.CrossEntropyLoss()``, ``F.mse_loss``...).
    * ``metrics``: names (``"accuracy"``, ``"top5"``, ``"f1"``, ``"r2"``...) or Metric objects.
    * ``seed``: seeds descend's default generator (initialisation, dropout), the shuffling of the
      training loader and the augmentation generator: the same seed gives the same history, bit for bit.
    * ``batch_size``, ``shuffle``: used when ``fit``/``evaluate``/``predict`` get arrays instead of a loader.
    * ``scheduler_interval``: ``'epoch'`` (step after each epoch) or ``'batch'`` (after each optimiser step:
      OneCycleLR, warm-up by steps). A ``ReduceLROnPlateau`` scheduler is stepped each epoch with
      ``logs[scheduler_monitor]``.
    * ``clip_grad_norm``: rescale the gradients so their global L2 norm is at most this.
    * ``l1``: add ``l1 · Σ|w|`` over the parameters to the training objective (the logged ``loss`` is
      the data loss alone, comparable with ``val_loss``).
    * ``augmentation``: ``augmentation(x_batch_array, generator) -> array`` (a ``descend.data`` pipeline),
      applied to training batches only, with a generator of the trainer's own.
    * ``accumulate_batches``: gradient accumulation, one optimiser step per ``k`` batches. The step uses
      ``g = Σᵢ nᵢ·∇Lᵢ / Σᵢ nᵢ`` over the group's batches (``Lᵢ`` the batch's mean loss, ``nᵢ`` its size): the
      gradient of one batch ``k`` times as large, exactly, for models without batch statistics (BatchNorm sees
      the small batches). A group never spans epochs: the last, partial group of an epoch steps with the mean
      over its own samples (as the last, smaller batch of a ``k×`` loader would). Clipping, the
      ``on_after_backward`` hook and per-batch schedules act once per optimiser step.
    """

    def __init__(self, model, loss, optimizer, scheduler=None, metrics=(), callbacks=(), seed=None,
                 batch_size: int = 32, shuffle: bool = True, scheduler_interval: str = "epoch",
                 scheduler_monitor: str = "val_loss", clip_grad_norm: float | None = None, l1: float = 0.0,
                 augmentation=None, accumulate_batches: int = 1):
        if seed is not None:
            drandom.manual_seed(seed)  # validates the seed
        if isinstance(model, type) or not hasattr(model, "parameters"):  # a class or function building it
            if not callable(model):
                raise TypeError(f"model must be a Module or a function building one, got {type(model).__name__}")
            model = model()
        self.model = model
        if isinstance(optimizer, type) or not hasattr(optimizer, "step"):
            optimizer = optimizer(list(model.parameters()))
        self.optimizer = optimizer
        if scheduler is not None and (isinstance(scheduler, type) or not hasattr(scheduler, "step")):
            scheduler = scheduler(optimizer)
        self.scheduler = scheduler
        if not callable(loss):
            raise TypeError(f"loss must be callable as loss(output, target), got {type(loss).__name__}")
        self.loss_fn = loss
        self.metrics = [get_metric(m) for m in metrics]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"two metrics share a name in {names}; give each a distinct one")
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be descend.train.Callback objects, got {type(cb).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
        if scheduler_interval == "batch" and scheduler is not None and _is_plateau(scheduler):
            raise ValueError("ReduceLROnPlateau needs a validation value once per epoch; use "
                             "scheduler_interval='epoch'")
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        if clip_grad_norm is not None and not (isinstance(clip_grad_norm, (int, float)) and clip_grad_norm > 0):
            raise ValueError(f"clip_grad_norm must be a positive number or None, got {clip_grad_norm!r}")
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        if not isinstance(l1, (int, float)) or l1 < 0:
            raise ValueError(f"l1 must be a number >= 0 (the L1 penalty weight), got {l1!r}")
        self.l1 = float(l1)
        if augmentation is not None and not callable(augmentation):
            raise TypeError(f"augmentation must be callable as augmentation(x, generator), got "
                            f"{type(augmentation).__name__}")
        self.augmentation = augmentation
        if isinstance(accumulate_batches, bool) or not isinstance(accumulate_batches, (int, np.integer)) \
                or accumulate_batches < 1:
            raise ValueError(f"accumulate_batches must be a positive integer (1: a step per batch), got "
                             f"{accumulate_batches!r}")
        self.accumulate_batches = int(accumulate_batches)

        self.seed = seed
        # independent streams for shuffling and augmentation, derived from the seed (or from descend's
        # default generator, so descend.manual_seed alone also makes a run reproducible)
        root = seed if seed is not None else int(drandom.default_generator().integers(2**63))
        shuffle_seq, augment_seq = np.random.SeedSequence(root).spawn(2)
        self._shuffle_seed = int(shuffle_seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
        self.augment_generator = np.random.default_rng(augment_seq)

        self.params = [p for p in model.parameters() if p.requires_grad]
        self.history = History()
        self.stop_training = False
        self.epoch = -1            # last completed epoch
        self.start_epoch = 0
        self.epochs = 0
        self.train_loader = None
        self._parallel = False
        self.val_metrics = [copy.deepcopy(m) for m in self.metrics]

    # ------------------------------------------------------------------ data
    def _loader(self, data, shuffle: bool, seed: int | None = None):
        """A loader from a loader (returned as is) or an ``(x, y)`` / ``x`` of arrays."""
        from ..data.loader import DataLoader

        if isinstance(data, (tuple, list)) and len(data) in (1, 2) and all(
                isinstance(a, (np.ndarray, Tensor, list)) for a in data):
            return DataLoader(tuple(data), batch_size=self.batch_size, shuffle=shuffle,
                              seed=seed if seed is not None else 0)
        if isinstance(data, (np.ndarray, Tensor)):
            return DataLoader((data,), batch_size=self.batch_size, shuffle=False, seed=0)
        if hasattr(data, "__iter__"):
            return data
        raise TypeError(f"data must be a DataLoader or an (x, y) pair of arrays, got {type(data).__name__}")

    @staticmethod
    def _split(batch):
        if isinstance(batch, (tuple, list)) and len(batch) == 2:
            return batch
        raise ValueError(f"a training batch must be a pair (x, y); the loader gave "
                         f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}")

    # ------------------------------------------------------------------ callbacks
    def _call(self, hook, *args):
        quiet = self._parallel and dp.get_rank() != 0
        for cb in self.callbacks:
            if not (quiet and isinstance(cb, RANK_ZERO_ONLY)):
                getattr(cb, hook)(*args)

    # ------------------------------------------------------------------ the loop
    def fit(self, train_data, val_data=None, epochs: int = 1, checkpoint_dir=None, resume_from=None) -> History:
        """Train for ``epochs`` epochs (in total, counting those of a resumed checkpoint); returns the History.

        ``train_data``/``val_data``: a loader yielding ``(x, y)`` Tensors, or an ``(x, y)`` pair of arrays.
        ``checkpoint_dir``: after every completed epoch write ``checkpoint_dir/last.safetensors`` (atomically),
        a full checkpoint of the run. ``resume_from``: a checkpoint written by :meth:`save_checkpoint` or
        ``checkpoint_dir`` (a file, or the directory); training continues after its epoch with every state
        restored, so the result equals the uninterrupted run bit for bit.
        A KeyboardInterrupt ends training cleanly (``history.interrupted = True``); the last completed
        epoch's checkpoint in ``checkpoint_dir`` is kept for a resume.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        self.epochs = int(epochs)
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self._parallel = dp.is_data_parallel()
        if self._parallel and self.accumulate_batches != 1:
            raise ValueError(f"accumulate_batches = {self.accumulate_batches} is not supported under MPI yet; the global "
                             "batch is already split across processes: raise the batch size instead, or use 1")
        if self._parallel:  # every process draws rank 0's batches (it then takes its shard of each)
            self._shuffle_seed = dp.broadcast_seed(self._shuffle_seed)
        self.train_loader = self._loader(train_data, self.shuffle, self._shuffle_seed)
        val_loader = None if val_data is None else self._loader(val_data, False)
        state = self._read_checkpoint(resume_from) if resume_from is not None else None
        if state is None and self.seed is not None and hasattr(self.train_loader, "load_state_dict") \
                and self.train_loader is train_data:
            # a loader given by the caller is reseeded too: one seed fixes the whole run
            self.train_loader.load_state_dict({"generator": np.random.default_rng(self._shuffle_seed)
                                               .bit_generator.state, "epoch": 0, "seed": self._shuffle_seed})
        self.history = History()
        self.stop_training = False
        self.epoch = -1
        self.start_epoch = 0 if state is None else int(state["epoch"]) + 1
        for cb in self.callbacks:
            cb.set_trainer(self)
        self._call("on_train_begin", {})
        if state is not None:
            self._restore(state)
        if self._parallel:
            dp.broadcast_module(self.model)
        logs = {}
        try:
            for epoch in range(self.start_epoch, self.epochs):
                if self.stop_training:
                    break
                logs, completed = self._run_epoch(epoch, val_loader)
                if self.stop_training:
                    self.history.stopped_epoch = epoch
                if completed and self.checkpoint_dir is not None and not (self._parallel and dp.get_rank()):
                    self.save_checkpoint(os.path.join(self.checkpoint_dir, LAST_CHECKPOINT))
        except KeyboardInterrupt:
            self.history.interrupted = True
        self._call("on_train_end", logs)
        return self.history

    def _run_epoch(self, epoch, val_loader):
        """One epoch of training, then validation; returns (logs, whether every batch ran)."""
        self._call("on_epoch_begin", epoch, {})
        start = time.perf_counter()
        self.model.train()
        for m in self.metrics:
            m.reset()
        total, count, completed, group = 0.0, 0, True, 0
        for batch, data in enumerate(self.train_loader):
            x, y = self._split(data)
            self._call("on_train_batch_begin", batch, {})
            if self.augmentation is not None:
                x = Tensor.from_array(np.asarray(self.augmentation(x.array, self.augment_generator)))
            if self._parallel:
                output, loss = self._parallel_step(x, y)
                self._optimizer_step()
            else:
                output, loss, objective = self._forward_loss(x, y)
                if self.accumulate_batches == 1:
                    self.optimizer.zero_grad()
                    objective.backward()
                    self._optimizer_step()
                else:
                    if group == 0:
                        self.optimizer.zero_grad()
                    (objective * float(len(y))).backward()    # Σ nᵢ·∇Lᵢ, divided by Σ nᵢ at the step
                    group += len(y)
                    if (batch + 1) % self.accumulate_batches == 0:
                        self._optimizer_step(group)
                        group = 0
            value, n = float(getattr(loss, "array", loss)), len(y)
            total += value * n
            count += n
            for m in self.metrics:
                m.update(output.array, y.array)
            self._call("on_train_batch_end", batch, {"loss": value, "size": n})
            if self.stop_training:
                completed = batch + 1 == len(self.train_loader) if hasattr(self.train_loader, "__len__") else False
                break
        if group and not self.stop_training:      # the last, partial group of the epoch
            self._optimizer_step(group)
        if count == 0:
            raise ValueError("the training loader gave no batches; check the data and batch size")
        logs = {"loss": total / count, **{m.name: m.compute() for m in self.metrics}}
        if val_loader is not None:
            val = self.evaluate(val_loader, _metrics=self.val_metrics)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = self.lr
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if _is_plateau(self.scheduler):
                if self.scheduler_monitor not in logs:
                    raise KeyError(f"ReduceLROnPlateau is stepped with {self.scheduler_monitor!r}, which is not "
                                   f"in the logs; available: {sorted(logs)} (set scheduler_monitor=, or pass "
                                   "val_data to fit)")
                self.scheduler.step(logs[self.scheduler_monitor])
            else:
                self.scheduler.step()
        logs["time"] = time.perf_counter() - start
        self.epoch = epoch
        self.history.append(epoch, logs)
        self._call("on_epoch_end", epoch, logs)
        return logs, completed

    def _forward_loss(self, x, y):
        """(output, loss, objective) of one batch: the model's output, the loss, and the loss plus the L1
        penalty when one is asked for (what backward is called on)."""
        output = self.model(x)
        loss = self.loss_fn(output, y)
        return output, loss, (loss if self.l1 == 0 else loss + l1_penalty(self.params, self.l1))

    def _parallel_step(self, x, y):
        """Forward and backward of this rank's shard of the global batch (x, y), weighted by its share n_r/b,
        gradients summed over processes: the global batch's mean-loss gradient (descend.distributed.data_parallel).
        Returns the global batch's outputs (gathered) and mean loss."""
        b = len(y)
        part = dp.shard_slice(b)
        xs, ys = x[part], y[part]
        self.optimizer.zero_grad()
        n_r = part.stop - part.start
        no_sync = getattr(self.model, "no_sync", None)  # a DistributedDataParallel model: the sum is done here
        if b < dp.get_world_size() and (no_sync is not None or any(isinstance(m, SyncBatchNorm)
                                                                   for m in self.model.modules())):
            raise ValueError(f"a training batch of {b} rows leaves some of the {dp.get_world_size()} processes "
                             "without rows, and this model communicates in its forward (DistributedDataParallel "
                             "or SyncBatchNorm); use batches of at least world-size rows (drop_last=True)")
        with (no_sync() if no_sync is not None else contextlib.nullcontext()):
            if n_r:
                output, loss, objective = self._forward_loss(xs, ys)
                (objective * (n_r / b)).backward()
                out, value = output.array, float(loss.array)
            else:
                out, value = None, 0.0
        dp.sum_gradients(self.params)
        (total,) = dp.global_sum(value * n_r)
        return Tensor.from_array(dp.gather_rows(out, dp.shard_sizes(b))), total / b

    def _optimizer_step(self, group_size: int = 0) -> None:
        """Hook, clip, step, per-batch schedule; with accumulation first divide the summed gradients by the
        group's sample count."""
        if group_size:
            scale = np.float32(1.0 / group_size)
            for p in self.params:
                if p.grad is not None:
                    p.grad.array *= scale
        self._call("on_after_backward", self)
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.params, self.clip_grad_norm)
        self.optimizer.step()
        self._call("on_after_step", self)
        if self.scheduler is not None and self.scheduler_interval == "batch":
            self.scheduler.step()

    @property
    def lr(self) -> float:
        """The first parameter group's learning rate now."""
        return float(self.optimizer.param_groups[0]["lr"])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, data, _metrics=None) -> dict:
        """``{"loss": mean loss, <metric>: value, ...}`` over ``data``, in eval mode without a graph.

        The model's train/eval mode is put back afterwards.
        """
        metrics = self.val_metrics if _metrics is None else _metrics
        loader = self._loader(data, False)
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        for m in metrics:
            m.reset()
        total, count = 0.0, 0
        self._call("on_evaluate_begin", self)
        try:
            with no_grad():
                for data_batch in loader:
                    x, y = self._split(data_batch)
                    output = self.model(x)
                    n = len(y)
                    total += float(self.loss_fn(output, y).array) * n
                    count += n
                    for m in metrics:
                        m.update(output.array, y.array)
        finally:
            self._call("on_evaluate_end", self)
            self.model.train(was_training)
        if count == 0:
            raise ValueError("evaluate got no batches; check the data")
        return {"loss": total / count, **{m.name: m.compute() for m in metrics}}

    def predict(self, data) -> np.ndarray:
        """The model's outputs for ``data`` (an array of inputs, an ``(x, y)`` pair or a loader), in batches,
        in eval mode without a graph, concatenated along the first axis."""
        if isinstance(data, (np.ndarray, Tensor)):
            data = (data,)
        loader = self._loader(data, False)
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        outputs = []
        self._call("on_evaluate_begin", self)
        try:
            with no_grad():
                for batch in loader:
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    outputs.append(np.asarray(self.model(x).array))
        finally:
            self._call("on_evaluate_end", self)
            self.model.train(was_training)
        return np.concatenate(outputs, axis=0)

    # ------------------------------------------------------------------ exact resume
    def state_dict(self) -> dict:
        """Everything a resumed run needs: model, optimiser, scheduler, callbacks, loader, generators,
        history, the last completed epoch."""
        loader = self.train_loader
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
            "epoch": self.epoch,
            "stop_training": bool(self.stop_training),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
            "history": self.history.state_dict(),
            "rng": {"default": drandom.get_rng_state(),
                    "augment": drandom.generator_state(self.augment_generator)},
            "train_loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
        }

    def save_checkpoint(self, path) -> None:
        """Write :meth:`state_dict` to ``path`` (one safetensors file, atomically). Call it between epochs
        (from ``on_epoch_end`` or after ``fit``); ``checkpoint_dir=`` does it after every epoch."""
        from ..io import checkpoint

        checkpoint.save(self.state_dict(), path)

    @staticmethod
    def _read_checkpoint(path) -> dict:
        from ..io import checkpoint

        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, LAST_CHECKPOINT)
        if not os.path.exists(path):
            raise FileNotFoundError(f"cannot resume: no checkpoint at {path!r}")
        state = checkpoint.load(path)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path!r} is not a Trainer checkpoint (it holds no trainer state); resume from a "
                             f"file written by Trainer.save_checkpoint or checkpoint_dir")
        return state

    def _restore(self, state: dict) -> None:
        # a saved callback state goes to the callback of the same class (the k-th saved one of a class to the
        # k-th of that class here); stateless callbacks (a progress bar) may differ between the runs
        mine: dict[str, list] = {}
        for cb in self.callbacks:
            mine.setdefault(type(cb).__name__, []).append(cb)
        pairs, used = [], {}
        for saved in state["callbacks"]:
            name = saved["class"]
            k = used.get(name, 0)
            used[name] = k + 1
            if k < len(mine.get(name, ())):
                pairs.append((mine[name][k], saved["state"]))
            elif saved["state"]:
                raise ValueError(f"the checkpoint holds the state of callback {name} (number {k + 1} of that "
                                 f"class) but this trainer has callbacks {[type(c).__name__ for c in self.callbacks]}; "
                                 "resume with the same stateful callbacks (EarlyStopping, ModelCheckpoint...)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError("the checkpoint and this trainer disagree on having a scheduler; resume with the "
                             "same configuration")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for cb, cb_state in pairs:
            cb.load_state_dict(cb_state)
        self.history.load_state_dict(state["history"])
        drandom.set_rng_state(state["rng"]["default"])
        drandom.restore_generator(self.augment_generator, state["rng"]["augment"])
        if state["train_loader"] is not None and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(state["train_loader"])
        self.epoch = int(state["epoch"])
        self.stop_training = bool(state["stop_training"])
