"""The job runner and worker: units, failures, resume, pause, one worker per store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.loopback_server import serve
from tests.conftest import ROOT
from workbench.core.jobs import queue, runner
from workbench.core.jobs import worker as jobs_worker
from workbench.core.jobs.queue import submit
from workbench.core.jobs.runner import JobContext, register, run_job
from workbench.core.jobs.worker import run_worker, worker_alive
from workbench.store import Store


class CountingHandler:
    """A test job kind: unit 'bad' always fails; every other unit writes one setting."""

    kind = "counting-test"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def units(self, ctx: JobContext) -> list[str]:
        return [f"u{i}" for i in range(ctx.params["n"])] + (["bad"] if ctx.params.get("with_bad") else [])

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        self.calls.append(unit_key)
        if unit_key == "bad":
            raise ValueError("this unit always fails")
        if ctx.params.get("pause_after") and len(self.calls) == ctx.params["pause_after"]:
            ctx.store.jobs.request_job_status(ctx.job_id, "paused")
            ctx.stop_requested = True
        ctx.store.settings.set_setting(f"job{ctx.job_id}:{unit_key}", True)


@pytest.fixture
def handler() -> CountingHandler:
    fresh = CountingHandler()
    register(fresh)
    yield fresh
    runner.HANDLERS.pop(fresh.kind)


def test_all_units_run_and_failures_do_not_stop_the_job(store: Store, handler: CountingHandler):
    job_id = store.jobs.create_job(handler.kind, {"n": 5, "with_bad": True})
    assert run_job(store, store.jobs.claim_next_job(1)) == "done"
    job = store.jobs.get_job(job_id)
    assert (job["total_units"], job["done_units"], job["failed_units"]) == (6, 5, 1)
    assert store.jobs.unit_errors(job_id)[0]["error"] == "ValueError: this unit always fails"
    assert sorted(handler.calls) == sorted(["bad", *[f"u{i}" for i in range(5)]])


def test_a_resumed_job_runs_only_unfinished_units(store: Store, handler: CountingHandler):
    job_id = store.jobs.create_job(handler.kind, {"n": 4})
    store.jobs.claim_next_job(1)
    store.jobs.record_unit(job_id, "u0", "done")
    store.jobs.record_unit(job_id, "u2", "done")
    assert run_job(store, store.jobs.get_job(job_id)) == "done"
    assert sorted(handler.calls) == ["u1", "u3"]
    assert store.jobs.get_job(job_id)["done_units"] == 4


def test_pause_stops_new_units_and_resume_finishes(store: Store, handler: CountingHandler):
    job_id = store.jobs.create_job(handler.kind, {"n": 6, "pause_after": 2, "concurrency": 1})
    assert run_job(store, store.jobs.claim_next_job(1)) == "paused"
    assert store.jobs.get_job(job_id)["done_units"] == 2
    store.jobs.request_job_status(job_id, "queued")
    job = store.jobs.claim_next_job(1)
    job["params"]["pause_after"] = None
    assert run_job(store, job) == "done"
    assert store.jobs.get_job(job_id)["done_units"] == 6
    assert len(handler.calls) == 6  # nothing ran twice


def test_retry_failed_units(store: Store, handler: CountingHandler):
    job_id = store.jobs.create_job(handler.kind, {"n": 1, "with_bad": True})
    run_job(store, store.jobs.claim_next_job(1))
    store.jobs.clear_failed_units(job_id)
    assert store.jobs.request_job_status(job_id, "queued")
    run_job(store, store.jobs.claim_next_job(1))
    assert handler.calls.count("bad") == 2 and handler.calls.count("u0") == 1


def test_unknown_job_kind_fails_clearly(store: Store):
    job_id = store.jobs.create_job("no-such-kind", {})
    assert run_job(store, store.jobs.claim_next_job(1)) == "failed"
    assert "unknown job kind" in store.jobs.get_job(job_id)["error"]
    with pytest.raises(ValueError, match="unknown job kind"):
        submit(store, "no-such-kind", {})


def test_connection_test_job_through_the_in_process_worker(store: Store, db_path):
    teacher = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "OK"}}
    job_id = submit(store, "connection_test", {"teacher": teacher}, model=teacher["model"])
    assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
    job = store.jobs.get_job(job_id)
    assert job["status"] == "done" and job["result"]["ok"] and "answered in" in job["result"]["message"]
    assert job["prompt_tokens"] > 0


def test_connection_test_reports_a_failed_connection(store: Store, db_path):
    teacher = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "litellm.RateLimitError"}}
    job_id = submit(store, "connection_test", {"teacher": teacher})
    run_worker(db_path, exit_when_idle=True, log=lambda _: None)
    job = store.jobs.get_job(job_id)
    assert job["result"]["ok"] is False and "rate limiting" in job["result"]["message"]
    assert job["status"] == "done" and job["failed_units"] == 0  # a failed connection is the answer, not a failed job


def test_one_worker_per_store_and_ensure_worker_starts_one(store: Store, db_path):
    assert not worker_alive(db_path)
    teacher = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "OK"}}
    job_id = submit(store, "connection_test", {"teacher": teacher})
    env = {**os.environ}
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"], env=env)
    try:
        deadline = time.time() + 60
        while store.jobs.get_job(job_id)["status"] != "done" and time.time() < deadline:
            time.sleep(0.2)
        assert store.jobs.get_job(job_id)["status"] == "done"
        assert worker_alive(db_path)
        assert jobs_worker.worker_pid(db_path) == process.pid
        assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 1  # a second worker refuses
        assert not jobs_worker.ensure_worker(db_path)
    finally:
        process.kill()
        process.wait()
    assert not worker_alive(db_path)


def test_eta_from_pace_so_far():
    job = {"done_units": 3, "failed_units": 1, "total_units": 10, "elapsed_s": 8.0}
    assert queue.eta_seconds(job) == pytest.approx(12.0)
    assert queue.eta_seconds({**job, "done_units": 0, "failed_units": 0}) is None


class OverlapHandler:
    """A test job kind whose units each wait a moment, recording how many run at once."""

    kind = "overlap-test"

    def __init__(self, units_per_slot: int) -> None:
        self.units_per_slot = units_per_slot
        self.running = 0
        self.most = 0

    def units(self, ctx: JobContext) -> list[str]:
        return [f"u{i}" for i in range(8)]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1


@pytest.mark.parametrize("units_per_slot", [1, 2])
def test_units_per_slot_runs_that_many_units_per_unit_of_concurrency(store: Store, units_per_slot: int):
    handler = OverlapHandler(units_per_slot)
    register(handler)
    try:
        store.jobs.create_job(handler.kind, {"concurrency": 3})
        assert run_job(store, store.jobs.claim_next_job(1)) == "done"
    finally:
        runner.HANDLERS.pop(handler.kind)
    assert handler.most == 3 * units_per_slot


# ---------------------------------------------------------------- the worker's lifecycle


def worker_processes(db_path) -> list[int]:
    """Pids of live `workbench worker` processes serving this store."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"workbench.cli" in cmdline and str(db_path).encode() in cmdline and b"worker" in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def wait_until(condition, seconds: float = 60.0) -> bool:
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_sigterm_stops_the_worker_at_a_safe_point_and_the_job_resumes_exactly(store: Store, db_path):
    from tests.evolve.test_evol_job import add_seeds, loopback_teacher
    from workbench.evolve.job import EvolveParams, submit_evolve

    seeds = add_seeds(store, 6)
    with serve(latency_s=0.25) as url:
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "deepen"], depth=3,
                                                   concurrency=2, teacher=loopback_teacher(url, concurrency=2)))
        command = [sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"]
        worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert wait_until(lambda: len(store.evolve.evol_nodes(job_id)) >= 2)
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0]
        assert worker.returncode == 0, output
        assert "back in the queue" in output and "worker stopping: SIGTERM" in output
        stopped_at = len(store.evolve.evol_nodes(job_id))
        assert store.jobs.job_status(job_id) == "queued" and stopped_at < 18
        assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["done_units"], job["failed_units"]) == ("done", 6, 0)
    nodes = store.evolve.evol_nodes(job_id)
    assert len(nodes) == 18 and len({n["node_key"] for n in nodes}) == 18
    assert sorted(s["node_id"] for s in store.samples.list_samples(source="evol")) == sorted(n["id"] for n in nodes)


