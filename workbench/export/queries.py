"""The export stage's tables: exports and the samples each wrote, and imported preference pairs (a sample's
rejected replies), with what a dataset card reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries, from_json, now, to_json


class ExportQueries(Queries):
    """store.export. Owner of exports, export_items, preference_pairs: only it writes them."""

    TABLES = ("exports", "export_items", "preference_pairs")

    def record_export(self, fmt: str, path: str, options: dict, sample_ids: Iterable[int]) -> int:
        """One exports row and its export_items (the synthetic samples written), in one transaction."""
        id_list = list(sample_ids)
        with self.transaction():
            export_id = self.conn.execute(
                "INSERT INTO exports (format, path, n_samples, options, created_at) VALUES (?, ?, ?, ?, ?)",
                [fmt, path, len(id_list), to_json(options), now()],
            ).lastrowid
            self.conn.executemany(
                "INSERT OR IGNORE INTO export_items (export_id, sample_id) VALUES (?, ?)", [(export_id, i) for i in id_list]
            )
        return export_id

    def list_exports(self, limit: int = 50) -> list[dict]:
        rows = self._rows(f"SELECT * FROM exports ORDER BY id DESC LIMIT {int(limit)}")
        for row in rows:
            row["options"] = from_json(row["options"], {})
        return rows

    def export_item_ids(self, export_id: int) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT sample_id FROM export_items WHERE export_id = ? ORDER BY 1", [export_id])]

    def add_pair(self, sample_id: int, pair: dict, timestamp: float) -> bool:
        """Store one preference pair of a sample; False when the same pair is stored already."""
        return self.conn.execute(
            "INSERT INTO preference_pairs (sample_id, kind, chosen, rejected, lineage, metadata, pair_key, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(pair_key) DO NOTHING",
            [sample_id, pair["kind"], int(pair["chosen"]), to_json(pair["rejected"]), to_json(pair.get("lineage")),
             to_json(pair.get("metadata") or {}), pair["pair_key"], timestamp],
        ).rowcount == 1

    def preference_pairs(self, sample_ids: Iterable[int]) -> dict[int, list[dict]]:
        """sample id -> its stored preference pairs (id, kind, chosen, rejected turns, lineage, metadata), in order."""
        found = self._rows_by(
            "sample_id", "SELECT id, sample_id, kind, chosen, rejected, lineage, metadata FROM preference_pairs"
            " WHERE sample_id IN (SELECT value FROM json_each(?)) ORDER BY sample_id, id", sample_ids)
        for rows in found.values():
            for row in rows:
                row.update(chosen=bool(row["chosen"]), rejected=from_json(row["rejected"]),
                           lineage=from_json(row["lineage"]), metadata=from_json(row["metadata"], {}))
        return found

    def preference_pair_count(self, status: str | None = None) -> int:
        """How many stored (imported) preference pairs belong to unfiltered samples of a status (or any)."""
        return self._scalar(
            "SELECT count(*) FROM preference_pairs p JOIN samples s ON s.id = p.sample_id"
            " WHERE s.filter_reason IS NULL AND (? IS NULL OR s.status = ?)", [status, status])

    def dataset_facts(self, sample_ids: Iterable[int]) -> dict:
        """What a dataset card reports about the samples it describes (unfiltered ones; filtered ids are ignored):
        counts by source and status (`by_source`, `by_status`), last evolution operators, `teachers` (model and
        params of the samples' own text, with how many it wrote), `models` (every model that wrote text of theirs,
        from the samples and their jobs: {model, samples: samples it wrote (not a seed asked as a sample: its
        question is the seed's), path_samples: samples whose reasoning paths it wrote}), the verifiers of their steps, metric distributions and `decisions`
        (`status_deciders`)."""
        ids = list(sample_ids)
        scope = "s.filter_reason IS NULL AND s.id IN (SELECT value FROM json_each(:ids))"
        args = {"ids": json.dumps(ids)}

        def counted(sql: str) -> dict:
            return dict(self.conn.execute(sql, args).fetchall())

        teachers = self._rows(
            f"SELECT s.model, s.params, count(*) AS n FROM samples s WHERE {scope} AND s.model IS NOT NULL"
            " GROUP BY s.model, s.params ORDER BY n DESC LIMIT 20",
            args,
        )
        for row in teachers:
            row["params"] = from_json(row["params"], {})
        models = self._rows(
            "SELECT model, count(DISTINCT CASE WHEN kind = 'sample' THEN id END) AS samples,"
            " count(DISTINCT CASE WHEN kind = 'path' THEN id END) AS path_samples FROM ("
            f" SELECT coalesce(s.model, j.model) AS model, 'sample' AS kind, s.id AS id FROM samples s"
            f" LEFT JOIN jobs j ON j.id = s.job_id WHERE {scope} AND s.source != 'seed' UNION ALL"
            " SELECT coalesce(p.model, j.model), 'path', s.id FROM reasoning_paths p"
            " JOIN samples s ON p.task_type = 'sample' AND s.id = p.task_id"
            f" LEFT JOIN jobs j ON j.id = p.job_id WHERE {scope})"
            " WHERE model IS NOT NULL GROUP BY model ORDER BY samples + path_samples DESC, model",
            args,
        )
        verifiers = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT ss.verifier FROM step_scores ss JOIN steps st ON st.id = ss.step_id"
                " JOIN reasoning_paths p ON p.id = st.path_id AND p.task_type = 'sample'"
                f" JOIN samples s ON s.id = p.task_id WHERE {scope} ORDER BY 1",
                args,
            )
        ]
        metrics = self._rows(
            "SELECT m.name, count(m.value) AS n, avg(m.value) AS mean, min(m.value) AS min, max(m.value) AS max"
            f" FROM metrics m JOIN samples s ON s.id = m.item_id AND m.item_type = 'sample' WHERE {scope}"
            " GROUP BY m.name ORDER BY m.name",
            args,
        )
        return {
            "by_source": counted(f"SELECT s.source, count(*) FROM samples s WHERE {scope} GROUP BY 1"),
            "by_status": counted(f"SELECT s.status, count(*) FROM samples s WHERE {scope} GROUP BY 1"),
            "operators": counted(
                f"SELECT n.operator, count(*) FROM samples s JOIN evol_nodes n ON n.id = s.node_id WHERE {scope}"
                " GROUP BY 1 ORDER BY 2 DESC"
            ),
            "teachers": teachers,
            "models": models,
            "verifiers": verifiers,
            "metrics": metrics,
            "decisions": self.store.review.status_deciders(ids),
        }
