"""What the Maps and Distributions pages draw: points, histograms and the entropy frontier, aggregated in SQL
over seeds, samples, evolution nodes and metrics (reads only).
"""

from __future__ import annotations

from workbench.core.store import Queries


class MapReads(Queries):
    """store.maps. Reads only."""

    TABLES = ()

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
