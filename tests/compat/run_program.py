"""Run one corpus program as a subprocess, under descend (the stored file as it is) or under PyTorch (a copy
with the import lines switched back: ``descend`` -> ``torch`` on import lines only). Used by
tests/test_compat_corpus.py; ``python tests/compat/run_program.py NAME [torch]`` runs one by hand."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "tests" / "compat" / "programs"
STUBS = ROOT / "tests" / "compat" / "stubs"
IMPORT_LINE = re.compile(r"^(\s*)(import|from) descend\b", re.M)


def to_torch(source: str) -> str:
    """The program as it was published: import lines naming descend name torch again."""
    source = re.sub(r"^(\s*)import descend as torch\b", r"\1import torch", source, flags=re.M)
    return IMPORT_LINE.sub(r"\1\2 torch", source)


def run(name, argv=(), workdir=None, backend="descend", timeout=120, runner=None):
    """Run programs/NAME.py in ``workdir``; returns (returncode, stdout + stderr)."""
    workdir = Path(workdir or os.getcwd())
    script = PROGRAMS / f"{name}.py"
    if backend == "torch":
        copy = workdir / f"{name}_torch.py"
        copy.write_text(to_torch(script.read_text()))
        script = copy
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(STUBS), str(ROOT), str(PROGRAMS)])
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = "1"  # one BLAS/OpenMP thread per run: torch's pool oversubscribes the 2 cores
    cmd = [sys.executable, str(script), *argv] if runner is None else [sys.executable, "-c", runner, str(script)]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


if __name__ == "__main__":
    code, out = run(sys.argv[1], backend=sys.argv[2] if len(sys.argv) > 2 else "descend", argv=sys.argv[3:])
    print(out)
    sys.exit(code)
