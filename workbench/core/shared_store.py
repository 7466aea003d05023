"""The store's shared tables: one connection (workbench.core.store.StoreCore) and the owners of the tables every
stage uses. This is all of a store that workbench/core may use; workbench/store.py adds each stage's owners."""

from __future__ import annotations

from pathlib import Path

from workbench.core.queries.embeddings import EmbeddingsQueries
from workbench.core.queries.jobs import JobsQueries
from workbench.core.queries.metrics import MetricsQueries
from workbench.core.queries.response_cache import ResponseCacheQueries
from workbench.core.queries.samples import SamplesQueries
from workbench.core.queries.settings import SettingsQueries
from workbench.core.store import StoreCore


class SharedStore(StoreCore):
    """One connection with the owners of the shared tables, reached by name: `settings`, `jobs`, `response_cache`, `samples`, `metrics`, `embeddings`."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.settings = SettingsQueries(self)
        self.jobs = JobsQueries(self)
        self.response_cache = ResponseCacheQueries(self)
        self.samples = SamplesQueries(self)
        self.metrics = MetricsQueries(self)
        self.embeddings = EmbeddingsQueries(self)
