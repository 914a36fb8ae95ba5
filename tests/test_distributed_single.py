"""descend.distributed on one process (no mpiexec): the trivial group, DDP and SyncBatchNorm fall back."""

import datetime
import subprocess
import sys

import numpy as np
import pytest
import torch

import descend
import descend.distributed as dist
from descend import nn
from descend.nn.parallel import DistributedDataParallel


@pytest.fixture
def world():
    dist.init_process_group("mpi")
    yield
    dist.destroy_process_group()


def test_import_descend_does_not_import_mpi4py():
    code = "import sys, descend, descend.distributed, descend.nn.parallel; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_single_process_group_has_rank_0_of_1_and_identity_collectives(world):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = descend.tensor([1.0, 2.0])
    dist.all_reduce(t)
    dist.all_reduce(t, dist.ReduceOp.AVG)
    dist.broadcast(t, 0)
    np.testing.assert_array_equal(t.array, [1.0, 2.0])
    out = [np.zeros(2, np.float32)]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0], [1.0, 2.0])
    assert dist.all_reduce(t, async_op=True).wait()
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group("mpi")


def test_process_group_arguments_are_checked(world):
    with pytest.raises(RuntimeError, match="already initialised"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("gloo")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout=5)
    with pytest.raises(ValueError, match="mpiexec started 1"):
        dist.init_process_group("mpi", world_size=2)
    assert not dist.is_initialized()
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=10))
    with pytest.raises(ValueError, match="src must be a rank"):
        dist.broadcast(np.zeros(2), 1)
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(np.zeros(2), "sum")
    with pytest.raises(ValueError, match="contiguous"):
        dist.all_reduce(np.zeros((4, 4))[:, ::2])


def test_collectives_need_an_initialised_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()


def test_ddp_on_one_process_trains_exactly_like_the_bare_model(world):
    descend.manual_seed(0)
    bare = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    copy = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    copy.load_state_dict(bare.state_dict())
    ddp = DistributedDataParallel(copy)
    assert ddp.module is copy
    assert list(ddp.state_dict()) == ["module." + k for k in bare.state_dict()]
    x = descend.tensor(np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32))
    for model in (bare, ddp):
        opt = descend.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()
    for k, v in bare.state_dict().items():
        np.testing.assert_array_equal(ddp.state_dict()["module." + k], v)


def test_ddp_needs_a_process_group_and_a_module():
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
    dist.init_process_group("mpi")
    try:
        with pytest.raises(TypeError, match="nn.Module"):
            DistributedDataParallel(torch.nn.Linear(2, 2))
        with pytest.raises(ValueError, match="bucket_cap_mb"):
            DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0)
    finally:
        dist.destroy_process_group()


def test_ddp_buckets_are_capped_and_in_reverse_parameter_order(world):
    model = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 512), nn.Linear(512, 10))  # ~1 MiB per weight
    ddp = DistributedDataParallel(model, bucket_cap_mb=1.5)
    buckets = ddp._bucket_list
    flat = [p for b in buckets for p in b]
    assert [id(p) for p in flat] == [id(p) for p in list(model.parameters())[::-1]]
    assert all(sum(p.array.nbytes for p in b) <= 1.5 * 2 ** 20 for b in buckets)
    assert len(buckets) == 2 and buckets[1] == [model[0].weight]   # 1st bucket: b3 W3 b2 W2 b1 (1.03 MiB)


def test_sync_batchnorm_on_one_process_matches_torch_batchnorm(world):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3, 4)).astype(np.float32)
    g = rng.normal(size=(6, 3, 4)).astype(np.float32)
    ours = nn.SyncBatchNorm(3, momentum=0.2)
    ref = torch.nn.BatchNorm1d(3, momentum=0.2)
    xd, xt = descend.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xd) * descend.tensor(g)).sum().backward()
    (ref(xt) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xd.grad.array, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.array, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.running_var.array, ref.running_var.numpy(), rtol=1e-5)


def test_convert_sync_batchnorm_replaces_batchnorms_sharing_parameters():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8)))
    bn = model[1]
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(converted[1]) is nn.SyncBatchNorm and type(converted[2][1]) is nn.SyncBatchNorm
    assert converted[1].weight is bn.weight and converted[1].running_mean.array is bn.running_mean.array
    assert list(converted.state_dict()) == list(model.state_dict())
    with pytest.raises(TypeError, match="Module"):
        nn.SyncBatchNorm.convert_sync_batchnorm("bn")


def test_without_mpi4py_world_size_1_is_a_trivial_group_and_more_is_refused():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import numpy as np, descend, descend.distributed as d\n"
            "assert not d.is_available()\n"
            "d.init_process_group('mpi'); a = np.ones(2); d.all_reduce(a); print(d.get_world_size(), a.sum())\n"
            "d.destroy_process_group()\n"
            "try:\n    d.init_process_group('mpi', world_size=2)\nexcept RuntimeError as e:\n    print('refused', 'mpi4py' in str(e))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "2.0", "refused", "True"]
