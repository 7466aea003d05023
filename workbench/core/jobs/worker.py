"""The worker process: one per store (a file lock guards it); it claims queued jobs and runs them with the
runner.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core.executor import RAY_ADDRESS_SETTING, Executor, ExecutorError, configured_address, connect
from workbench.core.jobs.runner import load_handlers, run_job
from workbench.core.queries.jobs import QUEUED

IDLE_POLL_S = 0.5


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.worker.lock")


def _try_lock(db_path: str | Path) -> int | None:
    """Take the store's worker lock; returns the open descriptor, or None when another worker holds it."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def worker_pid(db_path: str | Path) -> int | None:
    """The pid of the live worker serving this store, or None."""
    if not worker_alive(db_path):
        return None
    text = lock_path(db_path).read_text().strip()
    return int(text) if text.isdigit() else None


def worker_alive(db_path: str | Path) -> bool:
    fd = _try_lock(db_path)
    if fd is None:
        return True
    os.close(fd)
    return False


class Shutdown:
    """When the worker should stop: on SIGTERM, or (for the app's worker) once the process that started it is gone.

    The app starts its worker with `stop_with_parent` (`workbench worker --stop-with-parent`), so stopping
    the app (Ctrl-C, SIGTERM from a service manager, even SIGKILL) stops its worker too: at once when idle,
    else once the running job reaches a safe point (its running units stop before their next model call;
    everything they stored stays, and the job is requeued to resume). A worker started by hand watches no
    parent and runs until it is stopped itself.
    """

    def __init__(self, stop_with_parent: bool = False, parent: int | None = None) -> None:
        """`parent`: the pid of the process that started the worker, as the worker saw it first (default: now)."""
        self.parent = (parent or os.getppid()) if stop_with_parent else None
        self.signalled = False
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.signalled = True

    def __call__(self) -> bool:
        return self.signalled or (self.parent is not None and os.getppid() != self.parent)

    def reason(self) -> str:
        return "SIGTERM" if self.signalled else "the app that started it has stopped"

    def close(self) -> None:
        """Give SIGTERM back to the handler it had before (a worker run inside another program)."""
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def run_worker(
    db_path: str | Path, exit_when_idle: bool = False, log: Callable[[str], None] = print, stop_with_parent: bool = False,
    ray_address: str | None = None,
) -> int:
    """The worker loop: one per store. Returns 1 if another worker already serves this store; 2 if the configured
    Ray cluster (`ray_address`, else $WORKBENCH_RAY_ADDRESS, else the `ray_address` setting) cannot be reached,
    before running anything, or stops answering (its job goes back to the queue); else 0 once it stops: idle
    with `exit_when_idle`, or on shutdown (see Shutdown)."""
    parent = os.getppid()  # before the slow start-up: the app that started this worker may be gone by its end
    fd = _try_lock(db_path)
    if fd is None:
        log(f"another worker is already running for {db_path}")
        return 1
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    store = load_handlers().open_store(db_path)
    executor: Executor | None = None
    shutdown: Shutdown | None = None
    try:
        address = configured_address(store.settings.get_setting(RAY_ADDRESS_SETTING), ray_address)
        try:
            executor = connect(address)
        except ExecutorError as exc:
            log(f"{NOT_STARTED} {exc}. No job was run; remove the Ray address to run on this machine")
            return 2
        log(f"CPU-bound batches run on {executor.where}")
        shutdown = Shutdown(stop_with_parent, parent)  # after Ray's init, which sets its own SIGTERM handler
        requeued = store.jobs.requeue_orphaned_jobs()
        if requeued:
            log(f"resuming {requeued} job(s) left running by a stopped worker")
        while not shutdown():
            job = store.jobs.claim_next_job(os.getpid())
            if job is None:
                if exit_when_idle:
                    return 0
                time.sleep(IDLE_POLL_S)
                continue
            log(f"job {job['id']} ({job['kind']}) started")
            status = run_job(store, job, log, shutdown, executor)
            log(f"job {job['id']} ({job['kind']}) {status}")
            if status == QUEUED and not shutdown():
                log(f"worker stopping: {executor.where} {LOST}; start the worker again once it is back")
                return 2
        log(f"worker stopping: {shutdown.reason()}")
        return 0
    finally:
        if shutdown is not None:
            shutdown.close()
        if executor is not None:
            executor.close()
        store.close()
        os.close(fd)


NOT_STARTED = "worker not started:"


LOST = "stopped answering"


def worker_log_path(db_path: str | Path) -> Path:
    """The log of the worker the app starts for this store."""
    return Path(f"{db_path}.worker.log")


def worker_stop_reason(db_path: str | Path) -> str | None:
    """Why the app's last worker stopped, when it stopped because its Ray cluster could not be used (its log's last
    line says so: the reason is returned without the log's 'worker ...:' lead); None otherwise."""
    try:
        with worker_log_path(db_path).open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            lines = log.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return None
    last = lines[-1] if lines else ""
    return last.split(": ", 1)[-1] if last.startswith(NOT_STARTED) or LOST in last else None


def ensure_worker(db_path: str | Path, stop_with_parent: bool = False) -> bool:
    """Start a detached worker for this store unless one is alive. Returns True if one was started.

    `stop_with_parent`: the worker stops when this process ends (the app's worker; see Shutdown)."""
    if worker_alive(db_path):
        return False
    log_file = open(worker_log_path(db_path), "ab")  # noqa: SIM115 - handed to the child process
    subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker",
         *(["--stop-with-parent"] if stop_with_parent else [])],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log_file.close()
    return True
