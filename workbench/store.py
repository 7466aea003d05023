"""The SQLite store: schema, migrations and every SQL statement of the app.

Nothing outside this module writes SQL. The store runs in WAL mode so that pages read
while the worker writes, with foreign keys on. Rows that came from a model record the
model name and its parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
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


INPUT_SEPARATOR = "\n\nInput:\n"


def task_text(instruction: str, input_text: str | None = None) -> str:
    """A task as one text: its instruction, then its input (Alpaca's `input`, the context the instruction
    works on) after an 'Input:' line. A seed or sample is known by this text: its text_hash (identity),
    its embedding and every prompt built from it use it."""
    return f"{instruction}{INPUT_SEPARATOR}{input_text}" if input_text else instruction


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _loads(value: str | None, default: Any = None) -> Any:
    return default if value in (None, "") else json.loads(value)


# ---------------------------------------------------------------- migrations

def _execute_script(db: sqlite_utils.Database, script: str) -> None:
    """Run each statement of `script` inside the caller's transaction (sqlite3's executescript would
    COMMIT it first, which lets a concurrent opener in halfway through a migration)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:80]}")


def _migration_1(db: sqlite_utils.Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE seeds (
            id INTEGER PRIMARY KEY,
            instruction TEXT NOT NULL,
            input TEXT,
            reference_answer TEXT,
            reference_solution TEXT,
            origin TEXT NOT NULL DEFAULT '{}',
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
            elapsed_s REAL NOT NULL DEFAULT 0,
            model_calls INTEGER NOT NULL DEFAULT 0,
            cache_hits INTEGER NOT NULL DEFAULT 0
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
            completion_output TEXT NOT NULL DEFAULT 'rewrite' CHECK (completion_output IN ('rewrite','addition')),
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
            input TEXT,
            input_origin TEXT,
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
            input TEXT,
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
        -- issue 16: the corrected step a labeller wrote after a path's first wrong step (PRM800K's human_completion)
        CREATE TABLE human_completions (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            labeller TEXT NOT NULL,
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
        -- issue 14 (item 4): the samples selected on the Maps page, for Review's "selected on the map" filter
        CREATE TABLE map_selection (
            sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
            projection_key TEXT NOT NULL,
            selected_at REAL NOT NULL
        );
        -- issue 12: Monte-Carlo rollouts from each step prefix (Math-Shepherd), one per (step, k)
        CREATE TABLE rollouts (
            id INTEGER PRIMARY KEY,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            k INTEGER NOT NULL,
            text TEXT NOT NULL,
            final_answer TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            UNIQUE (step_id, k)
        );
        -- issue 12: the final answer a task's paths agree on when it has no reference (self-consistency)
        CREATE TABLE pseudo_references (
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            answer TEXT NOT NULL,
            votes INTEGER NOT NULL,
            voters INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (task_type, task_id, job_id)
        );
        -- issue 15: the response cache (workbench/response_cache.py); key = hash of model, request, params, sample
        CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        -- issue 16: gold tasks: paths with known step ratings, mixed unmarked into the labelling queue;
        -- a labeller's ratings of a gold path are answers to check (gold_answers), never step overrules
        CREATE TABLE gold_paths (
            path_id INTEGER PRIMARY KEY REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            labeller TEXT,
            marked_by TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE gold_steps (
            step_id INTEGER PRIMARY KEY REFERENCES steps(id) ON DELETE CASCADE,
            path_id INTEGER NOT NULL REFERENCES gold_paths(path_id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1))
        );
        CREATE TABLE gold_answers (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            labeller TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1)),
            human_completion TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX gold_answers_labeller ON gold_answers(labeller, path_id);
        -- issue 16: decontamination: registered benchmark test sets, their items, and each seed's or sample's
        -- strongest match in each benchmark (workbench/decontamination.py)
        CREATE TABLE benchmarks (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            file TEXT NOT NULL,
            field TEXT NOT NULL,
            n_items INTEGER NOT NULL,
            content_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE TABLE benchmark_items (
            id INTEGER PRIMARY KEY,
            benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            UNIQUE (benchmark_id, idx)
        );
        CREATE TABLE contamination (
            item_type TEXT NOT NULL CHECK (item_type IN ('seed','sample')),
            item_id INTEGER NOT NULL,
            benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
            benchmark_item_id INTEGER NOT NULL REFERENCES benchmark_items(id) ON DELETE CASCADE,
            ngram_overlap REAL NOT NULL,
            similarity REAL,
            scanned_at REAL NOT NULL,
            PRIMARY KEY (item_type, item_id, benchmark_id)
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
        conn.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait on another opener
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ plumbing

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

    SEED_FIELDS = ("instruction", "input", "reference_answer", "reference_solution", "domain", "tags", "notes",
                   "known_failure", "tests")

    def _seed_row(self, seed: dict, timestamp: float) -> dict:
        return {
            "instruction": seed["instruction"],
            "input": seed.get("input") or None,
            "reference_answer": seed.get("reference_answer"),
            "reference_solution": seed.get("reference_solution"),
            "origin": _dumps(seed.get("origin") or {}),
            "domain": seed.get("domain"),
            "tags": _dumps(list(seed.get("tags") or [])),
            "notes": seed.get("notes"),
            "known_failure": int(bool(seed.get("known_failure"))),
            "tests": seed.get("tests"),
            "text_hash": text_hash(task_text(seed["instruction"], seed.get("input"))),
            "created_at": timestamp,
            "updated_at": timestamp,
        }

    def _insert_seed(self, row: dict, on_conflict: str = "") -> int | None:
        columns = ", ".join(row)
        cursor = self.conn.execute(
            f"INSERT INTO seeds ({columns}) VALUES ({', '.join(f':{k}' for k in row)}) {on_conflict}", row
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def insert_seeds(self, seeds: list[dict]) -> list[int]:
        """Insert all seeds in one transaction (all or nothing). Duplicates raise StoreError."""
        timestamp = now()
        ids: list[int] = []
        with self.transaction():
            for number, seed in enumerate(seeds, start=1):
                try:
                    ids.append(self._insert_seed(self._seed_row(seed, timestamp)))
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"seed {number} duplicates a seed already in the store") from exc
        return ids

    def insert_new_seeds(self, seeds: list[dict]) -> tuple[list[int], list[int]]:
        """Insert, in one transaction, the seeds whose instruction + input the store does not hold yet.

        Returns (ids of the inserted seeds, positions in `seeds` skipped as already stored)."""
        timestamp = now()
        ids: list[int] = []
        skipped: list[int] = []
        with self.transaction():
            for position, seed in enumerate(seeds):
                seed_id = self._insert_seed(self._seed_row(seed, timestamp), "ON CONFLICT(text_hash) DO NOTHING")
                if seed_id is None:
                    skipped.append(position)
                else:
                    ids.append(seed_id)
        return ids, skipped

    def _seed_from_row(self, row: dict) -> dict:
        row["tags"] = _loads(row["tags"], [])
        row["origin"] = _loads(row["origin"], {})
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
            searched = ("instruction", "coalesce(input,'')", "coalesce(reference_answer,'')", "coalesce(notes,'')")
            clauses.append("(" + " OR ".join(f"{column} LIKE ?" for column in searched) + ")")
            params += [f"%{search}%"] * len(searched)
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
        """Update the given fields of one seed; an instruction + input equal to another seed's raises StoreError."""
        fields = {k: v for k, v in changes.items() if k in self.SEED_FIELDS}
        if not fields:
            return
        if "instruction" in fields and not str(fields["instruction"] or "").strip():
            raise StoreError(f"seed {seed_id}: instruction cannot be empty")
        if "input" in fields:
            fields["input"] = fields["input"] or None
        if "instruction" in fields or "input" in fields:
            current = self.get_seed(seed_id)
            if current is None:
                raise StoreError(f"no seed {seed_id}")
            merged = {**current, **fields}
            fields["text_hash"] = text_hash(task_text(merged["instruction"], merged["input"]))
        if "tags" in fields:
            fields["tags"] = _dumps(list(fields["tags"] or []))
        if "known_failure" in fields:
            fields["known_failure"] = int(bool(fields["known_failure"]))
        fields["updated_at"] = now()
        assignments = ", ".join(f"{k} = :{k}" for k in fields)
        try:
            self.conn.execute(f"UPDATE seeds SET {assignments} WHERE id = :id", {**fields, "id": seed_id})
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"seed {seed_id}: another seed already has this instruction and input") from exc

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

    # ------------------------------------------------------------ settings: the connection test (issue 14)

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

    # ------------------------------------------------------------ response cache (issue 15)

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

    # ------------------------------------------------------------ samples

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
            "turns": _dumps(sample.get("turns")),
            "status": sample.get("status", "pending"),
            "filter_reason": sample.get("filter_reason"),
            "tags": _dumps(list(sample.get("tags") or [])),
            "metadata": _dumps(sample.get("metadata") or {}),
            "model": sample.get("model"),
            "params": _dumps(sample.get("params") or {}),
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

    OPERATOR_FIELDS = (
        "name", "kind", "description", "chat_template", "completion_template", "completion_output", "builtin"
    )

    def list_operators(self) -> list[dict]:
        rows = self._rows("SELECT * FROM operators ORDER BY builtin DESC, rowid")
        for row in rows:
            row["builtin"] = bool(row["builtin"])
        return rows

    def save_operators(self, operators: list[dict], overwrite: bool = True) -> None:
        """Insert or update operators by name; with overwrite=False existing ones are left as they are."""
        action = (
            "DO UPDATE SET kind = excluded.kind, description = excluded.description, chat_template = "
            "excluded.chat_template, completion_template = excluded.completion_template, "
            "completion_output = excluded.completion_output, builtin = excluded.builtin, "
            "updated_at = excluded.updated_at"
            if overwrite
            else "DO NOTHING"
        )
        rows = [[op[f] if f != "builtin" else int(bool(op[f])) for f in self.OPERATOR_FIELDS] + [now()] for op in operators]
        with self.transaction():
            self.conn.executemany(
                f"INSERT INTO operators ({', '.join(self.OPERATOR_FIELDS)}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT(name) {action}",
                rows,
            )

    def delete_operator(self, name: str) -> bool:
        """Delete a user's operator (built-ins are reset, never deleted). Returns whether one was deleted."""
        cursor = self.conn.execute("DELETE FROM operators WHERE name = ? AND builtin = 0", [name])
        return cursor.rowcount == 1

    def save_evol_node(
        self,
        node: dict,
        metrics: list[tuple[dict[str, float | None], str | None]] = (),
        sample: dict | None = None,
        usage: tuple[int, int, float | None] | None = None,
        sample_metrics: list[tuple[dict[str, float | None], str | None]] = (),
    ) -> int:
        """Write one evolution node with its metrics, its sample (and the sample's metrics) and its usage in one
        transaction.

        Keyed on (job_id, node_key): a node already stored is kept (returned as is), except a 'failed'
        one, which the new attempt replaces. Usage is added only when the node is new.
        """
        row = {
            "job_id": node.get("job_id"),
            "node_key": node["node_key"],
            "seed_id": node["seed_id"],
            "parent_id": node.get("parent_id"),
            "depth": node["depth"],
            "operator": node["operator"],
            "attempt": node.get("attempt", 0),
            "prompt": node.get("prompt"),
            "raw_response": node.get("raw_response"),
            "instruction": node.get("instruction"),
            "input": node.get("input"),
            "input_origin": node.get("input_origin"),
            "answer": node.get("answer"),
            "status": node["status"],
            "elimination_reason": node.get("elimination_reason"),
            "model": node.get("model"),
            "params": _dumps(node.get("params") or {}),
            "created_at": now(),
        }
        columns = ", ".join(row)
        updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("job_id", "node_key"))
        with self.transaction():
            inserted = self.conn.execute(
                f"INSERT INTO evol_nodes ({columns}) VALUES ({', '.join(f':{k}' for k in row)}) "
                f"ON CONFLICT(job_id, node_key) DO UPDATE SET {updates} WHERE evol_nodes.status = 'failed' RETURNING id",
                row,
            ).fetchone()
            if inserted is None:
                return self._scalar(
                    "SELECT id FROM evol_nodes WHERE job_id IS ? AND node_key = ?", [row["job_id"], row["node_key"]]
                )
            node_id = inserted[0]
            self.conn.executemany(
                "INSERT INTO metrics (item_type, item_id, name, value, note) VALUES ('node', ?, ?, ?, ?) "
                "ON CONFLICT(item_type, item_id, name) DO UPDATE SET value = excluded.value, note = excluded.note",
                [(node_id, name, value, note) for values, note in metrics for name, value in values.items()],
            )
            if sample is not None:
                sample_id = self.insert_sample({**sample, "node_id": node_id})
                for values, note in sample_metrics:
                    self.set_metrics("sample", sample_id, values, note)
            if usage is not None and row["job_id"] is not None:
                self.add_job_usage(row["job_id"], *usage)
        return node_id

    def _node_from_row(self, row: dict) -> dict:
        row["params"] = _loads(row.get("params"), {})
        return row

    def evol_nodes(self, job_id: int | None = None, seed_id: int | None = None) -> list[dict]:
        """Nodes in tree order (depth, then key), filtered by job and seed."""
        clauses, params = ["1=1"], []
        if job_id is not None:
            clauses.append("job_id = ?")
            params.append(job_id)
        if seed_id is not None:
            clauses.append("seed_id = ?")
            params.append(seed_id)
        sql = f"SELECT * FROM evol_nodes WHERE {' AND '.join(clauses)} ORDER BY depth, node_key"
        return [self._node_from_row(r) for r in self._rows(sql, params)]

    def evol_job_seed_summary(self, job_id: int) -> list[dict]:
        """Per seed of a job: node counts by status, and the seed's instruction."""
        return self._rows(
            "SELECT n.seed_id, s.instruction AS seed_instruction, count(*) AS nodes,"
            " sum(n.status = 'survived') AS survived, sum(n.status = 'eliminated') AS eliminated,"
            " sum(n.status = 'failed') AS failed, max(n.depth) AS depth"
            " FROM evol_nodes n JOIN seeds s ON s.id = n.seed_id WHERE n.job_id = ?"
            " GROUP BY n.seed_id ORDER BY n.seed_id",
            [job_id],
        )

    def node_metrics(self, node_ids: Iterable[int]) -> dict[int, dict[str, float | None]]:
        """Metrics of many nodes at once: node id -> {name: value}."""
        ids = list(node_ids)
        found: dict[int, dict[str, float | None]] = {i: {} for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT item_id, name, value FROM metrics WHERE item_type = 'node' "
                f"AND item_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for item_id, name, value in rows:
                found[item_id][name] = value
        return found

    def operator_effectiveness(self, job_id: int | None = None) -> list[dict]:
        """Per operator: attempts, survivors, survival rate, mean entropy and novelty gain over the parent."""
        where = "WHERE n.job_id = ? AND n.status != 'failed'" if job_id is not None else "WHERE n.status != 'failed'"
        return self._rows(
            "SELECT n.operator, count(*) AS attempts, sum(n.status = 'survived') AS survived,"
            " avg(n.status = 'survived') AS survival_rate,"
            " avg(CASE WHEN n.status = 'survived' THEN eg.value END) AS mean_entropy_gain,"
            " avg(CASE WHEN n.status = 'survived' THEN nv.value END) AS mean_novelty_gain"
            " FROM evol_nodes n"
            " LEFT JOIN metrics eg ON eg.item_type = 'node' AND eg.item_id = n.id AND eg.name = 'entropy_gain_parent'"
            " LEFT JOIN metrics nv ON nv.item_type = 'node' AND nv.item_id = n.id AND nv.name = 'novelty_parent'"
            f" {where} GROUP BY n.operator ORDER BY survival_rate DESC, n.operator",
            [job_id] if job_id is not None else [],
        )

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

    def add_reasoning_path(self, path: dict, steps: list[str]) -> int:
        """Store a path and its steps at once. A path already stored for (task, job, index) is returned as is."""
        row = {
            "job_id": path.get("job_id"),
            "task_type": path["task_type"],
            "task_id": path["task_id"],
            "path_index": path["path_index"],
            "text": path["text"],
            "final_answer": path.get("final_answer"),
            "model": path.get("model"),
            "params": _dumps(path.get("params") or {}),
            "created_at": now(),
        }
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT INTO reasoning_paths ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) "
                "ON CONFLICT(task_type, task_id, job_id, path_index) DO NOTHING",
                row,
            )
            if cursor.rowcount == 0:
                return self._scalar(
                    "SELECT id FROM reasoning_paths WHERE task_type = ? AND task_id = ? AND job_id IS ? AND path_index = ?",
                    [row["task_type"], row["task_id"], row["job_id"], row["path_index"]],
                )
            path_id = cursor.lastrowid
            self.conn.executemany(
                "INSERT INTO steps (path_id, idx, text) VALUES (?, ?, ?)",
                [(path_id, index, text) for index, text in enumerate(steps)],
            )
        return path_id

    def job_path_ids(self, job_id: int, task_type: str, task_id: int) -> dict[int, int]:
        """path_index -> path id of the paths one job stored for one task."""
        rows = self.conn.execute(
            "SELECT path_index, id FROM reasoning_paths WHERE job_id = ? AND task_type = ? AND task_id = ?",
            [job_id, task_type, task_id],
        )
        return dict(rows.fetchall())

    def path_steps(self, path_id: int) -> list[dict]:
        return self._rows("SELECT id, idx, text FROM steps WHERE path_id = ? ORDER BY idx", [path_id])

    def scored_step_ids(self, path_id: int, verifier: str) -> set[int]:
        rows = self.conn.execute(
            "SELECT s.id FROM steps s JOIN step_scores sc ON sc.step_id = s.id WHERE s.path_id = ? AND sc.verifier = ?",
            [path_id, verifier],
        )
        return {r[0] for r in rows}

    def set_step_scores(self, rows: list[dict]) -> None:
        """Upsert verifier verdicts: one per (step, verifier)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO step_scores (step_id, verifier, score, label, rationale, model, params, created_at) "
                "VALUES (:step_id, :verifier, :score, :label, :rationale, :model, :params, :created_at) "
                "ON CONFLICT(step_id, verifier) DO UPDATE SET score = excluded.score, label = excluded.label, "
                "rationale = excluded.rationale, model = excluded.model, params = excluded.params, "
                "created_at = excluded.created_at",
                [{"rationale": None, "model": None, **r, "params": _dumps(r.get("params") or {}), "created_at": now()}
                 for r in rows],
            )

    def add_step_overrule(self, step_id: int, label: str, reason: str | None, reviewer: str) -> int:
        """A person's label for a step; the latest overrule of a step is the one that counts."""
        cursor = self.conn.execute(
            "INSERT INTO step_overrules (step_id, label, reason, reviewer, created_at) VALUES (?, ?, ?, ?, ?)",
            [step_id, label, reason, reviewer, now()],
        )
        return cursor.lastrowid

    def add_human_completion(self, step_id: int, text: str, labeller: str) -> int:
        """A labeller's corrected version of a step they rated wrong (PRM800K's `human_completion`); several
        labellers may each write one. Raises StoreError for an unknown step or empty text."""
        if not text.strip():
            raise StoreError("a human completion cannot be empty")
        path_id = self._scalar("SELECT path_id FROM steps WHERE id = ?", [step_id])
        if path_id is None:
            raise StoreError(f"no step {step_id}")
        cursor = self.conn.execute(
            "INSERT INTO human_completions (path_id, step_id, text, labeller, created_at) VALUES (?, ?, ?, ?, ?)",
            [path_id, step_id, text.strip(), labeller, now()],
        )
        return cursor.lastrowid

    def human_completions(self, path_ids: Iterable[int]) -> dict[int, list[dict]]:
        """path_id -> its human completions (id, step_id, step index `idx`, text, labeller, created_at), oldest first."""
        ids = list(path_ids)
        result: dict[int, list[dict]] = {path_id: [] for path_id in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._rows(
                "SELECT h.id, h.path_id, h.step_id, s.idx, h.text, h.labeller, h.created_at FROM human_completions h "
                f"JOIN steps s ON s.id = h.step_id WHERE h.path_id IN ({', '.join('?' * len(chunk))}) ORDER BY h.id",
                chunk,
            )
            for row in rows:
                result[row["path_id"]].append(row)
        return result

    def step_overrule_history(self, step_id: int) -> list[dict]:
        return self._rows("SELECT * FROM step_overrules WHERE step_id = ? ORDER BY id", [step_id])

    def step_task(self, step_id: int) -> tuple[str, int] | None:
        row = self.conn.execute(
            "SELECT p.task_type, p.task_id FROM steps s JOIN reasoning_paths p ON p.id = s.path_id WHERE s.id = ?",
            [step_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def reasoning_paths_nested(self, task_type: str | None = None, task_id: int | None = None) -> dict[tuple, list[dict]]:
        """(task_type, task_id) -> its paths, each with its steps, each with its verdicts and latest overrule."""
        where, params = "1=1", []
        if task_type is not None and task_id is not None:
            where, params = "p.task_type = ? AND p.task_id = ?", [task_type, task_id]
        paths = self._rows(f"SELECT p.* FROM reasoning_paths p WHERE {where} ORDER BY p.job_id, p.path_index, p.id", params)
        steps = self._rows(
            f"SELECT s.* FROM steps s JOIN reasoning_paths p ON p.id = s.path_id WHERE {where} ORDER BY s.path_id, s.idx",
            params,
        )
        scores = self._rows(
            "SELECT sc.* FROM step_scores sc JOIN steps s ON s.id = sc.step_id "
            f"JOIN reasoning_paths p ON p.id = s.path_id WHERE {where}",
            params,
        )
        overrules = self._rows(
            "SELECT o.* FROM step_overrules o JOIN steps s ON s.id = o.step_id "
            f"JOIN reasoning_paths p ON p.id = s.path_id WHERE {where} ORDER BY o.id",
            params,
        )
        by_step: dict[int, dict] = {}
        by_path: dict[int, list[dict]] = {}
        for step in steps:
            step.update(scores={}, overrule=None)
            by_step[step["id"]] = step
            by_path.setdefault(step["path_id"], []).append(step)
        for score in scores:
            score["params"] = _loads(score["params"], {})
            by_step[score["step_id"]]["scores"][score["verifier"]] = score
        for overrule in overrules:  # ordered by id: the latest wins
            by_step[overrule["step_id"]]["overrule"] = overrule
        nested: dict[tuple, list[dict]] = {}
        for path in paths:
            path["params"] = _loads(path["params"], {})
            path["steps"] = by_path.get(path["id"], [])
            nested.setdefault((path["task_type"], path["task_id"]), []).append(path)
        return nested

    def reasoning_task_titles(self, tasks: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The instruction of each (task_type, task_id)."""
        wanted = list(tasks)
        titles: dict[tuple[str, int], str] = {}
        for task_type, table in (("seed", "seeds"), ("sample", "samples")):
            ids = [task_id for kind, task_id in wanted if kind == task_type]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self.conn.execute(
                    f"SELECT id, instruction FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
                titles.update({(task_type, r[0]): r[1] for r in rows})
        return titles

    def stored_rollouts(self, step_id: int) -> list[dict]:
        """The rollouts kept for one step, in k order (params as a dict)."""
        rows = self._rows("SELECT * FROM rollouts WHERE step_id = ? ORDER BY k", [step_id])
        for row in rows:
            row["params"] = _loads(row["params"], {})
        return rows

    def add_rollout(self, rollout: dict) -> bool:
        """Keep one rollout of a step; a rollout already stored for (step, k) is left as it is. True when added."""
        row = {"params": _dumps(rollout.get("params") or {}), "created_at": now(), "model": None, "final_answer": None,
               "prompt_tokens": 0, "completion_tokens": 0, **{k: v for k, v in rollout.items() if k != "params"}}
        cursor = self.conn.execute(
            f"INSERT INTO rollouts ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) "
            "ON CONFLICT(step_id, k) DO NOTHING",
            row,
        )
        return cursor.rowcount == 1

    def rollout_counts(self, step_ids: Iterable[int]) -> dict[int, int]:
        """step id -> how many rollouts are kept for it (steps with none are absent)."""
        rows = self.conn.execute(
            "SELECT step_id, count(*) FROM rollouts WHERE step_id IN (SELECT value FROM json_each(?)) GROUP BY step_id",
            [json.dumps(list(step_ids))],
        )
        return dict(rows.fetchall())

    def set_pseudo_reference(self, task_type: str, task_id: int, job_id: int, answer: str, votes: int,
                             voters: int) -> None:
        """Record the majority answer of one job's paths for a task (replacing that job's earlier record)."""
        self.conn.execute(
            "INSERT INTO pseudo_references (task_type, task_id, job_id, answer, votes, voters, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_type, task_id, job_id) DO UPDATE SET "
            "answer = excluded.answer, votes = excluded.votes, voters = excluded.voters, created_at = excluded.created_at",
            [task_type, task_id, job_id, answer, votes, voters, now()],
        )

    def pseudo_references(self, task_type: str, task_id: int) -> list[dict]:
        """Every pseudo-reference recorded for a task, latest job first."""
        return self._rows(
            "SELECT * FROM pseudo_references WHERE task_type = ? AND task_id = ? ORDER BY job_id DESC",
            [task_type, task_id],
        )

    def claim_job(self, job_id: int, worker_pid: int) -> dict | None:
        """Atomically take one queued job (for running it in this process); None if someone else has it."""
        cursor = self.conn.execute(
            "UPDATE jobs SET status = 'running', worker_pid = ?, heartbeat_at = ?, started_at = coalesce(started_at, ?),"
            " finished_at = NULL WHERE id = ? AND status = 'queued'",
            [worker_pid, now(), now(), job_id],
        )
        return self.get_job(job_id) if cursor.rowcount == 1 else None

    # ---- labelling (issue 16)
    # Step labels by people are step overrules (the latest counts); gold paths carry known ratings, and a
    # labeller's ratings of a gold path are kept apart as answers (gold_answers), never as overrules.

    def add_step_labels(self, labeller: str, labels: dict[int, str], reason: str | None,
                        completion: tuple[int, str] | None = None) -> None:
        """One labeller's labels ('correct'/'neutral'/'incorrect') of several steps, as step overrules, and the
        corrected step they wrote (step id, text) as a human completion: all written or none."""
        with self.transaction():
            for step_id, label in labels.items():
                self.add_step_overrule(step_id, label, reason, labeller)
            if completion is not None:
                self.add_human_completion(completion[0], completion[1], labeller)

    def latest_step_labels(self, labeller: str | None = None, path_id: int | None = None) -> dict[int, dict[int, str]]:
        """path_id -> {step_id: label} with each step's latest label by `labeller` (by anyone when None), for one
        path or all."""
        where, params = ["1=1"], []
        if labeller is not None:
            where.append("o.reviewer = ?")
            params.append(labeller)
        if path_id is not None:
            where.append("s.path_id = ?")
            params.append(path_id)
        rows = self.conn.execute(
            "SELECT s.path_id, o.step_id, o.label FROM step_overrules o JOIN steps s ON s.id = o.step_id "
            f"WHERE {' AND '.join(where)} ORDER BY o.id", params,
        )
        labels: dict[int, dict[int, str]] = {}
        for found_path, step_id, label in rows:  # ordered by id: the latest wins
            labels.setdefault(found_path, {})[step_id] = label
        return labels

    def get_reasoning_path(self, path_id: int) -> dict | None:
        """One path (its row, params as a dict) with its steps (id, idx, text) in order; None if it does not exist."""
        path = self._one("SELECT * FROM reasoning_paths WHERE id = ?", [path_id])
        if path is not None:
            path["params"] = _loads(path["params"], {})
            path["steps"] = self.path_steps(path_id)
        return path

    def step_labellers(self) -> list[str]:
        """Everyone who labelled or overruled a step (imports name their file's labeller), A-Z."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT reviewer FROM step_overrules ORDER BY reviewer")]

    def mark_gold_path(self, path_id: int, ratings: dict[int, int], labeller: str | None, marked_by: str) -> None:
        """Make a path gold with these known ratings (step_id -> -1/0/+1), taken from `labeller`'s labels (None:
        each step's latest label by anyone); marking it again replaces its ratings."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO gold_paths (path_id, labeller, marked_by, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path_id) DO UPDATE SET labeller = excluded.labeller, marked_by = excluded.marked_by, "
                "created_at = excluded.created_at",
                [path_id, labeller, marked_by, now()],
            )
            self.conn.execute("DELETE FROM gold_steps WHERE path_id = ?", [path_id])
            self.conn.executemany("INSERT INTO gold_steps (step_id, path_id, rating) VALUES (?, ?, ?)",
                                  [(step_id, path_id, rating) for step_id, rating in ratings.items()])

    def unmark_gold_path(self, path_id: int) -> bool:
        """The path is no longer gold (answers given to it stay stored but count no more). False if it was not."""
        return self.conn.execute("DELETE FROM gold_paths WHERE path_id = ?", [path_id]).rowcount == 1

    def gold_paths(self) -> list[dict]:
        """Every gold path: path_id, labeller (whose labels; None = latest of anyone), marked_by, created_at,
        task_type, task_id, path_index, steps (count), answers (labellers who answered it)."""
        return self._rows(
            "SELECT g.path_id, g.labeller, g.marked_by, g.created_at, p.task_type, p.task_id, p.path_index,"
            " (SELECT count(*) FROM gold_steps gs WHERE gs.path_id = g.path_id) AS steps,"
            " (SELECT count(DISTINCT a.labeller) FROM gold_answers a WHERE a.path_id = g.path_id) AS answers"
            " FROM gold_paths g JOIN reasoning_paths p ON p.id = g.path_id ORDER BY g.path_id"
        )

    def is_gold_path(self, path_id: int) -> bool:
        return self._scalar("SELECT count(*) FROM gold_paths WHERE path_id = ?", [path_id]) == 1

    def add_gold_answers(self, path_id: int, labeller: str, ratings: dict[int, int],
                         completion: tuple[int, str] | None = None) -> None:
        """A labeller's ratings of a gold path's steps (step_id -> -1/0/+1), with the corrected step they wrote
        (step id, text) on its row; all written or none."""
        corrected_step, text = completion or (None, None)
        timestamp = now()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO gold_answers (path_id, step_id, labeller, rating, human_completion, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(path_id, step_id, labeller, rating, text if step_id == corrected_step else None, timestamp)
                 for step_id, rating in ratings.items()],
            )

    def gold_answer_ratings(self, labeller: str, path_id: int | None = None) -> dict[int, dict[int, int]]:
        """path_id -> {step_id: rating} with the labeller's latest answer to each gold step they answered."""
        where, params = "labeller = ?", [labeller]
        if path_id is not None:
            where, params = where + " AND path_id = ?", [labeller, path_id]
        answers: dict[int, dict[int, int]] = {}
        for found_path, step_id, rating in self.conn.execute(
                f"SELECT path_id, step_id, rating FROM gold_answers WHERE {where} ORDER BY id", params):
            answers.setdefault(found_path, {})[step_id] = rating
        return answers

    def gold_answer_checks(self) -> list[dict]:
        """Each labeller's latest answer to each step of a (still) gold path beside its gold rating:
        labeller, path_id, step_id, answer, gold."""
        return self._rows(
            "SELECT a.labeller, a.path_id, a.step_id, a.rating AS answer, g.rating AS gold FROM gold_answers a "
            "JOIN gold_steps g ON g.step_id = a.step_id "
            "WHERE a.id IN (SELECT max(id) FROM gold_answers GROUP BY labeller, step_id) ORDER BY a.labeller, a.step_id"
        )

    # ------------------------------------------------------------ metrics, embeddings and projections
    # Items are seeds and samples, named (item_type, item_id). Embeddings are keyed by the store's
    # text_hash of an item's task text (instruction, then input), so one text shared by a seed and a sample
    # has one vector. Items are read with that text as `instruction`.

    def _columns(self, sql: str, params: Iterable[Any] | dict = ()) -> dict[str, list]:
        """A query's result as one list per column (cheap for the 100k-row reads of the map pages)."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: list(values) for name, values in zip(names, columns, strict=True)}

    def get_embeddings(self, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
        """Cached vectors (raw float32 bytes) of the given text hashes; missing ones are absent."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})"
            found.update(self.conn.execute(sql, [model, *chunk]).fetchall())
        return found

    def put_embeddings(self, model: str, dim: int, rows: Iterable[tuple[str, bytes]]) -> None:
        """Cache vectors by (model, text hash); an already cached text keeps its vector."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO embeddings (model, text_hash, dim, vector) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(model, text_hash) DO NOTHING",
                [(model, hash_, dim, vector) for hash_, vector in rows],
            )

    def embedding_count(self, model: str) -> int:
        return self._scalar("SELECT count(*) FROM embeddings WHERE model = ?", [model])

    _TASK_TEXT = f"instruction || coalesce('{INPUT_SEPARATOR}' || input, '') AS instruction"  # = task_text()
    _SEED_ITEMS = f"SELECT 'seed' AS item_type, id AS item_id, {_TASK_TEXT}, reference_answer AS answer, text_hash FROM seeds"
    _SAMPLE_ITEMS = f"SELECT 'sample' AS item_type, id AS item_id, {_TASK_TEXT}, output AS answer, text_hash FROM samples"

    def analysis_items(self) -> list[dict]:
        """Every seed and sample the maps and metrics cover: item_type, item_id, instruction, answer (a seed's
        reference answer or a sample's output; may be None), text_hash (of the instruction)."""
        return self._rows(f"{self._SEED_ITEMS} UNION ALL {self._SAMPLE_ITEMS}")

    def item_count(self) -> int:
        return self._scalar("SELECT (SELECT count(*) FROM seeds) + (SELECT count(*) FROM samples)")

    def item_vectors(self, model: str) -> dict[str, list]:
        """Columns item_type, item_id, vector of every seed and sample with a cached embedding."""
        join = "JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash"
        return self._columns(
            f"SELECT 'seed' AS item_type, t.id AS item_id, e.vector FROM seeds t {join} UNION ALL "
            f"SELECT 'sample', t.id, e.vector FROM samples t {join}",
            {"model": model},
        )

    def gate_candidates(self) -> list[dict]:
        """Samples the similarity gate judges: not copies of seeds, not approved by a person."""
        return self._rows("SELECT id, source, status, filter_reason FROM samples WHERE source != 'seed' AND status != 'approved'")

    def approved_sample_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM samples WHERE status = 'approved'")]

    def evol_node_texts(self) -> list[dict]:
        """Evolution nodes with an instruction: id, parent, seed, depth (for entropy gains)."""
        return self._rows(
            "SELECT id, parent_id, seed_id, depth, instruction FROM evol_nodes WHERE instruction IS NOT NULL ORDER BY id"
        )

    def sample_nodes(self) -> dict[int, int]:
        """sample id -> evolution node id, for samples grown by evolution."""
        return dict(self.conn.execute("SELECT id, node_id FROM samples WHERE node_id IS NOT NULL").fetchall())

    def set_metrics_bulk(self, item_type: str, rows: Iterable[tuple[int, dict[str, float | None]]],
                         note: str | None = None) -> None:
        """set_metrics for many items in one transaction."""
        with self.transaction():
            for item_id, values in rows:
                self.set_metrics(item_type, item_id, values, note)

    def delete_metric(self, name: str, item_type: str) -> None:
        self.conn.execute("DELETE FROM metrics WHERE name = ? AND item_type = ?", [name, item_type])

    def metric_values(self, item_type: str, name: str) -> dict[int, float]:
        """item id -> value of one metric, for every item of the type that has a value."""
        sql = "SELECT item_id, value FROM metrics WHERE item_type = ? AND name = ? AND value IS NOT NULL"
        return dict(self.conn.execute(sql, [item_type, name]).fetchall())

    SIMILARITY_GATE_PREFIX = "similar to seed"

    def apply_similarity_gate(self, reasons: dict[int, str]) -> int:
        """Record the similarity gate. `reasons` (sample id -> reason, starting with SIMILARITY_GATE_PREFIX)
        become filter reasons; earlier gate reasons not in it are lifted. Other stages' filter reasons and
        approved samples are left alone. Returns how many samples the gate filters now."""
        prefix = self.SIMILARITY_GATE_PREFIX + "%"
        with self.transaction():
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS gated (id INTEGER PRIMARY KEY, reason TEXT)")
            self.conn.execute("DELETE FROM temp.gated")
            self.conn.executemany("INSERT INTO temp.gated VALUES (?, ?)", list(reasons.items()))
            self.conn.execute(
                "UPDATE samples SET filter_reason = NULL, updated_at = ? "
                "WHERE filter_reason LIKE ? AND id NOT IN (SELECT id FROM temp.gated)",
                [now(), prefix],
            )
            self.conn.execute(
                "UPDATE samples SET filter_reason = (SELECT reason FROM temp.gated g WHERE g.id = samples.id), "
                "updated_at = ? WHERE id IN (SELECT id FROM temp.gated) AND status != 'approved' "
                "AND (filter_reason IS NULL OR filter_reason LIKE ?)",
                [now(), prefix],
            )
            self.conn.execute("DELETE FROM temp.gated")
        return self._scalar("SELECT count(*) FROM samples WHERE filter_reason LIKE ?", [prefix])

    def get_projection(self, key: str) -> dict | None:
        row = self._one("SELECT * FROM projections WHERE key = ?", [key])
        if row:
            row["params"] = _loads(row["params"], {})
        return row

    def save_projection(self, key: str, params: dict, reducer: bytes) -> None:
        """Store a freshly fitted reducer under key, dropping any earlier fit and its points."""
        with self.transaction():
            self.conn.execute("DELETE FROM projections WHERE key = ?", [key])
            self.conn.execute(
                "INSERT INTO projections (key, params, reducer, created_at) VALUES (?, ?, ?, ?)",
                [key, _dumps(params), reducer, now()],
            )

    def add_projection_points(self, key: str, points: Iterable[tuple[str, int, float, float]]) -> None:
        """Place (item_type, item_id, x, y) points on a map; StoreError if a coordinate is not a finite number
        (nothing is written then)."""
        rows = [(key, item_type, item_id, x, y) for item_type, item_id, x, y in points]
        bad = [f"{row[1]} {row[2]}" for row in rows if not (math.isfinite(row[3]) and math.isfinite(row[4]))]
        if bad:
            raise StoreError(f"{len(bad)} map points have no finite position (first: {bad[0]}); none were stored")
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO projection_points (projection_key, item_type, item_id, x, y) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET x = excluded.x, y = excluded.y",
                rows,
            )

    def prune_projection_points(self, key: str) -> int:
        """Forget the points of seeds and samples deleted since they were placed."""
        cursor = self.conn.execute(
            "DELETE FROM projection_points WHERE projection_key = ? AND ("
            "(item_type = 'seed' AND item_id NOT IN (SELECT id FROM seeds)) OR "
            "(item_type = 'sample' AND item_id NOT IN (SELECT id FROM samples)))",
            [key],
        )
        return cursor.rowcount

    def projection_coordinates(self, key: str) -> dict[tuple[str, int], tuple[float, float]]:
        """(item_type, item_id) -> (x, y) of every point on one map."""
        rows = self.conn.execute("SELECT item_type, item_id, x, y FROM projection_points WHERE projection_key = ?", [key])
        return {(item_type, item_id): (x, y) for item_type, item_id, x, y in rows}

    def projection_point_count(self, key: str) -> int:
        return self._scalar("SELECT count(*) FROM projection_points WHERE projection_key = ?", [key])

    # what the Maps and Distributions pages draw, aggregated here

    _ORIGIN = (
        "CASE s.source WHEN 'evol' THEN 'evol depth ' || coalesce(n.depth, '?') "
        "WHEN 'seed' THEN 'seed copy' ELSE s.source END"
    )
    _REVIEW_STATUS = "CASE WHEN s.filter_reason IS NOT NULL THEN 'filtered' ELSE s.status END"
    _SPREAD_MODULUS = 1_000_003
    _SPREAD = f"((p.item_id * 2654435761) % {_SPREAD_MODULUS})"  # a fixed pseudo-random draw per item, for thinning

    def map_points(self, key: str, metric: str | None = None, limit: int | None = None,
                   text_chars: int = 160) -> dict[str, list]:
        """Columns of the points drawn for one projection: item, position, origin, operator, review status,
        the start of the text, its length, and `value` of one metric. With a limit every seed is drawn and
        an even spread of the samples fills the rest."""
        params = {"key": key, "metric": metric, "chars": text_chars}
        seeds = (
            "SELECT 'seed' AS item_type, p.item_id, p.x, p.y, 'seed' AS origin, 0 AS depth, NULL AS operator, "
            "'seed' AS review_status, substr(s.instruction, 1, :chars) AS text, length(s.instruction) AS length, "
            "m.value AS value FROM projection_points p JOIN seeds s ON s.id = p.item_id "
            "LEFT JOIN metrics m ON m.item_type = 'seed' AND m.item_id = p.item_id AND m.name = :metric "
            "WHERE p.projection_key = :key AND p.item_type = 'seed'"
        )
        samples = (
            f"SELECT 'sample' AS item_type, p.item_id, p.x, p.y, {self._ORIGIN} AS origin, n.depth, "
            "coalesce(n.operator, CASE WHEN s.source = 'magpie' THEN 'magpie' END) AS operator, "
            f"{self._REVIEW_STATUS} AS review_status, substr(s.instruction, 1, :chars) AS text, "
            "length(s.instruction) AS length, m.value AS value "
            "FROM projection_points p JOIN samples s ON s.id = p.item_id LEFT JOIN evol_nodes n ON n.id = s.node_id "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = p.item_id AND m.name = :metric "
            "WHERE p.projection_key = :key AND p.item_type = 'sample'"
        )
        if limit is not None:
            placed = self._rows(
                "SELECT item_type, count(*) AS n FROM projection_points WHERE projection_key = ? GROUP BY item_type", [key]
            )
            counts = {row["item_type"]: row["n"] for row in placed}
            room = max(0, int(limit) - counts.get("seed", 0))
            if room < counts.get("sample", 0):  # thin evenly: keep ids whose fixed pseudo-random draw is under a cut
                samples += f" AND {self._SPREAD} < :cut"
                params["cut"] = int(self._SPREAD_MODULUS * room / counts["sample"])
        return self._columns(f"{seeds} UNION ALL {samples}", params)

    def _grouped_metric_sql(self, group_by: str) -> str:
        """(grp, item_id, value) of metric :name over seeds and unfiltered samples, grouped by
        'source' (seed / evol / magpie / import) or 'depth' (0 = seed, n = evolution depth)."""
        seed_group, sample_group = {
            "source": ("'seed'", "CASE s.source WHEN 'seed' THEN 'seed copy' ELSE s.source END"),
            "depth": ("0", "n.depth"),
            "origin": ("'seed'", self._ORIGIN),
        }[group_by]
        return (
            f"SELECT * FROM (SELECT {seed_group} AS grp, m.item_id, m.value FROM metrics m "
            "WHERE m.item_type = 'seed' AND m.name = :name AND m.value IS NOT NULL UNION ALL "
            f"SELECT {sample_group}, m.item_id, m.value FROM metrics m JOIN samples s ON s.id = m.item_id "
            "LEFT JOIN evol_nodes n ON n.id = s.node_id WHERE m.item_type = 'sample' AND m.name = :name "
            "AND m.value IS NOT NULL AND s.filter_reason IS NULL) t WHERE grp IS NOT NULL"
        )

    def metric_histogram(self, name: str, group_by: str = "source", bins: int = 40) -> dict[str, list]:
        """Histogram of one metric per group, counted in SQL: columns grp, lo, hi, count."""
        inner = self._grouped_metric_sql(group_by)
        bounds = self._one(f"SELECT min(value) AS lo, max(value) AS hi FROM ({inner})", {"name": name})
        if bounds is None or bounds["lo"] is None:
            return {"grp": [], "lo": [], "hi": [], "count": []}
        lo, hi = bounds["lo"], bounds["hi"]
        width = (hi - lo) / bins if hi > lo else 1.0
        return self._columns(
            f"SELECT grp, :lo + b * :w AS lo, :lo + (b + 1) * :w AS hi, count(*) AS count FROM ("
            f"SELECT grp, min(CAST((value - :lo) / :w AS INTEGER), :last) AS b FROM ({inner})) "
            "GROUP BY grp, b ORDER BY grp, b",
            {"name": name, "lo": lo, "w": width, "last": bins - 1},
        )

    def metric_by_group(self, name: str, group_by: str = "source", limit: int = 20000) -> dict[str, list]:
        """Columns grp, value of one metric: all values, or an even spread of `limit` of them."""
        inner = self._grouped_metric_sql(group_by)
        spread = self._SPREAD.replace("p.", "t.")
        return self._columns(f"SELECT grp, value FROM ({inner}) t ORDER BY {spread} LIMIT {int(limit)}", {"name": name})

    def entropy_frontier(self, pass_threshold: float = 0.5) -> list[dict]:
        """Per evolution depth: mean entropy gain over the parent (surviving nodes) and the verifier pass rate
        (share of seeds at depth 0 / evolved samples at depth n whose best_path_score >= pass_threshold)."""
        gains = self._rows(
            "SELECT n.depth, avg(m.value) AS mean_entropy_gain, count(*) AS nodes FROM evol_nodes n "
            "JOIN metrics m ON m.item_type = 'node' AND m.item_id = n.id AND m.name = 'entropy_gain_parent' "
            "WHERE n.status = 'survived' GROUP BY n.depth"
        )
        passes = self._rows(
            "SELECT depth, avg(value >= :t) AS pass_rate, count(*) AS verified FROM ("
            "SELECT 0 AS depth, m.value FROM metrics m WHERE m.item_type = 'seed' AND m.name = 'best_path_score' "
            "AND m.value IS NOT NULL UNION ALL SELECT n.depth, m.value FROM metrics m "
            "JOIN samples s ON s.id = m.item_id JOIN evol_nodes n ON n.id = s.node_id "
            "WHERE m.item_type = 'sample' AND m.name = 'best_path_score' AND m.value IS NOT NULL) GROUP BY depth",
            {"t": pass_threshold},
        )
        by_depth: dict[int, dict] = {}
        for row in [*gains, *passes]:
            by_depth.setdefault(row["depth"], {"depth": row["depth"], "mean_entropy_gain": None, "nodes": 0,
                                               "pass_rate": None, "verified": 0}).update(row)
        return [by_depth[d] for d in sorted(by_depth)]

    def near_duplicate_summary(self, limit: int = 50) -> list[dict]:
        """The largest near-duplicate groups (from the embed job): group number, size, members, one text."""
        return self._rows(
            "SELECT CAST(m.value AS INTEGER) AS grp, count(*) AS size, "
            "group_concat(m.item_type || ' ' || m.item_id, ', ') AS members, "
            "max(coalesce((SELECT instruction FROM samples WHERE m.item_type = 'sample' AND id = m.item_id), "
            "(SELECT instruction FROM seeds WHERE m.item_type = 'seed' AND id = m.item_id))) AS example "
            "FROM metrics m WHERE m.name = 'near_duplicate_group' GROUP BY m.value ORDER BY size DESC, grp LIMIT ?",
            [limit],
        )

    def seed_uncertainty_ranking(self, limit: int | None = None) -> list[dict]:
        """Seeds with an uncertainty score, most uncertain first, with its components."""
        sql = (
            "SELECT s.id, s.instruction, s.domain, u.value AS uncertainty, te.value AS token_entropy, "
            "te.note AS token_entropy_source, sd.value AS semantic_disagreement FROM metrics u "
            "JOIN seeds s ON s.id = u.item_id "
            "LEFT JOIN metrics te ON te.item_type = 'seed' AND te.item_id = s.id AND te.name = 'uncertainty_token_entropy' "
            "LEFT JOIN metrics sd ON sd.item_type = 'seed' AND sd.item_id = s.id AND sd.name = 'semantic_disagreement' "
            "WHERE u.item_type = 'seed' AND u.name = 'uncertainty' AND u.value IS NOT NULL "
            "ORDER BY u.value DESC, s.id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql)

    def top_uncertain_seed_ids(self, n: int) -> list[int]:
        """The n seeds the teacher is least sure about (the 'seed points' evolution should target)."""
        return [row["id"] for row in self.seed_uncertainty_ranking(n)]

    def metric_coverage(self, name: str, include_filtered: bool = False) -> list[dict]:
        """Which items carry one metric, and why the others do not: rows of kind ('seed', or a sample source with
        'seed copy' for samples copied from seeds; filtered samples only with include_filtered), state ('value';
        'empty' = recorded without a value, `note` says why; 'missing' = never recorded), note, n."""
        state = "CASE WHEN m.item_id IS NULL THEN 'missing' WHEN m.value IS NULL THEN 'empty' ELSE 'value' END"
        return self._rows(
            f"SELECT 'seed' AS kind, {state} AS state, CASE WHEN m.value IS NULL THEN m.note END AS note, "
            "count(*) AS n FROM seeds s LEFT JOIN metrics m ON m.item_type = 'seed' AND m.item_id = s.id "
            "AND m.name = :name GROUP BY 1, 2, 3 UNION ALL "
            f"SELECT CASE s.source WHEN 'seed' THEN 'seed copy' ELSE s.source END, {state}, "
            "CASE WHEN m.value IS NULL THEN m.note END, count(*) FROM samples s "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = :name "
            "WHERE s.filter_reason IS NULL OR :filtered GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            {"name": name, "filtered": include_filtered},
        )

    # ------------------------------------------------------------ the map selection (issue 14)
    # One selection per store: the samples last selected on the Maps page, which Review can filter on.

    def set_map_selection(self, key: str, sample_ids: Iterable[int]) -> int:
        """Replace the stored map selection (made on the map with this projection key) with these samples;
        ids of samples that no longer exist are dropped. Returns how many are stored."""
        with self.transaction():
            self.conn.execute("DELETE FROM map_selection")
            self.conn.execute(
                "INSERT INTO map_selection (sample_id, projection_key, selected_at) "
                "SELECT DISTINCT s.id, ?, ? FROM samples s WHERE s.id IN (SELECT value FROM json_each(?))",
                [key, now(), json.dumps(list(sample_ids))],
            )
        return self._scalar("SELECT count(*) FROM map_selection")

    def map_selection_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT sample_id FROM map_selection ORDER BY sample_id")]

    def clear_map_selection(self) -> None:
        self.conn.execute("DELETE FROM map_selection")

    def sample_review_states(self, ids: Iterable[int]) -> list[dict]:
        """id, status and filter_reason of the given samples (those that exist), by id."""
        return self._rows(
            "SELECT id, status, filter_reason FROM samples WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(list(ids))],
        )

    # ------------------------------------------------------------ review, PII and export
    # Id lists travel as one JSON parameter (`IN (SELECT value FROM json_each(?))`): any length, one statement.

    REVIEW_STATUSES = ("pending", "approved", "rejected")
    EDITABLE_SAMPLE_FIELDS = ("instruction", "input", "output", "turns")

    def _insert_reviews(self, rows: list[tuple]) -> None:
        """rows: (sample_id, action, reviewer, before, after, note, created_at)."""
        self.conn.executemany(
            "INSERT INTO reviews (sample_id, action, reviewer, before, after, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def set_sample_status(self, ids: Iterable[int], status: str, reviewer: str, note: str | None = None) -> int:
        """Set the review status of samples; each changed one gets a `reviews` row (who, when, before, after).

        Returns how many changed: a sample already in that status is left alone, with no review row."""
        if status not in self.REVIEW_STATUSES:
            raise StoreError(f"unknown status {status!r}; use one of {', '.join(self.REVIEW_STATUSES)}")
        timestamp = now()
        with self.transaction():
            found = self.conn.execute(
                "SELECT id, status FROM samples WHERE id IN (SELECT value FROM json_each(?)) AND status != ?",
                [json.dumps(list(ids)), status],
            ).fetchall()
            self.conn.executemany(
                "UPDATE samples SET status = ?, updated_at = ? WHERE id = ?", [(status, timestamp, i) for i, _ in found]
            )
            self._insert_reviews(
                [(i, "status", reviewer, _dumps({"status": old}), _dumps({"status": status}), note, timestamp) for i, old in found]
            )
        return len(found)

    def _change_sample_tags(
        self, ids: Iterable[int], change: Callable[[list[str]], list[str]], action: str, reviewer: str,
        note: str | None = None,
    ) -> int:
        timestamp = now()
        with self.transaction():
            found = self.conn.execute(
                "SELECT id, tags FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
            ).fetchall()
            updates = [(i, _loads(tags, []), change(_loads(tags, []))) for i, tags in found]
            updates = [(i, old, new) for i, old, new in updates if new != old]
            self.conn.executemany(
                "UPDATE samples SET tags = ?, updated_at = ? WHERE id = ?", [(_dumps(new), timestamp, i) for i, _, new in updates]
            )
            self._insert_reviews(
                [(i, action, reviewer, _dumps({"tags": old}), _dumps({"tags": new}), note, timestamp) for i, old, new in updates]
            )
        return len(updates)

    def add_sample_tags(self, ids: Iterable[int], tags: Iterable[str], reviewer: str, note: str | None = None) -> int:
        """Add tags to samples (kept unique, in order); one `reviews` row per sample."""
        extra = [t.strip() for t in tags if t.strip()]
        return self._change_sample_tags(ids, lambda old: list(dict.fromkeys([*old, *extra])), "tag", reviewer, note)

    def remove_sample_tags(self, ids: Iterable[int], tags: Iterable[str], reviewer: str, note: str | None = None) -> int:
        gone = {t.strip() for t in tags}
        return self._change_sample_tags(ids, lambda old: [t for t in old if t not in gone], "untag", reviewer, note)

    def edit_sample(self, sample_id: int, changes: dict, reviewer: str, note: str | None = None,
                    history: tuple[dict, dict] | None = None) -> bool:
        """Edit a sample's instruction, input, output and turns, keeping the first original instruction and
        output and a history row (`history` = (before, after) to record, e.g. per turn; default: the changed columns).

        The PII scan is cleared, since it no longer describes the text. Returns False when nothing changed.
        """
        current = self.get_sample(sample_id)
        if current is None:
            raise StoreError(f"no sample {sample_id}")
        diff = {k: v for k, v in changes.items() if k in self.EDITABLE_SAMPLE_FIELDS and v != current.get(k)}
        if not diff:
            return False
        if "instruction" in diff and not str(diff["instruction"] or "").strip():
            raise StoreError(f"sample {sample_id}: the instruction cannot be empty")
        assignments = [f"original_{k} = coalesce(original_{k}, {k}), {k} = :{k}" if k in ("instruction", "output")
                       else f"{k} = :{k}" for k in diff]
        if "instruction" in diff or "input" in diff:
            assignments.append("text_hash = :text_hash")
        merged = {**current, **diff}
        values = {**diff, "turns": _dumps(diff.get("turns")),
                  "text_hash": text_hash(task_text(merged.get("instruction") or "", merged.get("input")))}
        before, after = history or ({k: current.get(k) for k in diff}, diff)
        timestamp = now()
        with self.transaction():
            self.conn.execute(
                f"UPDATE samples SET {', '.join(assignments)}, pii = NULL, updated_at = :now WHERE id = :id",
                {**values, "now": timestamp, "id": sample_id},
            )
            self._insert_reviews([(sample_id, "edit", reviewer, _dumps(before), _dumps(after), note, timestamp)])
        return True

    def sample_reviews(self, sample_id: int) -> list[dict]:
        """The review history of one sample, newest first."""
        rows = self._rows("SELECT * FROM reviews WHERE sample_id = ? ORDER BY created_at DESC, id DESC", [sample_id])
        for row in rows:
            row["before"], row["after"] = _loads(row["before"]), _loads(row["after"])
        return rows

    def _sample_filter_sql(
        self,
        status: str | None = None,
        sources: Iterable[str] | None = None,
        operators: Iterable[str] | None = None,
        depth_min: int | None = None,
        depth_max: int | None = None,
        score_min: float | None = None,
        score_max: float | None = None,
        novelty_min: float | None = None,
        pii: str | None = None,
        tags: Iterable[str] | None = None,
        ids: Iterable[int] | None = None,
        search: str = "",
    ) -> tuple[str, list]:
        """FROM ... WHERE for the review queue; the columns operator, depth, best_path_score and novelty are joined in."""
        clauses, params = ["s.filter_reason IS NULL"], []
        if status:
            clauses.append("s.status = ?")
            params.append(status)
        for column, values in (("s.source", sources), ("n.operator", operators)):
            if values:
                clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(json.dumps(list(values)))
        for expression, operator, value in (
            ("n.depth", ">=", depth_min), ("n.depth", "<=", depth_max), ("score.value", ">=", score_min),
            ("score.value", "<=", score_max), ("novelty.value", ">=", novelty_min),
        ):
            if value is not None:
                clauses.append(f"{expression} {operator} ?")
                params.append(value)
        if pii == "flagged":
            clauses.append("json_array_length(s.pii, '$.findings') > 0")
        elif pii == "clean":
            clauses.append("json_array_length(s.pii, '$.findings') = 0")
        elif pii == "unscanned":
            clauses.append("s.pii IS NULL")
        if tags:
            clauses.append("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value IN (SELECT value FROM json_each(?)))")
            params.append(json.dumps(list(tags)))
        if ids is not None:
            clauses.append("s.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(ids)))
        if search:
            clauses.append("(s.instruction LIKE ? OR coalesce(s.output, '') LIKE ?)")
            params += [f"%{search}%"] * 2
        sql = (
            " FROM samples s LEFT JOIN evol_nodes n ON n.id = s.node_id"
            " LEFT JOIN metrics score ON score.item_type = 'sample' AND score.item_id = s.id AND score.name = 'best_path_score'"
            " LEFT JOIN metrics novelty ON novelty.item_type = 'sample' AND novelty.item_id = s.id"
            " AND novelty.name = 'novelty_seeds'"
            f" WHERE {' AND '.join(clauses)}"
        )
        return sql, params

    def query_samples(self, limit: int | None = None, offset: int = 0, **filters: Any) -> list[dict]:
        """Samples for the review queue (filters as in `_sample_filter_sql`), oldest first."""
        where, params = self._sample_filter_sql(**filters)
        sql = f"SELECT s.*, n.operator, n.depth, score.value AS best_path_score, novelty.value AS novelty{where} ORDER BY s.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self._sample_from_row(r) for r in self._rows(sql, params)]

    def count_samples(self, **filters: Any) -> int:
        where, params = self._sample_filter_sql(**filters)
        return self._scalar(f"SELECT count(*){where}", params)

    def query_sample_ids(self, **filters: Any) -> list[int]:
        where, params = self._sample_filter_sql(**filters)
        return [r[0] for r in self.conn.execute(f"SELECT s.id{where} ORDER BY s.id", params)]

    def sample_operators(self) -> list[str]:
        sql = "SELECT DISTINCT n.operator FROM samples s JOIN evol_nodes n ON n.id = s.node_id ORDER BY 1"
        return [r[0] for r in self.conn.execute(sql)]

    def sample_tags(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT value FROM samples, json_each(samples.tags) ORDER BY 1")]

    def sample_sources(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT source FROM samples ORDER BY 1")]

    def best_paths(self, sample_ids: Iterable[int]) -> dict[int, dict]:
        """Each sample's best reasoning path {id, task_id, steps}: every step with its latest verifier score
        (score, label, verifier) and its latest human overrule.

        Best = highest `path_score` metric of the path, else highest mean step score, else the first path.
        """
        ranked = self.conn.execute(
            "SELECT p.id, p.task_id, p.path_index,"
            " (SELECT value FROM metrics m WHERE m.item_type = 'path' AND m.item_id = p.id AND m.name = 'path_score'),"
            " CASE WHEN EXISTS (SELECT 1 FROM reasoning_paths q WHERE q.task_type = 'sample' AND q.task_id = p.task_id"
            " AND q.id <> p.id) THEN (SELECT avg(ss.score) FROM steps st JOIN step_scores ss ON ss.step_id = st.id"
            " WHERE st.path_id = p.id) END"
            " FROM reasoning_paths p WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(sample_ids))],
        )
        best: dict[int, tuple] = {}
        for path_id, task_id, index, path_score, mean_score in ranked:
            score = path_score if path_score is not None else mean_score
            rank = (score is not None, score or 0.0, -index, -path_id)
            if task_id not in best or rank > best[task_id][0]:
                best[task_id] = (rank, path_id)
        paths = {path_id: {"id": path_id, "task_id": task_id, "steps": []} for task_id, (_, path_id) in best.items()}
        path_json = json.dumps(list(paths))
        by_step: dict[int, dict] = {}
        for step_id, path_id, idx, text, score, label, verifier in self.conn.execute(
            "SELECT st.id, st.path_id, st.idx, st.text, ss.score, ss.label, ss.verifier FROM steps st"
            " LEFT JOIN step_scores ss ON ss.step_id = st.id"
            " WHERE st.path_id IN (SELECT value FROM json_each(?)) ORDER BY st.path_id, st.idx, ss.created_at, ss.verifier",
            [path_json],
        ):
            if step_id in by_step:  # a later score of the same step (another verifier): the latest wins
                by_step[step_id].update(score=score, label=label, verifier=verifier)
                continue
            step = {"id": step_id, "path_id": path_id, "idx": idx, "text": text, "score": score, "label": label,
                    "verifier": verifier, "overrule": None}
            by_step[step_id] = step
            paths[path_id]["steps"].append(step)
        for row in self._rows(
            "SELECT step_id, label, reason, reviewer, created_at FROM step_overrules"
            " WHERE step_id IN (SELECT id FROM steps WHERE path_id IN (SELECT value FROM json_each(?)))"
            " ORDER BY created_at, id",
            [path_json],
        ):
            by_step[row["step_id"]]["overrule"] = row
        return {path["task_id"]: path for path in paths.values()}

    def sample_paths_steps(self, sample_ids: Iterable[int]) -> dict[int, list[dict]]:
        """Every step (id, text) of every reasoning path of each sample: what a PII scan must read."""
        rows = self._rows(
            "SELECT p.task_id, st.id, st.text FROM reasoning_paths p JOIN steps st ON st.path_id = p.id"
            " WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?)) ORDER BY p.id, st.idx",
            [json.dumps(list(sample_ids))],
        )
        found: dict[int, list[dict]] = {}
        for row in rows:
            found.setdefault(row["task_id"], []).append({"id": row["id"], "text": row["text"]})
        return found

    def evol_chains(self, node_ids: Iterable[int]) -> dict[int, list[dict]]:
        """For each evolution node, its chain from the seed: [{node_id, depth, operator}] in depth order."""
        rows = self._rows(
            "WITH RECURSIVE chain(leaf, id, parent_id, depth, operator) AS ("
            " SELECT id, id, parent_id, depth, operator FROM evol_nodes WHERE id IN (SELECT value FROM json_each(?))"
            " UNION ALL SELECT chain.leaf, n.id, n.parent_id, n.depth, n.operator FROM evol_nodes n"
            " JOIN chain ON n.id = chain.parent_id)"
            " SELECT leaf, id, depth, operator FROM chain ORDER BY leaf, depth",
            [json.dumps(list(node_ids))],
        )
        chains: dict[int, list[dict]] = {}
        for row in rows:
            chains.setdefault(row["leaf"], []).append({"node_id": row["id"], "depth": row["depth"], "operator": row["operator"]})
        return chains

    def metrics_many(self, item_type: str, ids: Iterable[int]) -> dict[int, dict[str, float | None]]:
        found: dict[int, dict[str, float | None]] = {}
        for item_id, name, value in self.conn.execute(
            "SELECT item_id, name, value FROM metrics WHERE item_type = ? AND item_id IN (SELECT value FROM json_each(?))",
            [item_type, json.dumps(list(ids))],
        ):
            found.setdefault(item_id, {})[name] = value
        return found

    def latest_decisions(self, sample_ids: Iterable[int]) -> dict[int, dict]:
        """The latest status review of each sample: {status, reviewer, created_at}."""
        rows = self._rows(
            "SELECT sample_id, reviewer, after, max(created_at) AS created_at FROM reviews"
            " WHERE action = 'status' AND sample_id IN (SELECT value FROM json_each(?)) GROUP BY sample_id",
            [json.dumps(list(sample_ids))],
        )
        return {
            r["sample_id"]: {"status": _loads(r["after"], {}).get("status"), "reviewer": r["reviewer"], "created_at": r["created_at"]}
            for r in rows
        }

    def max_sample_id(self) -> int:
        return self._scalar("SELECT coalesce(max(id), 0) FROM samples")

    def import_samples(self, rows: list[dict]) -> list[int | None]:
        """Insert imported samples in the caller's transaction (or one of its own); None for a sample whose
        unit_key is already stored.

        Each row is a sample dict plus `steps` (stored as its reasoning path), `labels` (an overrule label or
        None per step, stored as step overrules by `labeller` at `labelled_at` with `label_reason`), `metrics`
        and `human_completions` (step index -> a labeller's corrected step, stored by `labeller`).
        """
        timestamp = now()
        ids: list[int | None] = []
        with self.transaction():
            for sample in rows:
                row = self._sample_row({**sample, "status": "pending"}, timestamp)
                found = self.conn.execute(
                    f"INSERT INTO samples ({', '.join(row)}) VALUES ({', '.join(f':{k}' for k in row)})"
                    " ON CONFLICT(unit_key) DO NOTHING RETURNING id",
                    row,
                ).fetchone()
                ids.append(found[0] if found else None)
                if found is None:
                    continue
                if sample["steps"]:
                    self._import_path(found[0], sample, timestamp)
                if sample.get("metrics"):
                    self.set_metrics("sample", found[0], sample["metrics"], note=sample["label_reason"])
        return ids

    def _import_path(self, sample_id: int, sample: dict, timestamp: float) -> None:
        path_id = self.conn.execute(
            "INSERT INTO reasoning_paths (task_type, task_id, path_index, text, created_at) VALUES ('sample', ?, 0, ?, ?)",
            [sample_id, "\n".join(sample["steps"]), timestamp],
        ).lastrowid
        self.conn.executemany(
            "INSERT INTO steps (path_id, idx, text) VALUES (?, ?, ?)", [(path_id, i, t) for i, t in enumerate(sample["steps"])]
        )
        step_ids = [r[0] for r in self.conn.execute("SELECT id FROM steps WHERE path_id = ? ORDER BY idx", [path_id])]
        labelled_at = sample.get("labelled_at") or timestamp
        self.conn.executemany(
            "INSERT INTO human_completions (path_id, step_id, text, labeller, created_at) VALUES (?, ?, ?, ?, ?)",
            [(path_id, step_ids[index], text, sample["labeller"], labelled_at)
             for index, text in sorted((sample.get("human_completions") or {}).items())],
        )
        if any(label is not None for label in sample["labels"]):
            self.conn.executemany(
                "INSERT INTO step_overrules (step_id, label, reason, reviewer, created_at) VALUES (?, ?, ?, ?, ?)",
                [(step_id, label, sample["label_reason"], sample["labeller"], labelled_at)
                 for step_id, label in zip(step_ids, sample["labels"], strict=True) if label is not None],
            )

    # PII scan results live in samples.pii: {"engine", "scanned_at", "findings": [{field, entity, start, end, score}]}

    def set_sample_pii(self, results: dict[int, dict]) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE samples SET pii = ? WHERE id = ?", [(_dumps(r), i) for i, r in results.items()])

    def pii_counts(self, status: str | None = None) -> dict[str, int]:
        """How many unfiltered samples (of a status, or all) are flagged, clean and not yet scanned."""
        row = self.conn.execute(
            "SELECT sum(pii IS NULL), sum(json_array_length(pii, '$.findings') = 0),"
            " sum(json_array_length(pii, '$.findings') > 0) FROM samples WHERE filter_reason IS NULL"
            " AND (? IS NULL OR status = ?)",
            [status, status],
        ).fetchone()
        return {"unscanned": row[0] or 0, "clean": row[1] or 0, "flagged": row[2] or 0}

    def pii_scan_candidates(self, only_unscanned: bool, first_id: int | None = None, last_id: int | None = None,
                            status: str | None = None) -> list[int]:
        """Ids of the unfiltered samples (of a status, or all) a scan takes, in id order."""
        sql = (
            "SELECT id FROM samples WHERE filter_reason IS NULL AND (? = 0 OR pii IS NULL)"
            " AND id >= coalesce(?, id) AND id <= coalesce(?, id) AND (? IS NULL OR status = ?) ORDER BY id"
        )
        return [r[0] for r in self.conn.execute(sql, [int(only_unscanned), first_id, last_id, status, status])]

    def clear_sample_pii(self) -> int:
        """Forget every PII scan (the rules changed): every sample is then unscanned. Returns how many were scanned."""
        return self.conn.execute("UPDATE samples SET pii = NULL WHERE pii IS NOT NULL").rowcount

    def export_sample_ids(self, status: str | None, exclude_flagged: bool) -> list[int]:
        """Ids of the unfiltered samples an export takes, in id order."""
        sql = (
            "SELECT id FROM samples WHERE filter_reason IS NULL AND (? IS NULL OR status = ?)"
            " AND (? = 0 OR coalesce(json_array_length(pii, '$.findings'), 0) = 0) ORDER BY id"
        )
        return [r[0] for r in self.conn.execute(sql, [status, status, int(exclude_flagged)])]

    SAMPLE_JSON_COLUMNS = {"tags": [], "metadata": {}, "params": {}, "turns": None, "pii": None}

    def sample_columns(self, ids: Iterable[int], columns: list[str]) -> list[dict]:
        """Only the named columns of samples (JSON ones decoded): the light read a streaming export needs."""
        known = {r[1] for r in self.conn.execute("PRAGMA table_info(samples)")}
        if not set(columns) <= known:
            raise StoreError(f"unknown sample columns: {', '.join(sorted(set(columns) - known))}")
        cursor = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
        )
        decoded = [(i, self.SAMPLE_JSON_COLUMNS[c]) for i, c in enumerate(columns) if c in self.SAMPLE_JSON_COLUMNS]
        rows = []
        for values in cursor:
            values = list(values)
            for index, default in decoded:
                values[index] = _loads(values[index], default)
            rows.append(dict(zip(columns, values, strict=True)))
        return rows

    def samples_by_ids(self, ids: Iterable[int]) -> list[dict]:
        rows = self._rows("SELECT * FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))])
        return [self._sample_from_row(r) for r in rows]

    def sample_metric_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT name FROM metrics WHERE item_type = 'sample' ORDER BY 1")]

    def record_export(self, fmt: str, path: str, options: dict, sample_ids: Iterable[int]) -> int:
        """One exports row and its export_items (the synthetic samples written), in one transaction."""
        id_list = list(sample_ids)
        with self.transaction():
            export_id = self.conn.execute(
                "INSERT INTO exports (format, path, n_samples, options, created_at) VALUES (?, ?, ?, ?, ?)",
                [fmt, path, len(id_list), _dumps(options), now()],
            ).lastrowid
            self.conn.executemany(
                "INSERT OR IGNORE INTO export_items (export_id, sample_id) VALUES (?, ?)", [(export_id, i) for i in id_list]
            )
        return export_id

    def list_exports(self, limit: int = 50) -> list[dict]:
        rows = self._rows(f"SELECT * FROM exports ORDER BY id DESC LIMIT {int(limit)}")
        for row in rows:
            row["options"] = _loads(row["options"], {})
        return rows

    def export_item_ids(self, export_id: int) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT sample_id FROM export_items WHERE export_id = ? ORDER BY 1", [export_id])]

    def dataset_facts(self, status: str | None) -> dict:
        """What a dataset card reports about the unfiltered samples of a status: counts, teachers, verifiers, metrics."""
        scope = "s.filter_reason IS NULL AND (:status IS NULL OR s.status = :status)"
        args = {"status": status}

        def counted(sql: str) -> dict:
            return dict(self.conn.execute(sql, args).fetchall())

        teachers = self._rows(
            f"SELECT s.model, s.params, count(*) AS n FROM samples s WHERE {scope} AND s.model IS NOT NULL"
            " GROUP BY s.model, s.params ORDER BY n DESC LIMIT 20",
            args,
        )
        for row in teachers:
            row["params"] = _loads(row["params"], {})
        verifiers = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT ss.verifier FROM step_scores ss JOIN steps st ON st.id = ss.step_id"
                " JOIN reasoning_paths p ON p.id = st.path_id AND p.task_type = 'sample'"
                f" JOIN samples s ON s.id = p.task_id WHERE {scope} ORDER BY 1",
                args,
            )
        ]
        metrics = self._rows(
            "SELECT m.name, count(m.value) AS n, avg(m.value) AS mean, min(m.value) AS min, max(m.value) AS max"
            f" FROM metrics m JOIN samples s ON s.id = m.item_id AND m.item_type = 'sample' WHERE {scope}"
            " GROUP BY m.name ORDER BY m.name",
            args,
        )
        return {
            "by_source": counted(f"SELECT s.source, count(*) FROM samples s WHERE {scope} GROUP BY 1"),
            "by_status": counted(f"SELECT s.status, count(*) FROM samples s WHERE {scope} GROUP BY 1"),
            "operators": counted(
                f"SELECT n.operator, count(*) FROM samples s JOIN evol_nodes n ON n.id = s.node_id WHERE {scope}"
                " GROUP BY 1 ORDER BY 2 DESC"
            ),
            "teachers": teachers,
            "verifiers": verifiers,
            "metrics": metrics,
            "human_reviewed": self._scalar(
                f"SELECT count(DISTINCT r.sample_id) FROM reviews r JOIN samples s ON s.id = r.sample_id WHERE {scope}", args
            ),
        }


    # ------------------------------------------------------------ overview (the factory at a glance)

    # One row per candidate: each evolution attempt that came back (with its sample when it survived) and each
    # sample not made by evolution (Magpie, imports, seed copies). Every funnel stage filters these same rows.
    _FUNNEL_ROWS = (
        "WITH candidate AS ("
        " SELECT s.id AS sample_id FROM evol_nodes n LEFT JOIN samples s ON s.node_id = n.id WHERE n.status != 'failed'"
        " UNION ALL SELECT id FROM samples WHERE node_id IS NULL),"
        " staged AS (SELECT s.id IS NOT NULL AND s.filter_reason IS NULL AS kept, m.value AS score,"
        " s.status = 'approved' AS approved, s.id IN (SELECT sample_id FROM export_items) AS exported"
        " FROM candidate c LEFT JOIN samples s ON s.id = c.sample_id"
        " LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = 'best_path_score')"
    )

    def funnel_counts(self, gate_threshold: float) -> dict[str, int]:
        """Counts of the factory's funnel, each stage a subset of the one before (so it only narrows):
        candidates, kept (no filter reason), verified (a best path score), gated (best path score >=
        gate_threshold), approved (gated and approved), exported (approved and in an export); plus seeds and
        the approved and exported samples in all (some may have skipped the gate)."""
        return self._one(
            self._FUNNEL_ROWS + " SELECT count(*) AS candidates, coalesce(sum(kept), 0) AS kept,"
            " coalesce(sum(kept AND score IS NOT NULL), 0) AS verified,"
            " coalesce(sum(kept AND score >= :t - 1e-9), 0) AS gated,"
            " coalesce(sum(kept AND score >= :t - 1e-9 AND approved), 0) AS approved,"
            " coalesce(sum(kept AND score >= :t - 1e-9 AND approved AND exported), 0) AS exported,"
            " (SELECT count(*) FROM seeds) AS seeds,"
            " (SELECT count(*) FROM samples WHERE status = 'approved') AS approved_total,"
            " (SELECT count(DISTINCT e.sample_id) FROM export_items e JOIN samples s ON s.id = e.sample_id) AS exported_total"
            " FROM staged",
            {"t": gate_threshold},
        )

    def gate_failing_samples(self, gate_threshold: float) -> list[int]:
        """Ids of the kept samples whose best path score is under the gate threshold (the Overview's "failed the
        gate"; why each failed is the gate's own verdict, `reasoning.evaluate_task`)."""
        rows = self._rows(
            "SELECT s.id FROM samples s JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id"
            " AND m.name = 'best_path_score' WHERE s.filter_reason IS NULL AND m.value < :t - 1e-9 ORDER BY s.id",
            {"t": gate_threshold},
        )
        return [row["id"] for row in rows]

    def gated_review_counts(self, gate_threshold: float) -> dict[str, int]:
        """Review status (pending, approved, rejected) of the kept samples that passed the gate."""
        rows = self._rows(
            "SELECT s.status, count(*) AS n FROM samples s JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id"
            " AND m.name = 'best_path_score' WHERE s.filter_reason IS NULL AND m.value >= :t - 1e-9 GROUP BY s.status",
            {"t": gate_threshold},
        )
        return {row["status"]: row["n"] for row in rows}

    def seed_gate_counts(self, gate_threshold: float) -> dict[str, int]:
        """Seeds the teacher solved with verified paths: how many were verified and how many passed the gate."""
        return self._one(
            "SELECT count(*) AS verified, coalesce(sum(value >= :t - 1e-9), 0) AS passed FROM metrics"
            " WHERE item_type = 'seed' AND name = 'best_path_score' AND value IS NOT NULL",
            {"t": gate_threshold},
        )

    def sample_models(self) -> dict[str, int]:
        """How many samples each teacher model wrote (samples without a model are left out)."""
        rows = self._rows("SELECT model, count(*) AS n FROM samples WHERE model IS NOT NULL GROUP BY model ORDER BY n DESC")
        return {row["model"]: row["n"] for row in rows}

    def verifier_pass_rates(self) -> list[dict]:
        """Per verifier: steps scored, share judged correct (score >= 0.5) and share unverifiable."""
        return self._rows(
            "SELECT verifier, count(*) AS steps, avg(label != 'unverifiable' AND score >= 0.5) AS pass_rate,"
            " avg(label = 'unverifiable') AS unverifiable_rate FROM step_scores GROUP BY verifier ORDER BY verifier"
        )

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

    # ---- calibration (issue 16)

    def human_step_labels(self, sample_ids: Iterable[int] | None = None) -> list[dict]:
        """Each labeller's latest label of each step people labelled (step_id, path_id, idx, task_type,
        task_id, labeller, label), oldest step first. `sample_ids` keeps only those samples' paths."""
        scope, params = "", []
        if sample_ids is not None:
            scope, params = " AND p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?))", [
                json.dumps(list(sample_ids))]
        return self._rows(
            "SELECT step_id, path_id, idx, task_type, task_id, labeller, label FROM ("
            " SELECT o.step_id, s.path_id, s.idx, p.task_type, p.task_id, o.reviewer AS labeller, o.label,"
            " row_number() OVER (PARTITION BY o.step_id, o.reviewer ORDER BY o.created_at DESC, o.id DESC) AS newest"
            " FROM step_overrules o JOIN steps s ON s.id = o.step_id JOIN reasoning_paths p ON p.id = s.path_id"
            f" WHERE 1 = 1{scope}) WHERE newest = 1 ORDER BY path_id, idx, labeller",
            params,
        )

    def labelled_path_verdicts(self) -> list[dict]:
        """Every step of every path with a human label, with each verifier's verdict (step_id, path_id, idx,
        verifier, score, label; verifier NULL for a step no verifier scored), in path and step order."""
        return self._rows(
            "SELECT s.id AS step_id, s.path_id, s.idx, sc.verifier, sc.score, sc.label FROM steps s"
            " LEFT JOIN step_scores sc ON sc.step_id = s.id"
            " WHERE s.path_id IN (SELECT st.path_id FROM step_overrules o JOIN steps st ON st.id = o.step_id)"
            " ORDER BY s.path_id, s.idx, sc.verifier"
        )

    def verified_task_scores(self) -> list[float]:
        """The best path score of every verified task: seeds, and samples not filtered out (what the gate judges)."""
        return [r[0] for r in self.conn.execute(
            "SELECT m.value FROM metrics m LEFT JOIN samples s ON m.item_type = 'sample' AND s.id = m.item_id"
            " WHERE m.name = 'best_path_score' AND m.value IS NOT NULL"
            " AND (m.item_type = 'seed' OR (m.item_type = 'sample' AND s.id IS NOT NULL AND s.filter_reason IS NULL))"
        )]

    def reference_answers(self, sample_ids: Iterable[int]) -> dict[int, str]:
        """sample id -> its seed's reference answer, for samples asking the seed's own question (input included,
        as `reasoning.load_task` decides); samples without one are absent."""
        rows = self.conn.execute(
            "SELECT s.id, d.reference_answer FROM samples s JOIN seeds d ON d.id = s.seed_id AND d.text_hash = s.text_hash"
            " WHERE s.id IN (SELECT value FROM json_each(?)) AND coalesce(trim(d.reference_answer), '') != ''",
            [json.dumps(list(sample_ids))],
        )
        return dict(rows.fetchall())
    # ---- decontamination (issue 16)
    # Benchmarks are test sets registered by name; `contamination` holds, per seed or sample and benchmark, its
    # strongest match (the scan replaces a benchmark's rows as a whole). Hits are joined to live seeds/samples only.

    def add_benchmark(self, name: str, file: str, field: str, texts: list[str], content_hash: str) -> int:
        """Register a benchmark and its items in one transaction. Raises StoreError (nothing stored) when the
        name or the same content (content_hash) is registered already."""
        with self.transaction():
            same = self._one("SELECT name, file FROM benchmarks WHERE name = ? OR content_hash = ?", [name, content_hash])
            if same is not None:
                why = (f"a benchmark named '{name}' is registered already" if same["name"] == name
                       else f"the same items are registered already as '{same['name']}' (from {same['file']})")
                raise StoreError(f"{why}; nothing was added")
            benchmark_id = self.conn.execute(
                "INSERT INTO benchmarks (name, file, field, n_items, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [name, file, field, len(texts), content_hash, now()],
            ).lastrowid
            self.conn.executemany(
                "INSERT INTO benchmark_items (benchmark_id, idx, text, text_hash) VALUES (?, ?, ?, ?)",
                [(benchmark_id, index, text, text_hash(text)) for index, text in enumerate(texts)],
            )
        return benchmark_id

    def list_benchmarks(self) -> list[dict]:
        """Every benchmark: id, name, file, field, n_items, created_at, and `flagged` (seeds and samples matching it)."""
        return self._rows(
            "SELECT b.id, b.name, b.file, b.field, b.n_items, b.created_at, count(c.item_id) AS flagged FROM benchmarks b"
            f" LEFT JOIN ({self._LIVE_HITS}) c ON c.benchmark_id = b.id GROUP BY b.id ORDER BY b.name"
        )

    def delete_benchmark(self, name: str) -> bool:
        """Forget a benchmark, its items and its hits. False when no benchmark has that name."""
        return self.conn.execute("DELETE FROM benchmarks WHERE name = ?", [name]).rowcount > 0

    def benchmark_items(self, benchmark_id: int) -> dict[str, list]:
        """Columns id, idx, text, text_hash of one benchmark's items, in file order."""
        return self._columns("SELECT id, idx, text, text_hash FROM benchmark_items WHERE benchmark_id = ? ORDER BY idx",
                             [benchmark_id])

    def decontam_corpus(self) -> dict[str, list]:
        """Columns of every seed and sample a scan checks: item_type, item_id, instruction, input, output (a seed's
        reference answer), extra (a seed's reference solution), turns (JSON or None), text_hash (its embedding key)."""
        return self._columns(
            "SELECT 'seed' AS item_type, id AS item_id, instruction, input, reference_answer AS output,"
            " reference_solution AS extra, NULL AS turns, text_hash FROM seeds UNION ALL"
            " SELECT 'sample', id, instruction, input, output, NULL, turns, text_hash FROM samples"
        )

    _UNEMBEDDED = (
        f"SELECT 'seed' AS kind, t.id, {_TASK_TEXT.replace(' AS instruction', ' AS text')} FROM seeds t {{missing}}"
        f" UNION ALL SELECT 'sample', t.id, {_TASK_TEXT.replace(' AS instruction', '')} FROM samples t {{missing}}"
        " UNION ALL SELECT 'benchmark_item', t.id, t.text FROM benchmark_items t {missing}"
    ).format(missing="LEFT JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash WHERE e.text_hash IS NULL")

    def decontam_unembedded(self, model: str) -> list[dict]:
        """Seeds, samples (their task text) and benchmark items with no cached vector of `model`: kind, id, text."""
        return self._rows(f"{self._UNEMBEDDED} ORDER BY 1, 2", {"model": model})

    def decontam_unembedded_count(self, model: str) -> int:
        """How many texts decontam_unembedded would return (distinct texts are embedded once)."""
        return self._scalar(f"SELECT count(*) FROM ({self._UNEMBEDDED})", {"model": model})

    def samples_changed_since(self, timestamp: float, ids: Iterable[int] | None = None) -> int:
        """How many samples (of `ids`, or all) were created, or had their text edited, after `timestamp`."""
        return self._scalar(
            "SELECT count(*) FROM samples s WHERE (:ids IS NULL OR s.id IN (SELECT value FROM json_each(:ids)))"
            " AND (s.created_at > :at OR EXISTS (SELECT 1 FROM reviews r WHERE r.sample_id = s.id AND r.action = 'edit'"
            " AND r.created_at > :at))",
            {"at": timestamp, "ids": None if ids is None else json.dumps(list(ids))},
        )

    def replace_contamination(self, benchmark_id: int, hits: Iterable[tuple[str, int, int, float, float | None]]) -> int:
        """A benchmark's hits from a new scan, replacing its old ones: (item_type, item_id, benchmark_item_id,
        ngram_overlap, similarity). Returns how many were stored."""
        timestamp = now()
        rows = [(kind, item, benchmark_id, match, overlap, similarity, timestamp)
                for kind, item, match, overlap, similarity in hits]
        with self.transaction():
            self.conn.execute("DELETE FROM contamination WHERE benchmark_id = ?", [benchmark_id])
            self.conn.executemany(
                "INSERT INTO contamination (item_type, item_id, benchmark_id, benchmark_item_id, ngram_overlap, similarity,"
                " scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    _LIVE_HITS = (
        "SELECT c.* FROM contamination c WHERE (c.item_type = 'seed' AND c.item_id IN (SELECT id FROM seeds))"
        " OR (c.item_type = 'sample' AND c.item_id IN (SELECT id FROM samples))"
    )

    def contamination_hits(self, item_type: str | None = None, item_ids: Iterable[int] | None = None) -> list[dict]:
        """Hits of live seeds/samples (of one type and ids, or all): item_type, item_id, benchmark, benchmark_id,
        benchmark_item_id, item_index (0-based, in its file), match (the benchmark item's text), ngram_overlap,
        similarity (None when not computed), scanned_at; by type, id, then benchmark name."""
        ids = None if item_ids is None else json.dumps(list(item_ids))
        return self._rows(
            "SELECT c.item_type, c.item_id, b.name AS benchmark, c.benchmark_id, c.benchmark_item_id,"
            " i.idx AS item_index, i.text AS match, c.ngram_overlap, c.similarity, c.scanned_at"
            f" FROM ({self._LIVE_HITS}) c JOIN benchmarks b ON b.id = c.benchmark_id"
            " JOIN benchmark_items i ON i.id = c.benchmark_item_id"
            " WHERE (:type IS NULL OR c.item_type = :type) AND (:ids IS NULL OR c.item_id IN (SELECT value FROM json_each(:ids)))"
            " ORDER BY c.item_type DESC, c.item_id, b.name",
            {"type": item_type, "ids": ids},
        )

    def contaminated_sample_ids(self) -> set[int]:
        """Ids of the samples matching any benchmark item (the ones an export leaves out by default)."""
        return {r[0] for r in self.conn.execute("SELECT DISTINCT item_id FROM contamination WHERE item_type = 'sample'")}


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating if needed) the store at path, $WORKBENCH_DB, or the default location."""
    from workbench.env import default_db_path

    return Store(path or default_db_path())
