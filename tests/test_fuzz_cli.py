"""Fuzzing the command line: random corruptions of configs, CSV and ``.npz`` files and checkpoints thrown at
``train``, ``evaluate``, ``predict``, ``tune`` and ``config check`` in-process. Every example must either
succeed or fail with a documented exit status (2 bad input, 3 diverged, 4 I/O) and ONE line of error; no
traceback reaches the user, no internal error (status 1), and no temporary or partial file is left.

CI runs a few hundred examples (tiny data, 1 epoch); ``pytest tests/test_fuzz_cli.py
--hypothesis-profile=fuzz-long`` runs ten times as many (the profile is registered in conftest.py).
"""

import contextlib
import io
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descend.app.config import SCHEMA
from descend.cli import main

SCALE = max(1, settings.default.max_examples // 100)
FUZZ = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=SCALE == 1)
ALLOWED = {0, 2, 3, 4}
FAST = ["--quiet", "--set", "model.preset=mlp", "--set", "model.hidden=[8]", "--set", "train.epochs=1",
        "--set", "diagnose.monitor=false", "--set", "data.batch_size=16"]
FOUND = []          # (status, stderr, args) of every example, for the counts printed by the summary test


def run(*args, cwd=None):
    """(status, stderr) of ``descend ARGS`` in-process, asserting the error contract."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            (contextlib.chdir(cwd) if cwd else contextlib.nullcontext()):
        status = main([str(a) for a in args])
    text = err.getvalue()
    FOUND.append((status, text, args))
    assert status in ALLOWED, f"status {status} for {args}: {text}"
    assert "Traceback" not in text, text
    if status:
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("descend: warning:")
                 and not ln.startswith("descend: training diverged at epoch")]   # the guard's own report
        assert len(lines) == 1 and lines[0].startswith("descend: error: "), text
    return status, text


def honest_run_folder(status, run_dir) -> None:
    """A run that succeeded reads as done; one that failed after creating its folder reads as failed (or
    diverged); bad input found before any file was written leaves no folder at all."""
    from descend.app.run_folder import read_status
    if status == 0:
        assert read_status(run_dir)["status"] == "done"
    elif Path(run_dir).exists():
        assert read_status(run_dir)["status"] in ("failed", "diverged"), read_status(run_dir)


def leftovers(root) -> list:
    return [str(p) for p in Path(root).rglob("*") if p.name.startswith(".") and ".tmp" in p.name]


def good_arrays(n=40, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.standard_normal((n, 4)).astype(np.float32), "y_train": np.arange(n) % k}


@pytest.fixture(scope="module", autouse=True)
def crash_dir():
    """Internal-error logs of the fuzzed commands go to a temporary folder, not the user's cache."""
    from descend.cli import errors
    with tempfile.TemporaryDirectory() as d:
        saved, errors.CRASH_DIR = errors.CRASH_DIR, Path(d)
        try:
            yield Path(d)
        finally:
            errors.CRASH_DIR = saved


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.savez(d / "good.npz", **good_arrays())
        assert main(["train", "--set", f"data.path={d / 'good.npz'}", "--out", str(d / "run"), *FAST]) == 0
        assert main(["train", "--set", f"data.path={d / 'good.npz'}", "--out", str(d / "wide"), *FAST[:-6],
                     "--set", "model.hidden=[16]", "--set", "train.epochs=1", "--set",
                     "diagnose.monitor=false"]) == 0
        yield d


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)
        assert not leftovers(d), leftovers(d)


# ------------------------------------------------------------------------------------------ configs
ALL_KEYS = [(s, k) for s, keys in SCHEMA.items() for k in keys]
scalars = st.one_of(st.integers(-5, 5), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
                    st.booleans(), st.text(max_size=8), st.sampled_from(["mlp", "adam", "cosine", "relu", "auto",
                                                                         "regression", "digits", ""]))
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=4), scalars, max_size=2))


def toml_value(v) -> str:
    import tomli_w
    return tomli_w.dumps({"v": v}).split("=", 1)[1].strip()


@st.composite
def config_texts(draw):
    """TOML text with random keys (schema keys, unknown keys, unknown sections) and random values, sometimes
    re-encoded (BOM, UTF-16, Latin-1) or cut short."""
    chosen = draw(st.lists(st.one_of(st.sampled_from(ALL_KEYS),
                                     st.tuples(st.sampled_from(["data", "model", "nosuch", ""]),
                                               st.from_regex(r"[a-z_]{1,8}", fullmatch=True))),
                           max_size=5))
    sections: dict = {}
    for section, key in chosen:
        v = draw(values)
        if isinstance(v, float) and v != v:
            v = float("nan")
        sections.setdefault(section, {})[key] = v
    lines = []
    for section, keys in sorted(sections.items(), key=lambda kv: kv[0] != ""):
        if section:
            lines.append(f"[{section}]")
        for k, v in keys.items():
            try:
                lines.append(f"{k} = {toml_value(v)}")
            except Exception:           # a value TOML cannot hold (tomli_w refuses): write it raw
                lines.append(f"{k} = {v!r}")
    text = "\n".join(lines) + "\n"
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])), errors="replace")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@settings(max_examples=120 * SCALE, **FUZZ)
@given(config_texts())
def test_fuzz_config_check_never_crashes(data):
    with scratch() as d:
        (d / "c.toml").write_bytes(data)
        run("config", "check", d / "c.toml")


