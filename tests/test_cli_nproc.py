"""``descend train CONFIG --nproc N``: the same run on 1, 2 and 3 MPI processes reaches the same weights.

Each multi-process run is ``python -m descend train ... --nproc N`` in a subprocess with a timeout (the
CLI starts mpiexec itself); the one-process runs go through ``descend.cli.main`` in this process.
Skipped when mpi4py or mpiexec is missing.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import descend
from descend.cli import main

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'descend[distributed]')")
pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="mpiexec is not on PATH")

ROOT = pathlib.Path(descend.__file__).resolve().parent.parent
CONFIG = """seed = 0
[data]
name = "digits"
subset = 300
batch_size = 60
[model]
preset = "mlp"
hidden = [32]
batchnorm = {bn}
[train]
epochs = {epochs}
[optimizer]
name = "{optimizer}"
"""


def write_config(folder, bn=False, epochs=2, optimizer="adam"):
    path = folder / f"tiny-{bn}-{epochs}-{optimizer}.toml"
    path.write_text(CONFIG.format(bn=str(bn).lower(), epochs=epochs, optimizer=optimizer))
    return path


def cli(*args, timeout=60, wait=True, cwd=ROOT):
    """``python -m descend train ...`` in ``cwd`` (Popen when ``wait`` is False)."""
    cmd = [sys.executable, "-m", "descend", "train", *map(str, args), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def weights(run_dir):
    state = descend.load(run_dir / "model.safetensors")["model"]
    return {k: np.asarray(getattr(v, "array", v), np.float64) for k, v in state.items()}


def assert_same_weights(a, b, atol=2e-5):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=atol, err_msg=k)


def test_nproc_1_2_3_reach_the_same_weights(tmp_path):
    config = write_config(tmp_path)
    assert main(["train", str(config), "--quiet", "--nproc", "1", "--out", str(tmp_path / "n1")]) == 0
    reference = weights(tmp_path / "n1")
    (tmp_path / "cwd").mkdir()
    for n in (2, 3):       # 3: the default folder runs/<time>-<name>, whose name every rank takes from rank 0
        run = cli(config, "--nproc", n, *(["--out", tmp_path / "n2"] if n == 2 else []), cwd=tmp_path / "cwd")
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.count("run folder:") == 1          # rank 0 alone reports
        folder = tmp_path / "n2" if n == 2 else next((tmp_path / "cwd" / "runs").iterdir())
        assert_same_weights(weights(folder), reference)
        assert (folder / "report.html").is_file() and (folder / "history.csv").is_file()
        assert '"done"' in (folder / "status.json").read_text()
    assert len(list((tmp_path / "cwd" / "runs").iterdir())) == 1


def test_nproc_batchnorm_is_synced_so_the_process_count_does_not_matter(tmp_path):
    # SGD: the bias of a Linear followed by BatchNorm has a zero gradient (BatchNorm subtracts the mean),
    # i.e. rounding noise, which Adam would normalise into full-size steps that differ with the rounding
    config = write_config(tmp_path, bn=True, optimizer="momentum")
    assert main(["train", str(config), "--quiet", "--out", str(tmp_path / "n1")]) == 0
    run = cli(config, "--nproc", 3, "--out", tmp_path / "n3")
    assert run.returncode == 0, run.stdout + run.stderr
    one, three = weights(tmp_path / "n1"), weights(tmp_path / "n3")
    assert any("running_mean" in k for k in one)               # the model does have BatchNorm
    assert_same_weights(three, one)


def _rank_pid(out, rank):
    """The pid of the MPI process of ``rank`` training into ``out`` (read from /proc)."""
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if str(out) in cmdline and f"OMPI_COMM_WORLD_RANK={rank}" in environ:
            return int(proc.name)
    return None


def test_nproc_lost_rank_fails_fast_and_resume_reaches_the_uninterrupted_weights(tmp_path):
    epochs = 40
    config = write_config(tmp_path, epochs=epochs)
    out = tmp_path / "killed"
    proc = cli(config, "--nproc", 2, "--out", out, wait=False)
    try:
        deadline = time.monotonic() + 40
        while not (out / "checkpoints" / "last.safetensors").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = _rank_pid(out, 1)
        assert pid is not None and proc.poll() is None, "the run ended before a rank could be killed"
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        lost_after = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert lost_after < 10
    assert "rank 1" in stderr, stderr
    assert not (out / "model.safetensors").exists()

    resumed = cli("--resume", out, "--nproc", 2)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert main(["train", str(config), "--quiet", "--out", str(tmp_path / "whole")]) == 0
    assert_same_weights(weights(out), weights(tmp_path / "whole"))


def test_nproc_without_mpiexec_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))                 # no mpiexec there
    assert main(["train", str(write_config(tmp_path)), "--nproc", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mpiexec" in err and "pip install 'descend[distributed]'" in err


def test_nproc_without_mpi4py_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # import mpi4py raises ImportError
    assert main(["train", str(write_config(tmp_path)), "--nproc", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mpi4py" in err and "pip install 'descend[distributed]'" in err


def test_nproc_must_be_positive(tmp_path, capsys):
    assert main(["train", str(write_config(tmp_path)), "--nproc", "0"]) == 2
    assert "--nproc must be a positive" in capsys.readouterr().err


def test_nproc_ctrl_c_stops_every_process_with_one_line_130_and_resume_reaches_the_whole_run(tmp_path):
    """With TensorBoard on, which only rank 0 runs: the other ranks resume without it."""
    config = write_config(tmp_path, epochs=40)
    config.write_text(config.read_text() + "[log]\ntensorboard = true\n")
    out = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "descend", "train", str(config), "--nproc", "2", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 40
        while not (out / "checkpoints" / "last.safetensors").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)      # a Ctrl-C: SIGINT to the terminal's foreground process group
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "interrupted after epoch" in lines[0] and f"descend train --resume {out} --nproc 2" in lines[0]
    assert '"interrupted"' in (out / "status.json").read_text()
    assert not (out / "model.safetensors").exists()
    assert _rank_pid(out, 0) is None and _rank_pid(out, 1) is None       # no process left behind

    resumed = cli("--resume", out, "--nproc", 2)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert main(["train", str(config), "--quiet", "--out", str(tmp_path / "whole")]) == 0
    assert_same_weights(weights(out), weights(tmp_path / "whole"))
