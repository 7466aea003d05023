"""The magpie stage's SQL: a mixin of workbench.store.Store over its one connection."""

from __future__ import annotations


class MagpieQueries:
    """Queries of the magpie stage (mixed into workbench.store.Store)."""

    # ---- magpie

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
