"""The runner: one job's units, run concurrently, each recorded in `job_units` once it has finished.

A job is a row in `jobs` (workbench/core/jobs/queue.py); a handler (registered here by its stage's job module) splits
its work into keyed units. The runner runs the units not yet recorded, so a job whose worker was killed resumes where
it stopped; handlers make units idempotent by keying every row they write on the unit. The worker process
(workbench/core/jobs/worker.py) claims jobs and hands them to `run_job`; `run_here` runs one job in the foreground.

Units run concurrently in the worker process (one process already makes more model calls a second than
the fastest peer framework). CPU-bound batches go to the job's executor (`workbench.core.executor`): a
thread of the worker, or Ray tasks on a cluster when a Ray address is configured; the worker alone writes
the store either way.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from workbench.core.executor import (
    Executor,
    ExecutorLost,
    LocalExecutor,
)
from workbench.core.queries.jobs import CANCELLED, DONE, FAILED, PAUSED, QUEUED, RUNNING
from workbench.core.response_cache import ACTIVE, ResponseCache
from workbench.core.shared_store import SharedStore

HEARTBEAT_S = 1.0
DEFAULT_CONCURRENCY = 8


class JobCancelled(Exception):
    """Raised inside a unit when the user paused or cancelled its job."""


@dataclass
class JobContext:
    """What a handler sees of its job while it runs."""

    store: SharedStore
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
        self.store.jobs.add_job_usage(self.job_id, prompt_tokens, completion_tokens, cost)

    def note(self, text: str) -> None:
        """Add a line to the job's note (how it ran: e.g. which embedding backend), once; the Jobs page shows it."""
        self.store.jobs.add_job_note(self.job_id, text)


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


def load_handlers() -> ModuleType:
    """The composition root, imported by name: importing it registers every stage's job handler, and its `open_store`
    opens a store with every owner (workbench/core imports no stage: it reaches them only through it)."""
    return importlib.import_module(PIPELINE)


def job_cache(store: SharedStore, job: dict) -> ResponseCache:
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
        ctx.store.jobs.record_units(ctx.job_id, batch)

    async def lane() -> None:
        nonlocal ran
        while queue and not ctx.stop_requested:
            unit_key = queue.popleft()
            status, error = await run_one_unit(ctx, handler, unit_key)
            if status == CANCELLED:
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
            ctx.store.jobs.heartbeat(ctx.job_id, current - last)
            last = current
            if ctx.store.jobs.job_status(ctx.job_id) != "running" or ctx.shutdown():
                ctx.stop_requested = True

    beat = asyncio.create_task(heartbeat())
    started = time.monotonic()
    try:
        await asyncio.gather(*(lane() for _ in range(slots)))
    finally:
        beat.cancel()
        flush()
        ctx.store.jobs.heartbeat(ctx.job_id, (time.monotonic() - started) % HEARTBEAT_S)
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
    store: SharedStore, job: dict, log: Callable[[str], None] = lambda message: None, shutdown: Callable[[], bool] | None = None,
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
        store.jobs.set_job_status(job["id"], "failed", f"unknown job kind {job['kind']!r}")
        return "failed"
    ctx = JobContext(store, job, shutdown=shutdown or (lambda: False), executor=executor or LocalExecutor())
    store.jobs.set_job_ran_on(job["id"], ctx.executor.where)
    cache = job_cache(store, job)
    active = ACTIVE.set(cache)
    try:
        return _run_claimed(ctx, handler, log)
    finally:
        ACTIVE.reset(active)
        cache.close()



def run_here(store: SharedStore, job_id: int, resume: bool = False) -> str:
    """Run a queued job to its end in this process (on its own event loop), for a command or for a job that waits on
    another; with `resume`, a job left paused or failed is queued again first. Returns its final status: a finished
    job's as it stands, and the status now of a job another process has claimed."""
    job = store.jobs.get_job(job_id)
    if job["status"] in (DONE, CANCELLED):
        return job["status"]
    if resume and job["status"] in (RUNNING, PAUSED, FAILED):
        store.jobs.request_job_status(job_id, QUEUED)
    claimed = store.jobs.claim_job(job_id, os.getpid())
    return run_job(store, claimed) if claimed else store.jobs.job_status(job_id)

def _run_claimed(ctx: JobContext, handler: JobHandler, log: Callable[[str], None]) -> str:
    store, job = ctx.store, ctx.job
    try:
        units = handler.units(ctx)
        store.jobs.set_job_total(job["id"], len(units))
        finished = store.jobs.finished_units(job["id"])
        pending = [u for u in units if u not in finished]
        asyncio.run(_run_units(ctx, handler, pending, lanes(handler, job["params"], ctx.executor)))
        if ctx.lost and store.jobs.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue: {ctx.lost}")
            return "queued"
        if ctx.stop_requested and ctx.shutdown() and store.jobs.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue, to resume when a worker runs again")
            return "queued"
        finish: Callable[[JobContext], Awaitable[None]] | None = getattr(handler, "finish", None)
        if finish is not None and not ctx.stop_requested:
            asyncio.run(finish(ctx))
    except ExecutorLost as exc:  # in units() or finish(): nothing half-done is recorded
        if store.jobs.requeue_job(job["id"]):
            log(f"job {job['id']}: back in the queue: {exc}")
        ctx.lost = str(exc)
        return "queued"
    except Exception as exc:
        store.jobs.set_job_status(job["id"], "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        return "failed"
    status = store.jobs.job_status(job["id"])
    if status == RUNNING:
        store.jobs.set_job_status(job["id"], "done")
        return "done"
    return status or "failed"
