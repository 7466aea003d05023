"""Helper processes that run some of a job's units beside the worker.

With the lean per-call path one process spends about 1.4 ms of CPU per evolve-job call here (the
request, parsing, entropy, metrics and the store), so it is CPU-bound only at very high concurrency
against a fast endpoint; only then, and only for a job big enough to pay the helpers' start, does a
job spread its units over several processes (`process_count`, measured with benchmarks/orchestration.py).
Helpers are forked from a multiprocessing fork server that has already imported the job handlers and
litellm, so one starts in a fraction of a second instead of the 2.5 s those imports take; the fork
server is started once per worker.

The worker sends a helper one unit key per line over a socket pair whenever the helper has a
free slot and reads back one JSON line per unit. A helper writes its units' rows through its own
store connection; the worker alone records units, heartbeats and finishes the job. Each process
gets its share of the job's concurrency (`JobContext.share`), so the calls in flight across all
of them stay within the limit the user set. A helper stops when its socket closes, cancelling
whatever it still runs, so a kill -9 of the worker leaves no helper behind to race the next one.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
from multiprocessing.connection import Connection
from pathlib import Path

PROCESSES_ENV = "WORKBENCH_JOB_PROCESSES"
MAX_PROCESSES = 4
# Measured on 2 cores, loopback server at 100 ms (benchmarks/orchestration.py, issue 15): at 64 calls in flight
# one process beat two (547 vs 505 calls/s); at 256, two won by 1.19x once the fork server was up, but the first
# job lost its ~3 s start until it made about 9,000 calls.
MIN_CONCURRENCY_PER_PROCESS = 128
MIN_CALLS_TO_SHARD = 10_000
CLOSE_TIMEOUT_S = 10.0
PRELOAD = ["workbench.pipeline"]  # every job handler, the Teacher and litellm


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def process_count(concurrency: int, expected_calls: int) -> int:
    """How many processes a job with this many calls in flight and about this many calls in all should use:
    one (the worker) unless the job is big enough to pay the helpers' start, and then one per 128 calls in
    flight, at most one per usable core (and 4). WORKBENCH_JOB_PROCESSES=N sets N (1 keeps every job in the
    worker process)."""
    setting = os.environ.get(PROCESSES_ENV, "").strip()
    if setting.isdigit() and int(setting) > 0:
        return max(1, min(int(setting), concurrency))
    if expected_calls < MIN_CALLS_TO_SHARD:
        return 1
    return max(1, min(usable_cores(), MAX_PROCESSES, concurrency // MIN_CONCURRENCY_PER_PROCESS))


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _socket_of(conn: Connection) -> socket.socket:
    """The socket under a multiprocessing Pipe end (a socket pair on Unix), for asyncio streams."""
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    conn.close()
    return sock


class HelperGone(Exception):
    """The helper process ended before answering for a unit; the unit goes back to the queue."""


class Helper:
    """The worker's side of one helper process."""

    def __init__(self, db_path: str | Path, job_id: int, index: int, count: int) -> None:
        self.args = (str(db_path), job_id, index, count)
        self.process: multiprocessing.process.BaseProcess | None = None
        self.ready: asyncio.Future[bool] | None = None
        self.waiting: dict[str, asyncio.Future[tuple[str, str | None]]] = {}
        self.reader: asyncio.Task | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        ours, theirs = multiprocessing.Pipe()
        self.process = _context().Process(target=_helper_process, args=(*self.args, theirs), daemon=True)
        await asyncio.to_thread(self.process.start)  # the first start also starts the fork server
        theirs.close()
        reader, self.writer = await asyncio.open_unix_connection(sock=_socket_of(ours))
        self.reader = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        assert self.ready
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if "ready" in message:
                    self.ready.set_result(True)
                elif (future := self.waiting.pop(message["unit"], None)) is not None:
                    future.set_result((message["status"], message.get("error")))
        finally:
            if not self.ready.done():
                self.ready.set_result(False)
            for future in self.waiting.values():
                future.set_exception(HelperGone())
            self.waiting.clear()

    @property
    def is_ready(self) -> bool:
        return bool(self.ready and self.ready.done() and self.ready.result())

    async def run(self, unit_key: str) -> tuple[str, str | None]:
        """Run one unit in the helper: ('done' | 'failed' | 'cancelled', error)."""
        if self.writer is None or self.reader is None or self.reader.done():
            raise HelperGone()
        future = asyncio.get_running_loop().create_future()
        self.waiting[unit_key] = future
        try:
            self.writer.write(f"{unit_key}\n".encode())
            await self.writer.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.waiting.pop(unit_key, None)
            raise HelperGone() from exc
        return await future

    async def close(self) -> None:
        """End the helper: it finishes when its socket closes; one that does not is killed."""
        if self.writer is not None:
            self.writer.close()
        if self.process is not None and self.process.pid is not None:
            await asyncio.to_thread(self.process.join, CLOSE_TIMEOUT_S)
            if self.process.exitcode is None:
                self.process.kill()
                await asyncio.to_thread(self.process.join)
        if self.reader:
            await asyncio.gather(self.reader, return_exceptions=True)


# ---------------------------------------------------------------- the helper process


async def serve_units(db_path: str, job_id: int, index: int, count: int, conn: Connection) -> None:
    """Run the unit keys that arrive on the socket, answering one JSON line for each."""
    from workbench.core.jobs import HANDLERS, HEARTBEAT_S, JobContext, job_cache, load_handlers, run_one_unit
    from workbench.core.response_cache import ACTIVE
    from workbench.store import Store

    load_handlers()
    if not Path(db_path).exists():
        return  # the job ended, and its store went, before this helper started
    store = Store(db_path)
    job = store.get_job(job_id)
    if job is None or job["status"] != "running":
        store.close()
        return  # the job ended before this helper started: nothing is left for it
    ctx = JobContext(store, job, shard=(index, count))
    cache = job_cache(store, ctx.job)
    ACTIVE.set(cache)  # this process's task context only: helpers serve one job
    handler = HANDLERS[ctx.job["kind"]]
    handler.units(ctx)  # builds the handler's per-run state before the first unit arrives
    reader, writer = await asyncio.open_unix_connection(sock=_socket_of(conn))
    running: set[asyncio.Task] = set()

    def answer(message: dict) -> None:
        writer.write((json.dumps(message) + "\n").encode())

    async def one(unit_key: str) -> None:
        status, error = await run_one_unit(ctx, handler, unit_key)
        answer({"unit": unit_key, "status": status, "error": error})

    async def watch_status() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            cache.flush()
            if store.job_status(job_id) != "running":
                ctx.stop_requested = True

    watcher = asyncio.create_task(watch_status())
    answer({"ready": True})
    try:
        while line := await reader.readline():
            task = asyncio.create_task(one(line.decode().strip()))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        watcher.cancel()
        for task in running:  # the worker closed the socket with units unanswered: it is gone
            task.cancel()
        await asyncio.gather(*running, watcher, return_exceptions=True)
        writer.close()
        cache.close()
        store.close()


def _helper_process(db_path: str, job_id: int, index: int, count: int, conn: Connection) -> None:
    asyncio.run(serve_units(db_path, job_id, index, count, conn))
