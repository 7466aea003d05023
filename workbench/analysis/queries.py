"""The analysis stage's SQL: a mixin of workbench.store.Store over its one connection."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from workbench.core.store import TASK_TEXT, StoreError, from_json, now, to_json


class AnalysisQueries:
    """Queries of the analysis stage (mixed into workbench.store.Store)."""

    # ---- metrics, embeddings and projections

    # Items are seeds and samples, named (item_type, item_id). Embeddings are keyed by the store's
    # text_hash of an item's task text (instruction, then input), so one text shared by a seed and a sample
    # has one vector. Items are read with that text as `instruction`.

    def _columns(self, sql: str, params: Iterable[Any] | dict = ()) -> dict[str, list]:
        """A query's result as one list per column (cheap for the 100k-row reads of the map pages)."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        return {name: list(values) for name, values in zip(names, columns, strict=True)}

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

    _SEED_ITEMS = f"SELECT 'seed' AS item_type, id AS item_id, {TASK_TEXT}, reference_answer AS answer, text_hash FROM seeds"

    _SAMPLE_ITEMS = f"SELECT 'sample' AS item_type, id AS item_id, {TASK_TEXT}, output AS answer, text_hash FROM samples"

    def analysis_items(self) -> list[dict]:
        """Every seed and sample the maps and metrics cover: item_type, item_id, instruction, answer (a seed's
        reference answer or a sample's output; may be None), text_hash (of the instruction)."""
        return self._rows(f"{self._SEED_ITEMS} UNION ALL {self._SAMPLE_ITEMS}")

    def item_count(self) -> int:
        return self._scalar("SELECT (SELECT count(*) FROM seeds) + (SELECT count(*) FROM samples)")

    def item_vectors(self, model: str) -> dict[str, list]:
        """Columns item_type, item_id, vector of every seed and sample with a cached embedding."""
        join = "JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash"
        return self._columns(
            f"SELECT 'seed' AS item_type, t.id AS item_id, e.vector FROM seeds t {join} UNION ALL "
            f"SELECT 'sample', t.id, e.vector FROM samples t {join}",
            {"model": model},
        )

    def gate_candidates(self) -> list[dict]:
        """Samples the similarity gate judges: not copies of seeds, not approved by a person."""
        return self._rows("SELECT id, source, status, filter_reason FROM samples WHERE source != 'seed' AND status != 'approved'")

    def approved_sample_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM samples WHERE status = 'approved'")]

    def evol_node_texts(self) -> list[dict]:
        """Evolution nodes with an instruction: id, parent, seed, depth (for entropy gains)."""
        return self._rows(
            "SELECT id, parent_id, seed_id, depth, instruction FROM evol_nodes WHERE instruction IS NOT NULL ORDER BY id"
        )

    def sample_nodes(self) -> dict[int, int]:
        """sample id -> evolution node id, for samples grown by evolution."""
        return dict(self.conn.execute("SELECT id, node_id FROM samples WHERE node_id IS NOT NULL").fetchall())

    def set_metrics_bulk(self, item_type: str, rows: Iterable[tuple[int, dict[str, float | None]]],
                         note: str | None = None) -> None:
        """set_metrics for many items in one transaction."""
        with self.transaction():
            for item_id, values in rows:
                self.set_metrics(item_type, item_id, values, note)

    def delete_metric(self, name: str, item_type: str) -> None:
        self.conn.execute("DELETE FROM metrics WHERE name = ? AND item_type = ?", [name, item_type])

    def metric_values(self, item_type: str, name: str) -> dict[int, float]:
        """item id -> value of one metric, for every item of the type that has a value."""
        sql = "SELECT item_id, value FROM metrics WHERE item_type = ? AND name = ? AND value IS NOT NULL"
        return dict(self.conn.execute(sql, [item_type, name]).fetchall())

    SIMILARITY_GATE_PREFIX = "similar to seed"

    def apply_similarity_gate(self, reasons: dict[int, str]) -> int:
        """Record the similarity gate. `reasons` (sample id -> reason, starting with SIMILARITY_GATE_PREFIX)
        become filter reasons; earlier gate reasons not in it are lifted. Other stages' filter reasons and
        approved samples are left alone. Returns how many samples the gate filters now."""
        prefix = self.SIMILARITY_GATE_PREFIX + "%"
        with self.transaction():
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS gated (id INTEGER PRIMARY KEY, reason TEXT)")
            self.conn.execute("DELETE FROM temp.gated")
            self.conn.executemany("INSERT INTO temp.gated VALUES (?, ?)", list(reasons.items()))
            self.conn.execute(
                "UPDATE samples SET filter_reason = NULL, updated_at = ? "
                "WHERE filter_reason LIKE ? AND id NOT IN (SELECT id FROM temp.gated)",
                [now(), prefix],
            )
            self.conn.execute(
                "UPDATE samples SET filter_reason = (SELECT reason FROM temp.gated g WHERE g.id = samples.id), "
                "updated_at = ? WHERE id IN (SELECT id FROM temp.gated) AND status != 'approved' "
                "AND (filter_reason IS NULL OR filter_reason LIKE ?)",
                [now(), prefix],
            )
            self.conn.execute("DELETE FROM temp.gated")
        return self._scalar("SELECT count(*) FROM samples WHERE filter_reason LIKE ?", [prefix])

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

    # what the Maps and Distributions pages draw, aggregated here

    _ORIGIN = (
        "CASE s.source WHEN 'evol' THEN 'evol depth ' || coalesce(n.depth, '?') "
        "WHEN 'seed' THEN 'seed copy' ELSE s.source END"
    )

    _REVIEW_STATUS = "CASE WHEN s.filter_reason IS NOT NULL THEN 'filtered' ELSE s.status END"

    _SPREAD_MODULUS = 1_000_003

    _SPREAD = f"((p.item_id * 2654435761) % {_SPREAD_MODULUS})"  # a fixed pseudo-random draw per item, for thinning

    def map_points(self, key: str, metric: str | None = None, limit: int | None = None,
                   text_chars: int = 160) -> dict[str, list]:
        """Columns of the points drawn for one projection: item, position, origin, operator, review status,
        the start of the text, its length, `value` of one metric and `filter_reason` (why a filter removed a sample;
        None for kept samples and seeds). With a limit every seed is drawn and an even spread of the samples fills
        the rest."""
        params = {"key": key, "metric": metric, "chars": text_chars}
        seeds = (
            "SELECT 'seed' AS item_type, p.item_id, p.x, p.y, 'seed' AS origin, 0 AS depth, NULL AS operator, "
            "'seed' AS review_status, substr(s.instruction, 1, :chars) AS text, length(s.instruction) AS length, "
            "m.value AS value, NULL AS filter_reason FROM projection_points p JOIN seeds s ON s.id = p.item_id "
            "LEFT JOIN metrics m ON m.item_type = 'seed' AND m.item_id = p.item_id AND m.name = :metric "
            "WHERE p.projection_key = :key AND p.item_type = 'seed'"
        )
        samples = (
            f"SELECT 'sample' AS item_type, p.item_id, p.x, p.y, {self._ORIGIN} AS origin, n.depth, "
            "coalesce(n.operator, CASE WHEN s.source = 'magpie' THEN 'magpie' END) AS operator, "
            f"{self._REVIEW_STATUS} AS review_status, substr(s.instruction, 1, :chars) AS text, "
            "length(s.instruction) AS length, m.value AS value, s.filter_reason AS filter_reason "
            "FROM projection_points p JOIN samples s ON s.id = p.item_id LEFT JOIN evol_nodes n ON n.id = s.node_id "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = p.item_id AND m.name = :metric "
            "WHERE p.projection_key = :key AND p.item_type = 'sample'"
        )
        if limit is not None:
            placed = self._rows(
                "SELECT item_type, count(*) AS n FROM projection_points WHERE projection_key = ? GROUP BY item_type", [key]
            )
            counts = {row["item_type"]: row["n"] for row in placed}
            room = max(0, int(limit) - counts.get("seed", 0))
            if room < counts.get("sample", 0):  # thin evenly: keep ids whose fixed pseudo-random draw is under a cut
                samples += f" AND {self._SPREAD} < :cut"
                params["cut"] = int(self._SPREAD_MODULUS * room / counts["sample"])
        return self._columns(f"{seeds} UNION ALL {samples}", params)

    def _grouped_metric_sql(self, group_by: str) -> str:
        """(grp, item_id, value) of metric :name over seeds and unfiltered samples, grouped by
        'source' (seed / evol / magpie / import) or 'depth' (0 = seed, n = evolution depth)."""
        seed_group, sample_group = {
            "source": ("'seed'", "CASE s.source WHEN 'seed' THEN 'seed copy' ELSE s.source END"),
            "depth": ("0", "n.depth"),
            "origin": ("'seed'", self._ORIGIN),
        }[group_by]
        return (
            f"SELECT * FROM (SELECT {seed_group} AS grp, m.item_id, m.value FROM metrics m "
            "WHERE m.item_type = 'seed' AND m.name = :name AND m.value IS NOT NULL UNION ALL "
            f"SELECT {sample_group}, m.item_id, m.value FROM metrics m JOIN samples s ON s.id = m.item_id "
            "LEFT JOIN evol_nodes n ON n.id = s.node_id WHERE m.item_type = 'sample' AND m.name = :name "
            "AND m.value IS NOT NULL AND s.filter_reason IS NULL) t WHERE grp IS NOT NULL"
        )

    def metric_histogram(self, name: str, group_by: str = "source", bins: int = 40) -> dict[str, list]:
        """Histogram of one metric per group, counted in SQL: columns grp, lo, hi, count."""
        inner = self._grouped_metric_sql(group_by)
        bounds = self._one(f"SELECT min(value) AS lo, max(value) AS hi FROM ({inner})", {"name": name})
        if bounds is None or bounds["lo"] is None:
            return {"grp": [], "lo": [], "hi": [], "count": []}
        lo, hi = bounds["lo"], bounds["hi"]
        width = (hi - lo) / bins if hi > lo else 1.0
        return self._columns(
            f"SELECT grp, :lo + b * :w AS lo, :lo + (b + 1) * :w AS hi, count(*) AS count FROM ("
            f"SELECT grp, min(CAST((value - :lo) / :w AS INTEGER), :last) AS b FROM ({inner})) "
            "GROUP BY grp, b ORDER BY grp, b",
            {"name": name, "lo": lo, "w": width, "last": bins - 1},
        )

    def metric_by_group(self, name: str, group_by: str = "source", limit: int = 20000) -> dict[str, list]:
        """Columns grp, value of one metric: all values, or an even spread of `limit` of them."""
        inner = self._grouped_metric_sql(group_by)
        spread = self._SPREAD.replace("p.", "t.")
        return self._columns(f"SELECT grp, value FROM ({inner}) t ORDER BY {spread} LIMIT {int(limit)}", {"name": name})

    def entropy_frontier(self, pass_threshold: float = 0.5) -> list[dict]:
        """Per evolution depth: mean entropy gain over the parent (surviving nodes) and the verifier pass rate
        (share of seeds at depth 0 / evolved samples at depth n whose best_path_score >= pass_threshold, with the
        gate's tolerance: `verify.reasoning.passes_gate`)."""
        gains = self._rows(
            "SELECT n.depth, avg(m.value) AS mean_entropy_gain, count(*) AS nodes FROM evol_nodes n "
            "JOIN metrics m ON m.item_type = 'node' AND m.item_id = n.id AND m.name = 'entropy_gain_parent' "
            "WHERE n.status = 'survived' GROUP BY n.depth"
        )
        passes = self._rows(
            "SELECT depth, avg(value >= :t - 1e-9) AS pass_rate, count(*) AS verified FROM ("
            "SELECT 0 AS depth, m.value FROM metrics m WHERE m.item_type = 'seed' AND m.name = 'best_path_score' "
            "AND m.value IS NOT NULL UNION ALL SELECT n.depth, m.value FROM metrics m "
            "JOIN samples s ON s.id = m.item_id JOIN evol_nodes n ON n.id = s.node_id "
            "WHERE m.item_type = 'sample' AND m.name = 'best_path_score' AND m.value IS NOT NULL) GROUP BY depth",
            {"t": pass_threshold},
        )
        by_depth: dict[int, dict] = {}
        for row in [*gains, *passes]:
            by_depth.setdefault(row["depth"], {"depth": row["depth"], "mean_entropy_gain": None, "nodes": 0,
                                               "pass_rate": None, "verified": 0}).update(row)
        return [by_depth[d] for d in sorted(by_depth)]

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

    def seed_uncertainty_ranking(self, limit: int | None = None, role: str = "student") -> list[dict]:
        """Seeds with an uncertainty score of `role` ('student' or 'teacher', see workbench/analysis/uncertainty.py),
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

    # ---- the map selection (issue 14)

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

    def sample_review_states(self, ids: Iterable[int]) -> list[dict]:
        """id, status and filter_reason of the given samples (those that exist), by id."""
        return self._rows(
            "SELECT id, status, filter_reason FROM samples WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(list(ids))],
        )
