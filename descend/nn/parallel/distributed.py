"""``DistributedDataParallel``: the same model on every process, gradients averaged after each backward.

Construction broadcasts rank 0's parameters and buffers, so every process starts from the same weights.
Each process then runs forward and backward on its own shard of the global batch; when backward has put
every parameter's gradient in place, the gradients are averaged over the N processes,
g ← (1/N) Σ_r g_r, so ``optimizer.step()`` makes the same update everywhere and the weights stay equal.

The averaging is bucketed, as PyTorch's: parameters (in reverse registration order, the order backward
produces them) are packed into contiguous float buffers of at most ``bucket_cap_mb`` MiB (25 by default);
each bucket is packed, allreduced (one MPI call) and unpacked in turn. descend's autograd accumulates leaf gradients only at the end of its walk and has no
per-parameter hooks, so a bucket cannot start during backward: the reduction runs right after it. The
end of backward is detected without any hook in autograd: the module's outputs pass through an identity
operation that also depends on a one-element *sentinel* leaf created for this forward; the walk reaches
that leaf after every parameter behind the outputs, and its gradient arriving triggers the reduction.
(A parameter used in the loss directly, outside the wrapped module, is not averaged.)
"""

from __future__ import annotations

import contextlib

import numpy as np

from ... import distributed as dist
from ...autograd import Function, is_grad_enabled
from ...tensor import Tensor
from ..module import Module

__all__ = ["DistributedDataParallel"]


class _BackwardSentinel(Tensor):
    """A scalar leaf whose gradient, when backward delivers it, calls ``callback`` (and is not kept)."""

    __slots__ = ("callback",)

    def __init__(self, callback):
        super().__init__(np.zeros((), np.float32), requires_grad=True)
        self.callback = callback

    @property
    def grad(self):
        return None

    @grad.setter
    def grad(self, value):
        if value is not None:
            self.callback()


class _MarkOutput(Function):
    """y = x; dL/dx = dL/dy, and a zero gradient for the sentinel (so backward reaches it)."""

    @staticmethod
    def forward(ctx, x, sentinel):
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad, np.zeros((), np.float32)


def _buckets(params, cap_bytes):
    """Consecutive runs of same-dtype parameters, each at most ``cap_bytes`` (a larger one alone)."""
    buckets, current, size = [], [], 0
    for p in params:
        nbytes = p.array.nbytes
        if current and (size + nbytes > cap_bytes or p.array.dtype != current[0].array.dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group (``init_process_group``).

    ``ddp(x)`` runs ``module(x)``; after ``loss.backward()`` every parameter's ``.grad`` holds the average
    over processes. ``no_sync()`` skips the averaging for backward passes of forwards run inside it
    (gradient accumulation: sync on the last micro-batch only). ``broadcast_buffers=True`` copies rank
    0's buffers (BatchNorm running statistics) to every process at each training forward, as PyTorch.
    State dict keys carry the ``module.`` prefix, as PyTorch's. A parameter with no gradient on a
    process counts as zero there, and every process ends with the same (averaged) gradient.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb: float | None = None, find_unused_parameters: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a descend.nn.Module, got {type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError(f"DistributedDataParallel: device_ids/output_device are for GPUs; descend runs on the "
                             f"CPU, pass None (got {device_ids!r}, {output_device!r})")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: dim must be 0 (the batch dimension), got {dim!r}")
        cap = 25.0 if bucket_cap_mb is None else bucket_cap_mb
        if not isinstance(cap, (int, float)) or cap <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel needs the default process group; call "
                               "descend.distributed.init_process_group('mpi') first")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(cap)
        self.require_backward_grad_sync = True
        params = [p for p in module.parameters() if p.requires_grad]
        object.__setattr__(self, "_bucket_list", _buckets(params[::-1], int(cap * 1024 * 1024)))
        object.__setattr__(self, "_flat", [np.empty(sum(p.array.size for p in b), b[0].array.dtype)
                                           for b in self._bucket_list])
        world = dist.get_world_size()
        for p in module.parameters():
            dist.broadcast(p.array, 0)
        for b in module.buffers():
            if b is not None:
                dist.broadcast(b.array, 0)
        object.__setattr__(self, "_world_size", world)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forwards are not followed by gradient averaging in their backward (gradients accumulate
        locally); the first backward of a forward outside averages the accumulated total."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        if self._world_size > 1 and self.broadcast_buffers and self.training:
            for b in self.module.buffers():
                if b is not None:
                    dist.broadcast(b.array, 0)
        out = self.module(*inputs, **kwargs)
        if self._world_size == 1 or not (self.require_backward_grad_sync and is_grad_enabled()):
            return out
        sentinel = _BackwardSentinel(self._reduce_gradients)
        return _mark(out, sentinel)

    def _reduce_gradients(self) -> None:
        """Average every parameter's gradient over processes, one allreduce per bucket."""
        for bucket, flat in zip(self._bucket_list, self._flat):
            offset = 0
            for p in bucket:
                n = p.array.size
                if p.grad is None:
                    flat[offset:offset + n] = 0
                else:
                    flat[offset:offset + n] = p.grad.array.reshape(-1)
                offset += n
            dist.all_reduce(flat, dist.ReduceOp.AVG)
            offset = 0
            for p in bucket:
                n = p.array.size
                view = flat[offset:offset + n].reshape(p.array.shape)
                if p.grad is None:
                    p.grad = Tensor.from_array(view.copy())
                else:
                    p.grad.array[...] = view
                offset += n


def _mark(out, sentinel):
    if isinstance(out, Tensor):
        return _MarkOutput.apply(out, sentinel) if out.requires_grad else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        return type(out)(*(_mark(o, sentinel) for o in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_mark(o, sentinel) for o in out)
    if isinstance(out, dict):
        return {k: _mark(v, sentinel) for k, v in out.items()}
    return out
