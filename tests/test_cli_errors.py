"""Every failure of a command is one line with a documented exit status (2 bad input, 3 diverged, 4 I/O,
130 interrupted, 1 internal with the traceback in a log), nothing wrong is trained silently, and the run
folder's status stays honest. One test per case of issue 22, all in-process through ``descend.cli.main``."""

import errno
import json
import os
import signal

import numpy as np
import pytest

from descend.app import list_runs
from descend.app.run_folder import read_status
from descend.cli import errors as cli_errors
from descend.cli import main

FAST = ["--quiet", "--set", "model.preset=mlp", "--set", "model.hidden=[8]", "--set", "train.epochs=1",
        "--set", "diagnose.monitor=false", "--set", "data.batch_size=16"]


def run_cli(capsys, *args):
    """(exit status, stdout, stderr) of ``descend ARGS`` run in-process."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line(err, status, expected, *words):
    assert status == expected, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("descend: warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


def npz(path, n=60, k=3, seed=0, **override):
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.standard_normal((n, 4)).astype(np.float32), "y_train": np.arange(n) % k}
    arrays.update(override)
    np.savez(path, **arrays)
    return path


def no_temp_files(root):
    return [p for p in root.rglob("*") if p.name.startswith(".") and ".tmp" in p.name]


@pytest.fixture
def trained(tmp_path, capsys):
    """A finished tiny run (mlp on a 3-class npz)."""
    data = npz(tmp_path / "d.npz")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "run", *FAST)
    assert status == 0, err
    return tmp_path / "run"


# ------------------------------------------------------------------------------------------ tracebacks
def test_empty_npz_is_one_line_bad_input_naming_the_file(tmp_path, capsys):
    (tmp_path / "e.npz").write_bytes(b"")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'e.npz'}", "--out", tmp_path / "r",
                             *FAST)
    assert_one_line(err, status, 2, "e.npz", "empty: 0 bytes")
    assert not (tmp_path / "r").exists()                       # nothing written for bad input


def test_truncated_npz_is_one_line_bad_input(tmp_path, capsys):
    good = npz(tmp_path / "g.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(good[: len(good) // 2])
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 't.npz'}", "--out", tmp_path / "r",
                             *FAST)
    assert_one_line(err, status, 2, "t.npz", "np.savez")


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_model_file_of_another_architecture_is_one_line_without_strict_hint(trained, tmp_path, capsys, command):
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'd.npz'}", "--out",
                             tmp_path / "run5", *FAST, "--set", "model.hidden=[16]")   # another hidden width
    assert status == 0, err
    (trained / "model.safetensors").write_bytes((tmp_path / "run5" / "model.safetensors").read_bytes())
    args = [trained] if command == "evaluate" else [trained, tmp_path / "d.npz", "--output", tmp_path / "p.csv"]
    status, _, err = run_cli(capsys, command, *args)
    assert_one_line(err, status, 2, "another architecture", "shape mismatch")
    assert "strict=False" not in err and not (tmp_path / "p.csv").exists()


def fail_writes_under(monkeypatch, root, code, *, only=None):
    """Make every atomic write (os.replace) and file/folder creation under ``root`` fail with ``code``;
    ``only``: a file name, to fail just that file's write."""
    real_replace, real_mkdir, real_open = os.replace, os.mkdir, os.open
    root = str(root)

    def hit(path):
        path = os.path.abspath(os.fspath(path))
        return path.startswith(root) and (only is None or os.path.basename(path) == only)

    def replace(src, dst, *a, **k):
        if hit(dst):
            raise OSError(code, os.strerror(code), os.fspath(dst))
        return real_replace(src, dst, *a, **k)

    def mkdir(path, *a, **k):
        if only is None and hit(path):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_mkdir(path, *a, **k)

    def open_(path, flags, *a, **k):
        if only is None and hit(path) and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_open(path, flags, *a, **k)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_read_only_run_folder_is_io_error_exit_4(tmp_path, capsys, monkeypatch, code):
    data = npz(tmp_path / "d.npz")
    fail_writes_under(monkeypatch, tmp_path / "ro", code)
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "ro" / "run",
                             *FAST)
    assert_one_line(err, status, 4, str(tmp_path / "ro"), "write elsewhere")


