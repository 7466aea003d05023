"""Background jobs: a queue in the store, one worker process per store, resumable units.

A job is a row in `jobs`; its work is split by a handler into keyed units. The worker runs
units concurrently, and each unit writes its own results and is then recorded in
`job_units`. A killed worker leaves the job 'running'; the next worker (there is only ever
one per store, guarded by a file lock) requeues it and runs only the units not yet recorded.
Handlers make units idempotent by keying every row they write on the unit.

Units run concurrently in the worker process (one process already makes more model calls a second than
the fastest peer framework). CPU-bound batches go to the job's executor (`workbench.core.executor`): a
thread of the worker, or Ray tasks on a cluster when a Ray address is configured; the worker alone writes
the store either way.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workbench.core.executor import (
    RAY_ADDRESS_SETTING,
    Executor,
    ExecutorError,
    ExecutorLost,
    LocalExecutor,
    configured_address,
    connect,
)
from workbench.core.response_cache import ACTIVE, ResponseCache
from workbench.store import Store

HEARTBEAT_S = 1.0
IDLE_POLL_S = 0.5
DEFAULT_CONCURRENCY = 8
FINISHED = ("done", "failed", "cancelled")


class JobCancelled(Exception):
    """Raised inside a unit when the user paused or cancelled its job."""


@dataclass
class JobContext:
    """What a handler sees of its job while it runs."""

    store: Store
    job: dict
    stop_requested: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    shutdown: Callable[[], bool] = lambda: False  # True once the worker itself is stopping (see Shutdown)
    executor: Executor = field(default_factory=LocalExecutor)  # where CPU-bound batches run
    lost: str | None = None  # why the executor stopped answering (the job goes back to the queue)

    @property
    def job_id(self) -> int:
        return self.job["id"]

    @property
    def params(self) -> dict:
        return self.job["params"]

    def check_stop(self) -> None:
        if self.stop_requested:
            raise JobCancelled()

    def add_usage(self, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.store.add_job_usage(self.job_id, prompt_tokens, completion_tokens, cost)

    def note(self, text: str) -> None:
        """Add a line to the job's note (how it ran: e.g. which embedding backend), once; the Jobs page shows it."""
        self.store.add_job_note(self.job_id, text)


class JobHandler(Protocol):
    """A kind of job: its units, how to run one, and (optionally) what to do once all are done.

    A handler may set `units_per_slot` (default 1): how many units run at once per unit of the job's
    concurrency. Units whose calls go through the Teacher can set 2: the Teacher's own semaphore
    still caps the calls, and a unit that is parsing or writing its result does not leave a call
    slot idle.

    A handler whose units send CPU-bound batches to `ctx.executor` sets `cpu_bound = True`: on a cluster
    it then runs at least two units per executor slot at once, so that every CPU has a batch while the
    worker writes the last one's rows.
    """

    kind: str

    def units(self, ctx: JobContext) -> list[str]: ...

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None: ...


HANDLERS: dict[str, JobHandler] = {}
PIPELINE = "workbench.pipeline"  # imports every stage's job module, each registering its handler


def register(handler: JobHandler) -> JobHandler:
    HANDLERS[handler.kind] = handler
    return handler


def load_handlers() -> None:
    """Import the modules that register job handlers."""
    importlib.import_module(PIPELINE)


def submit(store: Store, kind: str, params: dict, model: str | None = None, student: str | None = None) -> int:
    """Queue a job; the worker picks it up. Returns the job id. `model` names the teacher the job calls and
    `student` the student model it uses (workbench/student/), each None where the job uses none.

    Every job takes `params["bypass_cache"]` (default False): True sends every model call to the model
    instead of answering repeated ones from the response cache (workbench/core/response_cache.py)."""
    load_handlers()
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(HANDLERS))}")
    return store.create_job(kind, params, model=model, student=student)