def start_worker_under_a_parent(db_path, *flags: str) -> tuple[subprocess.Popen, int]:
    """A parent process that starts a worker (detached, as the app does) and then waits; returns it and the worker's pid."""
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-m', 'workbench.cli', '--db', {str(db_path)!r}, 'worker', *{list(flags)!r}],"
        " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    assert wait_until(lambda: jobs_worker.worker_pid(db_path) is not None)
    return parent, jobs_worker.worker_pid(db_path)


def test_the_apps_worker_stops_when_the_app_is_gone(db_path):
    parent, worker = start_worker_under_a_parent(db_path, "--stop-with-parent")
    parent.kill()  # even a SIGKILL of the app
    parent.wait()
    assert wait_until(lambda: not worker_processes(db_path), 30)
    assert not worker_alive(db_path)


def test_a_worker_started_by_hand_outlives_the_shell_that_started_it(db_path):
    parent, worker = start_worker_under_a_parent(db_path)
    parent.kill()
    parent.wait()
    try:
        time.sleep(2.0)  # four idle polls: a worker watching its parent would have stopped by now
        assert worker_alive(db_path) and worker_processes(db_path) == [worker]
    finally:
        os.kill(worker, signal.SIGKILL)
    assert wait_until(lambda: not worker_alive(db_path), 30)


@pytest.mark.slow
def test_stopping_the_app_stops_the_worker_it_started(running_app, page):
    from tests.conftest import wait_for_streamlit

    page.goto(running_app.url)
    wait_for_streamlit(page)
    assert wait_until(lambda: worker_alive(running_app.db))  # the app started its worker
    running_app.process.send_signal(signal.SIGTERM)  # as Ctrl-C or a service manager stops it
    running_app.process.wait(timeout=30)
    assert wait_until(lambda: not worker_processes(running_app.db), 30)
    assert not worker_alive(running_app.db)


# ---------------------------------------------------------------- the Jobs page


def jobs_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/jobs.py")
    return at


def test_jobs_page_keeps_one_button_order_and_shows_cache_hits(store: Store):
    running, paused, done = (store.jobs.create_job("probe", {}) for _ in range(3))
    store.jobs.claim_next_job(1)
    store.jobs.request_job_status(paused, "paused")
    store.jobs.set_job_status(done, "done")
    store.response_cache.save_cached_responses([], done, calls=3, hits=5)
    at = jobs_page().run()
    assert not at.exception
    labels = [b.label for b in at.button]
    # per active job: the pause/resume toggle first, then cancel (newest job first)
    assert labels[:4] == ["Resume", "Cancel", "Pause", "Cancel"]
    table = at.dataframe[0].value
    row = table[table["id"] == done].iloc[0]
    assert (row["model calls"], row["cache hits"]) == (3, 5)
    at = next(b for b in at.button if b.label == "Run again").click().run()
    assert not at.exception and any(f"queued from job {done}" in s.value for s in at.success)
    rerun_job = store.jobs.list_jobs()[0]
    assert rerun_job["kind"] == "probe" and rerun_job["status"] == "queued" and rerun_job["params"]["bypass_cache"] is False
