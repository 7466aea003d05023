"""The job queue: a job is a row in `jobs` (store.jobs); submit one, queue a finished one again, and read a
job's progress and cost.
"""

from __future__ import annotations

from workbench.core.jobs.runner import HANDLERS, load_handlers
from workbench.core.queries.jobs import FINISHED
from workbench.core.shared_store import SharedStore


def submit(store: SharedStore, kind: str, params: dict, model: str | None = None, student: str | None = None) -> int:
    """Queue a job; the worker picks it up. Returns the job id. `model` names the teacher the job calls and
    `student` the student model it uses (workbench/student/), each None where the job uses none.

    Every job takes `params["bypass_cache"]` (default False): True sends every model call to the model
    instead of answering repeated ones from the response cache (workbench/core/response_cache.py)."""
    load_handlers()
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(HANDLERS))}")
    return store.jobs.create_job(kind, params, model=model, student=student)


def rerun(store: SharedStore, job_id: int, bypass_cache: bool = False) -> int:
    """Queue a new job with a finished job's kind and params; repeated model calls come from the cache unless
    `bypass_cache`. Raises ValueError for an unknown or unfinished job."""
    job = store.jobs.get_job(job_id)
    if job is None:
        raise ValueError(f"no job {job_id}")
    if job["status"] not in FINISHED:
        raise ValueError(f"job {job_id} is {job['status']}; only a finished job can be run again")
    return submit(store, job["kind"], {**job["params"], "bypass_cache": bypass_cache}, model=job["model"],
                  student=job["student"])


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