def rerun(store: Store, job_id: int, bypass_cache: bool = False) -> int:
    """Queue a new job with a finished job's kind and params; repeated model calls come from the cache unless
    `bypass_cache`. Raises ValueError for an unknown or unfinished job."""
    job = store.get_job(job_id)
    if job is None:
        raise ValueError(f"no job {job_id}")
    if job["status"] not in FINISHED:
        raise ValueError(f"job {job_id} is {job['status']}; only a finished job can be run again")
    return submit(store, job["kind"], {**job["params"], "bypass_cache": bypass_cache}, model=job["model"],
                  student=job["student"])


def job_cache(store: Store, job: dict) -> ResponseCache:
    """The response cache a job's model calls go through (its own store connection)."""
    return ResponseCache(store.path, job["id"], bypass=bool(job["params"].get("bypass_cache")))


async def run_one_unit(ctx: JobContext, handler: JobHandler, unit_key: str) -> tuple[str, str | None]:
    """Run a unit: ('done', None), ('failed', error) or ('cancelled', None) when the job was paused or cancelled,
    or its executor was lost (`ctx.lost` says why; the unit is not recorded)."""
    try:
        await handler.run_unit(ctx, unit_key)
    except JobCancelled:
        return "cancelled", None
    except ExecutorLost as exc:
        ctx.lost, ctx.stop_requested = str(exc), True
        return "cancelled", None
    except Exception as exc:  # a unit that fails is recorded, and the job goes on
        return "failed", f"{type(exc).__name__}: {exc}"[:4000]
    return "done", None


async def _run_units(ctx: JobContext, handler: JobHandler, pending: list[str], slots: int) -> int:
    """Run units on `slots` lanes (each takes the next pending unit until none is left); finished units are
    recorded in batches, once per heartbeat and at the end. Returns how many units ran.

    A unit recorded late is safe: its rows are keyed on the unit, so a rerun after a crash skips its work.
    """
    queue = deque(pending)
    finished: list[tuple[str, str, str | None]] = []
    ran = 0

    def flush() -> None:
        batch = finished[:]
        del finished[: len(batch)]
        ctx.store.record_units(ctx.job_id, batch)

    async def lane() -> None:
        nonlocal ran
        while queue and not ctx.stop_requested:
            unit_key = queue.popleft()
            status, error = await run_one_unit(ctx, handler, unit_key)
            if status == "cancelled":
                return
            finished.append((unit_key, status, error))
            ran += 1

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            current = time.monotonic()
            flush()
            if (cache := ACTIVE.get()) is not None:
                cache.flush()
            ctx.store.heartbeat(ctx.job_id, current - last)
            last = current
            if ctx.store.job_status(ctx.job_id) != "running" or ctx.shutdown():
                ctx.stop_requested = True

    beat = asyncio.create_task(heartbeat())
    started = time.monotonic()
    try:
        await asyncio.gather(*(lane() for _ in range(slots)))
    finally:
        beat.cancel()
        flush()
        ctx.store.heartbeat(ctx.job_id, (time.monotonic() - started) % HEARTBEAT_S)
    return ran


def lanes(handler: JobHandler, params: dict, executor: Executor) -> int:
    """How many units run at once: the job's concurrency (times the handler's `units_per_slot`); for a
    CPU-bound handler at least the executor's `lanes` (on a cluster: enough units that every CPU has a batch
    computing and the next on its way, small batches grouped into tasks), so that a cluster's CPUs all have work."""
    concurrency = int(params.get("concurrency") or DEFAULT_CONCURRENCY)
    slots = concurrency * getattr(handler, "units_per_slot", 1)
    if getattr(handler, "cpu_bound", False) and executor.slots > 1:
        slots = max(slots, executor.lanes)
    return slots


