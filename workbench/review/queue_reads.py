"""The review queue's reads: samples with their operator, depth, best path score and novelty joined in,
filtered as the Review page asks (reads only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from workbench.core.store import Queries, Where


class QueueReads(Queries):
    """store.queue. Reads only."""

    TABLES = ()

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
        """FROM ... WHERE for the review queue; the columns operator, depth, best_path_score and novelty are joined in.
        `status` is a review status, NEEDS_HUMAN (pending, or decided automatically) or None (any)."""
        where = Where("s.filter_reason IS NULL")
        if status == self.store.review.NEEDS_HUMAN:
            where.add(f"(s.status = 'pending' OR {self.store.review.LATEST_AUTOMATIC} = 1)")
        else:
            where.equals("s.status", status or None)
        where.among("s.source", sources or None)
        where.among("n.operator", operators or None)
        for expression, operator, value in (
            ("n.depth", ">=", depth_min), ("n.depth", "<=", depth_max), ("score.value", ">=", score_min),
            ("score.value", "<=", score_max), ("novelty.value", ">=", novelty_min),
        ):
            if value is not None:
                where.add(f"{expression} {operator} ?", value)
        pii_condition = {"flagged": "json_array_length(s.pii, '$.findings') > 0",
                         "clean": "json_array_length(s.pii, '$.findings') = 0", "unscanned": "s.pii IS NULL"}.get(pii or "")
        if pii_condition:
            where.add(pii_condition)
        if tags:
            where.add("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value IN (SELECT value FROM json_each(?)))",
                      json.dumps(list(tags)))
        where.among("s.id", ids)
        if search:
            where.add("(s.instruction LIKE ? OR coalesce(s.output, '') LIKE ?)", *[f"%{search}%"] * 2)
        sql = (
            " FROM samples s LEFT JOIN evol_nodes n ON n.id = s.node_id"
            " LEFT JOIN metrics score ON score.item_type = 'sample' AND score.item_id = s.id AND score.name = 'best_path_score'"
            " LEFT JOIN metrics novelty ON novelty.item_type = 'sample' AND novelty.item_id = s.id"
            " AND novelty.name = 'novelty_seeds'"
            f" WHERE {where}"
        )
        return sql, where.params

    def query_samples(self, limit: int | None = None, offset: int = 0, **filters: Any) -> list[dict]:
        """Samples for the review queue (filters as in `_sample_filter_sql`), oldest first."""
        where, params = self._sample_filter_sql(**filters)
        sql = f"SELECT s.*, n.operator, n.depth, score.value AS best_path_score, novelty.value AS novelty{where} ORDER BY s.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self.store.samples.sample_from_row(r) for r in self._rows(sql, params)]

    def count_samples(self, **filters: Any) -> int:
        where, params = self._sample_filter_sql(**filters)
        return self._scalar(f"SELECT count(*){where}", params)

    def count_samples_by_status(self, **filters: Any) -> dict[str, int]:
        """How many samples match the filters, per review status (statuses with none left out)."""
        where, params = self._sample_filter_sql(**filters)
        return dict(self.conn.execute(f"SELECT s.status, count(*){where} GROUP BY s.status", params).fetchall())

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
