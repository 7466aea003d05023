"""The student stage's table: each attempt of the student at a task, with its verdict; and the reads of the
latest probes.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.core.store import Queries, from_json, now, to_json

ATTEMPT_COLUMNS = ("job_id", "task_type", "task_id", "attempt", "text", "final_answer", "correct", "verdict",
                   "checked_against", "token_entropy", "entropy_note", "model", "params", "prompt_tokens",
                   "completion_tokens")


class StudentQueries(Queries):
    """store.student. Owner of student_attempts: only it writes it."""

    TABLES = ("student_attempts",)

    def add_student_attempt(self, attempt: dict, cost: float | None = None) -> bool:
        """Store one attempt of the student at a task and add its tokens and `cost` (USD, None: unpriced) to its job,
        in one transaction; False (nothing added) when this (job, task, attempt) is stored already."""
        row = {name: attempt.get(name) for name in ATTEMPT_COLUMNS}
        row["params"] = to_json(attempt.get("params") or {})
        row["correct"] = None if attempt.get("correct") is None else int(bool(attempt["correct"]))
        row["prompt_tokens"] = int(attempt.get("prompt_tokens") or 0)
        row["completion_tokens"] = int(attempt.get("completion_tokens") or 0)
        row["created_at"] = now()
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT INTO student_attempts ({', '.join(row)}) VALUES ({', '.join(f':{k}' for k in row)}) "
                "ON CONFLICT(job_id, task_type, task_id, attempt) DO NOTHING",
                row,
            )
            if cursor.rowcount == 1:
                self.store.jobs.add_job_usage(row["job_id"], row["prompt_tokens"], row["completion_tokens"], cost)
        return cursor.rowcount == 1

    def _attempt_from_row(self, row: dict) -> dict:
        row["params"] = from_json(row["params"], {})
        row["correct"] = None if row["correct"] is None else bool(row["correct"])
        return row

    def job_attempts(self, job_id: int) -> list[dict]:
        """Every attempt a probe job stored, by task and attempt number."""
        rows = self._rows("SELECT * FROM student_attempts WHERE job_id = ? ORDER BY task_type, task_id, attempt",
                          [job_id])
        return [self._attempt_from_row(r) for r in rows]

    def latest_probe_student(self, task_type: str | None = None) -> dict | None:
        """The student and id of the latest finished probe job that stored attempts (of `task_type` tasks), or None."""
        return self._one(
            "SELECT j.id AS job_id, j.student FROM jobs j WHERE j.kind = 'probe' AND j.status = 'done'"
            " AND j.student IS NOT NULL AND EXISTS (SELECT 1 FROM student_attempts a WHERE a.job_id = j.id"
            " AND (:type IS NULL OR a.task_type = :type)) ORDER BY j.id DESC LIMIT 1",
            {"type": task_type},
        )

    # The latest finished probe job of one student per task: what the Seeds page, the frontier and the overview show.
    _LATEST = (
        "WITH latest AS (SELECT a.task_type, a.task_id, max(a.job_id) AS job_id FROM student_attempts a"
        " JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'probe' AND j.status = 'done' AND j.student = :student"
        " AND a.task_type = :type GROUP BY a.task_type, a.task_id)"
    )

    def latest_attempt_counts(self, student: str, task_type: str) -> list[dict]:
        """Per task probed by a finished probe job of `student`, its latest such job's attempts: task_id, job_id,
        k (the job's attempts per task), attempts, correct, undecided (the checker could not tell), domain (the
        seed's; a sample's seed's), with tasks that no longer exist left out."""
        domain = ("s.domain" if task_type == "seed" else
                  "(SELECT sd.domain FROM seeds sd WHERE sd.id = s.seed_id)")
        table = "seeds" if task_type == "seed" else "samples"
        return self._rows(
            self._LATEST + f" SELECT a.task_id, a.job_id, json_extract(j.params, '$.k') AS k, count(*) AS attempts,"
            " coalesce(sum(a.correct = 1), 0) AS correct, coalesce(sum(a.correct IS NULL), 0) AS undecided,"
            f" {domain} AS domain FROM student_attempts a JOIN latest l USING (task_type, task_id, job_id)"
            f" JOIN jobs j ON j.id = a.job_id JOIN {table} s ON s.id = a.task_id"
            " GROUP BY a.task_id, a.job_id ORDER BY a.task_id",
            {"student": student, "type": task_type},
        )

    def latest_task_attempts(self, student: str, task_type: str, task_id: int) -> list[dict]:
        """The attempts of one task from the latest finished probe job of `student` that probed it."""
        rows = self._rows(
            self._LATEST + " SELECT a.* FROM student_attempts a JOIN latest l USING (task_type, task_id, job_id)"
            " WHERE a.task_id = :id ORDER BY a.attempt",
            {"student": student, "type": task_type, "id": task_id},
        )
        return [self._attempt_from_row(r) for r in rows]

    STUDENT_UNCERTAINTY = ("student_uncertainty", "student_token_entropy", "student_semantic_disagreement")

    def seed_uncertainty_components(self, seed_ids: Iterable[int]) -> dict[int, dict[str, float | None]]:
        """Per seed, the student's uncertainty metrics it has (STUDENT_UNCERTAINTY; workbench/analyse/uncertainty.py)."""
        found: dict[int, dict[str, float | None]] = {}
        rows = self.conn.execute(
            "SELECT item_id, name, value FROM metrics WHERE item_type = 'seed' AND name IN (?, ?, ?)"
            " AND item_id IN (SELECT value FROM json_each(?))",
            [*self.STUDENT_UNCERTAINTY, to_json(list(seed_ids))],
        )
        for item_id, name, value in rows:
            found.setdefault(item_id, {})[name] = value
        return found

    # Whether a sample passed the gate, as the gate last decided it (gate_verdicts; workbench.verify.reasoning).
    _PASSED_GATE = "(SELECT g.status = 'passed' FROM gate_verdicts g WHERE g.task_type = 'sample' AND g.task_id = s.id)"

    def approved_probe_candidates(self) -> list[dict]:
        """Approved samples (no filter reason) with what could verify an answer: the seed's reference answer and
        tests when the sample asks the seed's own question, its seed's domain, the latest pseudo-reference (the
        reasoning paths' majority answer) and whether the sample passed the gate (passed_gate: 1, 0, or None when
        the gate never decided it)."""
        return self._rows(
            "SELECT s.id, sd.domain,"
            " CASE WHEN sd.text_hash = s.text_hash THEN sd.reference_answer END AS reference_answer,"
            " CASE WHEN sd.text_hash = s.text_hash THEN sd.tests END AS tests,"
            " (SELECT p.answer FROM pseudo_references p WHERE p.task_type = 'sample' AND p.task_id = s.id"
            f"  ORDER BY p.job_id DESC LIMIT 1) AS majority_answer, {self._PASSED_GATE} AS passed_gate"
            " FROM samples s LEFT JOIN seeds sd ON sd.id = s.seed_id"
            " WHERE s.status = 'approved' AND s.filter_reason IS NULL ORDER BY s.id",
        )