def test_read_only_working_directory_default_run_folder_is_exit_4(tmp_path, capsys, monkeypatch):
    data = npz(tmp_path / "d.npz")
    monkeypatch.chdir(tmp_path)
    fail_writes_under(monkeypatch, tmp_path / "runs", errno.EROFS)
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", *FAST)
    assert_one_line(err, status, 4, "read-only")


def test_predict_into_read_only_folder_is_exit_4_and_leaves_no_file(trained, tmp_path, capsys, monkeypatch):
    fail_writes_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    status, _, err = run_cli(capsys, "predict", trained, tmp_path / "d.npz", "--output", tmp_path / "ro" / "p.csv")
    assert_one_line(err, status, 4, str(tmp_path / "ro"), "read-only")
    assert not (tmp_path / "ro" / "p.csv").exists()


def test_lr_find_into_read_only_folder_is_exit_4(tmp_path, capsys, monkeypatch):
    data = npz(tmp_path / "d.npz")
    fail_writes_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    status, _, err = run_cli(capsys, "lr-find", "--set", f"data.path={data}", "--set", "model.preset=mlp",
                             "--steps", "5", "--out", tmp_path / "ro" / "lr", "--no-progress")
    assert_one_line(err, status, 4, "read-only")


def test_full_disk_during_training_marks_the_run_failed_and_leaves_no_temp_file(tmp_path, capsys, monkeypatch):
    data = npz(tmp_path / "d.npz")
    fail_writes_under(monkeypatch, tmp_path / "runs", errno.ENOSPC, only="model.safetensors")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "runs" / "a", *FAST)
    assert_one_line(err, status, 4, "model.safetensors", "disk is full")
    assert not no_temp_files(tmp_path) and not (tmp_path / "runs" / "a" / "model.safetensors").exists()
    monkeypatch.undo()
    [row] = list_runs(tmp_path / "runs")
    assert row["status"] == "failed" and "No space left on device" in row["reason"]
    status, out, _ = run_cli(capsys, "runs", tmp_path / "runs")
    assert status == 0 and "failed" in out and "No space left" in out


def test_full_disk_on_every_write_never_reads_as_done(tmp_path, capsys, monkeypatch):
    data = npz(tmp_path / "d.npz")
    (tmp_path / "runs" / "a").mkdir(parents=True)
    fail_writes_under(monkeypatch, tmp_path / "runs", errno.ENOSPC)
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "runs" / "a", *FAST)
    assert_one_line(err, status, 4, "disk is full")
    monkeypatch.undo()
    assert read_status(tmp_path / "runs" / "a")["status"] == "unfinished" and not no_temp_files(tmp_path)


def test_full_disk_in_playground_is_exit_4_and_removes_the_partial_folder(tmp_path, capsys, monkeypatch):
    fail_writes_under(monkeypatch, tmp_path / "pg", errno.ENOSPC, only="rosenbrock.png")
    status, _, err = run_cli(capsys, "playground", "--steps", "3", "--out", tmp_path / "pg", "--no-progress")
    assert_one_line(err, status, 4, "rosenbrock.png", "disk is full")
    assert not (tmp_path / "pg").exists()


def test_run_killed_while_writing_its_report_is_not_done(tmp_path, capsys, monkeypatch):
    import descend.app.training as training
    seen = {}
    real = training.write_plots_and_report

    def report(ctx, callbacks):
        seen["status"] = read_status(ctx.out)["status"]        # what a kill at this moment would leave
        seen["listed"] = list_runs(ctx.out.parent)[0]["status"]
        return real(ctx, callbacks)
    monkeypatch.setattr(training, "write_plots_and_report", report)
    data = npz(tmp_path / "d.npz")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "runs" / "a", *FAST)
    assert status == 0, err
    assert seen == {"status": "unfinished", "listed": "unfinished"}
    assert read_status(tmp_path / "runs" / "a")["status"] == "done"