def run_job(
    store: Store, job: dict, log: Callable[[str], None] = lambda message: None, shutdown: Callable[[], bool] | None = None,
    executor: Executor | None = None,
) -> str:
    """Run one claimed job to its end (or until paused/cancelled); returns its final status.

    CPU-bound batches go to `executor` (default: this process); the job records where it ran.
    When `shutdown()` turns True (the worker is stopping), no new unit starts, running units stop at their
    next `check_stop`, and the job goes back to the queue ('queued') for the next worker to resume. So does a
    job whose executor was lost ('queued'; `log` says why)."""
    load_handlers()
    handler = HANDLERS.get(job["kind"])
    if handler is None:
        store.set_job_status(job["id"], "failed", f"unknown job kind {job['kind']!r}")
        return "failed"
    ctx = JobContext(store, job, shutdown=shutdown or (lambda: False), executor=executor or LocalExecutor())
    store.set_job_ran_on(job["id"], ctx.executor.where)
    cache = job_cache(store, job)
    active = ACTIVE.set(cache)
    try:
        return _run_claimed(ctx, handler, log)
    finally:
        ACTIVE.reset(active)
        cache.close()


def _run_claimed(ctx: JobContext, handler: JobHandler, log: Callable[[str], None]) -> str:
    store, job = ctx.store, ctx.job
    try:
        units = handler.units(ctx)
        store.set_job_total(job["id"], len(units))
        finished = store.finished_units(job["id"])
        pending = [u for u in units if u not in finished]
        asyncio.run(_run_units(ctx, handler, pending, lanes(handler, job["params"], ctx.executor)))
        if ctx.lost and store.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue: {ctx.lost}")
            return "queued"
        if ctx.stop_requested and ctx.shutdown() and store.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue, to resume when a worker runs again")
            return "queued"
        finish: Callable[[JobContext], Awaitable[None]] | None = getattr(handler, "finish", None)
        if finish is not None and not ctx.stop_requested:
            asyncio.run(finish(ctx))
    except ExecutorLost as exc:  # in units() or finish(): nothing half-done is recorded
        if store.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue: {exc}")
        ctx.lost = str(exc)
        return "queued"
    except Exception as exc:
        store.set_job_status(job["id"], "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        return "failed"
    status = store.job_status(job["id"])
    if status == "running":
        store.set_job_status(job["id"], "done")
        return "done"
    return status or "failed"


# ---------------------------------------------------------------- the worker process


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

    def __init__(self, stop_with_parent: bool = False) -> None:
        self.parent = os.getppid() if stop_with_parent else None
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
    fd = _try_lock(db_path)
    if fd is None:
        log(f"another worker is already running for {db_path}")
        return 1
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    store = Store(db_path)
    executor: Executor | None = None
    shutdown: Shutdown | None = None
    try:
        address = configured_address(store.get_setting(RAY_ADDRESS_SETTING), ray_address)
        try:
            executor = connect(address)
        except ExecutorError as exc:
            log(f"{NOT_STARTED} {exc}. No job was run; remove the Ray address to run on this machine")
            return 2
        log(f"CPU-bound batches run on {executor.where}")
        shutdown = Shutdown(stop_with_parent)  # after Ray's init, which sets its own SIGTERM handler
        requeued = store.requeue_orphaned_jobs()
        if requeued:
            log(f"resuming {requeued} job(s) left running by a stopped worker")
        while not shutdown():
            job = store.claim_next_job(os.getpid())
            if job is None:
                if exit_when_idle:
                    return 0
                time.sleep(IDLE_POLL_S)
                continue
            log(f"job {job['id']} ({job['kind']}) started")
            status = run_job(store, job, log, shutdown, executor)
            log(f"job {job['id']} ({job['kind']}) {status}")
            if status == "queued" and not shutdown():
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


def eta_seconds(job: dict) -> float | None:
    """Seconds left at the job's average pace so far, or None before any unit finished."""
    finished = job["done_units"] + job["failed_units"]
    if finished == 0 or job["total_units"] == 0 or job["elapsed_s"] <= 0:
        return None
    return job["elapsed_s"] / finished * max(0, job["total_units"] - finished)


def job_cost(job: dict) -> float | None:
    """A job's cost in USD as the usage table counts it: None only when the job made model calls and the provider
    gave no price; a job that made no calls (embedding, a map, a scan) cost 0."""
    if job["cost"] is not None:
        return job["cost"]
    return None if job["prompt_tokens"] + job["completion_tokens"] > 0 else 0.0
