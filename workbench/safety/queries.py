"""Benchmark decontamination's tables (issue 16): benchmarks are test sets registered by name; `contamination`
holds, per seed or sample and benchmark, its strongest match (the scan replaces a benchmark's rows as a
whole). Hits are joined to live seeds and samples only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import TASK_TEXT, Queries, StoreError, now, text_hash


class SafetyQueries(Queries):
    """store.safety. Owner of benchmarks, benchmark_items, contamination: only it writes them."""

    TABLES = ("benchmarks", "benchmark_items", "contamination")

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
        f"SELECT 'seed' AS kind, t.id, {TASK_TEXT.replace(' AS instruction', ' AS text')} FROM seeds t {{missing}}"
        f" UNION ALL SELECT 'sample', t.id, {TASK_TEXT.replace(' AS instruction', '')} FROM samples t {{missing}}"
        " UNION ALL SELECT 'benchmark_item', t.id, t.text FROM benchmark_items t {missing}"
    ).format(missing="LEFT JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash WHERE e.text_hash IS NULL")

    def decontam_unembedded(self, model: str) -> list[dict]:
        """Seeds, samples (their task text) and benchmark items with no cached vector of `model`: kind, id, text."""
        return self._rows(f"{self._UNEMBEDDED} ORDER BY 1, 2", {"model": model})

    def decontam_unembedded_count(self, model: str) -> int:
        """How many texts decontam_unembedded would return (distinct texts are embedded once)."""
        return self._scalar(f"SELECT count(*) FROM ({self._UNEMBEDDED})", {"model": model})

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