# ------------------------------------------------------------------------------------------ labels
def test_blank_label_cell_is_refused_naming_the_row(tmp_path, capsys):
    rows = ["a,b,label"] + [f"{i},{i * 2},{i % 3}" for i in range(30)]
    rows[8] = "7,14,"
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'c.csv'}", *FAST)
    assert_one_line(err, status, 2, "blank labels", "row 7")


def test_one_non_integer_among_integer_labels_is_refused_then_regression_on_request(tmp_path, capsys):
    rows = ["a,b,label"] + [f"{i},{i * 2},{i % 3}" for i in range(30)]
    rows[5] = "4,8,1.5"
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    args = ["train", "--set", f"data.path={tmp_path / 'c.csv'}", *FAST]
    status, _, err = run_cli(capsys, *args, "--out", tmp_path / "r1")
    assert_one_line(err, status, 2, "mixes integer-valued labels", "1.5", 'data.task = "classification" or '
                    '"regression"')
    status, _, err = run_cli(capsys, *args, "--out", tmp_path / "r2", "--set", "data.task=regression")
    assert status == 0, err
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["task"] == "regression"


def test_integer_valued_float_labels_stay_classes(tmp_path, capsys):
    data = npz(tmp_path / "f.npz", y_train=(np.arange(60) % 3).astype(np.float64))
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r", *FAST)
    assert status == 0 and "warning" not in err, err
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["task"] == "classification"


def test_text_labels_in_npz_become_classes_with_a_warning(tmp_path, capsys):
    names = np.array(["cat", "dog", "emu"])[np.arange(60) % 3]
    data = npz(tmp_path / "s.npz", y_train=names)
    status, out, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r", *FAST)
    assert status == 0, err
    assert "descend: warning:" in err and "3 classes" in err and 'data.task = "classification"' in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["task"] == "classification"
    status, out, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r2",
                               "--set", "data.task=classification", *FAST)
    assert status == 0 and "warning" not in err, err          # said explicitly: no warning
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r3",
                             "--set", "data.task=regression", *FAST)
    assert_one_line(err, status, 2, "cannot be a regression target")


def test_csv_text_labels_warn_the_same_way(tmp_path, capsys):
    rows = ["a,b,species"] + [f"{i},{i * 2},{['iris', 'rose'][i % 2]}" for i in range(30)]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'c.csv'}", "--set",
                             "data.label_column=species", "--out", tmp_path / "r", *FAST)
    assert status == 0 and "descend: warning:" in err and "2 classes" in err, err


def test_validation_label_never_seen_in_training_is_refused(tmp_path, capsys):
    data = npz(tmp_path / "v.npz", x_val=np.zeros((6, 4), np.float32), y_val=np.array([0, 1, 2, 7, 1, 0]))
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r", *FAST)
    assert_one_line(err, status, 2, "y_val holds labels never seen in training (7", "0..2")
    assert not (tmp_path / "r").exists()


def test_text_test_label_outside_training_classes_is_refused(tmp_path, capsys):
    names = np.array(["cat", "dog"])[np.arange(60) % 2]
    data = npz(tmp_path / "s.npz", y_train=names, x_test=np.zeros((2, 4), np.float32),
               y_test=np.array(["cat", "owl"]))
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r", *FAST)
    assert_one_line(err, status, 2, "'owl'", "never seen in training")


