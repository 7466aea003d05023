"""The response cache's table (workbench/core/response_cache.py): answers of reproducible model calls by key.
"""

from __future__ import annotations

from workbench.core.store import Queries, now


class ResponseCacheQueries(Queries):
    """store.response_cache. Owner of response_cache: only it writes it."""

    TABLES = ("response_cache",)

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
                self.store.jobs.add_cache_counts(job_id, calls, hits)

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
