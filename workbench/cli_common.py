"""Command-line helpers shared by several stages' commands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from workbench.core.queries.jobs import CANCELLED, DONE, FAILED, PAUSED, QUEUED, RUNNING
from workbench.store import Store


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def add_bypass_cache_flag(parser: argparse.ArgumentParser) -> None:
    """`--bypass-cache` for a command that queues model calls (see workbench/core/response_cache.py)."""
    parser.add_argument("--bypass-cache", action="store_true",
                        help="send every call to the model; none is answered from the response cache")


def follow_job(store: Store, job_id: int, db_path: Path, describe: Callable[[dict], str],
               out: TextIO | None = None) -> str:
    """Print a job's progress (`describe(job)`, each time it changes, with the ETA) to `out` (default: stdout) until
    it stops; runs a worker in this process when none serves the store. Ctrl-C pauses the job. Returns its final
    status."""
    import threading

    out = out or sys.stdout
    from workbench.core.jobs.queue import eta_seconds
    from workbench.core.jobs.worker import run_worker, worker_alive

    thread = None
    if not worker_alive(db_path):
        thread = threading.Thread(target=run_worker, args=(db_path, True, lambda m: None), daemon=True)
        thread.start()
    last = None
    try:
        while True:
            job = store.jobs.get_job(job_id)
            line = describe(job)
            if line != last:
                eta = eta_seconds(job)
                print(line + (f", ETA {eta:.0f}s" if eta is not None and job["status"] == RUNNING else ""),
                      file=out, flush=True)
                last = line
            if job["status"] in (DONE, FAILED, CANCELLED, PAUSED):
                return job["status"]
            if thread is not None and not thread.is_alive() and job["status"] == QUEUED:
                return "queued"
            time.sleep(0.5)
    except KeyboardInterrupt:
        store.jobs.request_job_status(job_id, "paused")
        print(f"\npausing job {job_id}; resume it with `workbench jobs resume {job_id}`", file=sys.stderr)
        return "paused"
    finally:
        if thread is not None:
            thread.join()
