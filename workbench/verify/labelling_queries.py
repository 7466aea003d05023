"""Step labelling and calibration (issue 16): people's labels are step overrules (the latest counts, in
store.verify); gold paths carry known ratings, and a labeller's ratings of a gold path are kept apart as
answers (gold_answers), never as overrules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries, Where, now


class LabellingQueries(Queries):
    """store.labelling. Owner of gold_paths, gold_steps, gold_answers: only it writes them."""

    TABLES = ("gold_paths", "gold_steps", "gold_answers")

    # Step labels by people are step overrules (the latest counts); gold paths carry known ratings, and a
    # labeller's ratings of a gold path are kept apart as answers (gold_answers), never as overrules.

    def add_step_labels(self, labeller: str, labels: dict[int, str], reason: str | None,
                        completion: tuple[int, str] | None = None) -> None:
        """One labeller's labels ('correct'/'neutral'/'incorrect') of several steps, as step overrules, and the
        corrected step they wrote (step id, text) as a human completion: all written or none."""
        with self.transaction():
            for step_id, label in labels.items():
                self.store.verify.add_step_overrule(step_id, label, reason, labeller)
            if completion is not None:
                self.store.verify.add_human_completion(completion[0], completion[1], labeller)

    def latest_step_labels(self, labeller: str | None = None, path_id: int | None = None) -> dict[int, dict[int, str]]:
        """path_id -> {step_id: label} with each step's latest label by `labeller` (by anyone when None), for one
        path or all."""
        where = Where()
        where.equals("o.reviewer", labeller)
        where.equals("s.path_id", path_id)
        rows = self.conn.execute(
            f"SELECT s.path_id, o.step_id, o.label FROM step_overrules o JOIN steps s ON s.id = o.step_id WHERE {where} "
            "ORDER BY o.id", where.params,
        )
        labels: dict[int, dict[int, str]] = {}
        for found_path, step_id, label in rows:  # ordered by id: the latest wins
            labels.setdefault(found_path, {})[step_id] = label
        return labels

    def step_labellers(self) -> list[str]:
        """Everyone who labelled or overruled a step (imports name their file's labeller), A-Z."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT reviewer FROM step_overrules ORDER BY reviewer")]

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
