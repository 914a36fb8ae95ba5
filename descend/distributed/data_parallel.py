"""What ``descend.Trainer`` does under MPI with more than one process: split each global batch, add up the
weighted gradients, agree on the start.

Every process iterates the same (same-seeded) global batches of b rows. Rank r takes the contiguous
rows ``[start_r, start_r + n_r)`` with n_r = ⌊b/N⌋ + (1 if r < b mod N): disjoint, covering the batch,
so one epoch visits every sample exactly once across processes. Its mean loss L_r is weighted by its
share, so Σ_r (n_r/b)·∇L_r = ∇((1/b) Σ_i ℓ_i), the gradient of the global batch's mean loss, even when the
last batch does not split evenly (a rank with no rows contributes zero).
"""

from __future__ import annotations

import numpy as np

from .collectives import ReduceOp, all_gather, all_reduce, broadcast
from ..tensor import Tensor
from .process_group import get_rank, get_world_size, is_initialized

__all__ = ["is_data_parallel", "shard_sizes", "shard_slice", "sum_gradients", "broadcast_module", "broadcast_seed",
           "gather_rows", "global_sum"]


def is_data_parallel() -> bool:
    """Whether a process group of more than one process is initialised."""
    return is_initialized() and get_world_size() > 1


def shard_sizes(batch: int, world_size: int | None = None) -> np.ndarray:
    """Rows per rank of a global batch of ``batch`` rows: ⌊b/N⌋, plus one for the first b mod N ranks."""
    n = get_world_size() if world_size is None else world_size
    if not isinstance(batch, (int, np.integer)) or batch < 0:
        raise ValueError(f"shard_sizes: batch must be a non-negative int, got {batch!r}")
    return np.full(n, batch // n) + (np.arange(n) < batch % n)


def shard_slice(batch: int) -> slice:
    """This rank's rows of a global batch of ``batch`` rows."""
    sizes = shard_sizes(batch)
    rank = get_rank()
    start = int(sizes[:rank].sum())
    return slice(start, start + int(sizes[rank]))


def sum_gradients(params) -> None:
    """Replace every parameter's ``.grad`` by the sum over processes (a missing gradient counts as 0), one
    allreduce of all gradients flattened into one buffer per dtype."""
    params = [p for p in params if p.requires_grad]
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.array.dtype, []).append(p)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([np.zeros(p.array.size, dtype) if p.grad is None else p.grad.array.reshape(-1)
                               for p in group])
        all_reduce(flat, ReduceOp.SUM)
        offset = 0
        for p in group:
            value = flat[offset:offset + p.array.size].reshape(p.array.shape)
            offset += p.array.size
            if p.grad is None:
                p.grad = Tensor(value.copy(), dtype=dtype)
            else:
                p.grad.array[...] = value


def broadcast_module(module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every process's ``module`` (in place)."""
    for p in module.parameters():
        broadcast(p.array, src)
    for b in module.buffers():
        if b is not None:
            broadcast(b.array, src)


def broadcast_seed(seed: int, src: int = 0) -> int:
    """Rank ``src``'s integer ``seed`` (0 ≤ seed < 2⁶³), on every process."""
    value = np.array([seed], np.int64)
    broadcast(value, src)
    return int(value[0])


def gather_rows(array, sizes) -> np.ndarray:
    """The rows every rank holds (rank r: ``sizes[r]`` rows, this rank's ``array``), concatenated in rank
    order, on every process. A rank with no rows passes ``None``; the row shape and dtype are then rank
    0's (which has rows whenever any rank has)."""
    sizes = [int(s) for s in sizes]
    if min(sizes) == 0:  # an empty rank does not know the row shape: rank 0 sends it
        header = np.zeros(16, np.int64)
        if get_rank() == 0:
            code = np.frombuffer(np.asarray(array).dtype.str.encode().ljust(8), np.uint8)
            header[0] = np.asarray(array).ndim
            header[1:header[0]] = np.asarray(array).shape[1:]
            header[8:16] = code
        broadcast(header, 0)
        ndim, dtype = int(header[0]), np.dtype(header[8:16].astype(np.uint8).tobytes().strip().decode())
        if array is None:
            array = np.zeros((0,) + tuple(int(d) for d in header[1:ndim]), dtype)
    array = np.asarray(array)
    if array.shape[:1] != (sizes[get_rank()],):
        raise ValueError(f"gather_rows: this rank holds {array.shape[:1]} rows but sizes says {sizes[get_rank()]}")
    rows = max(sizes)
    padded = np.zeros((rows,) + array.shape[1:], array.dtype)
    padded[:array.shape[0]] = array
    parts = [np.empty_like(padded) for _ in sizes]
    all_gather(parts, padded)
    return np.concatenate([part[:s] for part, s in zip(parts, sizes)])


def global_sum(*values: float) -> tuple:
    """The sums over processes of a few numbers (one float64 allreduce)."""
    total = np.array(values, np.float64)
    all_reduce(total, ReduceOp.SUM)
    return tuple(float(v) for v in total)
