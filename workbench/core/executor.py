"""Where CPU-bound batches run: in the worker process, or as Ray tasks on a cluster.

An executor owns the spreading of work over processes and machines (as datatrove's executors do): a stage
hands `run` a pure batch function and its arguments and gets the result back; it never knows where the batch
ran. A batch function is a module-level function of plain, picklable arguments that reads no store and
writes none: it returns rows, and the unit that asked for them writes them. So the worker stays the only
writer of the store, units keep their keys, and a batch lost with a Ray node is simply run again (Ray retries
a task whose node died; `max_retries`).

- `LocalExecutor` (no Ray address configured): the batch runs in a thread of the worker process, as every
  stage did before. Ray is never imported and no Ray process is started.
- `RayExecutor` (an address from `workbench worker --ray-address`, `$WORKBENCH_RAY_ADDRESS` or the
  `ray_address` setting, in that order): each batch is one Ray task on the cluster (`ray.init(address=...)`).
  An address that cannot be reached is `ExecutorError`, with a message saying so: the worker then runs
  nothing rather than a half-local job. A cluster that goes away mid-job is `ExecutorLost`: the unit is
  not recorded, and the worker puts the job back in the queue.

The stages that send batches here are the CPU-bound ones: embedding, the PII scan, the offline verifiers
(arithmetic with answer checking, code) and the decontamination scan.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from workbench.core.wording import plural

RAY_ADDRESS_ENV = "WORKBENCH_RAY_ADDRESS"
RAY_ADDRESS_SETTING = "ray_address"
RAY_NAMESPACE = "entropy-workbench"
RAY_TASK_RETRIES = 3  # a task whose worker or node died runs again elsewhere, this many times at most
CONNECT_TIMEOUT_S = 5.0
TASK_TARGET_S = 0.5  # a Ray task carries this much work at least, where batches are smaller: its overhead is ms
MAX_GROUP = 16  # batches grouped into one Ray task at most
LOCAL_WHERE = "this machine (the worker process)"

T = TypeVar("T")


class ExecutorError(Exception):
    """A configured executor that cannot run (a Ray address that cannot be reached, Ray not installed), with a
    message for the user."""


class ExecutorLost(Exception):
    """The cluster stopped answering while a batch ran: the unit is not recorded and its job goes back to the
    queue."""


class Executor(Protocol):
    """Runs pure batch functions: `run(fn, *args)` one batch (awaitable), `map(fn, batches)` several at once from
    a thread, results in order; `where` says where (shown on the Jobs page), `slots` how many batches it runs at
    once."""

    where: str
    slots: int
    lanes: int  # how many units a CPU-bound job runs at once to keep every slot busy

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    def map(self, fn: Callable[..., T], batches: list[tuple]) -> list[T]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Batches run in the worker process (`run` in a thread, so the job's heartbeat goes on), one at a time."""

    where = LOCAL_WHERE
    slots = 1
    lanes = 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def map(self, fn: Callable[..., T], batches: list[tuple]) -> list[T]:
        return [fn(*batch) for batch in batches]

    def close(self) -> None:
        return None


def configured_address(setting: str | None = None, override: str | None = None) -> str | None:
    """The Ray address to use: the worker's --ray-address, else $WORKBENCH_RAY_ADDRESS, else the setting; None
    (or an empty value) runs everything on this machine."""
    for value in (override, os.environ.get(RAY_ADDRESS_ENV), setting):
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a 'host:port' or 'ray://host:port' address; None for 'auto' and other forms."""
    bare = address.removeprefix("ray://")
    host, _, port = bare.rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ExecutorError unless something listens at the address (a fast check before Ray's own, slower one)."""
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            return
    except OSError as exc:
        raise ExecutorError(f"the Ray cluster at {address} cannot be reached ({exc.strerror or exc}); "
                            "start it (`ray start --head`) or correct the address") from exc


def call_each(fn: Callable[..., T], calls: list[tuple]) -> list[tuple[bool, Any]]:
    """A batch function of batches (what one Ray task runs for a group): fn(*args) for each args of `calls`, in
    order, each as (True, its result) or (False, the exception it raised), so one bad batch fails only itself."""
    results: list[tuple[bool, Any]] = []
    for args in calls:
        try:
            results.append((True, fn(*args)))
        except Exception as exc:  # handed back to the unit that sent this batch
            results.append((False, exc))
    return results


