"""HealthMonitor: per-layer gradient, weight, update and activation statistics, every ``every`` steps.

On a sampled training step (step % every == 0) it records, for every layer that owns parameters
(Linear, Conv2d, BatchNorm...), with θ the layer's own parameters::

    grad_norm     ‖∇θ‖₂            measured after backward, before clipping and the step
    weight_norm   ‖θ‖₂             before the step
    update_ratio  ‖θ' − θ‖₂ / ‖θ‖₂  across the optimiser step (healthy: about 1e-4 .. 1e-2)

and, for every activation module (ReLU family, Sigmoid, Tanh, GELU, SiLU...) and parameterised layer,
from a forward hook registered for the sampled step only (at its ``on_train_batch_begin``, removed after
its backward)::

    act_mean, act_std  of the module's output on the batch
    dead               (ReLU family) fraction of units that never fire (output > 0) on the whole batch;
                       a unit is a feature of a (N, F) output, a channel of a (N, C, H, W) output
    saturated          (Sigmoid: σ < 0.01 or σ > 0.99; Tanh: |tanh| > 0.99) fraction of outputs saturated

Records are plain dicts, one per (step, layer) (the long format of ``health.csv``), with ``step``,
``epoch``, ``layer`` (the module's name in ``named_modules``), ``kind`` (its class), ``order`` (its
position in the model) and ``loss`` (the batch loss). Between sampled steps it costs one modulo, and the
model runs exactly as unmonitored: no hook is attached, so fused layers (a Linear followed by a ReLU in a
``Sequential``, :mod:`descend.nn.fusion`) keep their fast path; on a sampled step the hooked pairs run
apart (the same values bit for bit).
Functional activations (``F.relu`` called inside ``forward``) have no module and are not seen.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..train.callbacks.base import Callback

RELU_KINDS = ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Swish")
SATURATING_KINDS = ("Sigmoid", "Tanh")
ACTIVATION_KINDS = RELU_KINDS + SATURATING_KINDS
HEALTH_FILE = "health.csv"
COLUMNS = ["step", "epoch", "layer", "kind", "order", "loss", "grad_norm", "weight_norm", "update_ratio",
           "act_mean", "act_std", "dead", "saturated"]


def _norm(arrays) -> float:
    total = 0.0
    for a in arrays:
        a = np.asarray(a)
        total += float(np.dot(a.ravel().astype(np.float64, copy=False), a.ravel().astype(np.float64, copy=False)))
    return math.sqrt(total) if math.isfinite(total) else float("inf") if not math.isnan(total) else float("nan")


def activation_stats(kind: str, out: np.ndarray) -> dict:
    """``act_mean``, ``act_std`` and (by kind) ``dead`` or ``saturated`` of one module output array."""
    out = np.asarray(out)
    stats = {"act_mean": float(out.mean(dtype=np.float64)), "act_std": float(out.std(dtype=np.float64))}
    if kind == "ReLU" and out.ndim >= 2:
        axes = (0,) + tuple(range(2, out.ndim))
        fired = (out > 0).any(axis=axes)
        stats["dead"] = float(1.0 - fired.mean())
    elif kind in ("LeakyReLU", "ELU", "GELU", "SiLU", "Swish") and out.ndim >= 2:
        axes = (0,) + tuple(range(2, out.ndim))   # "fires" = positive part active
        stats["dead"] = float(1.0 - (out > 0).any(axis=axes).mean())
    elif kind == "Sigmoid":
        stats["saturated"] = float(((out < 0.01) | (out > 0.99)).mean())
    elif kind == "Tanh":
        stats["saturated"] = float((np.abs(out) > 0.99).mean())
    return stats


class HealthMonitor(Callback):
    """Record per-layer training health every ``every`` optimiser steps (see the module docstring).

    ``HealthMonitor(every=20, path=None)``: ``path`` (e.g. ``run/health.csv``) is rewritten atomically
    at the end of every epoch and of training. ``records`` holds the rows; :meth:`report_sections` adds
    the gradient-flow and activation plots and the diagnosis to a ``descend train`` report.
    """

    def __init__(self, every: int = 20, path=None):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer (sample every N steps), got {every!r}")
        self.every = int(every)
        self.path = None if path is None else os.fspath(path)
        self.records: list[dict] = []
        self.step = 0
        self._epoch = 0
        self._sampling = False
        self._handles = []
        self._watched: list = []
        self._watched_modules: list = []
        self._acts: dict = {}
        self._before: dict = {}
        self._grads: dict = {}

    # ------------------------------------------------------------------ set-up
    def _layers(self, model):
        """(name, module, own parameters, order) of modules owning parameters directly."""
        layers = []
        for order, (name, module) in enumerate(model.named_modules()):
            own = [p for _, p in module.named_parameters(recurse=False) if p.requires_grad]
            if own:
                layers.append((name or type(module).__name__, module, own, order))
        return layers

    def on_train_begin(self, logs=None):
        model = self.trainer.model
        self.records = [] if self.trainer.start_epoch == 0 else self.records
        self._param_layers = self._layers(model)
        self._remove_hooks()
        self._watched, self._watched_modules = [], []
        for order, (name, module) in enumerate(model.named_modules()):
            kind = type(module).__name__
            owns = any(True for _ in module.named_parameters(recurse=False))
            if kind in ACTIVATION_KINDS or owns:
                key = name or kind
                self._watched.append((key, kind, order))
                self._watched_modules.append(module)

    def _hook(self, key, kind):
        def hook(module, inputs, output):
            if self._sampling:
                if isinstance(output, (tuple, list)):    # RNN (output, h_n), attention (output, weights)
                    output = output[0]
                output = getattr(output, "data", output)
                output = getattr(output, "array", output)  # a PackedSequence's rows
                self._acts[key] = activation_stats(kind, output)
        return hook

    def _attach_hooks(self):
        """Forward hooks on the watched modules, for one sampled step."""
        self._handles = [module.register_forward_hook(self._hook(key, kind))
                         for (key, kind, _), module in zip(self._watched, self._watched_modules)]

    def _remove_hooks(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    # ------------------------------------------------------------------ per step
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._sampling = self.step % self.every == 0
        self._acts = {}
        if self._sampling:
            self._attach_hooks()

    def on_after_backward(self, trainer):
        if not self._sampling:
            return
        self._remove_hooks()  # this step's forward has run: later steps run unhooked (and fused)
        self._grads, self._before = {}, {}
        for name, _, params, _ in self._param_layers:
            self._grads[name] = _norm(p.grad.array if p.grad is not None else np.zeros(1) for p in params)
            self._before[name] = [p.array.copy() for p in params]

    def on_train_batch_end(self, batch, logs=None):
        if self._sampling:
            loss = float((logs or {}).get("loss", float("nan")))
            rows = {}
            for name, _, params, order in self._param_layers:
                before = self._before.get(name)
                if before is None:
                    continue
                w = _norm(before)
                delta = _norm(p.array - b for p, b in zip(params, before))
                rows[name] = {"kind": None, "order": order, "grad_norm": self._grads[name], "weight_norm": w,
                              "update_ratio": delta / w if w > 0 else float("nan")}
            for key, kind, order in self._watched:
                if key in self._acts:
                    rows.setdefault(key, {"order": order}).update(self._acts[key])
                    rows[key]["kind"] = kind
            kinds = {name: type(module).__name__ for name, module, _, _ in self._param_layers}
            for name, row in sorted(rows.items(), key=lambda kv: kv[1]["order"]):
                record = {c: None for c in COLUMNS}
                record.update(row)
                record.update(step=self.step, epoch=self._epoch, layer=name, loss=loss,
                              kind=row.get("kind") or kinds.get(name))
                self.records.append(record)
            self._before, self._acts = {}, {}
        if self._handles:  # a step whose backward did not run
            self._remove_hooks()
        self._sampling = False
        self.step += 1

    # ------------------------------------------------------------------ output
    def save(self, path=None):
        """Write the records as CSV (atomically); returns the path."""
        from ..io import write_history_csv
        path = path or self.path
        if path is None:
            raise ValueError("HealthMonitor.save needs a path (give path= to the monitor or to save)")
        return write_history_csv(self.records, path, columns=COLUMNS)

    def on_epoch_end(self, epoch, logs=None):
        if self.path is not None and self.records:
            self.save()

    def on_train_end(self, logs=None):
        self._remove_hooks()
        self._sampling = False
        if self.path is not None and self.records:
            self.save()

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        if self.path is not None and os.path.exists(self.path):   # a resumed run keeps its earlier records
            self.records = read_health(self.path)

    def report_sections(self, ctx):
        """This monitor's part of a run's report (``ctx``: a :class:`descend.io.ReportContext`): the
        gradient-flow and activation plots and the diagnosis."""
        from .report import health_sections
        health_sections(ctx, self.records)


def read_health(path) -> list[dict]:
    """The rows of a ``health.csv`` back as dicts (numbers as floats/ints, empty cells as None)."""
    from ..io import read_history_csv
    return list(read_history_csv(path))
