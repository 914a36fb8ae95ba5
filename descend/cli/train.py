"""``descend train [CONFIG.toml] [--set key=value ...] [--out DIR] [--resume DIR] [--nproc N]``.

``--nproc N`` (N > 1, not already under MPI) starts ``mpiexec -n N python -m descend train ...`` with the
same arguments, one BLAS thread per process, and returns its exit status; each process then runs
:func:`descend.app.run_training`, which joins the MPI group. ``mpiexec -n N descend train ...`` does the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

#: Set in every process ``--nproc`` starts: one BLAS thread per process (N processes share the cores).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model from a config (default: a small CNN on digits)",
        description="Train a model and write a run folder (config.toml, history.csv, summary.json, "
                    "checkpoints, plots/, report.html). With no arguments it trains the embedded default, a "
                    "small CNN on scikit-learn's digits. Ctrl-C stops after the last finished epoch, keeping "
                    "a resumable checkpoint; continue with --resume RUN_DIR.")
    p.add_argument("config", nargs="?", help="a TOML config file (missing keys take the defaults; see "
                                             "`descend config show`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set optimizer.lr=0.01 --set "
                        "model.hidden=[64,32]")
    p.add_argument("--out", metavar="DIR", help="the run folder (default: runs/<YYYYmmdd-HHMMSS>-<name>)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint (its config is reused)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel training on N processes of this machine through mpiexec (needs the "
                        "distributed extra); data.batch_size stays the global batch, the weights those of one "
                        "process")
    p.set_defaults(handler=run)


def mpiexec_command(args, nproc: int) -> list:
    """The ``mpiexec`` command line that reruns this ``descend train`` (without ``--nproc``) on ``nproc``
    processes; ``--oversubscribe`` when Open MPI is asked for more processes than there are cores."""
    mpiexec = shutil.which("mpiexec")
    cmd = [mpiexec, "-n", str(nproc)]
    if nproc > (os.cpu_count() or 1):
        version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
        if "Open MPI" in version or "OpenRTE" in version:
            cmd.append("--oversubscribe")
    cmd += [sys.executable, "-m", "descend"] + (["--debug"] if getattr(args, "debug", False) else []) + ["train"]
    cmd += [args.config] if args.config else []
    for item in args.set:
        cmd += ["--set", item]
    cmd += ["--out", args.out] if args.out else []
    cmd += ["--resume", args.resume] if args.resume else []
    cmd += ["--quiet"] if args.quiet else []
    return cmd


def _launch(args) -> int:
    """Run this training on ``args.nproc`` processes under mpiexec; its exit status (2, with the install
    line, when mpi4py or mpiexec is missing)."""
    missing = None if shutil.which("mpiexec") else "mpiexec, which is not on PATH"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        missing = "mpi4py, which is not installed"
    if missing:
        print(f"descend: error: --nproc {args.nproc} needs {missing}; install the distributed extra: "
              f"pip install 'descend[distributed]'", file=sys.stderr)
        return 2
    cmd = mpiexec_command(args, args.nproc)
    env = dict(os.environ, **{name: "1" for name in THREAD_VARS})
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # Open MPI refuses root without these
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    status, interrupted = _supervise(subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                                      start_new_session=True))
    if interrupted:
        return 130
    if status != 0 and status not in (2, 3, 130):
        print(f"descend: error: the {args.nproc}-process run ended with status {status} (mpiexec's message "
              f"above names the process that failed or was lost); continue it with descend train --resume "
              f"RUN_DIR", file=sys.stderr)
    return 128 - status if status < 0 else status


def _supervise(proc) -> tuple:
    """Wait for the mpiexec ``proc`` (started in a session of its own, so that a Ctrl-C reaches this process
    only); returns (its exit status, whether it was interrupted).

    Open MPI's mpiexec ends every process at once on SIGINT, but forwards SIGUSR1 to them; so a first
    Ctrl-C sends SIGUSR1, which each process takes as its Ctrl-C (all stop after the same batch, rank 0
    prints the resume line); a second Ctrl-C sends SIGINT (mpiexec ends the job now). SIGTERM and SIGHUP
    are passed on to mpiexec, which ends the job."""
    import signal
    import threading
    forwarded = {}
    names = ("SIGTERM", "SIGHUP") if threading.current_thread() is threading.main_thread() else ()
    for sig in (getattr(signal, name) for name in names if hasattr(signal, name)):
        forwarded[sig] = signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
    interrupts = 0
    try:
        while True:
            try:
                return proc.wait(), interrupts > 0
            except KeyboardInterrupt:
                interrupts += 1
                proc.send_signal(getattr(signal, "SIGUSR1", signal.SIGINT) if interrupts == 1 else signal.SIGINT)
    finally:
        for sig, previous in forwarded.items():
            signal.signal(sig, previous)


def run(args) -> int:
    from ..app import launched_world_size
    if isinstance(args.nproc, bool) or args.nproc < 1:
        raise ValueError(f"--nproc must be a positive number of processes, got {args.nproc}")
    world = launched_world_size()
    if world > 1:
        if args.nproc not in (1, world):
            raise ValueError(f"--nproc {args.nproc} but mpiexec started {world} processes; drop --nproc or "
                             f"give {world}")
        return _run_rank(args)
    if args.nproc > 1:
        return _launch(args)
    return _train(args)


def _run_rank(args) -> int:
    """One process of an MPI run: a failure on one rank aborts the whole job (the others would wait in
    their next collective forever) after its one-line message; only rank 0 prints the result. SIGUSR1
    (what mpiexec forwards; ``--nproc`` sends it on Ctrl-C) counts as a Ctrl-C: under the Trainer every
    process stops after the same batch, and an interrupted run's processes exit 0 (so that mpiexec adds
    no failure report of its own) after rank 0's one-line resume message."""
    import signal
    from .errors import report_failure
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    try:
        status = _train(args)
    except BaseException as exc:
        if getattr(args, "debug", False):
            import traceback
            traceback.print_exc()
            status = 1
        else:
            status = report_failure(exc)
        from mpi4py import MPI
        MPI.COMM_WORLD.Abort(status)
    return status