@settings(max_examples=40 * SCALE, **FUZZ)
@given(config_texts())
def test_fuzz_train_with_corrupted_config(workdir, data):
    with scratch() as d:
        (d / "c.toml").write_bytes(data)
        # a fast base wins over the fuzzed keys only where speed needs it (epochs, subset, monitor)
        status, _ = run("train", d / "c.toml", "--quiet", "--set", f"data.path={workdir / 'good.npz'}", "--set",
                        "train.epochs=1", "--set", "diagnose.monitor=false", "--set", "data.subset=0", "--out",
                        d / "run")
        honest_run_folder(status, d / "run")


# ------------------------------------------------------------------------------------------ CSV
cells = st.one_of(st.integers(-3, 3).map(str), st.floats(allow_nan=True, width=32).map(str), st.just(""),
                  st.just("nan"), st.just("inf"), st.sampled_from(["a", "b", " 1 ", "1.5", '"q"', "x,y"]))


@st.composite
def csv_texts(draw):
    header = draw(st.lists(st.sampled_from(["a", "b", "label", "c", ""]), min_size=0, max_size=4))
    width = len(header)
    rows = draw(st.lists(st.lists(cells, min_size=max(0, width - 1), max_size=width + 1), max_size=30))
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows])
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


@settings(max_examples=60 * SCALE, **FUZZ)
@given(csv_texts(), st.sampled_from(["auto", "classification", "regression"]))
def test_fuzz_train_on_corrupted_csv(data, task):
    with scratch() as d:
        (d / "c.csv").write_bytes(data)
        status, _ = run("train", "--set", f"data.path={d / 'c.csv'}", "--set", f"data.task={task}", "--out",
                        d / "run", *FAST)
        honest_run_folder(status, d / "run")


@settings(max_examples=30 * SCALE, **FUZZ)
@given(csv_texts())
def test_fuzz_predict_on_corrupted_csv(workdir, data):
    with scratch() as d:
        (d / "in.csv").write_bytes(data)
        status, _ = run("predict", workdir / "run", d / "in.csv", "--output", d / "p.csv")
        assert (status == 0) == (d / "p.csv").exists()


# ------------------------------------------------------------------------------------------ npz
dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.uint8, np.bool_, np.complex64, "U3"])
shapes = st.one_of(st.tuples(), st.tuples(st.integers(0, 40)), st.tuples(st.integers(0, 40), st.integers(0, 5)),
                   st.tuples(st.integers(0, 40), st.integers(1, 3), st.integers(1, 3)))


@st.composite
def arrays(draw):
    shape, dtype = draw(shapes), draw(dtypes)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    a = rng.integers(-2, 5, size=shape) if dtype != "U3" else rng.choice(["a", "b", ""], size=shape)
    a = np.asarray(a).astype(dtype)
    if a.dtype.kind == "f" and a.size and draw(st.booleans()):
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 0.5]))
    return a


@st.composite
def npz_bytes(draw):
    kind = draw(st.sampled_from(["arrays", "mutated", "truncated", "garbage", "pickle", "empty", "npy"]))
    buf = io.BytesIO()
    if kind == "arrays":
        base = good_arrays(seed=draw(st.integers(0, 9)))
        for key in draw(st.lists(st.sampled_from(["x_train", "y_train", "x_val", "y_val", "x_test", "y_test",
                                                  "class_names", "x"]), max_size=4)):
            base[key] = draw(arrays())
        for key in draw(st.lists(st.sampled_from(["x_train", "y_train"]), max_size=1)):
            base.pop(key)
        np.savez(buf, **base)
    elif kind in ("mutated", "truncated"):
        np.savez(buf, **good_arrays())
        data = bytearray(buf.getvalue())
        if kind == "truncated":
            return bytes(data[: draw(st.integers(0, len(data) - 1))])
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    elif kind == "garbage":
        return draw(st.binary(max_size=200))
    elif kind == "pickle":
        np.savez(buf, x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.arange(4))
    elif kind == "npy":
        np.save(buf, np.zeros((4, 4)))
    return buf.getvalue()


@settings(max_examples=60 * SCALE, **FUZZ)
@given(npz_bytes(), st.sampled_from(["auto", "classification", "regression"]))
def test_fuzz_train_on_corrupted_npz(data, task):
    with scratch() as d:
        (d / "d.npz").write_bytes(data)
        status, _ = run("train", "--set", f"data.path={d / 'd.npz'}", "--set", f"data.task={task}", "--out",
                        d / "run", *FAST)
        honest_run_folder(status, d / "run")


