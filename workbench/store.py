"""The store: one SQLite connection with every stage's queries.

workbench/core/store.py holds the connection, the schema and the SQL every stage shares;
<stage>/queries.py each stage's own SQL.
"""

from __future__ import annotations

from pathlib import Path

from workbench.analysis.queries import AnalysisQueries
from workbench.core.store import (
    INPUT_SEPARATOR,
    MIGRATIONS,
    SCHEMA_VERSION,
    TASK_TEXT,
    StoreCore,
    StoreError,
    from_json,
    now,
    task_text,
    text_hash,
    to_json,
)
from workbench.evolve.queries import EvolutionQueries
from workbench.factory.queries import OverviewQueries
from workbench.magpie.queries import MagpieQueries
from workbench.review.queries import ReviewQueries
from workbench.seeds.queries import SeedsQueries
from workbench.student.queries import StudentQueries
from workbench.verify.queries import VerificationQueries

__all__ = [
    "INPUT_SEPARATOR",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "StoreCore",
    "StoreError",
    "TASK_TEXT",
    "from_json",
    "now",
    "open_store",
    "task_text",
    "text_hash",
    "to_json",
]


class Store(
    SeedsQueries,
    EvolutionQueries,
    MagpieQueries,
    VerificationQueries,
    AnalysisQueries,
    ReviewQueries,
    OverviewQueries,
    StudentQueries,
    StoreCore,
):
    """One connection to the workbench database. Cheap to open; open one per thread."""


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating if needed) the store at path, $WORKBENCH_DB, or the default location."""
    from workbench.core.env import default_db_path

    return Store(path or default_db_path())
