"""Where a study lives, and how trials of dead workers are failed.

Default: Optuna's ``JournalStorage`` on a file in the tuning folder (``study.journal``). It is an
append-only log guarded by a file lock, so several worker processes on one machine can write at once
safely (SQLite serialises writers and answers "database is locked" under contention, and Optuna advises
against it for parallel studies), and a process killed mid-write leaves at most one incomplete line,
which is ignored on replay. Any database URL Optuna supports (``postgresql://``, ``mysql://``,
``sqlite:///``) gives an ``RDBStorage`` instead; there Optuna's heartbeat is on, so a trial whose worker
died on *another* machine is failed once its heartbeat is older than the grace period.

:func:`fail_dead_trials` handles this machine: every trial records its worker's host name and process id
(user attributes ``host`` and ``pid``); a RUNNING trial whose process no longer exists on this host is
marked FAIL (reason in its ``fail_reason`` attribute). It runs before workers start and before each trial,
so a study resumed after a crash never leaves a trial silently RUNNING.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

JOURNAL_FILE = "study.journal"
HEARTBEAT_INTERVAL = 30     # seconds between heartbeats of a running trial (database storage)
GRACE_PERIOD = 120          # a trial without a heartbeat for this long is failed (database storage)


def storage_url(out, storage: str | None) -> str:
    """The storage's URL: ``storage`` as given, or the journal file in ``out``."""
    if storage:
        return storage
    return "journal:" + str((Path(out) / JOURNAL_FILE).resolve())


def open_storage(url: str):
    """An Optuna storage object for a URL made by :func:`storage_url`."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    if "://" not in url:
        raise ValueError(f"--storage {url!r} is not a database URL; use e.g. "
                         f"postgresql://user:password@host:5432/db or sqlite:///path/study.db")
    url = _pick_postgres_driver(url)
    try:
        with warnings.catch_warnings():      # the heartbeat arguments are marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD)
    except (ImportError, ModuleNotFoundError) as exc:
        raise ValueError(f"--storage {url.split('://')[0]}://...: the database driver is missing ({exc}); "
                         f"install it (PostgreSQL: pip install psycopg2-binary)") from None
    except optuna.exceptions.StorageInternalError as exc:
        raise ValueError(f"--storage: cannot open {redact(url)}: {exc}") from None


def _pick_postgres_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only that one is installed."""
    import importlib.util
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + rest
    return url


def redact(url: str) -> str:
    """The URL with its user name and password replaced by ``***`` (for messages and reports)."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        tail = "***@" + tail.split("@", 1)[1]
    return head + sep + tail


def worker_tag() -> dict:
    """The user attributes that tie a trial to this process."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study, storage) -> list[int]:
    """Mark FAIL every RUNNING trial of ``study`` (kept in ``storage``, as :func:`open_storage` returned it)
    whose worker process on this host is gone; returns their trial numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState
    host, failed = socket.gethostname(), []
    study_id = storage.get_study_id_from_name(study.study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or pid is None or _alive(int(pid)):
            continue
        try:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            storage.set_trial_user_attr(trial_id, "fail_reason",
                                        f"worker process {pid} on {host} ended during the trial")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            failed.append(t.number)
        except UpdateFinishedTrialError:
            pass                 # another process finished or failed it meanwhile
    return failed
