"""What :class:`descend.train.Trainer` does differently under data parallelism (MPI, several processes).

* **The step.** Rank r of N takes its contiguous shard of every global batch of b rows (n_r rows,
  :func:`descend.distributed.data_parallel.shard_slice`), augments it and back-propagates w_r·L_r (L_r its
  mean loss) with w_r = n_r/b, so that the sum over ranks Σ_r (n_r/b)·∇L_r is the global batch's mean-loss
  gradient. With ``accumulate_batches = k`` the weight is n_r and gradients accumulate locally over the k
  batches; they are summed over processes once, before the optimiser step (one allreduce per step), and
  divided by the group's global row count Σ_i b_i, as on one process.
* **Random streams.** Dropout (descend's default generator) and augmentation draw, on each process, from
  streams derived from the run's seed, the rank and the epoch (``numpy.random.SeedSequence(root,
  spawn_key=(rank, epoch))``): different across ranks, identical when the run is repeated with the same seed
  and process count, and exact across a resume (an epoch's streams do not depend on the epochs before).
* **Stopping.** A SIGINT (Ctrl-C; the launcher forwards SIGUSR1 as one) on any process sets a flag that
  travels with the batch's loss in the same allreduce; every process sees the logical OR after the same
  batch and stops there, as a KeyboardInterrupt on one process does (the last completed epoch's checkpoint
  kept). No process is left waiting in a collective.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np

from .. import random as drandom
from ..distributed import data_parallel as dp
from ..nn.sync_batchnorm import SyncBatchNorm
from ..tensor import Tensor

__all__ = ["seed_rank_streams", "parallel_step", "stop_requests"]


def seed_rank_streams(root: int, epoch: int, augment_generator) -> None:
    """Reseed the default generator (dropout) and ``augment_generator`` for ``epoch`` on this rank, from the
    two children of ``SeedSequence(root, spawn_key=(rank, epoch))`` (``root``: the same on every rank)."""
    sequence = np.random.SeedSequence(int(root), spawn_key=(dp.get_rank(), int(epoch)))
    dropout, augment = sequence.spawn(2)
    drandom.set_rng_state(np.random.default_rng(dropout).bit_generator.state)
    drandom.restore_generator(augment_generator, np.random.default_rng(augment).bit_generator.state)


def parallel_step(trainer, x, y, accumulate: bool, stop_requested: bool):
    """Forward and backward of this rank's shard of the global batch (x, y); returns the global batch's
    gathered outputs, its mean loss, and whether any process asked to stop (``stop_requested`` here). The
    gradients stay local (the caller sums them over processes before the step): weighted by n_r/b, or by
    n_r when ``accumulate``."""
    b = len(y)
    part = dp.shard_slice(b)
    xs, ys = x[part], y[part]
    n_r = part.stop - part.start
    no_sync = getattr(trainer.model, "no_sync", None)  # a DistributedDataParallel model: the sum is done here
    if b < dp.get_world_size() and (no_sync is not None or any(isinstance(m, SyncBatchNorm)
                                                               for m in trainer.model.modules())):
        raise ValueError(f"a training batch of {b} rows leaves some of the {dp.get_world_size()} processes "
                         "without rows, and this model communicates in its forward (DistributedDataParallel "
                         "or SyncBatchNorm); use batches of at least world-size rows (drop_last=True)")
    with (no_sync() if no_sync is not None else contextlib.nullcontext()):
        if n_r:
            if trainer.augmentation is not None:
                xs = Tensor.from_array(np.asarray(trainer.augmentation(xs.array, trainer.augment_generator)))
            output, loss, objective = trainer._forward_loss(xs, ys)
            (objective * (float(n_r) if accumulate else n_r / b)).backward()
            out, value = output.array, float(loss.array)
        else:
            out, value = None, 0.0
    total, stops = dp.global_sum(value * n_r, float(stop_requested))
    return Tensor.from_array(dp.gather_rows(out, dp.shard_sizes(b))), total / b, stops > 0


class _StopRequest:
    """A flag set by SIGINT while installed (the previous handler is put back on exit)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        self.requested = True

    def __enter__(self):
        self.requested = False
        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


def stop_requests() -> _StopRequest:
    """A context manager during which a SIGINT sets ``.requested`` instead of raising KeyboardInterrupt."""
    return _StopRequest()
