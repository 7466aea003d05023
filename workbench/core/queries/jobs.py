"""The job queue's tables: jobs (one row per job, its status, progress and usage) and job_units (each finished
unit). The status names are this module's constants: QUEUED ... CANCELLED, FINISHED (the job has ended) and
ACTIVE (it has not).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workbench.core.store import Queries, Where, from_json, now, to_json

QUEUED, RUNNING, PAUSED, DONE, FAILED, CANCELLED = "queued", "running", "paused", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)  # the job has ended: it may be run again, or deleted
ACTIVE = (QUEUED, RUNNING, PAUSED)  # the job has not ended: every page shows it as in progress, a paused one too
UNDER_WAY = (QUEUED, RUNNING)  # a worker runs it now or will: what a command waits on


class JobsQueries(Queries):
    """store.jobs. Owner of jobs, job_units: only it writes them."""

    TABLES = ("jobs", "job_units")

    def create_job(self, kind: str, params: dict, model: str | None = None, student: str | None = None) -> int:
        """Queue a job row; `model` is the teacher it calls, `student` the student model it uses (None: none)."""
        cursor = self.conn.execute(
            "INSERT INTO jobs (kind, params, status, model, student, created_at) VALUES (?, ?, 'queued', ?, ?, ?)",
            [kind, to_json(params), model, student, now()],
        )
        return cursor.lastrowid

    def _job_from_row(self, row: dict) -> dict:
        row["params"] = from_json(row["params"], {})
        row["result"] = from_json(row["result"])
        return row

    def set_job_result(self, job_id: int, result: Any) -> None:
        self.conn.execute("UPDATE jobs SET result = ? WHERE id = ?", [to_json(result), job_id])

    def get_job(self, job_id: int) -> dict | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", [job_id])
        return self._job_from_row(row) if row else None

    def list_jobs(self, limit: int = 50, kind: str | None = None, statuses: Iterable[str] | None = None) -> list[dict]:
        where = Where()
        where.equals("kind", kind or None)
        where.among("status", statuses)
        sql = f"SELECT * FROM jobs WHERE {where} ORDER BY id DESC LIMIT {int(limit)}"
        return [self._job_from_row(r) for r in self._rows(sql, where.params)]

    def requeue_orphaned_jobs(self) -> int:
        """Put jobs left 'running' by a stopped worker back in the queue (called by the one live worker)."""
        cursor = self.conn.execute("UPDATE jobs SET status = 'queued', worker_pid = NULL WHERE status = 'running'")
        return cursor.rowcount

    def claim_next_job(self, worker_pid: int) -> dict | None:
        """Atomically take the oldest queued job."""
        with self.transaction():
            job_id = self._scalar("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1")
            if job_id is None:
                return None
            self.conn.execute(
                "UPDATE jobs SET status = 'running', worker_pid = ?, heartbeat_at = ?, "
                "started_at = coalesce(started_at, ?), finished_at = NULL WHERE id = ?",
                [worker_pid, now(), now(), job_id],
            )
        return self.get_job(job_id)

    def claim_job(self, job_id: int, worker_pid: int) -> dict | None:
        """Atomically take one queued job (for running it in this process); None if someone else has it."""
        cursor = self.conn.execute(
            "UPDATE jobs SET status = 'running', worker_pid = ?, heartbeat_at = ?, started_at = coalesce(started_at, ?),"
            " finished_at = NULL WHERE id = ? AND status = 'queued'",
            [worker_pid, now(), now(), job_id],
        )
        return self.get_job(job_id) if cursor.rowcount == 1 else None

    def heartbeat(self, job_id: int, elapsed_increment: float) -> None:
        self.conn.execute(
            "UPDATE jobs SET heartbeat_at = ?, elapsed_s = elapsed_s + ? WHERE id = ?",
            [now(), elapsed_increment, job_id],
        )

    def set_job_total(self, job_id: int, total: int) -> None:
        self.conn.execute("UPDATE jobs SET total_units = ? WHERE id = ?", [total, job_id])

    def set_job_ran_on(self, job_id: int, where: str) -> None:
        """Where the job's CPU-bound batches run (this machine, or a Ray cluster), for the Jobs page; a job resumed
        somewhere else keeps both ('A; then B')."""
        self.conn.execute(
            "UPDATE jobs SET ran_on = CASE WHEN ran_on IS NULL OR ran_on = ? OR ran_on LIKE '%; then ' || ? "
            "THEN coalesce(ran_on, ?) ELSE ran_on || '; then ' || ? END WHERE id = ?",
            [where, where, where, where, job_id],
        )

    def add_job_note(self, job_id: int, line: str) -> None:
        """Add a line to the job's note unless it holds it already (lines are joined by newlines)."""
        self.conn.execute(
            "UPDATE jobs SET note = CASE WHEN note IS NULL OR note = '' THEN ? "
            "WHEN instr(char(10) || note || char(10), char(10) || ? || char(10)) > 0 THEN note "
            "ELSE note || char(10) || ? END WHERE id = ?",
            [line, line, line, job_id],
        )

    def set_job_status(self, job_id: int, status: str, error: str | None = None) -> None:
        finished = now() if status in FINISHED else None
        self.conn.execute(
            "UPDATE jobs SET status = ?, error = coalesce(?, error), finished_at = ? WHERE id = ?",
            [status, error, finished, job_id],
        )

    def request_job_status(self, job_id: int, status: str) -> bool:
        """A user's pause/cancel/resume; returns False when the job is not in a state that allows it."""
        allowed = {PAUSED: UNDER_WAY, CANCELLED: ACTIVE, QUEUED: (PAUSED, *FINISHED)}[status]
        marks = ",".join("?" * len(allowed))
        cursor = self.conn.execute(
            f"UPDATE jobs SET status = ?, finished_at = NULL, heartbeat_at = NULL WHERE id = ? AND status IN ({marks})",
            [status, job_id, *allowed],
        )
        return cursor.rowcount == 1

    def job_status(self, job_id: int) -> str | None:
        return self._scalar("SELECT status FROM jobs WHERE id = ?", [job_id])

    def add_job_usage(self, job_id: int, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.conn.execute(
            "UPDATE jobs SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
            "cost = CASE WHEN ? IS NULL THEN cost ELSE coalesce(cost, 0) + ? END WHERE id = ?",
            [prompt_tokens, completion_tokens, cost, cost, job_id],
        )

    def add_cache_counts(self, job_id: int, calls: int, hits: int) -> None:
        """Add to a job's model calls and the share of them the response cache answered."""
        self.conn.execute(
            "UPDATE jobs SET model_calls = model_calls + ?, cache_hits = cache_hits + ? WHERE id = ?", [calls, hits, job_id]
        )

    def finished_units(self, job_id: int) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT unit_key, status FROM job_units WHERE job_id = ?", [job_id])}

    def record_unit(self, job_id: int, unit_key: str, status: str, error: str | None = None) -> None:
        """Mark one unit finished and recount the job's progress. Idempotent per (job, unit)."""
        self.record_units(job_id, [(unit_key, status, error)])

    def record_units(self, job_id: int, units: list[tuple[str, str, str | None]]) -> None:
        """Mark units (key, status, error) finished in one transaction and recount the job's progress."""
        if not units:
            return
        timestamp = now()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO job_units (job_id, unit_key, status, error, finished_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job_id, unit_key) DO UPDATE SET status = excluded.status, error = excluded.error, "
                "attempts = attempts + 1, finished_at = excluded.finished_at",
                [(job_id, key, status, error, timestamp) for key, status, error in units],
            )
            self.conn.execute(
                "UPDATE jobs SET done_units = (SELECT count(*) FROM job_units WHERE job_id = :id AND status = 'done'),"
                " failed_units = (SELECT count(*) FROM job_units WHERE job_id = :id AND status = 'failed')"
                " WHERE id = :id",
                {"id": job_id},
            )

    def unit_errors(self, job_id: int) -> list[dict]:
        return self._rows(
            "SELECT unit_key, error, attempts, finished_at FROM job_units WHERE job_id = ? AND status = 'failed'",
            [job_id],
        )

    def clear_failed_units(self, job_id: int) -> None:
        """Forget failed units so that a resumed job retries them."""
        with self.transaction():
            self.conn.execute("DELETE FROM job_units WHERE job_id = ? AND status = 'failed'", [job_id])
            self.conn.execute(
                "UPDATE jobs SET failed_units = 0 WHERE id = ?", [job_id]
            )

    def delete_finished_job(self, job_id: int) -> bool:
        """Remove a job that has ended (done, failed or cancelled) with its units; False if it has not ended."""
        cursor = self.conn.execute(
            "DELETE FROM jobs WHERE id = ? AND status IN ('done', 'failed', 'cancelled')", [job_id]
        )
        return cursor.rowcount > 0

    def requeue_job(self, job_id: int) -> bool:
        """Put a job this worker was running back in the queue (the worker is stopping); False if it was not running."""
        cursor = self.conn.execute(
            "UPDATE jobs SET status = 'queued', worker_pid = NULL WHERE id = ? AND status = 'running'", [job_id]
        )
        return cursor.rowcount == 1

    def usage_by_kind(self) -> list[dict]:
        """Tokens, cost (USD) and worker time (seconds) spent per job kind. The cost is None when a job that
        made model calls has no price (the provider gave none); jobs that made no calls cost 0."""
        return self._rows(
            "SELECT kind, count(*) AS jobs, sum(prompt_tokens) AS prompt_tokens,"
            " sum(completion_tokens) AS completion_tokens,"
            " CASE WHEN sum(cost IS NULL AND prompt_tokens + completion_tokens > 0) > 0 THEN NULL"
            " ELSE coalesce(sum(cost), 0.0) END AS cost, sum(elapsed_s) AS elapsed_s"
            " FROM jobs GROUP BY kind ORDER BY kind"
        )
