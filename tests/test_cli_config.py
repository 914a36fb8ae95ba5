"""`descend config show|check`, `--help` and the one-line errors, driven as a user would (subprocess)."""

import subprocess
import sys
import tomllib

import pytest

from descend.app.config import all_keys, default_config


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "descend", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_lists_every_subcommand():
    r = cli("--help")
    assert r.returncode == 0
    for command in ("train", "config", "evaluate", "predict", "runs", "compare"):
        assert command in r.stdout
    for command in ("train", "evaluate", "predict", "runs", "compare"):
        sub = cli(command, "--help")
        assert sub.returncode == 0 and "usage: descend " + command in sub.stdout


def test_config_show_prints_the_full_default_as_commented_toml():
    r = cli("config", "show")
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout) == default_config()
    keys = [line for line in r.stdout.splitlines() if "=" in line and not line.startswith("#")]
    comments = [line for line in r.stdout.splitlines() if line.startswith("# ")]
    assert len(comments) >= len(keys) == len(all_keys())


def test_config_show_applies_set_overrides():
    r = cli("config", "show", "--set", "optimizer.lr=0.5", "--set", "model.hidden=[8, 4]")
    cfg = tomllib.loads(r.stdout)
    assert cfg["optimizer"]["lr"] == 0.5 and cfg["model"]["hidden"] == [8, 4]


def test_config_check_accepts_a_valid_file(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('[model]\npreset = "mlp"\nhidden = [32]\n[optimizer]\nname = "sgd"\n')
    r = cli("config", "check", path)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok")


@pytest.mark.parametrize("text, message", [
    ("[model]\nhiden = [3]\n", "unknown config key 'model.hiden'; did you mean 'model.hidden'"),
    ("[train]\nepochs = \"ten\"\n", "train.epochs must be an integer, got 'ten'"),
    ("[optimizer]\nlr = 0.0\n", "optimizer.lr = 0.0 is out of range; it must be > 0"),
    ("[schedule]\nname = \"onecycle\"\nwarmup_epochs = 2\n", "conflicts with schedule.name = 'onecycle'"),
    ("seed = = 1\n", "not valid TOML"),
])
def test_config_check_rejects_bad_files_in_one_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = cli("config", "check", path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("descend: error: ") and message in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_config_file_is_one_line(tmp_path):
    r = cli("train", tmp_path / "nope.toml")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "not found" in r.stderr


def test_bad_set_override_is_one_line_with_nearest_key():
    r = cli("train", "--set", "optimizer.learning_rate=0.1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert "did you mean" in r.stderr and "'optimizer.lr'" in r.stderr


def test_console_script_points_at_the_same_main():
    import shutil
    exe = shutil.which("descend")
    if exe is None:
        pytest.skip("the `descend` console script is not installed (pip install -e .)")
    r = subprocess.run([exe, "config", "show"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and tomllib.loads(r.stdout) == default_config()
