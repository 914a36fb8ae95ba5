"""The sample config in README.md is a valid config: `descend config check` accepts it as printed."""

import re
import subprocess
import sys
from pathlib import Path

from descend.app.config import check_config

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_toml_blocks():
    return re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_sample_config_passes_descend_config_check(tmp_path):
    blocks = _readme_toml_blocks()
    assert blocks, "README.md has no ```toml block"
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme{i}.toml"
        path.write_text(block, encoding="utf-8")
        r = subprocess.run([sys.executable, "-m", "descend", "config", "check", str(path)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == f"{path}: ok", r.stderr
        cfg = check_config(path)          # and the keys it sets are the ones resolved
        if "onecycle" in block:
            assert cfg["schedule"]["name"] == "onecycle" and cfg["schedule"]["warmup_epochs"] == 0
