"""The process group: which process this is (``rank``) among how many (``world_size``), over MPI.

``init_process_group("mpi")`` joins ``MPI.COMM_WORLD`` (mpi4py, imported only here, when called). When
mpi4py is not installed and no world size above 1 is asked for, a *trivial* group of one process is made,
so the same training script runs unchanged as a single process. Collectives on the trivial group are
identities.
"""

from __future__ import annotations

import datetime

__all__ = ["init_process_group", "is_initialized", "is_available", "get_rank", "get_world_size",
           "get_backend", "destroy_process_group", "group"]


class _Group:
    """One process group: its MPI communicator (None for the trivial group), rank, size and timeout."""

    def __init__(self, comm, rank: int, size: int, timeout: float | None):
        self.comm = comm
        self.rank = rank
        self.size = size
        self.timeout = timeout


class group:
    """Holds the default group (``group.WORLD``, as ``torch.distributed.group.WORLD``); None before init."""

    WORLD: _Group | None = None


def is_available() -> bool:
    """Whether the MPI backend can be used: mpi4py imports (it is the ``distributed`` extra)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(backend: str = "mpi", init_method=None, timeout: datetime.timedelta | None = None,
                       world_size: int = -1, rank: int = -1) -> None:
    """Join the default process group.

    ``backend`` must be ``"mpi"``: the processes are the ones ``mpiexec -n N`` started, so rank and world
    size come from MPI; ``world_size``/``rank``, when given (not -1), must agree with MPI's. A process that
    dies is noticed by mpiexec, which ends the others and names the lost rank. ``timeout`` (a timedelta)
    additionally bounds every collective: one that has not completed by then aborts the whole job with a
    message naming this rank and the collective (a peer that hangs). Without it (the default, as PyTorch's
    MPI backend, which has no timeout) collectives are blocking MPI calls, the fastest: a timed collective
    is a non-blocking call polled, ~1.6x slower for a 2 MB allreduce here. Without mpi4py, ``world_size``
    -1 or 1 gives a trivial one-process group.
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi' (the only one descend has), got {backend!r}")
    if init_method is not None:
        raise ValueError(f"init_process_group: init_method is not used by the mpi backend (mpiexec starts and "
                         f"connects the processes), got {init_method!r}; leave it None")
    if timeout is not None and (not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0):
        raise TypeError(f"init_process_group: timeout must be a positive datetime.timedelta, got {timeout!r}")
    for label, value in (("world_size", world_size), ("rank", rank)):
        if not isinstance(value, int) or value < -1:
            raise ValueError(f"init_process_group: {label} must be -1 (from MPI) or a non-negative int, got {value!r}")
    if group.WORLD is not None:
        raise RuntimeError("init_process_group: the default process group is already initialised; call "
                           "destroy_process_group() first")
    seconds = None if timeout is None else timeout.total_seconds()
    try:
        from mpi4py import MPI
    except ImportError:
        if world_size not in (-1, 1) or rank not in (-1, 0):
            raise RuntimeError(f"init_process_group: world_size={world_size} needs mpi4py; install the "
                               "distributed extra (pip install 'descend[distributed]') and start with mpiexec")
        group.WORLD = _Group(None, 0, 1, seconds)
        return
    comm = MPI.COMM_WORLD
    if world_size not in (-1, comm.Get_size()):
        raise ValueError(f"init_process_group: world_size={world_size} but mpiexec started {comm.Get_size()} "
                         f"processes; pass -1 or start with mpiexec -n {world_size}")
    if rank not in (-1, comm.Get_rank()):
        raise ValueError(f"init_process_group: rank={rank} but MPI gives this process rank {comm.Get_rank()}; "
                         "pass -1")
    comm.Set_errhandler(MPI.ERRORS_RETURN)  # a failed call raises MPI.Exception instead of aborting silently
    group.WORLD = _Group(comm, comm.Get_rank(), comm.Get_size(), seconds)


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and not undone)."""
    return group.WORLD is not None


def _world() -> _Group:
    if group.WORLD is None:
        raise RuntimeError("the default process group is not initialised; call "
                           "descend.distributed.init_process_group('mpi') first")
    return group.WORLD


def get_rank(group=None) -> int:
    """This process's rank, 0 … world_size − 1."""
    return _world().rank


def get_world_size(group=None) -> int:
    """The number of processes in the group."""
    return _world().size


def get_backend(group=None) -> str:
    """``"mpi"`` (the trivial one-process group reports it too)."""
    _world()
    return "mpi"


def _clear() -> None:
    group.WORLD = None


def destroy_process_group(group=None) -> None:
    """Leave the default group (MPI itself stays up until the interpreter exits, as mpi4py finalises it)."""
    _clear()