@settings(max_examples=40 * SCALE, **FUZZ)
@given(npz_bytes(), st.sampled_from(["predict", "evaluate"]))
def test_fuzz_predict_and_evaluate_on_corrupted_npz(workdir, data, command):
    with scratch() as d:
        (d / "d.npz").write_bytes(data)
        if command == "predict":
            status, _ = run("predict", workdir / "run", d / "d.npz", "--output", d / "p.npz")
            assert (status == 0) == (d / "p.npz").exists()
        else:
            run("evaluate", workdir / "run", "--data", d / "d.npz")


# ------------------------------------------------------------------------------------------ checkpoints
@st.composite
def checkpoint_bytes(draw, good: bytes, other: bytes):
    kind = draw(st.sampled_from(["truncated", "mutated", "garbage", "pickle", "other", "npz", "empty"]))
    if kind == "truncated":
        return good[: draw(st.integers(0, len(good) - 1))]
    if kind == "mutated":
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, min(len(data) - 1, 400)))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "garbage":
        return draw(st.binary(max_size=300))
    if kind == "pickle":
        return pickle.dumps({"model": {"w": np.zeros(3)}})
    if kind == "other":
        return other
    if kind == "npz":
        buf = io.BytesIO()
        np.savez(buf, a=np.zeros(3))
        return buf.getvalue()
    return b""


@settings(max_examples=40 * SCALE, **FUZZ)
@given(st.data(), st.sampled_from(["evaluate", "predict"]))
def test_fuzz_corrupted_checkpoint(workdir, data, command):
    good = (workdir / "run" / "model.safetensors").read_bytes()
    other = (workdir / "wide" / "model.safetensors").read_bytes()
    blob = data.draw(checkpoint_bytes(good, other))
    with scratch() as d:
        shutil.copytree(workdir / "run", d / "run")
        (d / "run" / "model.safetensors").write_bytes(blob)
        if command == "evaluate":
            status, _ = run("evaluate", d / "run")
        else:
            status, _ = run("predict", d / "run", workdir / "good.npz", "--output", d / "p.csv")
            assert (status == 0) == (d / "p.csv").exists()
        assert status == 0 or blob != good


# ------------------------------------------------------------------------------------------ tune
tune_values = st.one_of(scalars, st.just({"type": "float", "low": 1e-3, "high": 1e-1, "log": True}),
                        st.fixed_dictionaries({"type": st.sampled_from(["float", "int", "categorical", "x"]),
                                               "low": scalars, "high": scalars}),
                        st.fixed_dictionaries({"type": st.just("categorical"),
                                               "choices": st.lists(scalars, max_size=3)}))


@settings(max_examples=12 * SCALE, **FUZZ)
@given(st.dictionaries(st.sampled_from(["method", "metric", "direction", "trials", "pruner", "seed", "bogus"]),
                       scalars, max_size=3),
       st.dictionaries(st.sampled_from(["optimizer.lr", "model.dropout", "data.batch_size", "nosuch.key"]),
                       tune_values, max_size=2))
def test_fuzz_tune_with_corrupted_tune_table(workdir, table, space):
    import tomli_w
    cfg = {"data": {"path": str(workdir / "good.npz")}, "model": {"preset": "mlp", "hidden": [8]},
           "train": {"epochs": 1}, "diagnose": {"monitor": False},
           "tune": {"trials": 1, **table, "space": space}}
    if isinstance(cfg["tune"].get("trials"), int) and not isinstance(cfg["tune"]["trials"], bool):
        cfg["tune"]["trials"] = min(cfg["tune"]["trials"], 2)
    cfg["tune"] = {k: v for k, v in cfg["tune"].items() if not (isinstance(v, float) and v != v)}
    with scratch() as d:
        try:
            text = tomli_w.dumps(cfg)
        except Exception:
            return
        (d / "t.toml").write_text(text)
        run("tune", d / "t.toml", "--out", d / "tune", "--timeout", "30")


def test_fuzz_summary():
    """Print what the fuzzers of this process saw (exit status counts); every one was a documented status."""
    if not FOUND:
        pytest.skip("no fuzz example ran in this process")
    counts = {}
    for status, _, _ in FOUND:
        counts[status] = counts.get(status, 0) + 1
    print(f"fuzz examples by exit status: {dict(sorted(counts.items()))} ({len(FOUND)} in all)")
    for status in sorted(set(counts) - {0, 2}):
        err, args = next((e, a) for st, e, a in FOUND if st == status)
        print(f"  e.g. status {status}: {err.strip()[-300:]} from {[str(a) for a in args]}")
    assert set(counts) <= ALLOWED
