"""Collectives on the default group, in place on descend Tensors or NumPy arrays, as torch.distributed's.

Each one is one MPI call on the tensor's contiguous buffer: blocking, or, when the group has a timeout
(``init_process_group(timeout=...)``), non-blocking and polled, so that a collective that does not
complete in time aborts the job (``MPI.Abort``) after printing which rank timed out in which collective.
"""

from __future__ import annotations

import enum
import sys
import time

import numpy as np

from .process_group import _world

__all__ = ["ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "barrier"]


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the processes' values, element-wise."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"  # the sum divided by world size (floating tensors only)


def _array(tensor, what: str) -> np.ndarray:
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "array", None)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{what}: expected a descend Tensor or a NumPy array, got {type(tensor).__name__}")
    if not (data.flags.c_contiguous or data.flags.f_contiguous) or not data.flags.writeable:
        raise ValueError(f"{what}: the tensor must be contiguous and writeable to be updated in place, got "
                         f"shape {data.shape} strides {data.strides}; pass a contiguous copy")
    return data


def _buffer(data: np.ndarray) -> np.ndarray:
    """A 1-D view of a contiguous array in its memory order (every process has the same layout)."""
    return data.reshape(-1, order="F" if data.flags.f_contiguous and not data.flags.c_contiguous else "C")


def _wait(request, world, what: str) -> None:
    """Wait for a non-blocking MPI request up to the group's timeout. MPI makes progress only inside its
    calls, so the first 50 ms poll ``Test`` back to back; after that a growing sleep (up to 1 ms) spares
    the CPU while a slow peer catches up."""
    start = time.monotonic()
    spin_until = start + 0.05
    deadline = start + (float('inf') if world.timeout is None else world.timeout)
    pause = 1e-5
    while not request.Test():
        now = time.monotonic()
        if now > deadline:
            print(f"descend.distributed: rank {world.rank}: {what} did not complete within {world.timeout:g} s; "
                  "a peer process was probably lost; aborting the job", file=sys.stderr, flush=True)
            world.comm.Abort(1)
        if now > spin_until:
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)


class Work:
    """A collective started with ``async_op=True``; ``wait()`` blocks until it has completed (and applied
    any AVG scaling), ``is_completed()`` polls."""

    def __init__(self, request, world, what, finish=None):
        self._request, self._world, self._what, self._finish = request, world, what, finish
        self._done = request is None

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        if not self._done:
            _wait(self._request, self._world, self._what)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None


def _mpi_op(op):
    from mpi4py import MPI
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX}[op]


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Replace ``tensor`` on every process by the element-wise reduction over all processes:
    SUM: Σ_r x_r; AVG: (1/N) Σ_r x_r; PRODUCT, MIN, MAX likewise. Returns None, or with
    ``async_op=True`` a :class:`Work` whose ``wait()`` completes it (several can be in flight at once)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (ReduceOp.SUM, AVG, PRODUCT, MIN, MAX), got {op!r}")
    data = _array(tensor, "all_reduce")
    if op is ReduceOp.AVG and data.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {data.dtype}; use SUM")
    world = _world()
    if world.comm is None:
        return Work(None, world, "all_reduce") if async_op else None
    from mpi4py import MPI
    size = world.size

    def finish():
        if op is ReduceOp.AVG:
            np.divide(data, size, out=data)
    if async_op or world.timeout is not None:
        work = Work(world.comm.Iallreduce(MPI.IN_PLACE, _buffer(data), op=_mpi_op(op)), world, "all_reduce",
                    finish)
        if async_op:
            return work
        work.wait()
    else:
        world.comm.Allreduce(MPI.IN_PLACE, _buffer(data), op=_mpi_op(op))
        finish()
    return None


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy ``tensor`` from rank ``src`` into the same-shaped ``tensor`` of every process (in place)."""
    data = _array(tensor, "broadcast")
    world = _world()
    if not isinstance(src, (int, np.integer)) or not 0 <= src < world.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {world.size}), got {src!r}")
    if async_op:
        raise ValueError("broadcast: async_op=True is not supported; call it with async_op=False")
    if world.comm is None:
        return None
    if world.timeout is None:
        world.comm.Bcast(_buffer(data), root=int(src))
    else:
        _wait(world.comm.Ibcast(_buffer(data), root=int(src)), world, "broadcast")
    return None


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every process (all the same shape and dtype)."""
    data = _array(tensor, "all_gather")
    world = _world()
    if not isinstance(tensor_list, list) or len(tensor_list) != world.size:
        raise ValueError(f"all_gather: tensor_list must be a list of world_size={world.size} tensors, got "
                         f"{type(tensor_list).__name__} of length {len(tensor_list) if hasattr(tensor_list, '__len__') else '?'}")
    outs = [_array(t, "all_gather") for t in tensor_list]
    for o in outs:
        if o.shape != data.shape or o.dtype != data.dtype:
            raise ValueError(f"all_gather: every output must have the input's shape {data.shape} and dtype "
                             f"{data.dtype}, got {o.shape} {o.dtype}")
    if async_op:
        raise ValueError("all_gather: async_op=True is not supported; call it with async_op=False")
    if world.comm is None:
        outs[0][...] = data
        return None
    buffer = np.empty((world.size,) + data.shape, data.dtype)
    if world.timeout is None:
        world.comm.Allgather(np.ascontiguousarray(data), buffer)
    else:
        _wait(world.comm.Iallgather(np.ascontiguousarray(data), buffer), world, "all_gather")
    for r, o in enumerate(outs):
        o[...] = buffer[r]
    return None


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every process of the group has reached this call."""
    world = _world()
    if world.comm is None:
        return None
    if world.timeout is None:
        world.comm.Barrier()
    else:
        _wait(world.comm.Ibarrier(), world, "barrier")
    return None
