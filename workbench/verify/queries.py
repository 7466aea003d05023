"""The verify stage's SQL: a mixin of workbench.store.Store over its one connection."""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import StoreError, from_json, now, to_json


class VerificationQueries:
    """Queries of the verify stage (mixed into workbench.store.Store)."""

    # ---- reasoning paths and verification

    def add_reasoning_path(self, path: dict, steps: list[str]) -> int:
        """Store a path and its steps at once. A path already stored for (task, job, index) is returned as is."""
        row = {
            "job_id": path.get("job_id"),
            "task_type": path["task_type"],
            "task_id": path["task_id"],
            "path_index": path["path_index"],
            "text": path["text"],
            "final_answer": path.get("final_answer"),
            "model": path.get("model"),
            "params": to_json(path.get("params") or {}),
            "created_at": now(),
        }
        with self.transaction():
            cursor = self.conn.execute(
                f"INSERT INTO reasoning_paths ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) "
                "ON CONFLICT(task_type, task_id, job_id, path_index) DO NOTHING",
                row,
            )
            if cursor.rowcount == 0:
                return self._scalar(
                    "SELECT id FROM reasoning_paths WHERE task_type = ? AND task_id = ? AND job_id IS ? AND path_index = ?",
                    [row["task_type"], row["task_id"], row["job_id"], row["path_index"]],
                )
            path_id = cursor.lastrowid
            self.conn.executemany(
                "INSERT INTO steps (path_id, idx, text) VALUES (?, ?, ?)",
                [(path_id, index, text) for index, text in enumerate(steps)],
            )
            self._forget_pii_scan(path_id)
        return path_id

    def _forget_pii_scan(self, path_id: int) -> None:
        """A sample's PII scan no longer covers its texts once a path or a corrected step is added: forget it, so the
        sample is scanned again before it is exported (exports ship path text)."""
        self.conn.execute(
            "UPDATE samples SET pii = NULL WHERE id = (SELECT task_id FROM reasoning_paths WHERE id = ? AND task_type = 'sample')",
            [path_id],
        )

    def job_path_ids(self, job_id: int, task_type: str, task_id: int) -> dict[int, int]:
        """path_index -> path id of the paths one job stored for one task."""
        rows = self.conn.execute(
            "SELECT path_index, id FROM reasoning_paths WHERE job_id = ? AND task_type = ? AND task_id = ?",
            [job_id, task_type, task_id],
        )
        return dict(rows.fetchall())

    def path_steps(self, path_id: int) -> list[dict]:
        return self._rows("SELECT id, idx, text FROM steps WHERE path_id = ? ORDER BY idx", [path_id])

    def scored_step_ids(self, path_id: int, verifier: str) -> set[int]:
        rows = self.conn.execute(
            "SELECT s.id FROM steps s JOIN step_scores sc ON sc.step_id = s.id WHERE s.path_id = ? AND sc.verifier = ?",
            [path_id, verifier],
        )
        return {r[0] for r in rows}

    def set_step_scores(self, rows: list[dict]) -> None:
        """Upsert verifier verdicts: one per (step, verifier); `checks` (what the verdict vouches for) defaults to
        evidence."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO step_scores (step_id, verifier, score, label, checks, rationale, model, params, created_at) "
                "VALUES (:step_id, :verifier, :score, :label, :checks, :rationale, :model, :params, :created_at) "
                "ON CONFLICT(step_id, verifier) DO UPDATE SET score = excluded.score, label = excluded.label, "
                "checks = excluded.checks, rationale = excluded.rationale, model = excluded.model, "
                "params = excluded.params, created_at = excluded.created_at",
                [{"rationale": None, "model": None, "checks": "evidence", **r, "params": to_json(r.get("params") or {}),
                  "created_at": now()} for r in rows],
            )

    def add_step_overrule(self, step_id: int, label: str, reason: str | None, reviewer: str) -> int:
        """A person's label for a step; the latest overrule of a step is the one that counts."""
        cursor = self.conn.execute(
            "INSERT INTO step_overrules (step_id, label, reason, reviewer, created_at) VALUES (?, ?, ?, ?, ?)",
            [step_id, label, reason, reviewer, now()],
        )
        return cursor.lastrowid

    def add_human_completion(self, step_id: int, text: str, labeller: str) -> int:
        """A labeller's corrected version of a step they rated wrong (PRM800K's `human_completion`); several
        labellers may each write one. Raises StoreError for an unknown step or empty text."""
        if not text.strip():
            raise StoreError("a human completion cannot be empty")
        path_id = self._scalar("SELECT path_id FROM steps WHERE id = ?", [step_id])
        if path_id is None:
            raise StoreError(f"no step {step_id}")
        cursor = self.conn.execute(
            "INSERT INTO human_completions (path_id, step_id, text, labeller, created_at) VALUES (?, ?, ?, ?, ?)",
            [path_id, step_id, text.strip(), labeller, now()],
        )
        self._forget_pii_scan(path_id)
        return cursor.lastrowid

    def human_completions(self, path_ids: Iterable[int]) -> dict[int, list[dict]]:
        """path_id -> its human completions (id, step_id, step index `idx`, text, labeller, created_at), oldest first."""
        ids = list(path_ids)
        result: dict[int, list[dict]] = {path_id: [] for path_id in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._rows(
                "SELECT h.id, h.path_id, h.step_id, s.idx, h.text, h.labeller, h.created_at FROM human_completions h "
                f"JOIN steps s ON s.id = h.step_id WHERE h.path_id IN ({', '.join('?' * len(chunk))}) ORDER BY h.id",
                chunk,
            )
            for row in rows:
                result[row["path_id"]].append(row)
        return result

    def step_overrule_history(self, step_id: int) -> list[dict]:
        return self._rows("SELECT * FROM step_overrules WHERE step_id = ? ORDER BY id", [step_id])

    def step_task(self, step_id: int) -> tuple[str, int] | None:
        row = self.conn.execute(
            "SELECT p.task_type, p.task_id FROM steps s JOIN reasoning_paths p ON p.id = s.path_id WHERE s.id = ?",
            [step_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def reasoning_paths_nested(self, task_type: str | None = None, task_id: int | None = None,
                               task_ids: Iterable[int] | None = None) -> dict[tuple, list[dict]]:
        """(task_type, task_id) -> its paths, each with its steps, each with its verdicts and latest overrule: every
        task's, one task's, or those of `task_ids` (of `task_type`) at once."""
        where, params = "1=1", []
        if task_type is not None and task_id is not None:
            where, params = "p.task_type = ? AND p.task_id = ?", [task_type, task_id]
        elif task_type is not None and task_ids is not None:
            where, params = "p.task_type = ? AND p.task_id IN (SELECT value FROM json_each(?))", [task_type, json.dumps(list(task_ids))]
        paths = self._rows(f"SELECT p.* FROM reasoning_paths p WHERE {where} ORDER BY p.job_id, p.path_index, p.id", params)
        steps = self._rows(
            f"SELECT s.* FROM steps s JOIN reasoning_paths p ON p.id = s.path_id WHERE {where} ORDER BY s.path_id, s.idx",
            params,
        )
        scores = self._rows(
            "SELECT sc.* FROM step_scores sc JOIN steps s ON s.id = sc.step_id "
            f"JOIN reasoning_paths p ON p.id = s.path_id WHERE {where}",
            params,
        )
        overrules = self._rows(
            "SELECT o.* FROM step_overrules o JOIN steps s ON s.id = o.step_id "
            f"JOIN reasoning_paths p ON p.id = s.path_id WHERE {where} ORDER BY o.id",
            params,
        )
        by_step: dict[int, dict] = {}
        by_path: dict[int, list[dict]] = {}
        for step in steps:
            step.update(scores={}, overrule=None)
            by_step[step["id"]] = step
            by_path.setdefault(step["path_id"], []).append(step)
        for score in scores:
            score["params"] = from_json(score["params"], {})
            by_step[score["step_id"]]["scores"][score["verifier"]] = score
        for overrule in overrules:  # ordered by id: the latest wins
            by_step[overrule["step_id"]]["overrule"] = overrule
        nested: dict[tuple, list[dict]] = {}
        for path in paths:
            path["params"] = from_json(path["params"], {})
            path["steps"] = by_path.get(path["id"], [])
            nested.setdefault((path["task_type"], path["task_id"]), []).append(path)
        return nested

    def set_gate_verdicts(self, rows: list[dict]) -> None:
        """Upsert the gate's decision on tasks: each row {task_type, task_id, status, kind, decided_by, reason,
        best_path_id, disputes}, one per task."""
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO gate_verdicts (task_type, task_id, status, kind, decided_by, reason, best_path_id, disputes,"
                " updated_at) VALUES (:task_type, :task_id, :status, :kind, :decided_by, :reason, :best_path_id,"
                " :disputes, :updated_at) ON CONFLICT(task_type, task_id) DO UPDATE SET status = excluded.status,"
                " kind = excluded.kind, decided_by = excluded.decided_by, reason = excluded.reason,"
                " best_path_id = excluded.best_path_id, disputes = excluded.disputes, updated_at = excluded.updated_at",
                [{"kind": "", "decided_by": "", "best_path_id": None, "disputes": 0, **row, "updated_at": now()}
                 for row in rows],
            )

    def gate_verdict(self, task_type: str, task_id: int) -> dict | None:
        """The gate's stored decision on one task (see set_gate_verdicts), or None when it was never evaluated."""
        return self._one("SELECT * FROM gate_verdicts WHERE task_type = ? AND task_id = ?", [task_type, task_id])

    def reasoning_task_titles(self, tasks: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The instruction of each (task_type, task_id)."""
        wanted = list(tasks)
        titles: dict[tuple[str, int], str] = {}
        for task_type, table in (("seed", "seeds"), ("sample", "samples")):
            ids = [task_id for kind, task_id in wanted if kind == task_type]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = self.conn.execute(
                    f"SELECT id, instruction FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
                titles.update({(task_type, r[0]): r[1] for r in rows})
        return titles

    def stored_rollouts(self, step_id: int) -> list[dict]:
        """The rollouts kept for one step, in k order (params as a dict)."""
        rows = self._rows("SELECT * FROM rollouts WHERE step_id = ? ORDER BY k", [step_id])
        for row in rows:
            row["params"] = from_json(row["params"], {})
        return rows

    def add_rollout(self, rollout: dict) -> bool:
        """Keep one rollout of a step; a rollout already stored for (step, k) is left as it is. True when added."""
        row = {"params": to_json(rollout.get("params") or {}), "created_at": now(), "model": None, "final_answer": None,
               "prompt_tokens": 0, "completion_tokens": 0, **{k: v for k, v in rollout.items() if k != "params"}}
        cursor = self.conn.execute(
            f"INSERT INTO rollouts ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) "
            "ON CONFLICT(step_id, k) DO NOTHING",
            row,
        )
        return cursor.rowcount == 1

    def rollout_counts(self, step_ids: Iterable[int]) -> dict[int, int]:
        """step id -> how many rollouts are kept for it (steps with none are absent)."""
        rows = self.conn.execute(
            "SELECT step_id, count(*) FROM rollouts WHERE step_id IN (SELECT value FROM json_each(?)) GROUP BY step_id",
            [json.dumps(list(step_ids))],
        )
        return dict(rows.fetchall())

    def set_pseudo_reference(self, task_type: str, task_id: int, job_id: int, answer: str, votes: int,
                             voters: int) -> None:
        """Record the majority answer of one job's paths for a task (replacing that job's earlier record)."""
        self.conn.execute(
            "INSERT INTO pseudo_references (task_type, task_id, job_id, answer, votes, voters, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_type, task_id, job_id) DO UPDATE SET "
            "answer = excluded.answer, votes = excluded.votes, voters = excluded.voters, created_at = excluded.created_at",
            [task_type, task_id, job_id, answer, votes, voters, now()],
        )

    def pseudo_references(self, task_type: str, task_id: int) -> list[dict]:
        """Every pseudo-reference recorded for a task, latest job first."""
        return self._rows(
            "SELECT * FROM pseudo_references WHERE task_type = ? AND task_id = ? ORDER BY job_id DESC",
            [task_type, task_id],
        )

    def claim_job(self, job_id: int, worker_pid: int) -> dict | None:
        """Atomically take one queued job (for running it in this process); None if someone else has it."""
        cursor = self.conn.execute(
            "UPDATE jobs SET status = 'running', worker_pid = ?, heartbeat_at = ?, started_at = coalesce(started_at, ?),"
            " finished_at = NULL WHERE id = ? AND status = 'queued'",
            [worker_pid, now(), now(), job_id],
        )
        return self.get_job(job_id) if cursor.rowcount == 1 else None

    # ---- labelling (issue 16)

    # Step labels by people are step overrules (the latest counts); gold paths carry known ratings, and a
    # labeller's ratings of a gold path are kept apart as answers (gold_answers), never as overrules.

    def add_step_labels(self, labeller: str, labels: dict[int, str], reason: str | None,
                        completion: tuple[int, str] | None = None) -> None:
        """One labeller's labels ('correct'/'neutral'/'incorrect') of several steps, as step overrules, and the
        corrected step they wrote (step id, text) as a human completion: all written or none."""
        with self.transaction():
            for step_id, label in labels.items():
                self.add_step_overrule(step_id, label, reason, labeller)
            if completion is not None:
                self.add_human_completion(completion[0], completion[1], labeller)

    def latest_step_labels(self, labeller: str | None = None, path_id: int | None = None) -> dict[int, dict[int, str]]:
        """path_id -> {step_id: label} with each step's latest label by `labeller` (by anyone when None), for one
        path or all."""
        where, params = ["1=1"], []
        if labeller is not None:
            where.append("o.reviewer = ?")
            params.append(labeller)
        if path_id is not None:
            where.append("s.path_id = ?")
            params.append(path_id)
        rows = self.conn.execute(
            "SELECT s.path_id, o.step_id, o.label FROM step_overrules o JOIN steps s ON s.id = o.step_id "
            f"WHERE {' AND '.join(where)} ORDER BY o.id", params,
        )
        labels: dict[int, dict[int, str]] = {}
        for found_path, step_id, label in rows:  # ordered by id: the latest wins
            labels.setdefault(found_path, {})[step_id] = label
        return labels

    def get_reasoning_path(self, path_id: int) -> dict | None:
        """One path (its row, params as a dict) with its steps (id, idx, text) in order; None if it does not exist."""
        path = self._one("SELECT * FROM reasoning_paths WHERE id = ?", [path_id])
        if path is not None:
            path["params"] = from_json(path["params"], {})
            path["steps"] = self.path_steps(path_id)
        return path

    def step_labellers(self) -> list[str]:
        """Everyone who labelled or overruled a step (imports name their file's labeller), A-Z."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT reviewer FROM step_overrules ORDER BY reviewer")]

    def mark_gold_path(self, path_id: int, ratings: dict[int, int], labeller: str | None, marked_by: str) -> None:
        """Make a path gold with these known ratings (step_id -> -1/0/+1), taken from `labeller`'s labels (None:
        each step's latest label by anyone); marking it again replaces its ratings."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO gold_paths (path_id, labeller, marked_by, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path_id) DO UPDATE SET labeller = excluded.labeller, marked_by = excluded.marked_by, "
                "created_at = excluded.created_at",
                [path_id, labeller, marked_by, now()],
            )
            self.conn.execute("DELETE FROM gold_steps WHERE path_id = ?", [path_id])
            self.conn.executemany("INSERT INTO gold_steps (step_id, path_id, rating) VALUES (?, ?, ?)",
                                  [(step_id, path_id, rating) for step_id, rating in ratings.items()])

    def unmark_gold_path(self, path_id: int) -> bool:
        """The path is no longer gold (answers given to it stay stored but count no more). False if it was not."""
        return self.conn.execute("DELETE FROM gold_paths WHERE path_id = ?", [path_id]).rowcount == 1

    def gold_paths(self) -> list[dict]:
        """Every gold path: path_id, labeller (whose labels; None = latest of anyone), marked_by, created_at,
        task_type, task_id, path_index, job_id (of the path), steps (count), answers (labellers who answered it)."""
        return self._rows(
            "SELECT g.path_id, g.labeller, g.marked_by, g.created_at, p.task_type, p.task_id, p.path_index, p.job_id,"
            " (SELECT count(*) FROM gold_steps gs WHERE gs.path_id = g.path_id) AS steps,"
            " (SELECT count(DISTINCT a.labeller) FROM gold_answers a WHERE a.path_id = g.path_id) AS answers"
            " FROM gold_paths g JOIN reasoning_paths p ON p.id = g.path_id ORDER BY g.path_id"
        )

    def is_gold_path(self, path_id: int) -> bool:
        return self._scalar("SELECT count(*) FROM gold_paths WHERE path_id = ?", [path_id]) == 1

    def add_gold_answers(self, path_id: int, labeller: str, ratings: dict[int, int],
                         completion: tuple[int, str] | None = None) -> None:
        """A labeller's ratings of a gold path's steps (step_id -> -1/0/+1), with the corrected step they wrote
        (step id, text) on its row; all written or none."""
        corrected_step, text = completion or (None, None)
        timestamp = now()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO gold_answers (path_id, step_id, labeller, rating, human_completion, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(path_id, step_id, labeller, rating, text if step_id == corrected_step else None, timestamp)
                 for step_id, rating in ratings.items()],
            )

    def gold_answer_ratings(self, labeller: str, path_id: int | None = None) -> dict[int, dict[int, int]]:
        """path_id -> {step_id: rating} with the labeller's latest answer to each gold step they answered."""
        where, params = "labeller = ?", [labeller]
        if path_id is not None:
            where, params = where + " AND path_id = ?", [labeller, path_id]
        answers: dict[int, dict[int, int]] = {}
        for found_path, step_id, rating in self.conn.execute(
                f"SELECT path_id, step_id, rating FROM gold_answers WHERE {where} ORDER BY id", params):
            answers.setdefault(found_path, {})[step_id] = rating
        return answers

    def gold_answer_checks(self) -> list[dict]:
        """Each labeller's latest answer to each step of a (still) gold path beside its gold rating:
        labeller, path_id, step_id, answer, gold."""
        return self._rows(
            "SELECT a.labeller, a.path_id, a.step_id, a.rating AS answer, g.rating AS gold FROM gold_answers a "
            "JOIN gold_steps g ON g.step_id = a.step_id "
            "WHERE a.id IN (SELECT max(id) FROM gold_answers GROUP BY labeller, step_id) ORDER BY a.labeller, a.step_id"
        )

    # ---- calibration (issue 16)

    def human_step_labels(self, sample_ids: Iterable[int] | None = None) -> list[dict]:
        """Each labeller's latest label of each step people labelled (step_id, path_id, idx, task_type,
        task_id, labeller, label), oldest step first. `sample_ids` keeps only those samples' paths."""
        scope, params = "", []
        if sample_ids is not None:
            scope, params = " AND p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?))", [
                json.dumps(list(sample_ids))]
        return self._rows(
            "SELECT step_id, path_id, idx, task_type, task_id, labeller, label FROM ("
            " SELECT o.step_id, s.path_id, s.idx, p.task_type, p.task_id, o.reviewer AS labeller, o.label,"
            " row_number() OVER (PARTITION BY o.step_id, o.reviewer ORDER BY o.created_at DESC, o.id DESC) AS newest"
            " FROM step_overrules o JOIN steps s ON s.id = o.step_id JOIN reasoning_paths p ON p.id = s.path_id"
            f" WHERE 1 = 1{scope}) WHERE newest = 1 ORDER BY path_id, idx, labeller",
            params,
        )

    def labelled_path_verdicts(self) -> list[dict]:
        """Every step of every path with a human label, with each verifier's verdict (step_id, path_id, idx,
        verifier, score, label; verifier NULL for a step no verifier scored), in path and step order."""
        return self._rows(
            "SELECT s.id AS step_id, s.path_id, s.idx, sc.verifier, sc.score, sc.label FROM steps s"
            " LEFT JOIN step_scores sc ON sc.step_id = s.id"
            " WHERE s.path_id IN (SELECT st.path_id FROM step_overrules o JOIN steps st ON st.id = o.step_id)"
            " ORDER BY s.path_id, s.idx, sc.verifier"
        )

    def gate_decided_tasks(self) -> list[tuple[str, int]]:
        """(task_type, task_id) of every verified task the gate decided: seeds, and samples not filtered out."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT g.task_type, g.task_id FROM gate_verdicts g LEFT JOIN samples s ON g.task_type = 'sample'"
            " AND s.id = g.task_id WHERE g.task_type = 'seed' OR (s.id IS NOT NULL AND s.filter_reason IS NULL)"
            " ORDER BY g.task_type, g.task_id"
        )]

    def reference_answers(self, sample_ids: Iterable[int]) -> dict[int, str]:
        """sample id -> its seed's reference answer, for samples asking the seed's own question (input included,
        as `reasoning.load_task` decides); samples without one are absent."""
        rows = self.conn.execute(
            "SELECT s.id, d.reference_answer FROM samples s JOIN seeds d ON d.id = s.seed_id AND d.text_hash = s.text_hash"
            " WHERE s.id IN (SELECT value FROM json_each(?)) AND coalesce(trim(d.reference_answer), '') != ''",
            [json.dumps(list(sample_ids))],
        )
        return dict(rows.fetchall())
