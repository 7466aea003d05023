"""The metrics table: every per-item number (item_type seed, sample, node or path; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries


class MetricsQueries(Queries):
    """store.metrics. Owner of metrics: only it writes it."""

    TABLES = ("metrics",)

    def set_metrics(self, item_type: str, item_id: int, values: dict[str, float | None], note: str | None = None) -> None:
        self.conn.executemany(
            "INSERT INTO metrics (item_type, item_id, name, value, note) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(item_type, item_id, name) DO UPDATE SET value = excluded.value, note = excluded.note",
            [(item_type, item_id, name, value, note) for name, value in values.items()],
        )

    def set_metrics_bulk(self, item_type: str, rows: Iterable[tuple[int, dict[str, float | None]]],
                         note: str | None = None) -> None:
        """set_metrics for many items in one transaction."""
        with self.transaction():
            for item_id, values in rows:
                self.set_metrics(item_type, item_id, values, note)

    def get_metrics(self, item_type: str, item_id: int) -> dict[str, float | None]:
        rows = self.conn.execute(
            "SELECT name, value FROM metrics WHERE item_type = ? AND item_id = ?", [item_type, item_id]
        )
        return dict(rows.fetchall())

    def metrics_many(self, item_type: str, ids: Iterable[int]) -> dict[int, dict[str, float | None]]:
        found: dict[int, dict[str, float | None]] = {}
        for item_id, name, value in self.conn.execute(
            "SELECT item_id, name, value FROM metrics WHERE item_type = ? AND item_id IN (SELECT value FROM json_each(?))",
            [item_type, json.dumps(list(ids))],
        ):
            found.setdefault(item_id, {})[name] = value
        return found

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

    def metric_values(self, item_type: str, name: str) -> dict[int, float]:
        """item id -> value of one metric, for every item of the type that has a value."""
        sql = "SELECT item_id, value FROM metrics WHERE item_type = ? AND name = ? AND value IS NOT NULL"
        return dict(self.conn.execute(sql, [item_type, name]).fetchall())

    def delete_metric(self, name: str, item_type: str) -> None:
        self.conn.execute("DELETE FROM metrics WHERE name = ? AND item_type = ?", [name, item_type])

    def sample_metric_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT name FROM metrics WHERE item_type = 'sample' ORDER BY 1")]
