"""Studies across processes: a worker killed with SIGKILL mid-study resumes with its finished trials intact and
the killed trial FAILED; two local worker processes share one study without losing or repeating a trial; and two
workers against a real PostgreSQL server record every trial once."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

import descend
from descend.tune.storage import open_storage, storage_url

CONFIG = """
seed = 0
[data]
subset = 300
[model]
preset = "mlp"
hidden = [16]
[train]
epochs = {epochs}
[tune]
method = "{method}"
pruner = "none"
trials = {trials}
[tune.space]
{space}
"""
LR = '"optimizer.lr" = { type = "float", low = 1e-3, high = 1e-1, log = true }'
GRID = ('"optimizer.lr" = { type = "categorical", choices = [0.003, 0.01, 0.03] }\n'
        '"model.hidden" = { type = "categorical", choices = [[16], [32]] }')


def write_config(tmp_path, method="random", trials=4, epochs=2, space=LR):
    path = tmp_path / "tune.toml"
    path.write_text(CONFIG.format(method=method, trials=trials, epochs=epochs, space=space))
    return path


def load(out, url=None):
    spec = json.loads((out / "tune.json").read_text())
    return optuna.load_study(study_name=spec["study_name"], storage=open_storage(url or spec["storage"]))


def test_killed_worker_resumes_with_finished_trials_intact_and_killed_trial_failed(tmp_path):
    path, out = write_config(tmp_path, trials=5, epochs=3), tmp_path / "t"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "descend", "tune", str(path), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, killed = time.time() + 120, None
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
            if not (out / "tune.json").is_file() or not (out / "study.journal").is_file():
                continue
            trials = load(out).get_trials()
            done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING and "pid" in t.user_attrs]
            if len(done) >= 2 and running:
                assert running[0].user_attrs["pid"] == proc.pid
                os.kill(proc.pid, signal.SIGKILL)
                killed = running[0].number
                break
    finally:
        if proc.poll() is None and killed is None:
            proc.kill()
        proc.wait()
    assert killed is not None, "the study finished or stalled before it could be killed mid-trial"
    before = {t.number: (t.params, t.value) for t in load(out).get_trials()
              if t.state == optuna.trial.TrialState.COMPLETE}

    result = descend.tune(path, out=out)                 # resume

    trials = {t.number: t for t in load(out).get_trials()}
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    assert "ended during the trial" in trials[killed].user_attrs["fail_reason"]
    for n, (params, value) in before.items():            # finished trials intact
        assert trials[n].state == optuna.trial.TrialState.COMPLETE
        assert (trials[n].params, trials[n].value) == (params, value)
    assert result.counts == {"COMPLETE": 5, "FAIL": 1}
    assert sorted(trials) == list(range(6))
    assert any("marked failed" in n for n in result.notes)


def test_two_local_workers_share_one_grid_study(tmp_path):
    path, out = write_config(tmp_path, method="grid", trials=6, space=GRID), tmp_path / "t"
    result = descend.tune(path, out=out, workers=2)
    trials = load(out).get_trials()
    assert sorted(t.number for t in trials) == list(range(6))                  # none lost, none duplicated
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    points = {(t.params["optimizer.lr"], t.params["model.hidden"]) for t in trials}
    assert points == {(lr, h) for lr in (0.003, 0.01, 0.03) for h in ("[16]", "[32]")}
    assert len({t.user_attrs["pid"] for t in trials}) == 2                    # two processes did the work
    assert os.getpid() not in {t.user_attrs["pid"] for t in trials}
    assert result.counts == {"COMPLETE": 6}
    assert not result.notes


# ------------------------------------------------------------------------------------------- PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1 (initdb + pg_ctl in a temp dir, as user postgres when root)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); "
                    "install them with apt-get install postgresql")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is missing (pip install -e '.[test]')")
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="descend-pg-"))
    prefix = []
    if os.getuid() == 0:                                     # initdb refuses to run as root
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"

    def pg(*args):
        subprocess.run(prefix + [str(a) for a in args], check=True, capture_output=True, timeout=60)

    try:
        pg(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        pg(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-o",
           f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
        pg(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "tune")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/tune"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgresql_record_every_trial_once(tmp_path, postgres_url):
    path, out = write_config(tmp_path, method="random", trials=4), tmp_path / "t"
    result = descend.tune(path, out=out, workers=2, storage=postgres_url)
    assert storage_url(out, postgres_url) == postgres_url
    assert not (out / "study.journal").exists()          # the study lives in the database
    trials = load(out, postgres_url).get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.params["optimizer.lr"] for t in trials}) == 4
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    assert result.counts == {"COMPLETE": 4}
    assert (out / "best.toml").is_file()
