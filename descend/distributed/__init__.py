"""Data-parallel training over MPI, with torch.distributed's names.

Start N processes with ``mpiexec -n N python train.py``; in the script::

    import descend.distributed as dist
    dist.init_process_group("mpi")
    model = descend.nn.parallel.DistributedDataParallel(model)   # rank 0's weights everywhere
    sampler = descend.data.DistributedSampler(dataset)           # a disjoint shard per rank

Collectives (``all_reduce``, ``broadcast``, ``all_gather``, ``barrier``) act in place on Tensors or
NumPy arrays. mpi4py is imported only by ``init_process_group``, never by ``import descend``; without it
a one-process (trivial) group is made, so the same script runs on one process unchanged.
"""

from . import data_parallel
from .collectives import ReduceOp, Work, all_gather, all_reduce, barrier, broadcast
from .process_group import (destroy_process_group, get_backend, get_rank, get_world_size, group,
                            init_process_group, is_available, is_initialized)

__all__ = ["data_parallel", "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "destroy_process_group",
           "get_backend", "get_rank", "get_world_size", "group", "init_process_group", "is_available",
           "is_initialized"]
