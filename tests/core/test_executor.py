"""Where CPU-bound batches run: on this machine unless a Ray address is configured, and never half-locally.

The cluster itself is tested in tests/core/test_ray_cluster.py (slow); these check the choice of executor, the
worker's refusal of an address it cannot reach, and that the local path never starts or imports Ray.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.executor import (
    LOCAL_WHERE,
    MAX_GROUP,
    RAY_ADDRESS_ENV,
    Coalescer,
    ExecutorError,
    LocalExecutor,
    call_each,
    check_reachable,
    chunks,
    configured_address,
)
from workbench.core.jobs import queue
from workbench.core.jobs import worker as jobs_worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store

ROOT = Path(__file__).resolve().parents[2]
RUN_WORKER = """
import json, sys
from workbench.cli import main
code = main(sys.argv[1:])
print("\\nREPORT " + json.dumps({"code": code, "ray": "ray" in sys.modules}), flush=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker(db: Path, *args: str, env: dict | None = None) -> tuple[dict, str]:
    """Run `workbench worker --exit-when-idle ARGS` in a fresh process: (its exit code and whether it imported Ray,
    its output)."""
    done = subprocess.run([sys.executable, "-c", RUN_WORKER, "--db", str(db), "worker", "--exit-when-idle", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    output, _, report = done.stdout.rpartition("REPORT ")
    assert report, done.stderr[-3000:]
    return json.loads(report), output


def queue_arithmetic_job(store: Store) -> int:
    """A reason job whose only verifier is the offline arithmetic one (a mocked teacher writes the path)."""
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini",
                                             extra={"mock_response": "Step 1: 6 x 7 = 42.\nAnswer: 42"}))
    seed = store.seeds.insert_seeds([{"instruction": "What is 6 times 7?", "reference_answer": "42"}])[0]
    return queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": seed}], "n": 2, "verifiers": ["arithmetic"]})


def test_the_address_comes_from_the_flag_then_the_environment_then_the_setting(monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)
    assert configured_address(None) is None and configured_address("  ") is None
    assert configured_address("saved:6379") == "saved:6379"
    monkeypatch.setenv(RAY_ADDRESS_ENV, "env:6379")
    assert configured_address("saved:6379") == "env:6379"
    assert configured_address("saved:6379", override="flag:6379") == "flag:6379"


def test_batches_are_cut_two_per_slot_in_order_and_one_piece_on_one_slot():
    items = list(range(10))
    assert chunks(items, 1) == [items]
    assert chunks(items, 2) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [x for part in chunks(items, 3) for x in part] == items
    assert chunks([], 4) == []


def test_nothing_listening_at_the_address_is_said_plainly():
    with pytest.raises(ExecutorError, match=r"cannot be reached.*ray start --head"):
        check_reachable(f"127.0.0.1:{free_port()}", timeout_s=2.0)


def test_a_worker_given_an_unreachable_cluster_runs_nothing_and_says_why(store: Store, db_path):
    job_id = queue_arithmetic_job(store)
    address = f"127.0.0.1:{free_port()}"
    report, output = worker(db_path, "--ray-address", address)
    assert report["code"] == 2
    assert f"the Ray cluster at {address} cannot be reached" in output and "No job was run" in output
    job = store.jobs.get_job(job_id)
    assert job["status"] == "queued" and job["done_units"] == 0 and job["ran_on"] is None  # not a half-local job
    assert jobs_worker.worker_stop_reason(db_path) is None  # the app's log is a different file: nothing written there


def test_without_an_address_the_job_runs_here_and_ray_is_never_imported(store: Store, db_path):
    job_id = queue_arithmetic_job(store)
    report, output = worker(db_path, env={RAY_ADDRESS_ENV: ""})
    assert report == {"code": 0, "ray": False}
    job = store.jobs.get_job(job_id)
    assert job["status"] == "done" and job["done_units"] == 1 and job["ran_on"] == LOCAL_WHERE
    assert f"CPU-bound batches run on {LOCAL_WHERE}" in output


def test_the_app_shows_why_its_worker_stopped(db_path):
    assert jobs_worker.worker_stop_reason(db_path) is None
    jobs_worker.worker_log_path(db_path).write_text("job 3 (embed) done\nworker not started: the Ray cluster at x:1 cannot "
                                             "be reached (Connection refused)\n")
    assert jobs_worker.worker_stop_reason(db_path).startswith("the Ray cluster at x:1 cannot be reached")
    with jobs_worker.worker_log_path(db_path).open("a") as log:
        log.write("CPU-bound batches run on this machine (the worker process)\n")
    assert jobs_worker.worker_stop_reason(db_path) is None  # a later worker started


def test_the_job_note_keeps_each_line_once(store: Store):
    job_id = queue.submit(store, "analyse.embed", {})
    for line in ("embeddings: ONNX Runtime int8", "embeddings: ONNX Runtime int8", "embeddings: torch"):
        store.jobs.add_job_note(job_id, line)
    assert store.jobs.get_job(job_id)["note"] == "embeddings: ONNX Runtime int8\nembeddings: torch"
    store.jobs.set_job_ran_on(job_id, LOCAL_WHERE)
    store.jobs.set_job_ran_on(job_id, LOCAL_WHERE)
    store.jobs.set_job_ran_on(job_id, "Ray cluster at h:6379 (2 nodes, 2 CPUs)")
    assert store.jobs.get_job(job_id)["ran_on"] == f"{LOCAL_WHERE}; then Ray cluster at h:6379 (2 nodes, 2 CPUs)"


def test_the_local_executor_runs_batches_in_this_process():
    executor = LocalExecutor()
    assert asyncio.run(executor.run(sum, [1, 2, 3])) == 6
    assert executor.map(pow, [(2, 3), (3, 2)]) == [8, 9]
    assert executor.slots == 1 and executor.where == LOCAL_WHERE


def square_unless_negative(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x


def test_small_batches_sent_while_the_tasks_are_busy_leave_together_and_each_caller_gets_its_own_answer():
    tasks: list[int] = []

    async def submit(fn, calls):  # a task on a worker: some latency, then every batch of the group in turn
        tasks.append(len(calls))
        await asyncio.sleep(0.01)
        return call_each(fn, calls)

    async def units() -> list:
        coalescer = Coalescer(submit, in_flight=2)
        return await asyncio.gather(*(coalescer.run(square_unless_negative, x) for x in [*range(40), -1]),
                                    return_exceptions=True)

    results = asyncio.run(units())
    assert results[:40] == [x * x for x in range(40)]
    assert isinstance(results[40], ValueError) and "negative: -1" in str(results[40])  # fails only its own unit
    assert sum(tasks) == 41 and len(tasks) < 41 and max(tasks) <= MAX_GROUP
    assert tasks[:2] == [1, 1]  # untimed: the first batches go alone, at once


def test_a_lost_task_fails_every_batch_it_carried():
    async def submit(fn, calls):
        raise ConnectionError("node died")

    async def units() -> list:
        coalescer = Coalescer(submit, in_flight=1)
        return await asyncio.gather(*(coalescer.run(abs, x) for x in range(3)), return_exceptions=True)

    assert all(isinstance(result, ConnectionError) for result in asyncio.run(units()))