def _train(args) -> int:
    from ..app import run_training
    from ..distributed import get_rank, get_world_size, is_initialized
    if args.resume and (args.config or args.set):
        raise ValueError("--resume continues a run with its own config.toml; drop CONFIG and --set")
    config = args.config if args.config else {}
    result = run_training(config, out=args.out, resume=args.resume, overrides=args.set,
                          progress=not args.quiet)
    s = result.summary
    metrics = ", ".join(f"{k} {s[k]:.4f}" for k in ("test_accuracy", "test_loss", "val_accuracy", "val_loss",
                                                     "test_r2", "val_r2") if isinstance(s.get(k), float))
    parallel = is_initialized() and get_world_size() > 1
    if parallel and get_rank() != 0:
        return 3 if s.get("diverged") and not result.interrupted else 0
    if result.interrupted:
        if s["epochs"] == 0 or not (result.out / "checkpoints" / "last.safetensors").is_file():
            print("interrupted before the first epoch finished; nothing to resume", file=sys.stderr)
        else:
            nproc = f" --nproc {get_world_size()}" if parallel else ""
            print(f"interrupted after epoch {s['epochs']}; resume with: descend train --resume {result.out}{nproc}",
                  file=sys.stderr)
        return 0 if parallel else 130
    if s.get("diverged"):
        print(f"descend: error: training {s['divergence']}; the run folder {result.out} keeps the last good "
              f"weights. The learning rate is probably too high: find one with `descend lr-find` (same config) "
              f"or set train.clip_grad_norm = 1.0", file=sys.stderr)
        return 3
    print(f"run folder: {result.out}  ({metrics}; {s['epochs']} epochs, {s['wall_time_s']:.1f} s)")
    return 0