class Coalescer:
    """Groups batches into tasks so that a task's fixed cost (scheduling, serialising, a worker's round trip:
    milliseconds on Ray) is spread over enough work, as Ray's guide on tiny tasks advises.

    `run(fn, *args)` sends the batch at once while fewer than `in_flight` tasks are running; otherwise it waits
    with the others sent meanwhile, and when a task finishes the waiting batches of one function leave as one task
    (`submit(fn, calls)` -> call_each's results), at most as many as make TASK_TARGET_S of work at the seconds per
    batch measured so far (MAX_GROUP at most). Batches of a second or more (a PII unit) thus still go one by one;
    small ones (a task's reasoning paths) go in groups. Each caller gets its own batch's result or error."""

    def __init__(self, submit: Callable[[Callable, list[tuple]], Awaitable[list[tuple[bool, Any]]]],
                 in_flight: int) -> None:
        self.submit = submit
        self.in_flight = in_flight
        self.running = 0
        self.waiting: dict[Callable, list[tuple[tuple, asyncio.Future]]] = {}
        self.seconds_per_batch: dict[Callable, float] = {}
        self._tasks: set[asyncio.Task] = set()

    def group_size(self, fn: Callable) -> int:
        """How many batches of `fn` the next task carries: 1 until one task of it has been timed."""
        seconds = self.seconds_per_batch.get(fn)
        if seconds is None:
            return 1
        return max(1, min(MAX_GROUP, int(TASK_TARGET_S / max(seconds, 1e-6))))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(fn, []).append((args, future))
        self._launch()
        return await future

    def _launch(self) -> None:
        while self.running < self.in_flight and self.waiting:
            fn, queued = next(iter(self.waiting.items()))
            group = queued[: self.group_size(fn)]
            del queued[: len(group)]
            if not queued:
                del self.waiting[fn]
            group = [(args, future) for args, future in group if not future.done()]  # a caller gone (job stopped)
            if group:
                self.running += 1
                task = asyncio.ensure_future(self._send(fn, group))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, fn: Callable, group: list[tuple[tuple, asyncio.Future]]) -> None:
        started = time.perf_counter()
        try:
            results = await self.submit(fn, [args for args, _ in group])
        except BaseException as exc:  # the whole task was lost: every batch in it says so
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
        else:
            self.seconds_per_batch[fn] = (time.perf_counter() - started) / len(group)
            for (_, future), (ok, value) in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)
        finally:
            self.running -= 1
            self._launch()


class RayExecutor:
    """Batches run as Ray tasks on the cluster at `address`, spread over its nodes (`slots` = the cluster's CPUs).
    `run`'s batches go through a Coalescer: two tasks per CPU in flight (one computing, one on its way), small
    batches grouped into tasks of about TASK_TARGET_S; `lanes` lets a job keep enough units going to fill them."""

    def __init__(self, address: str) -> None:
        check_reachable(address)
        try:
            import ray
        except ImportError as exc:
            raise ExecutorError("a Ray address is configured but Ray is not installed: pip install ray") from exc
        try:
            ray.init(address=address, namespace=RAY_NAMESPACE, log_to_driver=False, ignore_reinit_error=True)
        except Exception as exc:  # ConnectionError, a version mismatch, a bad address
            raise ExecutorError(f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {exc}") from exc
        self.ray = ray
        self.address = address
        self._remote: dict[Callable, Any] = {}
        resources = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        self.slots = max(1, int(resources.get("CPU", 1)))
        self.coalescer = Coalescer(self._submit, in_flight=2 * self.slots)
        self.lanes = self.coalescer.in_flight * MAX_GROUP
        self.where = f"Ray cluster at {address} ({plural(nodes, 'node')}, {plural(self.slots, 'CPU')})"

    def _task(self, fn: Callable) -> Any:
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(max_retries=RAY_TASK_RETRIES, num_cpus=1, scheduling_strategy="SPREAD")(fn)
        return self._remote[fn]

    def _unwrap(self, exc: BaseException) -> BaseException:
        """A batch's own error as it was raised on the node; a lost node, worker or cluster as ExecutorLost."""
        errors = self.ray.exceptions
        if isinstance(exc, errors.RayTaskError):
            return exc.cause if isinstance(exc.cause, BaseException) else RuntimeError(str(exc))
        if isinstance(exc, errors.RayError | ConnectionError):
            return ExecutorLost(f"the Ray cluster at {self.address} lost a batch: {type(exc).__name__}: {exc}")
        return exc

    async def _submit(self, fn: Callable, calls: list[tuple]) -> list[tuple[bool, Any]]:
        try:
            return await self._task(call_each).remote(fn, calls)
        except Exception as exc:
            raise self._unwrap(exc) from exc

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.coalescer.run(fn, *args)

    def map(self, fn: Callable[..., T], batches: list[tuple]) -> list[T]:
        task = self._task(fn)
        try:
            return self.ray.get([task.remote(*batch) for batch in batches])
        except Exception as exc:
            raise self._unwrap(exc) from exc

    def close(self) -> None:
        self.ray.shutdown()


def chunks(items: list, slots: int, per_slot: int = 2) -> list[list]:
    """`items` cut into `per_slot` chunks per slot (one chunk for a single slot), in order, none empty."""
    if slots <= 1 or len(items) <= 1:
        return [items] if items else []
    size = -(-len(items) // (slots * per_slot))
    return [items[start : start + size] for start in range(0, len(items), size)]


def connect(address: str | None) -> Executor:
    """The executor for a configured address: local without one, else Ray (ExecutorError when it cannot be used)."""
    return RayExecutor(address) if address else LocalExecutor()
