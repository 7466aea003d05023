"""Background jobs: a queue in the store, one worker process per store, resumable units.

A job is a row in `jobs`; its work is split by a handler into keyed units. The worker runs
units concurrently, and each unit writes its own results and is then recorded in
`job_units`. A killed worker leaves the job 'running'; the next worker (there is only ever
one per store, guarded by a file lock) requeues it and runs only the units not yet recorded.
Handlers make units idempotent by keying every row they write on the unit.
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
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from workbench.core.response_cache import ACTIVE, ResponseCache
from workbench.core.shards import Helper, HelperGone
from workbench.store import Store

HEARTBEAT_S = 1.0
IDLE_POLL_S = 0.5
DEFAULT_CONCURRENCY = 8
FINISHED = ("done", "failed", "cancelled")


class JobCancelled(Exception):
    """Raised inside a unit when the user paused or cancelled its job."""


def share(total: int, index: int, count: int) -> int:
    """Process `index`'s part of `total` split over `count` processes; at least 1."""
    return max(1, total // count + (index < total % count))


@dataclass
class JobContext:
    """What a handler sees of its job while it runs."""

    store: Store
    job: dict
    stop_requested: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    shard: tuple[int, int] = (0, 1)  # (this process, processes) when the units are spread over processes
    shutdown: Callable[[], bool] = lambda: False  # True once the worker itself is stopping (see Shutdown)

    @property
    def job_id(self) -> int:
        return self.job["id"]

    @property
    def params(self) -> dict:
        return self.job["params"]

    def share(self, total: int) -> int:
        """This process's part of a limit (calls in flight) split over the job's processes."""
        return share(total, *self.shard)

    def check_stop(self) -> None:
        if self.stop_requested:
            raise JobCancelled()

    def add_usage(self, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.store.add_job_usage(self.job_id, prompt_tokens, completion_tokens, cost)


class JobHandler(Protocol):
    """A kind of job: its units, how to run one, and (optionally) what to do once all are done.

    A handler may set `units_per_slot` (default 1): how many units run at once per unit of the job's
    concurrency. Units whose calls go through the Teacher can set 2: the Teacher's own semaphore
    still caps the calls, and a unit that is parsing or writing its result does not leave a call
    slot idle.

    A handler may define `processes(ctx) -> int` (default 1): how many processes its units may be
    spread over (see workbench.core.shards). Each process then builds its own per-run state, and the
    handler must give its Teacher `ctx.share(concurrency)` calls at once.
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
    """Run a unit: ('done', None), ('failed', error) or ('cancelled', None) when the job was paused or cancelled."""
    try:
        await handler.run_unit(ctx, unit_key)
    except JobCancelled:
        return "cancelled", None
    except Exception as exc:  # a unit that fails is recorded, and the job goes on
        return "failed", f"{type(exc).__name__}: {exc}"[:4000]
    return "done", None


async def _run_units(
    ctx: JobContext, handler: JobHandler, pending: list[str], slots: int, processes: int, log: Callable[[str], None]
) -> dict[str, int]:
    """Run units on lanes (each takes the next pending unit until none is left), in this process and in
    processes - 1 helpers; finished units are recorded in batches, once per heartbeat and at the end.
    Returns how many units each process ran.

    A unit recorded late is safe: its rows are keyed on the unit, so a rerun after a crash skips its work.
    """
    queue = deque(pending)
    finished: list[tuple[str, str, str | None]] = []
    ran: Counter[str] = Counter()

    def flush() -> None:
        batch = finished[:]
        del finished[: len(batch)]
        ctx.store.record_units(ctx.job_id, batch)

    async def lane(run: Callable[[str], Awaitable[tuple[str, str | None]]], name: str) -> None:
        while queue and not ctx.stop_requested:
            unit_key = queue.popleft()
            try:
                status, error = await run(unit_key)
            except HelperGone:
                queue.appendleft(unit_key)  # the helper died: this process runs the unit instead
                return
            if status == "cancelled":
                return
            finished.append((unit_key, status, error))
            ran[name] += 1

    async def helper_lanes(helper: Helper, name: str) -> None:
        try:
            await helper.start()
        except Exception as exc:  # the job goes on in the worker; say why it has no helper
            log(f"job {ctx.job_id}: {name} did not start ({type(exc).__name__}: {exc}); the worker runs its units")
            return
        if await helper.ready:
            await asyncio.gather(*(lane(helper.run, name) for _ in range(helper_slots[name])))
        else:
            log(f"job {ctx.job_id}: {name} stopped before it was ready (see its error above); the worker runs its units")

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

    helpers = {f"helper {i}": Helper(ctx.store.path, ctx.job_id, i, processes) for i in range(1, processes)}
    helper_slots = {name: share(slots, i, processes) for i, name in enumerate(helpers, start=1)}
    beat = asyncio.create_task(heartbeat())
    started = time.monotonic()
    helper_tasks = {name: asyncio.create_task(helper_lanes(helper, name)) for name, helper in helpers.items()}
    try:
        while True:
            await asyncio.gather(*(lane(partial(run_one_unit, ctx, handler), "worker") for _ in range(ctx.share(slots))))
            for name, task in helper_tasks.items():
                if not helpers[name].is_ready:
                    task.cancel()  # still starting and nothing is left for it
            await asyncio.gather(*helper_tasks.values(), return_exceptions=True)
            if not queue or ctx.stop_requested:
                break  # else: units a helper handed back when it died
    finally:
        beat.cancel()
        await asyncio.gather(*(helper.close() for helper in helpers.values()), return_exceptions=True)
        flush()
        ctx.store.heartbeat(ctx.job_id, (time.monotonic() - started) % HEARTBEAT_S)
    return dict(ran)


def run_job(
    store: Store, job: dict, log: Callable[[str], None] = lambda message: None, shutdown: Callable[[], bool] | None = None
) -> str:
    """Run one claimed job to its end (or until paused/cancelled); returns its final status.

    When `shutdown()` turns True (the worker is stopping), no new unit starts, running units stop at their
    next `check_stop`, and the job goes back to the queue ('queued') for the next worker to resume."""
    load_handlers()
    handler = HANDLERS.get(job["kind"])
    if handler is None:
        store.set_job_status(job["id"], "failed", f"unknown job kind {job['kind']!r}")
        return "failed"
    ctx = JobContext(store, job, shutdown=shutdown or (lambda: False))
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
        processes = handler.processes(ctx) if hasattr(handler, "processes") else 1
        ctx.shard = (0, processes)
        units = handler.units(ctx)
        store.set_job_total(job["id"], len(units))
        finished = store.finished_units(job["id"])
        pending = [u for u in units if u not in finished]
        concurrency = int(job["params"].get("concurrency") or DEFAULT_CONCURRENCY)
        slots = concurrency * getattr(handler, "units_per_slot", 1)
        ran = asyncio.run(_run_units(ctx, handler, pending, slots, processes, log))
        if processes > 1:
            log(f"job {job['id']}: units run per process: {', '.join(f'{k} {v}' for k, v in ran.items())}")
        if ctx.stop_requested and ctx.shutdown() and store.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue, to resume when a worker runs again")
            return "queued"
        finish: Callable[[JobContext], Awaitable[None]] | None = getattr(handler, "finish", None)
        if finish is not None and not ctx.stop_requested:
            asyncio.run(finish(ctx))
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
    db_path: str | Path, exit_when_idle: bool = False, log: Callable[[str], None] = print, stop_with_parent: bool = False
) -> int:
    """The worker loop: one per store. Returns 1 if another worker already serves this store, else 0 once it
    stops: idle with `exit_when_idle`, or on shutdown (see Shutdown)."""
    fd = _try_lock(db_path)
    if fd is None:
        log(f"another worker is already running for {db_path}")
        return 1
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    shutdown = Shutdown(stop_with_parent)
    store = Store(db_path)
    try:
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
            status = run_job(store, job, log, shutdown)
            log(f"job {job['id']} ({job['kind']}) {status}")
        log(f"worker stopping: {shutdown.reason()}")
        return 0
    finally:
        shutdown.close()
        store.close()
        os.close(fd)


def ensure_worker(db_path: str | Path, stop_with_parent: bool = False) -> bool:
    """Start a detached worker for this store unless one is alive. Returns True if one was started.

    `stop_with_parent`: the worker stops when this process ends (the app's worker; see Shutdown)."""
    if worker_alive(db_path):
        return False
    log_file = open(f"{db_path}.worker.log", "ab")  # noqa: SIM115 - handed to the child process
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
