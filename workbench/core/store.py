"""The store core: the SQLite connection (WAL mode, so pages read while the worker writes; foreign keys on),
transactions, migrations, and the SQL every stage shares: settings, jobs, the response cache, samples and
metrics.

Each stage's own SQL is in its `queries` module, a mixin of workbench.store.Store; no other module writes
SQL. Rows that came from a model record the model name and its parameters.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from workbench.core.schema import _migration_1

SCHEMA_VERSION = 1


def now() -> float:
    return time.time()


def text_hash(text: str) -> str:
    """Hash of a text, whitespace- and case-normalised, used for exact-duplicate checks and caches."""
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


INPUT_SEPARATOR = "\n\nInput:\n"


def task_text(instruction: str, input_text: str | None = None) -> str:
    """A task as one text: its instruction, then its input (Alpaca's `input`, the context the instruction
    works on) after an 'Input:' line. A seed or sample is known by this text: its text_hash (identity),
    its embedding and every prompt built from it use it."""
    return f"{instruction}{INPUT_SEPARATOR}{input_text}" if input_text else instruction


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def from_json(value: str | None, default: Any = None) -> Any:
    return default if value in (None, "") else json.loads(value)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1]


class StoreError(Exception):
    """A store operation refused with a message for the user."""


TASK_TEXT = f"instruction || coalesce('{INPUT_SEPARATOR}' || input, '') AS instruction"  # = task_text()



class StoreCore:
    """The store's core over one connection: transactions, migrations, settings, jobs, the response cache,
    samples and metrics. workbench.store.Store mixes each stage's queries into it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        conn.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait on another opener
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    # ---- plumbing

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Bring the schema up to date, atomically under concurrent openers.

        The version is read inside one BEGIN IMMEDIATE transaction that also applies every newer
        migration and sets the new version, so when page threads, the worker and the CLI open a new
        store at once, exactly one of them creates the schema and the others wait on SQLite's write
        lock (busy timeout 30 s), then find it done. Raises StoreError for a store newer than this app.
        """
        if self.schema_version == len(MIGRATIONS):
            return  # the common case: nothing to do, no write lock taken
        with self.transaction():
            version = self.schema_version
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this app knows ({len(MIGRATIONS)}). "
                    "Upgrade Entropy Workbench."
                )
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(self.db)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Nested calls join the outer one."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _rows(self, sql: str, params: Iterable[Any] | dict = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _one(self, sql: str, params: Iterable[Any] | dict = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Iterable[Any] | dict = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # ---- settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        value = self._scalar("SELECT value FROM settings WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    def get_settings(self, prefix: str = "") -> dict[str, Any]:
        rows = self._rows("SELECT key, value FROM settings WHERE key LIKE ?", [prefix + "%"])
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def set_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )

    # ---- counts

    def counts(self) -> dict[str, int]:
        return {
            "seeds": self._scalar("SELECT count(*) FROM seeds"),
            "jobs": self._scalar("SELECT count(*) FROM jobs"),
            "samples": self._scalar("SELECT count(*) FROM samples WHERE filter_reason IS NULL"),
            "approved": self._scalar("SELECT count(*) FROM samples WHERE status = 'approved'"),
            "evol_nodes": self._scalar("SELECT count(*) FROM evol_nodes"),
            "paths": self._scalar("SELECT count(*) FROM reasoning_paths"),
            "exports": self._scalar("SELECT count(*) FROM exports"),
        }

    # ---- jobs

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
        clauses, params = ["1=1"], []
        if kind:
            clauses.append("kind = ?")
            params.append(kind)
        if statuses is not None:
            status_list = list(statuses)
            clauses.append(f"status IN ({','.join('?' * len(status_list))})")
            params += status_list
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT {int(limit)}"
        return [self._job_from_row(r) for r in self._rows(sql, params)]

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
        finished = now() if status in ("done", "failed", "cancelled") else None
        self.conn.execute(
            "UPDATE jobs SET status = ?, error = coalesce(?, error), finished_at = ? WHERE id = ?",
            [status, error, finished, job_id],
        )

    def request_job_status(self, job_id: int, status: str) -> bool:
        """A user's pause/cancel/resume; returns False when the job is not in a state that allows it."""
        allowed = {
            "paused": ("queued", "running"),
            "cancelled": ("queued", "running", "paused"),
            "queued": ("paused", "failed", "cancelled", "done"),
        }[status]
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

    # ---- settings: the connection test (issue 14)

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

    # ---- response cache (issue 15)

    def cached_response(self, key: str) -> str | None:
        """The stored answer (JSON text) of a cached model call, or None."""
        return self._scalar("SELECT response FROM response_cache WHERE key = ?", [key])

    def save_cached_responses(self, rows: list[tuple[str, str, str]], job_id: int | None, calls: int, hits: int) -> None:
        """Store (key, model, response JSON) answers, replacing older ones, and add a job's call and hit counts."""
        timestamp = now()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO response_cache (key, model, response, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET response = excluded.response, created_at = excluded.created_at",
                [(key, model, response, timestamp) for key, model, response in rows],
            )
            if job_id is not None and (calls or hits):
                self.conn.execute(
                    "UPDATE jobs SET model_calls = model_calls + ?, cache_hits = cache_hits + ? WHERE id = ?",
                    [calls, hits, job_id],
                )

    def response_cache_stats(self) -> list[dict]:
        """Per model: cached answers and their total size in bytes."""
        return self._rows(
            "SELECT model, count(*) AS entries, sum(length(response)) AS bytes FROM response_cache "
            "GROUP BY model ORDER BY entries DESC"
        )

    def clear_response_cache(self, model: str | None = None) -> int:
        """Forget cached answers (of one model, or all); returns how many."""
        if model is None:
            return self.conn.execute("DELETE FROM response_cache").rowcount
        return self.conn.execute("DELETE FROM response_cache WHERE model = ?", [model]).rowcount

    # ---- samples

    def _sample_row(self, sample: dict, timestamp: float) -> dict:
        """A sample dict as the columns of its `samples` row."""
        return {
            "source": sample["source"],
            "unit_key": sample.get("unit_key"),
            "job_id": sample.get("job_id"),
            "seed_id": sample.get("seed_id"),
            "node_id": sample.get("node_id"),
            "instruction": sample["instruction"],
            "input": sample.get("input") or None,
            "output": sample.get("output"),
            "turns": to_json(sample.get("turns")),
            "status": sample.get("status", "pending"),
            "filter_reason": sample.get("filter_reason"),
            "tags": to_json(list(sample.get("tags") or [])),
            "metadata": to_json(sample.get("metadata") or {}),
            "model": sample.get("model"),
            "params": to_json(sample.get("params") or {}),
            "text_hash": text_hash(task_text(sample["instruction"], sample.get("input"))),
            "created_at": timestamp,
            "updated_at": timestamp,
        }

    def insert_sample(self, sample: dict) -> int:
        """Insert one sample; a sample with the same unit_key already stored is returned, not duplicated."""
        row = self._sample_row(sample, now())
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        cursor = self.conn.execute(
            f"INSERT INTO samples ({columns}) VALUES ({marks}) ON CONFLICT(unit_key) DO NOTHING", row
        )
        if cursor.rowcount == 0:
            return self._scalar("SELECT id FROM samples WHERE unit_key = ?", [row["unit_key"]])
        return cursor.lastrowid

    def insert_samples(self, samples: list[dict]) -> list[int]:
        with self.transaction():
            return [self.insert_sample(s) for s in samples]

    def _sample_from_row(self, row: dict) -> dict:
        row["tags"] = from_json(row.get("tags"), [])
        row["metadata"] = from_json(row.get("metadata"), {})
        row["params"] = from_json(row.get("params"), {})
        row["turns"] = from_json(row.get("turns"))
        row["pii"] = from_json(row.get("pii"))
        return row

    def get_sample(self, sample_id: int) -> dict | None:
        row = self._one("SELECT * FROM samples WHERE id = ?", [sample_id])
        return self._sample_from_row(row) if row else None

    def list_samples(
        self,
        status: str | None = None,
        source: str | None = None,
        include_filtered: bool = False,
        ids: Iterable[int] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        clauses, params = ["1=1"], []
        if not include_filtered:
            clauses.append("filter_reason IS NULL")
        if status:
            clauses.append("status = ?")
            params.append(status)
        if source:
            clauses.append("source = ?")
            params.append(source)
        if ids is not None:
            id_list = list(ids)
            clauses.append(f"id IN ({','.join('?' * len(id_list)) or 'NULL'})")
            params += id_list
        sql = f"SELECT * FROM samples WHERE {' AND '.join(clauses)} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self._sample_from_row(r) for r in self._rows(sql, params)]

    def existing_sample_hashes(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(hashes)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0] for r in self.conn.execute(f"SELECT text_hash FROM samples WHERE text_hash IN ({marks})", chunk)
            )
        return found

    # ---- metrics

    def set_metrics(self, item_type: str, item_id: int, values: dict[str, float | None], note: str | None = None) -> None:
        self.conn.executemany(
            "INSERT INTO metrics (item_type, item_id, name, value, note) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(item_type, item_id, name) DO UPDATE SET value = excluded.value, note = excluded.note",
            [(item_type, item_id, name, value, note) for name, value in values.items()],
        )

    def get_metrics(self, item_type: str, item_id: int) -> dict[str, float | None]:
        rows = self.conn.execute(
            "SELECT name, value FROM metrics WHERE item_type = ? AND item_id = ?", [item_type, item_id]
        )
        return dict(rows.fetchall())
