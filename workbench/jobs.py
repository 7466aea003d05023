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
import os
import subprocess
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from workbench.shards import Helper, HelperGone
from workbench.store import Store

HEARTBEAT_S = 1.0
IDLE_POLL_S = 0.5
DEFAULT_CONCURRENCY = 8


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
    spread over (see workbench.shards). Each process then builds its own per-run state, and the
    handler must give its Teacher `ctx.share(concurrency)` calls at once.
    """

    kind: str

    def units(self, ctx: JobContext) -> list[str]: ...

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None: ...


HANDLERS: dict[str, JobHandler] = {}


def register(handler: JobHandler) -> JobHandler:
    HANDLERS[handler.kind] = handler
    return handler


def load_handlers() -> None:
    """Import the modules that register job handlers."""
    import workbench.pipeline  # noqa: F401


def submit(store: Store, kind: str, params: dict, model: str | None = None) -> int:
    """Queue a job; the worker picks it up. Returns the job id."""
    load_handlers()
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(HANDLERS))}")
    return store.create_job(kind, params, model=model)


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
            ctx.store.heartbeat(ctx.job_id, current - last)
            last = current
            if ctx.store.job_status(ctx.job_id) != "running":
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


def run_job(store: Store, job: dict, log: Callable[[str], None] = lambda message: None) -> str:
    """Run one claimed job to its end (or until paused/cancelled); returns its final status."""
    load_handlers()
    handler = HANDLERS.get(job["kind"])
    if handler is None:
        store.set_job_status(job["id"], "failed", f"unknown job kind {job['kind']!r}")
        return "failed"
    ctx = JobContext(store, job)
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


def run_worker(db_path: str | Path, exit_when_idle: bool = False, log: Callable[[str], None] = print) -> int:
    """The worker loop: one per store. Returns 1 if another worker already serves this store."""
    fd = _try_lock(db_path)
    if fd is None:
        log(f"another worker is already running for {db_path}")
        return 1
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    store = Store(db_path)
    try:
        requeued = store.requeue_orphaned_jobs()
        if requeued:
            log(f"resuming {requeued} job(s) left running by a stopped worker")
        while True:
            job = store.claim_next_job(os.getpid())
            if job is None:
                if exit_when_idle:
                    return 0
                time.sleep(IDLE_POLL_S)
                continue
            log(f"job {job['id']} ({job['kind']}) started")
            status = run_job(store, job, log)
            log(f"job {job['id']} ({job['kind']}) {status}")
    finally:
        store.close()
        os.close(fd)


def ensure_worker(db_path: str | Path) -> bool:
    """Start a detached worker for this store unless one is alive. Returns True if one was started."""
    if worker_alive(db_path):
        return False
    log_file = open(f"{db_path}.worker.log", "ab")  # noqa: SIM115 - handed to the child process
    subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"],
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
