"""Worker for tests/test_distributed*.py, run under ``mpiexec -n N python distributed_worker.py MODE OUT``.

Modes: ``collectives`` (rank 0 writes what each collective gave as JSON), ``train`` (trains an MLP, an MLP
with SyncBatchNorm, and the MLP with no_sync gradient accumulation, data-parallel on fixed global
batches; rank 0 writes the final state dicts as ``mode/key`` to an npz), ``kill`` (rank 1 kills itself at
step 3 of a training loop), ``hang`` (rank 1 sleeps; rank 0's allreduce has a 2 s timeout), ``trainer`` (descend.Trainer fit; rank 0 writes weights and history).
"""

import json
import os
import signal
import sys

import numpy as np

import descend
import descend.distributed as dist
from descend import nn
from descend.nn.parallel import DistributedDataParallel

GLOBAL_BATCH, STEPS = 12, 15


def collectives(out):
    rank, size = dist.get_rank(), dist.get_world_size()
    a = descend.tensor(np.full(3, rank + 1.0, np.float32))
    dist.all_reduce(a)
    avg = np.full((2, 2), float(rank), np.float64)
    dist.all_reduce(avg, dist.ReduceOp.AVG)
    mx = np.array([rank, -rank], np.int64)
    dist.all_reduce(mx, dist.ReduceOp.MAX)
    b = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3) * (rank + 1))
    dist.broadcast(b, src=size - 1)
    gathered = [np.zeros(2, np.float32) for _ in range(size)]
    dist.all_gather(gathered, np.array([rank, 10 * rank], np.float32))
    work = dist.all_reduce(np.ones(4, np.float32), async_op=True)
    work.wait()
    dist.barrier()
    result = {"sum": a.array.tolist(), "avg": avg.tolist(), "max": mx.tolist(), "bcast": b.tolist(),
              "gather": [g.tolist() for g in gathered], "rank": rank, "size": size}
    if rank == 0:
        with open(out, "w") as f:
            json.dump(result, f)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=GLOBAL_BATCH * STEPS)
    return x, y


def model(mode):
    descend.manual_seed(1 + dist.get_rank())  # different initial weights per rank: DDP must broadcast rank 0's
    if mode == "bn":
        net = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))


def train(mode):
    rank, size = dist.get_rank(), dist.get_world_size()
    descend.manual_seed(1)
    reference = model(mode)  # rank-0 seeded weights, loaded on every rank so the start is known
    net = model(mode)
    net.load_state_dict(reference.state_dict()) if rank == 0 else None
    ddp = DistributedDataParallel(net)
    opt = descend.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data()
    share = GLOBAL_BATCH // size
    for step in range(STEPS):
        xb = x[step * GLOBAL_BATCH:(step + 1) * GLOBAL_BATCH][rank * share:(rank + 1) * share]
        yb = y[step * GLOBAL_BATCH:(step + 1) * GLOBAL_BATCH][rank * share:(rank + 1) * share]
        if mode == "kill" and step == 3 and rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        opt.zero_grad()
        if mode == "accumulate":  # two micro-batches, the first without sync: same as one batch
            half = share // 2
            with ddp.no_sync():
                (loss_fn(ddp(descend.tensor(xb[:half])), descend.tensor(yb[:half])) * (half / share)).backward()
            (loss_fn(ddp(descend.tensor(xb[half:])), descend.tensor(yb[half:])) * ((share - half) / share)).backward()
        else:
            loss_fn(ddp(descend.tensor(xb)), descend.tensor(yb)).backward()
        opt.step()
    state = {k: np.asarray(v) for k, v in ddp.state_dict().items()}
    gathered = [np.zeros_like(state["module.0.weight"]) for _ in range(size)]
    dist.all_gather(gathered, np.ascontiguousarray(state["module.0.weight"]))
    state["spread"] = np.array(max(float(np.abs(g - gathered[0]).max()) for g in gathered))
    return state


def trainer(out):
    """descend.Trainer on 22 samples in batches of 10 (the last has 2 rows: with 3 processes one gets none)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(22, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=22)
    descend.manual_seed(5 + dist.get_rank())  # different per rank: the Trainer must start from rank 0's weights
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = descend.optim.Adam(net.parameters(), lr=0.01)
    log = f"{out}.rank{dist.get_rank()}.csv"
    t = descend.Trainer(net, nn.CrossEntropyLoss(), opt, metrics=["accuracy"], batch_size=10, seed=3,
                        callbacks=[descend.train.CSVLogger(log)])
    history = t.fit((x, y), epochs=3)
    if dist.get_rank() == 0:
        state = {k: np.asarray(v) for k, v in net.state_dict().items()}
        state["loss"], state["accuracy"] = np.array(history["loss"]), np.array(history["accuracy"])
        np.savez(out, **state)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "hang":  # rank 1 stops answering; rank 0's timed allreduce must abort the job
        import datetime
        import time
        dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
        if dist.get_rank() == 1:
            time.sleep(120)
        dist.all_reduce(np.ones(4, np.float32))
        sys.exit(0)
    dist.init_process_group("mpi")
    if mode == "collectives":
        collectives(out)
    elif mode == "trainer":
        trainer(out)
    elif mode == "kill":
        train(mode)
    else:  # "train": every training mode in one launch
        states = {f"{m}/{k}": v for m in ("mlp", "bn", "accumulate") for k, v in train(m).items()}
        if dist.get_rank() == 0:
            np.savez(out, **states)
    dist.destroy_process_group()
