"""The analyse stage's tables: fitted maps (projections and their points) and the samples selected on the map.
Items are seeds and samples, named (item_type, item_id); embeddings are keyed by the store's text_hash of
an item's task text (instruction, then input), so one text shared by a seed and a sample has one vector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from workbench.core.store import TASK_TEXT, Queries, StoreError, from_json, now, to_json


class AnalyseQueries(Queries):
    """store.analyse. Owner of projections, projection_points, map_selection: only it writes them."""

    TABLES = ("projections", "projection_points", "map_selection")

    _SEED_ITEMS = f"SELECT 'seed' AS item_type, id AS item_id, {TASK_TEXT}, reference_answer AS answer, text_hash FROM seeds"

    _SAMPLE_ITEMS = f"SELECT 'sample' AS item_type, id AS item_id, {TASK_TEXT}, output AS answer, text_hash FROM samples"

    def analysis_items(self) -> list[dict]:
        """Every seed and sample the maps and metrics cover: item_type, item_id, instruction, answer (a seed's
        reference answer or a sample's output; may be None), text_hash (of the instruction)."""
        return self._rows(f"{self._SEED_ITEMS} UNION ALL {self._SAMPLE_ITEMS}")

    def item_count(self) -> int:
        return self._scalar("SELECT (SELECT count(*) FROM seeds) + (SELECT count(*) FROM samples)")

    def get_projection(self, key: str) -> dict | None:
        row = self._one("SELECT * FROM projections WHERE key = ?", [key])
        if row:
            row["params"] = from_json(row["params"], {})
        return row

    def save_projection(self, key: str, params: dict, reducer: bytes) -> None:
        """Store a freshly fitted reducer under key, dropping any earlier fit and its points."""
        with self.transaction():
            self.conn.execute("DELETE FROM projections WHERE key = ?", [key])
            self.conn.execute(
                "INSERT INTO projections (key, params, reducer, created_at) VALUES (?, ?, ?, ?)",
                [key, to_json(params), reducer, now()],
            )

    def add_projection_points(self, key: str, points: Iterable[tuple[str, int, float, float]]) -> None:
        """Place (item_type, item_id, x, y) points on a map; StoreError if a coordinate is not a finite number
        (nothing is written then)."""
        rows = [(key, item_type, item_id, x, y) for item_type, item_id, x, y in points]
        bad = [f"{row[1]} {row[2]}" for row in rows if not (math.isfinite(row[3]) and math.isfinite(row[4]))]
        if bad:
            raise StoreError(f"{len(bad)} map points have no finite position (first: {bad[0]}); none were stored")
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO projection_points (projection_key, item_type, item_id, x, y) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET x = excluded.x, y = excluded.y",
                rows,
            )

    def prune_projection_points(self, key: str) -> int:
        """Forget the points of seeds and samples deleted since they were placed."""
        cursor = self.conn.execute(
            "DELETE FROM projection_points WHERE projection_key = ? AND ("
            "(item_type = 'seed' AND item_id NOT IN (SELECT id FROM seeds)) OR "
            "(item_type = 'sample' AND item_id NOT IN (SELECT id FROM samples)))",
            [key],
        )
        return cursor.rowcount

    def projection_coordinates(self, key: str) -> dict[tuple[str, int], tuple[float, float]]:
        """(item_type, item_id) -> (x, y) of every point on one map."""
        rows = self.conn.execute("SELECT item_type, item_id, x, y FROM projection_points WHERE projection_key = ?", [key])
        return {(item_type, item_id): (x, y) for item_type, item_id, x, y in rows}

    def projection_point_count(self, key: str) -> int:
        return self._scalar("SELECT count(*) FROM projection_points WHERE projection_key = ?", [key])

    # One selection per store: the samples last selected on the Maps page, which Review can filter on.

    def set_map_selection(self, key: str, sample_ids: Iterable[int]) -> int:
        """Replace the stored map selection (made on the map with this projection key) with these samples;
        ids of samples that no longer exist are dropped. Returns how many are stored."""
        with self.transaction():
            self.conn.execute("DELETE FROM map_selection")
            self.conn.execute(
                "INSERT INTO map_selection (sample_id, projection_key, selected_at) "
                "SELECT DISTINCT s.id, ?, ? FROM samples s WHERE s.id IN (SELECT value FROM json_each(?))",
                [key, now(), json.dumps(list(sample_ids))],
            )
        return self._scalar("SELECT count(*) FROM map_selection")

    def map_selection_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT sample_id FROM map_selection ORDER BY sample_id")]

    def clear_map_selection(self) -> None:
        self.conn.execute("DELETE FROM map_selection")

    def near_duplicate_summary(self, limit: int = 50) -> list[dict]:
        """The largest near-duplicate groups (from the embed job): group number, size, members, one text."""
        return self._rows(
            "SELECT CAST(m.value AS INTEGER) AS grp, count(*) AS size, "
            "group_concat(m.item_type || ' ' || m.item_id, ', ') AS members, "
            "max(coalesce((SELECT instruction FROM samples WHERE m.item_type = 'sample' AND id = m.item_id), "
            "(SELECT instruction FROM seeds WHERE m.item_type = 'seed' AND id = m.item_id))) AS example "
            "FROM metrics m WHERE m.name = 'near_duplicate_group' GROUP BY m.value ORDER BY size DESC, grp LIMIT ?",
            [limit],
        )

    def metric_coverage(self, name: str, include_filtered: bool = False) -> list[dict]:
        """Which items carry one metric, and why the others do not: rows of kind ('seed', or a sample source with
        'seed copy' for samples copied from seeds; filtered samples only with include_filtered), state ('value';
        'empty' = recorded without a value, `note` says why; 'missing' = never recorded), note, n."""
        state = "CASE WHEN m.item_id IS NULL THEN 'missing' WHEN m.value IS NULL THEN 'empty' ELSE 'value' END"
        return self._rows(
            f"SELECT 'seed' AS kind, {state} AS state, CASE WHEN m.value IS NULL THEN m.note END AS note, "
            "count(*) AS n FROM seeds s LEFT JOIN metrics m ON m.item_type = 'seed' AND m.item_id = s.id "
            "AND m.name = :name GROUP BY 1, 2, 3 UNION ALL "
            f"SELECT CASE s.source WHEN 'seed' THEN 'seed copy' ELSE s.source END, {state}, "
            "CASE WHEN m.value IS NULL THEN m.note END, count(*) FROM samples s "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = :name "
            "WHERE s.filter_reason IS NULL OR :filtered GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            {"name": name, "filtered": include_filtered},
        )

    def seed_uncertainty_ranking(self, limit: int | None = None, role: str = "student") -> list[dict]:
        """Seeds with an uncertainty score of `role` ('student' or 'teacher', see workbench/analyse/uncertainty.py),
        most uncertain first: id, instruction, domain, uncertainty, token_entropy (bits), token_entropy_source,
        semantic_disagreement (bits), and both roles' scores as student_uncertainty and teacher_uncertainty."""
        if role not in ("student", "teacher"):
            raise ValueError(f"role must be 'student' or 'teacher', not {role!r}")
        sql = (
            "SELECT s.id, s.instruction, s.domain, u.value AS uncertainty, te.value AS token_entropy, "
            "te.note AS token_entropy_source, sd.value AS semantic_disagreement, "
            "su.value AS student_uncertainty, tu.value AS teacher_uncertainty FROM metrics u "
            "JOIN seeds s ON s.id = u.item_id "
            "LEFT JOIN metrics te ON te.item_type = 'seed' AND te.item_id = s.id AND te.name = :role || '_token_entropy' "
            "LEFT JOIN metrics sd ON sd.item_type = 'seed' AND sd.item_id = s.id "
            "AND sd.name = :role || '_semantic_disagreement' "
            "LEFT JOIN metrics su ON su.item_type = 'seed' AND su.item_id = s.id AND su.name = 'student_uncertainty' "
            "LEFT JOIN metrics tu ON tu.item_type = 'seed' AND tu.item_id = s.id AND tu.name = 'teacher_uncertainty' "
            "WHERE u.item_type = 'seed' AND u.name = :role || '_uncertainty' AND u.value IS NOT NULL "
            "ORDER BY u.value DESC, s.id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql, {"role": role})

    def top_uncertain_seed_ids(self, n: int, role: str = "student") -> list[int]:
        """The n seeds the student (or the teacher) is least sure about: the 'seed points' evolution should target."""
        return [row["id"] for row in self.seed_uncertainty_ranking(n, role)]
