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
from contextlib import AbstractContextManager, contextmanager
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


class Where:
    """The WHERE clause of a filtered read, built one optional filter at a time: `where.equals("kind", kind)` adds
    `kind = ?` only when a value is given. `str(where)` is the conditions joined by AND ("1=1" when there are none),
    `where.params` their parameters in order. Lists go in as one JSON parameter, so no length meets SQLite's limit
    on host parameters."""

    def __init__(self, *conditions: str) -> None:
        self.conditions = list(conditions)
        self.params: list[Any] = []

    def add(self, condition: str, *params: Any) -> None:
        """A condition with its `?` parameters, always added."""
        self.conditions.append(condition)
        self.params.extend(params)

    def equals(self, column: str, value: Any) -> None:
        """`column = value`; no filter when the value is None."""
        if value is not None:
            self.add(f"{column} = ?", value)

    def among(self, column: str, values: Iterable[Any] | None) -> None:
        """`column IN (values)`; no filter when values is None, and an empty list matches nothing."""
        if values is not None:
            self.add(f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values)))

    def __str__(self) -> str:
        return " AND ".join(self.conditions) or "1=1"


class Queries:
    """The base of every owner of tables (workbench/core/queries/, each stage's queries.py and read modules): its SQL
    over the store's one connection. An owner is reached by name on the store (`store.samples`, `store.verify`,
    ...); `TABLES` are the tables only it writes (tests/test_architecture.py checks it), empty for a read module."""

    TABLES: tuple[str, ...] = ()

    def __init__(self, store: StoreCore) -> None:
        self.store = store
        self.conn = store.conn

    def transaction(self) -> AbstractContextManager[None]:
        return self.store.transaction()

    def _rows(self, sql: str, params: Iterable[Any] | dict = ()) -> list[dict]:
        return self.store._rows(sql, params)

    def _one(self, sql: str, params: Iterable[Any] | dict = ()) -> dict | None:
        return self.store._one(sql, params)

    def _scalar(self, sql: str, params: Iterable[Any] | dict = ()) -> Any:
        return self.store._scalar(sql, params)

    def _columns(self, sql: str, params: Iterable[Any] | dict = ()) -> dict[str, list]:
        """A query's result as one list per column (cheap for the 100k-row reads of the map pages)."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: list(values) for name, values in zip(names, columns, strict=True)}

    def _rows_by(self, key: str, sql: str, ids: Iterable[int]) -> dict[int, list[dict]]:
        """The rows of a query over a JSON list of ids, grouped by their `key` column (taken out of each row)."""
        found: dict[int, list[dict]] = {}
        for row in self._rows(sql, [json.dumps(list(ids))]):
            found.setdefault(row.pop(key), []).append(row)
        return found