def test_data_task_on_a_built_in_data_set_is_a_config_error(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("")
    status, _, err = run_cli(capsys, "config", "check", tmp_path / "c.toml", "--set", "data.task=regression")
    assert_one_line(err, status, 2, "data.task", "applies only with data.path")


# ------------------------------------------------------------------------------------------ misleading
def test_diverged_run_exits_3_and_reads_as_diverged(tmp_path, capsys):
    data = npz(tmp_path / "d.npz", n=200)
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "runs" / "a",
                             "--quiet", "--set", "model.preset=mlp", "--set", "optimizer.name=sgd", "--set",
                             "optimizer.lr=1e6", "--set", "train.epochs=3", "--set", "diagnose.monitor=false")
    assert status == 3, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("descend: error: training diverged") and "descend lr-find" in last
    assert "1e+05" not in err                                  # a tenth of 1e6 is no advice
    assert list_runs(tmp_path / "runs")[0]["status"] == "diverged"


def test_directory_given_as_config_says_it_is_a_directory(tmp_path, capsys):
    status, _, err = run_cli(capsys, "config", "check", tmp_path)
    assert_one_line(err, status, 2, "is a directory")
    assert "not found" not in err


def test_byte_order_mark_in_toml_is_accepted(tmp_path, capsys):
    (tmp_path / "c.toml").write_bytes("\ufeff[optimizer]\nlr = 0.01\n".encode("utf-8"))
    status, out, err = run_cli(capsys, "config", "show", tmp_path / "c.toml")
    assert status == 0, err
    assert "lr = 0.01" in out


def test_ragged_csv_names_the_row_not_numpy(tmp_path, capsys):
    rows = ["a,b,label"] + [f"{i},{i * 2},{i % 3}" for i in range(30)]
    rows[4] = "3,6,0,99"
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'c.csv'}", *FAST)
    assert_one_line(err, status, 2, "data row 3 (line 5) has 4 fields", "3 columns")
    assert "usecols" not in err


def test_ragged_csv_given_to_predict_names_the_row(trained, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("a,b,c,d\n1,2,3,4\n1,2,3\n")
    status, _, err = run_cli(capsys, "predict", trained, tmp_path / "in.csv", "--output", tmp_path / "p.csv")
    assert_one_line(err, status, 2, "data row 1", "has 3 fields")
    assert "usecols" not in err


def test_empty_csv_says_empty(tmp_path, capsys):
    (tmp_path / "c.csv").write_text("")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'c.csv'}", *FAST)
    assert_one_line(err, status, 2, "c.csv is empty")
    assert "['']" not in err


def test_one_dimensional_x_asks_for_rows_of_features(tmp_path, capsys):
    data = npz(tmp_path / "x1.npz", x_train=np.arange(60, dtype=np.float32))
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", *FAST)
    assert_one_line(err, status, 2, "x_train has shape (60,)", "reshape(-1, 1)")
    assert "shape ()" not in err


def test_resume_of_a_finished_run_says_so_and_changes_nothing(trained, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()}
    status, _, err = run_cli(capsys, "train", "--resume", trained, "--quiet")
    assert_one_line(err, status, 2, "already finished", "nothing was changed")
    assert {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()} == before


def test_sigterm_stops_training_like_ctrl_c(tmp_path, capsys, monkeypatch):
    import descend.app.training as training
    from descend.train.callbacks.base import Callback

    class Term(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:                               # after epoch 1's checkpoint
                os.kill(os.getpid(), signal.SIGTERM)
    real = training.build_callbacks
    monkeypatch.setattr(training, "build_callbacks", lambda *a, **k: real(*a, **k) + [Term()])
    data = npz(tmp_path / "d.npz")
    out = tmp_path / "runs" / "a"
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", out,
                             *FAST[:-6], "--set", "train.epochs=3", "--set", "diagnose.monitor=false")
    assert status == 130, err
    assert "resume with: descend train --resume" in err
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    assert read_status(out)["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is not cli_errors._raise_interrupt   # handler restored
    monkeypatch.undo()
    status, _, err = run_cli(capsys, "train", "--resume", out, "--quiet")
    assert status == 0, err
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3


# ------------------------------------------------------------------------------------------ paths, internal
def test_out_that_is_a_file_is_bad_input(tmp_path, capsys):
    data = npz(tmp_path / "d.npz")
    (tmp_path / "f").write_text("x")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "f", *FAST)
    assert_one_line(err, status, 2, "is a file")


