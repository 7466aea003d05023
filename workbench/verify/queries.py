"""The verify stage's tables: reasoning paths and their steps, the verifiers' step scores, people's step
overrules and corrected steps, rollouts, pseudo-references and the gate's verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries, StoreError, from_json, now, to_json


class VerifyQueries(Queries):
    """store.verify. Owner of reasoning_paths, steps, step_scores, step_overrules, human_completions,
    rollouts, pseudo_references, gate_verdicts: only it writes them.
    """

    TABLES = ("reasoning_paths", "steps", "step_scores", "step_overrules", "human_completions", "rollouts", "pseudo_references", "gate_verdicts")

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
            self.store.samples.forget_pii_scan(path_id)
        return path_id

    def import_path(self, sample_id: int, sample: dict, timestamp: float) -> None:
        path_id = self.conn.execute(
            "INSERT INTO reasoning_paths (task_type, task_id, path_index, text, created_at) VALUES ('sample', ?, 0, ?, ?)",
            [sample_id, "\n".join(sample["steps"]), timestamp],
        ).lastrowid
        self.conn.executemany(
            "INSERT INTO steps (path_id, idx, text) VALUES (?, ?, ?)", [(path_id, i, t) for i, t in enumerate(sample["steps"])]
        )
        step_ids = [r[0] for r in self.conn.execute("SELECT id FROM steps WHERE path_id = ? ORDER BY idx", [path_id])]
        labelled_at = sample.get("labelled_at") or timestamp
        self.conn.executemany(
            "INSERT INTO human_completions (path_id, step_id, text, labeller, created_at) VALUES (?, ?, ?, ?, ?)",
            [(path_id, step_ids[index], text, sample["labeller"], labelled_at)
             for index, text in sorted((sample.get("human_completions") or {}).items())],
        )
        if any(label is not None for label in sample["labels"]):
            self.conn.executemany(
                "INSERT INTO step_overrules (step_id, label, reason, reviewer, created_at) VALUES (?, ?, ?, ?, ?)",
                [(step_id, label, sample["label_reason"], sample["labeller"], labelled_at)
                 for step_id, label in zip(step_ids, sample["labels"], strict=True) if label is not None],
            )

    def job_path_ids(self, job_id: int, task_type: str, task_id: int) -> dict[int, int]:
        """path_index -> path id of the paths one job stored for one task."""
        rows = self.conn.execute(
            "SELECT path_index, id FROM reasoning_paths WHERE job_id = ? AND task_type = ? AND task_id = ?",
            [job_id, task_type, task_id],
        )
        return dict(rows.fetchall())

    def get_reasoning_path(self, path_id: int) -> dict | None:
        """One path (its row, params as a dict) with its steps (id, idx, text) in order; None if it does not exist."""
        path = self._one("SELECT * FROM reasoning_paths WHERE id = ?", [path_id])
        if path is not None:
            path["params"] = from_json(path["params"], {})
            path["steps"] = self.path_steps(path_id)
        return path

    def path_steps(self, path_id: int) -> list[dict]:
        return self._rows("SELECT id, idx, text FROM steps WHERE path_id = ? ORDER BY idx", [path_id])

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

    def best_paths(self, sample_ids: Iterable[int]) -> dict[int, dict]:
        """Each sample's best reasoning path {id, task_id, steps}: every step with its latest verifier score
        (score, label, verifier) and its latest human overrule.

        Best = highest `path_score` metric of the path, else highest mean step score, else the first path.
        """
        ranked = self.conn.execute(
            "SELECT p.id, p.task_id, p.path_index,"
            " (SELECT value FROM metrics m WHERE m.item_type = 'path' AND m.item_id = p.id AND m.name = 'path_score'),"
            " CASE WHEN EXISTS (SELECT 1 FROM reasoning_paths q WHERE q.task_type = 'sample' AND q.task_id = p.task_id"
            " AND q.id <> p.id) THEN (SELECT avg(ss.score) FROM steps st JOIN step_scores ss ON ss.step_id = st.id"
            " WHERE st.path_id = p.id) END"
            " FROM reasoning_paths p WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(sample_ids))],
        )
        best: dict[int, tuple] = {}
        for path_id, task_id, index, path_score, mean_score in ranked:
            score = path_score if path_score is not None else mean_score
            rank = (score is not None, score or 0.0, -index, -path_id)
            if task_id not in best or rank > best[task_id][0]:
                best[task_id] = (rank, path_id)
        paths = {path_id: {"id": path_id, "task_id": task_id, "steps": []} for task_id, (_, path_id) in best.items()}
        path_json = json.dumps(list(paths))
        by_step: dict[int, dict] = {}
        for step_id, path_id, idx, text, score, label, verifier in self.conn.execute(
            "SELECT st.id, st.path_id, st.idx, st.text, ss.score, ss.label, ss.verifier FROM steps st"
            " LEFT JOIN step_scores ss ON ss.step_id = st.id"
            " WHERE st.path_id IN (SELECT value FROM json_each(?)) ORDER BY st.path_id, st.idx, ss.created_at, ss.verifier",
            [path_json],
        ):
            if step_id in by_step:  # a later score of the same step (another verifier): the latest wins
                by_step[step_id].update(score=score, label=label, verifier=verifier)
                continue
            step = {"id": step_id, "path_id": path_id, "idx": idx, "text": text, "score": score, "label": label,
                    "verifier": verifier, "overrule": None}
            by_step[step_id] = step
            paths[path_id]["steps"].append(step)
        for row in self._rows(
            "SELECT step_id, label, reason, reviewer, created_at FROM step_overrules"
            " WHERE step_id IN (SELECT id FROM steps WHERE path_id IN (SELECT value FROM json_each(?)))"
            " ORDER BY created_at, id",
            [path_json],
        ):
            by_step[row["step_id"]]["overrule"] = row
        return {path["task_id"]: path for path in paths.values()}

    def sample_paths_steps(self, sample_ids: Iterable[int]) -> dict[int, list[dict]]:
        """Every step (id, text) of every reasoning path of each sample: what a PII scan must read."""
        rows = self._rows(
            "SELECT p.task_id, st.id, st.text FROM reasoning_paths p JOIN steps st ON st.path_id = p.id"
            " WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?)) ORDER BY p.id, st.idx",
            [json.dumps(list(sample_ids))],
        )
        found: dict[int, list[dict]] = {}
        for row in rows:
            found.setdefault(row["task_id"], []).append({"id": row["id"], "text": row["text"]})
        return found

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

    def step_task(self, step_id: int) -> tuple[str, int] | None:
        row = self.conn.execute(
            "SELECT p.task_type, p.task_id FROM steps s JOIN reasoning_paths p ON p.id = s.path_id WHERE s.id = ?",
            [step_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

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

    def step_overrule_history(self, step_id: int) -> list[dict]:
        return self._rows("SELECT * FROM step_overrules WHERE step_id = ? ORDER BY id", [step_id])

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
        self.store.samples.forget_pii_scan(path_id)
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

    def sample_human_completions(self, sample_ids: Iterable[int]) -> dict[int, list[dict]]:
        """Every corrected step people wrote on each sample's paths (id, text): what a PII scan must read too."""
        return self._rows_by(
            "task_id", "SELECT p.task_id, h.id, h.text FROM human_completions h JOIN reasoning_paths p ON p.id = h.path_id"
            " WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?)) ORDER BY h.id", sample_ids)

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

    def step_rollouts(self, step_ids: Iterable[int]) -> dict[int, list[dict]]:
        """step id -> its stored Monte-Carlo rollouts (k, text, final_answer), in k order (steps with none absent)."""
        return self._rows_by("step_id", "SELECT step_id, k, text, final_answer FROM rollouts WHERE step_id IN"
                             " (SELECT value FROM json_each(?)) ORDER BY step_id, k", step_ids)

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
