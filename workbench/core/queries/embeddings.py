"""The embedding cache: one float32 vector per (model, text hash)."""

from __future__ import annotations

from collections.abc import Iterable

from workbench.core.store import Queries


class EmbeddingsQueries(Queries):
    """store.embeddings. Owner of embeddings: only it writes it."""

    TABLES = ("embeddings",)

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

    def item_vectors(self, model: str) -> dict[str, list]:
        """Columns item_type, item_id, vector of every seed and sample with a cached embedding."""
        join = "JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash"
        return self._columns(
            f"SELECT 'seed' AS item_type, t.id AS item_id, e.vector FROM seeds t {join} UNION ALL "
            f"SELECT 'sample', t.id, e.vector FROM samples t {join}",
            {"model": model},
        )
