"""The store: one SQLite connection and, reached by name, the owner of every table.

workbench/core/store.py holds the connection and the schema's migrations; workbench/core/shared_store.py the owners of
the shared tables (samples, jobs, metrics, embeddings, settings, the response cache); each stage's queries.py the
owner of its own tables, and the read modules (overview, review queue, maps) the joined reads its pages need. Only a
table's owner writes it.
"""

from __future__ import annotations

from pathlib import Path

from workbench.analyse.map_reads import MapReads
from workbench.analyse.queries import AnalyseQueries
from workbench.core.shared_store import SharedStore
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
from workbench.evolve.queries import EvolveQueries
from workbench.export.queries import ExportQueries
from workbench.factory.overview_reads import OverviewReads
from workbench.factory.queries import FactoryQueries
from workbench.review.queries import ReviewQueries
from workbench.review.queue_reads import QueueReads
from workbench.safety.queries import SafetyQueries
from workbench.seeds.queries import SeedsQueries
from workbench.student.queries import StudentQueries
from workbench.verify.labelling_queries import LabellingQueries
from workbench.verify.queries import VerifyQueries

__all__ = [
    "INPUT_SEPARATOR",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SharedStore",
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


class Store(SharedStore):
    """One connection to the workbench database with every owner: the shared ones and `seeds`, `evolve`, `verify`, `labelling`, `analyse`, `maps`, `review`, `queue`, `export`, `safety`, `student`, `factory`, `overview`. Cheap to open; open one
    per thread."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.seeds = SeedsQueries(self)
        self.evolve = EvolveQueries(self)
        self.verify = VerifyQueries(self)
        self.labelling = LabellingQueries(self)
        self.analyse = AnalyseQueries(self)
        self.maps = MapReads(self)
        self.review = ReviewQueries(self)
        self.queue = QueueReads(self)
        self.export = ExportQueries(self)
        self.safety = SafetyQueries(self)
        self.student = StudentQueries(self)
        self.factory = FactoryQueries(self)
        self.overview = OverviewReads(self)


def open_store(path: str | Path | None = None) -> Store:
    """Open (creating and migrating if needed) the store at path, $WORKBENCH_DB, or the default location."""
    from workbench.core.env import default_db_path

    return Store(path or default_db_path())
