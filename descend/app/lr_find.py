"""The learning-rate range test for a ``descend train`` config (``descend lr-find``).

:func:`lr_find_config` builds the parts ``run_training`` would build, from the same factories — data,
model (seeded), optimiser, training loader and loss — and runs :func:`descend.diagnose.lr_find` on them.
"""

from __future__ import annotations

from pathlib import Path

from ..diagnose import lr_find
from ..io import atomic_write_json
from ..random import manual_seed
from .factories import build_loaders, build_loss, build_model, build_optimizer, prepare_data, resolve_config


class _Counted:
    """A loader that tells ``progress`` of each batch it yields."""

    def __init__(self, loader, progress):
        self.loader, self.progress = loader, progress

    def __iter__(self):
        for batch in self.loader:
            self.progress.update(1)
            yield batch


def lr_find_config(config=None, overrides=(), out=None, num_steps: int = 200, start_lr: float = 1e-7,
                   end_lr: float = 10.0, rule: str = "steepest", progress=None):
    """A range test for the model, optimiser and data of a ``descend train`` config; writes ``lr_find.png``
    and ``lr_find.json`` to ``out`` (when given). Returns the :class:`LRFindResult`.

    The parts are those ``run_training`` would build, from the same public factories
    (:mod:`descend.app.factories`): data, model (seeded), optimiser, training loader and loss.
    ``progress``: an object with ``update(n=1, note=None)`` / ``close()`` told of every batch of the sweep.
    """
    cfg = resolve_config(config, overrides)
    splits, _ = prepare_data(cfg)
    manual_seed(cfg["seed"])
    model = build_model(cfg["model"], splits.input_shape, splits.num_outputs,
                        per_step=splits.task == "language-model")
    optimizer = build_optimizer(cfg["optimizer"], model.parameters())
    loader, _ = build_loaders(cfg, splits)
    if progress is not None:
        loader = _Counted(loader, progress)
    try:
        result = lr_find(model, build_loss(splits.task), optimizer, loader, start_lr=start_lr, end_lr=end_lr,
                         num_steps=num_steps, rule=rule)
    finally:
        if progress is not None:
            progress.close()
    result.extra = {"optimizer": cfg["optimizer"]["name"], "config_lr": cfg["optimizer"]["lr"]}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        result.plot(out / "lr_find.png")
        atomic_write_json(out / "lr_find.json", {"suggested_lr": result.suggestion, "rule": result.rule,
                                                 "stopped_early": result.stopped_early, **result.extra,
                                                 "lrs": result.lrs.tolist(), "losses": result.losses.tolist(),
                                                 "smoothed": result.smoothed.tolist()})
    return result
