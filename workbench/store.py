"""The SQLite store: schema, migrations and every SQL statement of the app.

Nothing outside this module writes SQL. The store runs in WAL mode so that pages read
while the worker writes, with foreign keys on. Rows that came from a model record the
model name and its parameters.
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

SCHEMA_VERSION = 1


def now() -> float:
    return time.time()


def text_hash(text: str) -> str:
    """Hash of a text, whitespace- and case-normalised, used for exact-duplicate checks and caches."""
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _loads(value: str | None, default: Any = None) -> Any:
    return default if value in (None, "") else json.loads(value)


# ---------------------------------------------------------------- migrations

def _migration_1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE seeds (
            id INTEGER PRIMARY KEY,
            instruction TEXT NOT NULL,
            reference_answer TEXT,
            domain TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            notes TEXT,
            known_failure INTEGER NOT NULL DEFAULT 0,
            tests TEXT,
            text_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued','running','paused','cancelled','done','failed')),
            total_units INTEGER NOT NULL DEFAULT 0,
            done_units INTEGER NOT NULL DEFAULT 0,
            failed_units INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            model TEXT,
            error TEXT,
            result TEXT,
            worker_pid INTEGER,
            heartbeat_at REAL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            elapsed_s REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE job_units (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            unit_key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('done','failed')),
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            finished_at REAL NOT NULL,
            PRIMARY KEY (job_id, unit_key)
        );
        CREATE TABLE operators (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            chat_template TEXT NOT NULL,
            completion_template TEXT NOT NULL,
            builtin INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE TABLE evol_nodes (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            node_key TEXT NOT NULL,
            seed_id INTEGER NOT NULL REFERENCES seeds(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES evol_nodes(id) ON DELETE CASCADE,
            depth INTEGER NOT NULL,
            operator TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            prompt TEXT,
            raw_response TEXT,
            instruction TEXT,
            answer TEXT,
            status TEXT NOT NULL CHECK (status IN ('survived','eliminated','failed')),
            elimination_reason TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (job_id, node_key)
        );
        CREATE INDEX evol_nodes_seed ON evol_nodes(seed_id);
        CREATE INDEX evol_nodes_parent ON evol_nodes(parent_id);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL CHECK (source IN ('seed','evol','magpie','import')),
            unit_key TEXT UNIQUE,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            seed_id INTEGER REFERENCES seeds(id) ON DELETE SET NULL,
            node_id INTEGER REFERENCES evol_nodes(id) ON DELETE SET NULL,
            instruction TEXT NOT NULL,
            output TEXT,
            original_instruction TEXT,
            original_output TEXT,
            turns TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','rejected')),
            filter_reason TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            metadata TEXT NOT NULL DEFAULT '{}',
            pii TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            text_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX samples_status ON samples(status);
        CREATE INDEX samples_source ON samples(source);
        CREATE INDEX samples_hash ON samples(text_hash);
        CREATE TABLE reasoning_paths (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            path_index INTEGER NOT NULL,
            text TEXT NOT NULL,
            final_answer TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (task_type, task_id, job_id, path_index)
        );
        CREATE INDEX reasoning_paths_task ON reasoning_paths(task_type, task_id);
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (path_id, idx)
        );
        CREATE TABLE step_scores (
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            verifier TEXT NOT NULL,
            score REAL NOT NULL,
            label TEXT NOT NULL,
            rationale TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            PRIMARY KEY (step_id, verifier)
        );
        CREATE TABLE step_overrules (
            id INTEGER PRIMARY KEY,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            label TEXT NOT NULL CHECK (label IN ('correct','incorrect','neutral')),
            reason TEXT,
            reviewer TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE metrics (
            item_type TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            note TEXT,
            PRIMARY KEY (item_type, item_id, name)
        );
        CREATE INDEX metrics_name ON metrics(name);
        CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, text_hash)
        );
        CREATE TABLE projections (
            key TEXT PRIMARY KEY,
            params TEXT NOT NULL,
            reducer BLOB,
            created_at REAL NOT NULL
        );
        CREATE TABLE projection_points (
            projection_key TEXT NOT NULL REFERENCES projections(key) ON DELETE CASCADE,
            item_type TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            PRIMARY KEY (projection_key, item_type, item_id)
        );
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            action TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            before TEXT,
            after TEXT,
            note TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX reviews_sample ON reviews(sample_id);
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            format TEXT NOT NULL,
            path TEXT NOT NULL,
            n_samples INTEGER NOT NULL,
            options TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE TABLE export_items (
            export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
            sample_id INTEGER NOT NULL,
            PRIMARY KEY (export_id, sample_id)
        );
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1]


class StoreError(Exception):
    """A store operation refused with a message for the user."""


class Store:
    """One connection to the workbench database. Cheap to open; open one per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ plumbing

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Apply every migration newer than the stored schema version, each in its own transaction."""
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this app knows ({len(MIGRATIONS)}). "
                "Upgrade Entropy Workbench."
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
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

    # ------------------------------------------------------------ settings

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

    # ------------------------------------------------------------ counts

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

    # ------------------------------------------------------------ seeds

    SEED_FIELDS = ("instruction", "reference_answer", "domain", "tags", "notes", "known_failure", "tests")

    def _seed_row(self, seed: dict, timestamp: float) -> dict:
        return {
            "instruction": seed["instruction"],
            "reference_answer": seed.get("reference_answer"),
            "domain": seed.get("domain"),
            "tags": _dumps(list(seed.get("tags") or [])),
            "notes": seed.get("notes"),
            "known_failure": int(bool(seed.get("known_failure"))),
            "tests": seed.get("tests"),
            "text_hash": text_hash(seed["instruction"]),
            "created_at": timestamp,
            "updated_at": timestamp,
        }

    def existing_seed_hashes(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(hashes)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0] for r in self.conn.execute(f"SELECT text_hash FROM seeds WHERE text_hash IN ({marks})", chunk)
            )
        return found

    def insert_seeds(self, seeds: list[dict]) -> list[int]:
        """Insert all seeds in one transaction (all or nothing). Duplicates raise StoreError."""
        timestamp = now()
        ids: list[int] = []
        with self.transaction():
            for number, seed in enumerate(seeds, start=1):
                try:
                    cursor = self.conn.execute(
                        "INSERT INTO seeds (instruction, reference_answer, domain, tags, notes, known_failure,"
                        " tests, text_hash, created_at, updated_at) VALUES (:instruction, :reference_answer,"
                        " :domain, :tags, :notes, :known_failure, :tests, :text_hash, :created_at, :updated_at)",
                        self._seed_row(seed, timestamp),
                    )
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"seed {number} duplicates a seed already in the store") from exc
                ids.append(cursor.lastrowid)
        return ids

    def _seed_from_row(self, row: dict) -> dict:
        row["tags"] = _loads(row["tags"], [])
        row["known_failure"] = bool(row["known_failure"])
        return row

    def list_seeds(
        self,
        search: str = "",
        domain: str | None = None,
        tag: str | None = None,
        known_failure: bool | None = None,
        ids: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        clauses, params = ["1=1"], []
        if search:
            clauses.append("(instruction LIKE ? OR coalesce(reference_answer,'') LIKE ? OR coalesce(notes,'') LIKE ?)")
            params += [f"%{search}%"] * 3
        if domain:
            clauses.append("domain = ?")
            params.append(domain)
        if tag:
            clauses.append("EXISTS (SELECT 1 FROM json_each(seeds.tags) WHERE value = ?)")
            params.append(tag)
        if known_failure is not None:
            clauses.append("known_failure = ?")
            params.append(int(known_failure))
        if ids is not None:
            id_list = list(ids)
            clauses.append(f"id IN ({','.join('?' * len(id_list)) or 'NULL'})")
            params += id_list
        sql = f"SELECT * FROM seeds WHERE {' AND '.join(clauses)} ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._seed_from_row(r) for r in self._rows(sql, params)]

    def get_seed(self, seed_id: int) -> dict | None:
        row = self._one("SELECT * FROM seeds WHERE id = ?", [seed_id])
        return self._seed_from_row(row) if row else None

    def seed_domains(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT domain FROM seeds WHERE domain IS NOT NULL ORDER BY 1")]

    def seed_tags(self) -> list[str]:
        sql = "SELECT DISTINCT value FROM seeds, json_each(seeds.tags) ORDER BY 1"
        return [r[0] for r in self.conn.execute(sql)]

    def update_seed(self, seed_id: int, changes: dict) -> None:
        """Update the given fields of one seed; an instruction equal to another seed's raises StoreError."""
        fields = {k: v for k, v in changes.items() if k in self.SEED_FIELDS}
        if not fields:
            return
        if "instruction" in fields:
            if not str(fields["instruction"] or "").strip():
                raise StoreError(f"seed {seed_id}: instruction cannot be empty")
            fields["text_hash"] = text_hash(fields["instruction"])
        if "tags" in fields:
            fields["tags"] = _dumps(list(fields["tags"] or []))
        if "known_failure" in fields:
            fields["known_failure"] = int(bool(fields["known_failure"]))
        fields["updated_at"] = now()
        assignments = ", ".join(f"{k} = :{k}" for k in fields)
        try:
            self.conn.execute(f"UPDATE seeds SET {assignments} WHERE id = :id", {**fields, "id": seed_id})
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"seed {seed_id}: another seed already has this instruction") from exc

    def update_seeds(self, changes: dict[int, dict]) -> None:
        """Apply several seed edits in one transaction."""
        with self.transaction():
            for seed_id, fields in changes.items():
                self.update_seed(seed_id, fields)

    def delete_seeds(self, ids: Iterable[int]) -> int:
        id_list = list(ids)
        if not id_list:
            return 0
        with self.transaction():
            cursor = self.conn.execute(f"DELETE FROM seeds WHERE id IN ({','.join('?' * len(id_list))})", id_list)
        return cursor.rowcount

    # ------------------------------------------------------------ jobs

    def create_job(self, kind: str, params: dict, model: str | None = None) -> int:
        cursor = self.conn.execute(
            "INSERT INTO jobs (kind, params, status, model, created_at) VALUES (?, ?, 'queued', ?, ?)",
            [kind, _dumps(params), model, now()],
        )
        return cursor.lastrowid

    def _job_from_row(self, row: dict) -> dict:
        row["params"] = _loads(row["params"], {})
        row["result"] = _loads(row["result"])
        return row

    def set_job_result(self, job_id: int, result: Any) -> None:
        self.conn.execute("UPDATE jobs SET result = ? WHERE id = ?", [_dumps(result), job_id])

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
            "queued": ("paused", "failed", "cancelled"),
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
        """Mark a unit finished and recount the job's progress. Idempotent per (job, unit)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO job_units (job_id, unit_key, status, error, finished_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job_id, unit_key) DO UPDATE SET status = excluded.status, error = excluded.error, "
                "attempts = attempts + 1, finished_at = excluded.finished_at",
                [job_id, unit_key, status, error, now()],
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

    # ------------------------------------------------------------ samples

    def insert_sample(self, sample: dict) -> int:
        """Insert one sample; a sample with the same unit_key already stored is returned, not duplicated."""
        timestamp = now()
        row = {
            "source": sample["source"],
            "unit_key": sample.get("unit_key"),
            "job_id": sample.get("job_id"),
            "seed_id": sample.get("seed_id"),
            "node_id": sample.get("node_id"),
            "instruction": sample["instruction"],
            "output": sample.get("output"),
            "turns": _dumps(sample.get("turns")),
            "status": sample.get("status", "pending"),
            "filter_reason": sample.get("filter_reason"),
            "tags": _dumps(list(sample.get("tags") or [])),
            "metadata": _dumps(sample.get("metadata") or {}),
            "model": sample.get("model"),
            "params": _dumps(sample.get("params") or {}),
            "text_hash": text_hash(sample["instruction"]),
            "created_at": timestamp,
            "updated_at": timestamp,
        }
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
        row["tags"] = _loads(row.get("tags"), [])
        row["metadata"] = _loads(row.get("metadata"), {})
        row["params"] = _loads(row.get("params"), {})
        row["turns"] = _loads(row.get("turns"))
        row["pii"] = _loads(row.get("pii"))
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

    # ------------------------------------------------------------ metrics

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


    # ------------------------------------------------------------ evolution (Evol-Instruct)

    # ------------------------------------------------------------ magpie

    def seed_instructions(self) -> list[tuple[int, str]]:
        """(id, instruction) of every seed, for duplicate checks."""
        return [tuple(r) for r in self.conn.execute("SELECT id, instruction FROM seeds ORDER BY id")]

    def sample_instructions(self) -> list[tuple[int, str]]:
        """(id, instruction) of every sample not filtered out, for duplicate checks."""
        sql = "SELECT id, instruction FROM samples WHERE filter_reason IS NULL ORDER BY id"
        return [tuple(r) for r in self.conn.execute(sql)]

    def sample_id_for_unit(self, unit_key: str) -> int | None:
        return self._scalar("SELECT id FROM samples WHERE unit_key = ?", [unit_key])

    def job_samples(self, job_id: int, limit: int = 200) -> list[dict]:
        """A job's samples, newest first, each with its token_entropy_mean (None when not available)."""
        rows = self._rows(
            "SELECT s.*, m.value AS token_entropy_mean, m.note AS entropy_source FROM samples s "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = 'token_entropy_mean' "
            "WHERE s.job_id = ? ORDER BY s.id DESC LIMIT ?",
            [job_id, int(limit)],
        )
        return [self._sample_from_row(r) for r in rows]

    def job_filter_counts(self, job_id: int) -> dict[str, int]:
        """How many of a job's samples were kept ('kept') and dropped, by filter reason."""
        sql = (
            "SELECT coalesce(filter_reason, 'kept'), count(*) FROM samples WHERE job_id = ? "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        return dict(self.conn.execute(sql, [job_id]).fetchall())


    # ------------------------------------------------------------ reasoning paths and verification

    # ------------------------------------------------------------ metrics, embeddings and projections

    # ------------------------------------------------------------ review, PII and export


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating if needed) the store at path, $WORKBENCH_DB, or the default location."""
    from workbench.env import default_db_path

    return Store(path or default_db_path())
