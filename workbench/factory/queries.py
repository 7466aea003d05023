"""The factory stage's SQL: a mixin of workbench.store.Store over its one connection."""

from __future__ import annotations


class OverviewQueries:
    """Queries of the factory stage (mixed into workbench.store.Store)."""

    # ---- overview (the factory at a glance)

    # One row per candidate: each evolution attempt that came back (with its sample when it survived) and each
    # sample not made by evolution (Magpie, imports, seed copies). Every funnel stage filters these same rows.
    _FUNNEL_ROWS = (
        "WITH candidate AS ("
        " SELECT s.id AS sample_id FROM evol_nodes n LEFT JOIN samples s ON s.node_id = n.id WHERE n.status != 'failed'"
        " UNION ALL SELECT id FROM samples WHERE node_id IS NULL),"
        " staged AS (SELECT s.id IS NOT NULL AND s.filter_reason IS NULL AS kept, m.value AS score,"
        " s.status = 'approved' AS approved, s.id IN (SELECT sample_id FROM export_items) AS exported"
        " FROM candidate c LEFT JOIN samples s ON s.id = c.sample_id"
        " LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = 'best_path_score')"
    )

    def funnel_counts(self, gate_threshold: float) -> dict[str, int]:
        """Counts of the factory's funnel, each stage a subset of the one before (so it only narrows):
        candidates, kept (no filter reason), verified (a best path score), gated (best path score >=
        gate_threshold), approved (gated and approved), exported (approved and in an export); plus seeds and
        the approved and exported samples in all (some may have skipped the gate)."""
        return self._one(
            self._FUNNEL_ROWS + " SELECT count(*) AS candidates, coalesce(sum(kept), 0) AS kept,"
            " coalesce(sum(kept AND score IS NOT NULL), 0) AS verified,"
            " coalesce(sum(kept AND score >= :t - 1e-9), 0) AS gated,"
            " coalesce(sum(kept AND score >= :t - 1e-9 AND approved), 0) AS approved,"
            " coalesce(sum(kept AND score >= :t - 1e-9 AND approved AND exported), 0) AS exported,"
            " (SELECT count(*) FROM seeds) AS seeds,"
            " (SELECT count(*) FROM samples WHERE status = 'approved') AS approved_total,"
            " (SELECT count(DISTINCT e.sample_id) FROM export_items e JOIN samples s ON s.id = e.sample_id) AS exported_total"
            " FROM staged",
            {"t": gate_threshold},
        )

    def gate_failing_samples(self, gate_threshold: float) -> list[int]:
        """Ids of the kept samples whose best path score is under the gate threshold (the Overview's "failed the
        gate"; why each failed is the gate's own verdict, `reasoning.evaluate_task`)."""
        rows = self._rows(
            "SELECT s.id FROM samples s JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id"
            " AND m.name = 'best_path_score' WHERE s.filter_reason IS NULL AND m.value < :t - 1e-9 ORDER BY s.id",
            {"t": gate_threshold},
        )
        return [row["id"] for row in rows]

    def gated_review_counts(self, gate_threshold: float) -> dict[str, int]:
        """Review status (pending, approved, rejected) of the kept samples that passed the gate."""
        rows = self._rows(
            "SELECT s.status, count(*) AS n FROM samples s JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id"
            " AND m.name = 'best_path_score' WHERE s.filter_reason IS NULL AND m.value >= :t - 1e-9 GROUP BY s.status",
            {"t": gate_threshold},
        )
        return {row["status"]: row["n"] for row in rows}

    def seed_gate_counts(self, gate_threshold: float) -> dict[str, int]:
        """Seeds the teacher solved with verified paths: how many were verified and how many passed the gate."""
        return self._one(
            "SELECT count(*) AS verified, coalesce(sum(value >= :t - 1e-9), 0) AS passed FROM metrics"
            " WHERE item_type = 'seed' AND name = 'best_path_score' AND value IS NOT NULL",
            {"t": gate_threshold},
        )

    def sample_models(self) -> dict[str, int]:
        """How many samples each teacher model wrote (samples without a model are left out)."""
        rows = self._rows("SELECT model, count(*) AS n FROM samples WHERE model IS NOT NULL GROUP BY model ORDER BY n DESC")
        return {row["model"]: row["n"] for row in rows}

    def verifier_pass_rates(self) -> list[dict]:
        """Per verifier: steps it scored (`steps`), the ones it could check (`checked`: it did not abstain as
        unverifiable), `pass_rate` = share of the checked steps it judged correct (score >= 0.5; None when it
        checked none), and `unverifiable_rate` = share of the scored steps it abstained on. An abstention is
        never counted as a wrong step."""
        return self._rows(
            "SELECT verifier, count(*) AS steps, sum(label != 'unverifiable') AS checked,"
            " CAST(sum(label != 'unverifiable' AND score >= 0.5) AS REAL) / nullif(sum(label != 'unverifiable'), 0)"
            " AS pass_rate, avg(label = 'unverifiable') AS unverifiable_rate"
            " FROM step_scores GROUP BY verifier ORDER BY verifier"
        )

    def usage_by_kind(self) -> list[dict]:
        """Tokens, cost (USD) and worker time (seconds) spent per job kind. The cost is None when a job that
        made model calls has no price (the provider gave none); jobs that made no calls cost 0."""
        return self._rows(
            "SELECT kind, count(*) AS jobs, sum(prompt_tokens) AS prompt_tokens,"
            " sum(completion_tokens) AS completion_tokens,"
            " CASE WHEN sum(cost IS NULL AND prompt_tokens + completion_tokens > 0) > 0 THEN NULL"
            " ELSE coalesce(sum(cost), 0.0) END AS cost, sum(elapsed_s) AS elapsed_s"
            " FROM jobs GROUP BY kind ORDER BY kind"
        )