def test_predict_output_that_is_a_directory_is_bad_input(trained, tmp_path, capsys):
    (tmp_path / "o.csv").mkdir()
    status, _, err = run_cli(capsys, "predict", trained, tmp_path / "d.npz", "--output", tmp_path / "o.csv")
    assert_one_line(err, status, 2, "is a directory")


def test_internal_error_prints_one_line_and_writes_the_traceback_to_the_run_folder(tmp_path, capsys, monkeypatch):
    import descend.app.training as training

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(training, "build_loss", boom)
    data = npz(tmp_path / "d.npz")
    out = tmp_path / "runs" / "a"
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", out, *FAST)
    assert_one_line(err, status, 1, "internal error: ZeroDivisionError: a bug", str(out / "error.log"))
    assert "Traceback" in (out / "error.log").read_text() and "boom" in (out / "error.log").read_text()
    assert read_status(out) == {**read_status(out), "status": "failed", "reason": "ZeroDivisionError: a bug"}
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "train", "--set", f"data.path={data}", "--out", str(tmp_path / "b"), *FAST])


def test_internal_error_outside_a_run_folder_logs_to_the_cache_dir(tmp_path, capsys, monkeypatch):
    import descend.app as app
    monkeypatch.setattr(cli_errors, "CRASH_DIR", tmp_path / "cache")
    monkeypatch.setattr(app, "list_runs", lambda d: [][0])
    status, _, err = run_cli(capsys, "runs", tmp_path)
    assert_one_line(err, status, 1, "IndexError", str(tmp_path / "cache"))
    [log] = (tmp_path / "cache").iterdir()
    assert "IndexError" in log.read_text()


@pytest.mark.parametrize("patch", ["encrypted", "compression"])
def test_npz_with_an_unreadable_zip_member_is_one_line_bad_input(tmp_path, capsys, patch):
    """Found by the fuzz suite: zip members flagged encrypted, or with an unknown compression method,
    raised RuntimeError / NotImplementedError (an internal error) instead of a bad-input line."""
    data = bytearray(npz(tmp_path / "g.npz").read_bytes())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            if patch == "encrypted":
                data[i + flag_at] |= 1
            else:
                data[i + flag_at + 2] = 99                     # compression method 99: not supported
            i = data.find(sig, i + 4)
    (tmp_path / "z.npz").write_bytes(bytes(data))
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={tmp_path / 'z.npz'}", "--out", tmp_path / "r",
                             *FAST)
    assert_one_line(err, status, 2, "z.npz", "not a readable .npz")


def test_run_folder_written_before_status_files_reads_its_status_from_the_summary(tmp_path):
    from descend.app.run_folder import write_status
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text(json.dumps({"interrupted": True}))
    (tmp_path / "new").mkdir()
    assert read_status(tmp_path / "old") == {"status": "interrupted"}
    assert read_status(tmp_path / "new") == {"status": "unfinished"}
    write_status(tmp_path / "new", "failed", "OSError: disk full")
    assert {k: v for k, v in read_status(tmp_path / "new").items() if k != "updated"} == \
        {"status": "failed", "reason": "OSError: disk full"}
    (tmp_path / "new" / "status.json").write_text("{not json")
    assert read_status(tmp_path / "new")["status"] == "unfinished"
    with pytest.raises(ValueError, match="status must be one of"):
        write_status(tmp_path / "new", "great")


def test_a_model_too_large_to_allocate_is_one_line_exit_4_not_a_crash(tmp_path, capsys):
    data = npz(tmp_path / "d.npz")
    status, _, err = run_cli(capsys, "train", "--set", f"data.path={data}", "--out", tmp_path / "r", *FAST,
                             "--set", "model.hidden=[1099511627776]")
    assert_one_line(err, status, 4, "out of memory", "model.hidden")
    assert not (tmp_path / "r").exists()
