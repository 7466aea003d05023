"""The factory at a glance: the funnel, gate decisions, usage and counts the Overview, Home and `workbench
overview` show (reads only).
"""

from __future__ import annotations

from workbench.core.store import Queries


class OverviewReads(Queries):
    """store.overview. Reads only."""

    TABLES = ()

    def counts(self) -> dict[str, int]:
        return {
            "seeds": self._scalar("SELECT count(*) FROM seeds"),
            "jobs": self._scalar("SELECT count(*) FROM jobs"),
            "samples": self._scalar("SELECT count(*) FROM samples WHERE filter_reason IS NULL"),
            "approved": self._scalar("SELECT count(*) FROM samples WHERE status = 'approved'"),
            "evol_nodes": self._scalar("SELECT count(*) FROM evol_nodes"),
            "paths": self._scalar("SELECT count(*) FROM reasoning_paths"),
            "exports": self._scalar("SELECT count(*) FROM exports"),
        }

    # One row per candidate: each evolution attempt that came back (with its sample when it survived) and each
    # sample not made by evolution (Magpie, imports, seed copies). Every funnel stage filters these same rows; a
    # sample's gate status is the gate's stored decision (workbench.verify.reasoning, table gate_verdicts).
    _FUNNEL_ROWS = (
        "WITH candidate AS ("
        " SELECT s.id AS sample_id FROM evol_nodes n LEFT JOIN samples s ON s.node_id = n.id WHERE n.status != 'failed'"
        " UNION ALL SELECT id FROM samples WHERE node_id IS NULL),"
        " staged AS (SELECT s.id IS NOT NULL AND s.filter_reason IS NULL AS kept, g.status AS gate,"
        " s.status = 'approved' AS approved, s.id IN (SELECT sample_id FROM export_items) AS exported"
        " FROM candidate c LEFT JOIN samples s ON s.id = c.sample_id"
        " LEFT JOIN gate_verdicts g ON g.task_type = 'sample' AND g.task_id = s.id)"
    )

    def funnel_counts(self) -> dict[str, int]:
        """Counts of the factory's funnel, each stage a subset of the one before (so it only narrows):
        candidates, kept (no filter reason), verified (the gate decided it: its paths were scored), gated (the
        gate passed it), approved (gated and approved), exported (approved and in an export); plus the seeds and
        the samples no filter removed that are in an export, whatever their gate status or review (exported_total)."""
        return self._one(
            self._FUNNEL_ROWS + " SELECT count(*) AS candidates, coalesce(sum(kept), 0) AS kept,"
            " coalesce(sum(kept AND gate IS NOT NULL), 0) AS verified,"
            " coalesce(sum(kept AND gate = 'passed'), 0) AS gated,"
            " coalesce(sum(kept AND gate = 'passed' AND approved), 0) AS approved,"
            " coalesce(sum(kept AND gate = 'passed' AND approved AND exported), 0) AS exported,"
            " (SELECT count(*) FROM seeds) AS seeds,"
            " (SELECT count(DISTINCT e.sample_id) FROM export_items e JOIN samples s ON s.id = e.sample_id"
            " WHERE s.filter_reason IS NULL) AS exported_total"
            " FROM staged"
        )

    def gate_reason_counts(self, status: str) -> list[dict]:
        """Why the kept samples with this gate status (unverified or failed) got it, grouped as the gate stored it
        (kind and who decided), most common first: [{kind, decided_by, count}]."""
        return self._rows(
            "SELECT g.kind, g.decided_by, count(*) AS count FROM gate_verdicts g JOIN samples s ON s.id = g.task_id"
            " WHERE g.task_type = 'sample' AND s.filter_reason IS NULL AND g.status = ?"
            " GROUP BY g.kind, g.decided_by ORDER BY count DESC, g.kind, g.decided_by",
            [status],
        )

    def gate_counts(self) -> dict[str, dict[str, int]]:
        """The gate's stored decisions (table gate_verdicts) counted once, for every page and `overview --json`: per
        kind of task, how many it decided and how many it passed, left unverified and failed. Kinds: `seeds`,
        `samples` (the samples no filter removed: what the Overview's funnel counts) and `removed samples` (samples a
        filter removed after the gate decided them). Decisions on deleted tasks are not counted."""
        rows = self._rows(
            "SELECT CASE WHEN g.task_type = 'seed' THEN 'seeds' WHEN s.filter_reason IS NULL THEN 'samples'"
            " ELSE 'removed samples' END AS kind, count(*) AS decided, sum(g.status = 'passed') AS passed,"
            " sum(g.status = 'unverified') AS unverified, sum(g.status = 'failed') AS failed"
            " FROM gate_verdicts g LEFT JOIN samples s ON g.task_type = 'sample' AND s.id = g.task_id"
            " LEFT JOIN seeds d ON g.task_type = 'seed' AND d.id = g.task_id"
            " WHERE s.id IS NOT NULL OR d.id IS NOT NULL GROUP BY 1"  # 1: gate_verdicts has a column `kind` too
        )
        empty = {"decided": 0, "passed": 0, "unverified": 0, "failed": 0}
        found = {row.pop("kind"): row for row in rows}
        return {kind: found.get(kind, dict(empty)) for kind in ("seeds", "samples", "removed samples")}

    def approved_counts(self) -> dict[str, int]:
        """The approved samples no filter removed (what an export of approved samples takes; Home, Review and Export
        count these) by the gate's stored decision on them: total, passed, failed, unverified and undecided (no
        decision: never verified); and how many of them are in an export (`exported`), and of those, how many passed
        the gate (`exported_passed`)."""
        return self._one(
            "SELECT count(*) AS total, coalesce(sum(g.status = 'passed'), 0) AS passed,"
            " coalesce(sum(g.status = 'failed'), 0) AS failed, coalesce(sum(g.status = 'unverified'), 0) AS unverified,"
            " coalesce(sum(g.status IS NULL), 0) AS undecided,"
            " coalesce(sum(x.exported), 0) AS exported,"
            " coalesce(sum(x.exported AND g.status = 'passed'), 0) AS exported_passed"
            " FROM samples s LEFT JOIN gate_verdicts g ON g.task_type = 'sample' AND g.task_id = s.id"
            " LEFT JOIN (SELECT DISTINCT sample_id, 1 AS exported FROM export_items) x ON x.sample_id = s.id"
            " WHERE s.filter_reason IS NULL AND s.status = 'approved'"
        )

    def gated_review_counts(self) -> dict[str, int]:
        """Review status (pending, approved, rejected) of the kept samples that passed the gate."""
        rows = self._rows(
            "SELECT s.status, count(*) AS n FROM samples s JOIN gate_verdicts g ON g.task_type = 'sample'"
            " AND g.task_id = s.id WHERE s.filter_reason IS NULL AND g.status = 'passed' GROUP BY s.status"
        )
        return {row["status"]: row["n"] for row in rows}

    def gate_pass_rate_by_depth(self) -> list[dict]:
        """Per evolution depth (0: the seeds): the share of the tasks the gate decided that it passed (pass_rate)
        and how many it decided (verified)."""
        return self._rows(
            "SELECT depth, avg(status = 'passed') AS pass_rate, count(*) AS verified FROM ("
            " SELECT 0 AS depth, status FROM gate_verdicts WHERE task_type = 'seed' UNION ALL"
            " SELECT n.depth, g.status FROM gate_verdicts g JOIN samples s ON g.task_type = 'sample' AND s.id = g.task_id"
            " JOIN evol_nodes n ON n.id = s.node_id) GROUP BY depth ORDER BY depth"
        )

    def sample_models(self) -> dict[str, int]:
        """How many samples each teacher model wrote (samples without a model are left out)."""
        rows = self._rows("SELECT model, count(*) AS n FROM samples WHERE model IS NOT NULL GROUP BY model ORDER BY n DESC")
        return {row["model"]: row["n"] for row in rows}

    def verifier_pass_rates(self) -> list[dict]:
        """Per verifier and what its verdicts vouch for (`checks`: outcome, step or evidence; an abstention counts
        as evidence): steps it scored (`steps`), the ones it could check (`checked`: it did not abstain as
        unverifiable), `pass_rate` = share of the checked steps it judged correct (score >= 0.5; None when it
        checked none), and `unverifiable_rate` = share of the scored steps it abstained on. An abstention is
        never counted as a wrong step."""
        return self._rows(
            "SELECT verifier, checks, count(*) AS steps, sum(label != 'unverifiable') AS checked,"
            " CAST(sum(label != 'unverifiable' AND score >= 0.5) AS REAL) / nullif(sum(label != 'unverifiable'), 0)"
            " AS pass_rate, avg(label = 'unverifiable') AS unverifiable_rate"
            " FROM step_scores GROUP BY verifier, checks ORDER BY verifier, checks"
        )
