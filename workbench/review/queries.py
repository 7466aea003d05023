"""The review stage's SQL: a mixin of workbench.store.Store over its one connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from workbench.core.store import TASK_TEXT, StoreError, from_json, now, task_text, text_hash, to_json


class ReviewQueries:
    """Queries of the review stage (mixed into workbench.store.Store)."""

    # ---- review, PII and export

    # Id lists travel as one JSON parameter (`IN (SELECT value FROM json_each(?))`): any length, one statement.

    REVIEW_STATUSES = ("pending", "approved", "rejected")

    # The queue of what needs a person: pending samples, and samples whose latest decision was made automatically
    # (an automatic rejection to check, an automatic approval to confirm). A status filter value, not a status.
    NEEDS_HUMAN = "needs a human"

    # The latest status decision of sample s (a `reviews` row), and whether it was automatic.
    _LATEST_AUTOMATIC = (
        "coalesce((SELECT json_extract(r.after, '$.automatic') FROM reviews r WHERE r.sample_id = s.id"
        " AND r.action = 'status' ORDER BY r.created_at DESC, r.id DESC LIMIT 1), 0)"
    )

    EDITABLE_SAMPLE_FIELDS = ("instruction", "input", "output", "turns")

    def _insert_reviews(self, rows: list[tuple]) -> None:
        """rows: (sample_id, action, reviewer, before, after, note, created_at)."""
        self.conn.executemany(
            "INSERT INTO reviews (sample_id, action, reviewer, before, after, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def set_sample_status(self, ids: Iterable[int], status: str, reviewer: str, note: str | None = None,
                          automatic: bool = False) -> int:
        """Set the review status of samples; each changed one gets a `reviews` row (who, when, before, after).
        `automatic` marks a decision no person made (the gate's, in the demo): its row's `after` holds
        `"automatic": true`, and the sample stays in the NEEDS_HUMAN queue until a person decides.

        Returns how many changed: a sample already in that status is left alone, with no review row, unless its
        latest decision was automatic and this one is a person's (a confirmation: it gets its row)."""
        if status not in self.REVIEW_STATUSES:
            raise StoreError(f"unknown status {status!r}; use one of {', '.join(self.REVIEW_STATUSES)}")
        timestamp = now()
        confirms = "0" if automatic else f"{self._LATEST_AUTOMATIC} = 1"
        after = {"status": status, **({"automatic": True} if automatic else {})}
        with self.transaction():
            found = self.conn.execute(
                "SELECT s.id, s.status FROM samples s WHERE s.id IN (SELECT value FROM json_each(?))"
                f" AND (s.status != ? OR {confirms})",
                [json.dumps(list(ids)), status],
            ).fetchall()
            self.conn.executemany(
                "UPDATE samples SET status = ?, updated_at = ? WHERE id = ?", [(status, timestamp, i) for i, _ in found]
            )
            self._insert_reviews(
                [(i, "status", reviewer, to_json({"status": old}), to_json(after), note, timestamp) for i, old in found]
            )
        return len(found)

    def _change_sample_tags(
        self, ids: Iterable[int], change: Callable[[list[str]], list[str]], action: str, reviewer: str,
        note: str | None = None,
    ) -> int:
        timestamp = now()
        with self.transaction():
            found = self.conn.execute(
                "SELECT id, tags FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
            ).fetchall()
            updates = [(i, from_json(tags, []), change(from_json(tags, []))) for i, tags in found]
            updates = [(i, old, new) for i, old, new in updates if new != old]
            self.conn.executemany(
                "UPDATE samples SET tags = ?, updated_at = ? WHERE id = ?", [(to_json(new), timestamp, i) for i, _, new in updates]
            )
            self._insert_reviews(
                [(i, action, reviewer, to_json({"tags": old}), to_json({"tags": new}), note, timestamp) for i, old, new in updates]
            )
        return len(updates)

    def add_sample_tags(self, ids: Iterable[int], tags: Iterable[str], reviewer: str, note: str | None = None) -> int:
        """Add tags to samples (kept unique, in order); one `reviews` row per sample."""
        extra = [t.strip() for t in tags if t.strip()]
        return self._change_sample_tags(ids, lambda old: list(dict.fromkeys([*old, *extra])), "tag", reviewer, note)

    def remove_sample_tags(self, ids: Iterable[int], tags: Iterable[str], reviewer: str, note: str | None = None) -> int:
        gone = {t.strip() for t in tags}
        return self._change_sample_tags(ids, lambda old: [t for t in old if t not in gone], "untag", reviewer, note)

    def edit_sample(self, sample_id: int, changes: dict, reviewer: str, note: str | None = None,
                    history: tuple[dict, dict] | None = None) -> bool:
        """Edit a sample's instruction, input, output and turns, keeping the first original instruction and
        output and a history row (`history` = (before, after) to record, e.g. per turn; default: the changed columns).

        The PII scan is cleared, since it no longer describes the text. Returns False when nothing changed.
        """
        current = self.get_sample(sample_id)
        if current is None:
            raise StoreError(f"no sample {sample_id}")
        diff = {k: v for k, v in changes.items() if k in self.EDITABLE_SAMPLE_FIELDS and v != current.get(k)}
        if not diff:
            return False
        if "instruction" in diff and not str(diff["instruction"] or "").strip():
            raise StoreError(f"sample {sample_id}: the instruction cannot be empty")
        assignments = [f"original_{k} = coalesce(original_{k}, {k}), {k} = :{k}" if k in ("instruction", "output")
                       else f"{k} = :{k}" for k in diff]
        if "instruction" in diff or "input" in diff:
            assignments.append("text_hash = :text_hash")
        merged = {**current, **diff}
        values = {**diff, "turns": to_json(diff.get("turns")),
                  "text_hash": text_hash(task_text(merged.get("instruction") or "", merged.get("input")))}
        before, after = history or ({k: current.get(k) for k in diff}, diff)
        timestamp = now()
        with self.transaction():
            self.conn.execute(
                f"UPDATE samples SET {', '.join(assignments)}, pii = NULL, updated_at = :now WHERE id = :id",
                {**values, "now": timestamp, "id": sample_id},
            )
            self._insert_reviews([(sample_id, "edit", reviewer, to_json(before), to_json(after), note, timestamp)])
        return True

    def sample_reviews(self, sample_id: int) -> list[dict]:
        """The review history of one sample, newest first."""
        rows = self._rows("SELECT * FROM reviews WHERE sample_id = ? ORDER BY created_at DESC, id DESC", [sample_id])
        for row in rows:
            row["before"], row["after"] = from_json(row["before"]), from_json(row["after"])
        return rows

    def _sample_filter_sql(
        self,
        status: str | None = None,
        sources: Iterable[str] | None = None,
        operators: Iterable[str] | None = None,
        depth_min: int | None = None,
        depth_max: int | None = None,
        score_min: float | None = None,
        score_max: float | None = None,
        novelty_min: float | None = None,
        pii: str | None = None,
        tags: Iterable[str] | None = None,
        ids: Iterable[int] | None = None,
        search: str = "",
    ) -> tuple[str, list]:
        """FROM ... WHERE for the review queue; the columns operator, depth, best_path_score and novelty are joined in.
        `status` is a review status, NEEDS_HUMAN (pending, or decided automatically) or None (any)."""
        clauses, params = ["s.filter_reason IS NULL"], []
        if status == self.NEEDS_HUMAN:
            clauses.append(f"(s.status = 'pending' OR {self._LATEST_AUTOMATIC} = 1)")
        elif status:
            clauses.append("s.status = ?")
            params.append(status)
        for column, values in (("s.source", sources), ("n.operator", operators)):
            if values:
                clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(json.dumps(list(values)))
        for expression, operator, value in (
            ("n.depth", ">=", depth_min), ("n.depth", "<=", depth_max), ("score.value", ">=", score_min),
            ("score.value", "<=", score_max), ("novelty.value", ">=", novelty_min),
        ):
            if value is not None:
                clauses.append(f"{expression} {operator} ?")
                params.append(value)
        if pii == "flagged":
            clauses.append("json_array_length(s.pii, '$.findings') > 0")
        elif pii == "clean":
            clauses.append("json_array_length(s.pii, '$.findings') = 0")
        elif pii == "unscanned":
            clauses.append("s.pii IS NULL")
        if tags:
            clauses.append("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value IN (SELECT value FROM json_each(?)))")
            params.append(json.dumps(list(tags)))
        if ids is not None:
            clauses.append("s.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(ids)))
        if search:
            clauses.append("(s.instruction LIKE ? OR coalesce(s.output, '') LIKE ?)")
            params += [f"%{search}%"] * 2
        sql = (
            " FROM samples s LEFT JOIN evol_nodes n ON n.id = s.node_id"
            " LEFT JOIN metrics score ON score.item_type = 'sample' AND score.item_id = s.id AND score.name = 'best_path_score'"
            " LEFT JOIN metrics novelty ON novelty.item_type = 'sample' AND novelty.item_id = s.id"
            " AND novelty.name = 'novelty_seeds'"
            f" WHERE {' AND '.join(clauses)}"
        )
        return sql, params

    def query_samples(self, limit: int | None = None, offset: int = 0, **filters: Any) -> list[dict]:
        """Samples for the review queue (filters as in `_sample_filter_sql`), oldest first."""
        where, params = self._sample_filter_sql(**filters)
        sql = f"SELECT s.*, n.operator, n.depth, score.value AS best_path_score, novelty.value AS novelty{where} ORDER BY s.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self._sample_from_row(r) for r in self._rows(sql, params)]

    def count_samples(self, **filters: Any) -> int:
        where, params = self._sample_filter_sql(**filters)
        return self._scalar(f"SELECT count(*){where}", params)

    def count_samples_by_status(self, **filters: Any) -> dict[str, int]:
        """How many samples match the filters, per review status (statuses with none left out)."""
        where, params = self._sample_filter_sql(**filters)
        return dict(self.conn.execute(f"SELECT s.status, count(*){where} GROUP BY s.status", params).fetchall())

    def query_sample_ids(self, **filters: Any) -> list[int]:
        where, params = self._sample_filter_sql(**filters)
        return [r[0] for r in self.conn.execute(f"SELECT s.id{where} ORDER BY s.id", params)]

    def sample_operators(self) -> list[str]:
        sql = "SELECT DISTINCT n.operator FROM samples s JOIN evol_nodes n ON n.id = s.node_id ORDER BY 1"
        return [r[0] for r in self.conn.execute(sql)]

    def sample_tags(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT value FROM samples, json_each(samples.tags) ORDER BY 1")]

    def sample_sources(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT source FROM samples ORDER BY 1")]

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

    def _rows_by(self, key: str, sql: str, ids: Iterable[int]) -> dict[int, list[dict]]:
        """The rows of a query over a JSON list of ids, grouped by their `key` column (taken out of each row)."""
        found: dict[int, list[dict]] = {}
        for row in self._rows(sql, [json.dumps(list(ids))]):
            found.setdefault(row.pop(key), []).append(row)
        return found

    def sample_human_completions(self, sample_ids: Iterable[int]) -> dict[int, list[dict]]:
        """Every corrected step people wrote on each sample's paths (id, text): what a PII scan must read too."""
        return self._rows_by(
            "task_id", "SELECT p.task_id, h.id, h.text FROM human_completions h JOIN reasoning_paths p ON p.id = h.path_id"
            " WHERE p.task_type = 'sample' AND p.task_id IN (SELECT value FROM json_each(?)) ORDER BY h.id", sample_ids)

    def evol_chains(self, node_ids: Iterable[int]) -> dict[int, list[dict]]:
        """For each evolution node, its chain from the seed: [{node_id, depth, operator}] in depth order."""
        rows = self._rows(
            "WITH RECURSIVE chain(leaf, id, parent_id, depth, operator) AS ("
            " SELECT id, id, parent_id, depth, operator FROM evol_nodes WHERE id IN (SELECT value FROM json_each(?))"
            " UNION ALL SELECT chain.leaf, n.id, n.parent_id, n.depth, n.operator FROM evol_nodes n"
            " JOIN chain ON n.id = chain.parent_id)"
            " SELECT leaf, id, depth, operator FROM chain ORDER BY leaf, depth",
            [json.dumps(list(node_ids))],
        )
        chains: dict[int, list[dict]] = {}
        for row in rows:
            chains.setdefault(row["leaf"], []).append({"node_id": row["id"], "depth": row["depth"], "operator": row["operator"]})
        return chains

    def metrics_many(self, item_type: str, ids: Iterable[int]) -> dict[int, dict[str, float | None]]:
        found: dict[int, dict[str, float | None]] = {}
        for item_id, name, value in self.conn.execute(
            "SELECT item_id, name, value FROM metrics WHERE item_type = ? AND item_id IN (SELECT value FROM json_each(?))",
            [item_type, json.dumps(list(ids))],
        ):
            found.setdefault(item_id, {})[name] = value
        return found

    def latest_decisions(self, sample_ids: Iterable[int]) -> dict[int, dict]:
        """The latest status review of each sample: {status, reviewer, created_at, automatic}."""
        rows = self._rows(
            "SELECT sample_id, reviewer, after, max(created_at) AS created_at FROM reviews"
            " WHERE action = 'status' AND sample_id IN (SELECT value FROM json_each(?)) GROUP BY sample_id",
            [json.dumps(list(sample_ids))],
        )
        return {
            r["sample_id"]: {"status": from_json(r["after"], {}).get("status"), "reviewer": r["reviewer"],
                             "created_at": r["created_at"], "automatic": bool(from_json(r["after"], {}).get("automatic"))}
            for r in rows
        }

    def max_sample_id(self) -> int:
        return self._scalar("SELECT coalesce(max(id), 0) FROM samples")

    def import_samples(self, rows: list[dict]) -> list[tuple[int | None, bool]]:
        """Insert imported samples in the caller's transaction (or one of its own). Per row: (the sample it landed
        in, whether that sample is new); (None, False) for a duplicate.

        Each row is a sample dict plus `steps` (stored as its reasoning path), `labels` (an overrule label or
        None per step, stored as step overrules by `labeller` at `labelled_at` with `label_reason`), `metrics`,
        `human_completions` (step index -> a labeller's corrected step, stored by `labeller`) and, for a preference
        row, `pair` ({kind, chosen, rejected, lineage, metadata, pair_key}): a row whose sample is stored already
        adds its pair to that sample, and is a duplicate only when the pair is stored too.
        """
        timestamp = now()
        landed: list[tuple[int | None, bool]] = []
        with self.transaction():
            for sample in rows:
                row = self._sample_row({**sample, "status": "pending"}, timestamp)
                found = self.conn.execute(
                    f"INSERT INTO samples ({', '.join(row)}) VALUES ({', '.join(f':{k}' for k in row)})"
                    " ON CONFLICT(unit_key) DO NOTHING RETURNING id",
                    row,
                ).fetchone()
                sample_id = found[0] if found else None
                if sample.get("pair"):
                    existing = sample_id or self._scalar("SELECT id FROM samples WHERE unit_key = ?", [row["unit_key"]])
                    added = self._add_pair(existing, sample["pair"], timestamp)
                    landed.append((existing if added else None, found is not None))
                else:
                    landed.append((sample_id, found is not None))
                if found is None:
                    continue
                if sample["steps"]:
                    self._import_path(found[0], sample, timestamp)
                if sample.get("metrics"):
                    self.set_metrics("sample", found[0], sample["metrics"], note=sample["label_reason"])
        return landed

    def _add_pair(self, sample_id: int, pair: dict, timestamp: float) -> bool:
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

    def step_rollouts(self, step_ids: Iterable[int]) -> dict[int, list[dict]]:
        """step id -> its stored Monte-Carlo rollouts (k, text, final_answer), in k order (steps with none absent)."""
        return self._rows_by("step_id", "SELECT step_id, k, text, final_answer FROM rollouts WHERE step_id IN"
                             " (SELECT value FROM json_each(?)) ORDER BY step_id, k", step_ids)

    def preference_pair_count(self, status: str | None = None) -> int:
        """How many stored (imported) preference pairs belong to unfiltered samples of a status (or any)."""
        return self._scalar(
            "SELECT count(*) FROM preference_pairs p JOIN samples s ON s.id = p.sample_id"
            " WHERE s.filter_reason IS NULL AND (? IS NULL OR s.status = ?)", [status, status])

    def _import_path(self, sample_id: int, sample: dict, timestamp: float) -> None:
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

    # PII scan results live in samples.pii: {"engine", "scanned_at", "findings": [{field, entity, start, end, score}]}

    def set_sample_pii(self, results: dict[int, dict]) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE samples SET pii = ? WHERE id = ?", [(to_json(r), i) for i, r in results.items()])

    def pii_counts(self, status: str | None = None) -> dict[str, int]:
        """How many unfiltered samples (of a status, or all) are flagged, clean and not yet scanned."""
        row = self.conn.execute(
            "SELECT sum(pii IS NULL), sum(json_array_length(pii, '$.findings') = 0),"
            " sum(json_array_length(pii, '$.findings') > 0) FROM samples WHERE filter_reason IS NULL"
            " AND (? IS NULL OR status = ?)",
            [status, status],
        ).fetchone()
        return {"unscanned": row[0] or 0, "clean": row[1] or 0, "flagged": row[2] or 0}

    def pii_scan_candidates(self, only_unscanned: bool, first_id: int | None = None, last_id: int | None = None,
                            status: str | None = None) -> list[int]:
        """Ids of the unfiltered samples (of a status, or all) a scan takes, in id order."""
        sql = (
            "SELECT id FROM samples WHERE filter_reason IS NULL AND (? = 0 OR pii IS NULL)"
            " AND id >= coalesce(?, id) AND id <= coalesce(?, id) AND (? IS NULL OR status = ?) ORDER BY id"
        )
        return [r[0] for r in self.conn.execute(sql, [int(only_unscanned), first_id, last_id, status, status])]

    def clear_sample_pii(self) -> int:
        """Forget every PII scan (the rules changed): every sample is then unscanned. Returns how many were scanned."""
        return self.conn.execute("UPDATE samples SET pii = NULL WHERE pii IS NOT NULL").rowcount

    def export_sample_ids(self, status: str | None, exclude_flagged: bool) -> list[int]:
        """Ids of the unfiltered samples an export takes, in id order."""
        sql = (
            "SELECT id FROM samples WHERE filter_reason IS NULL AND (? IS NULL OR status = ?)"
            " AND (? = 0 OR coalesce(json_array_length(pii, '$.findings'), 0) = 0) ORDER BY id"
        )
        return [r[0] for r in self.conn.execute(sql, [status, status, int(exclude_flagged)])]

    SAMPLE_JSON_COLUMNS = {"tags": [], "metadata": {}, "params": {}, "turns": None, "pii": None}

    def sample_columns(self, ids: Iterable[int], columns: list[str]) -> list[dict]:
        """Only the named columns of samples (JSON ones decoded): the light read a streaming export needs."""
        known = {r[1] for r in self.conn.execute("PRAGMA table_info(samples)")}
        if not set(columns) <= known:
            raise StoreError(f"unknown sample columns: {', '.join(sorted(set(columns) - known))}")
        cursor = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
        )
        decoded = [(i, self.SAMPLE_JSON_COLUMNS[c]) for i, c in enumerate(columns) if c in self.SAMPLE_JSON_COLUMNS]
        rows = []
        for values in cursor:
            values = list(values)
            for index, default in decoded:
                values[index] = from_json(values[index], default)
            rows.append(dict(zip(columns, values, strict=True)))
        return rows

    def samples_by_ids(self, ids: Iterable[int]) -> list[dict]:
        rows = self._rows("SELECT * FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))])
        return [self._sample_from_row(r) for r in rows]

    def sample_metric_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT name FROM metrics WHERE item_type = 'sample' ORDER BY 1")]

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
            "decisions": self.status_deciders(ids),
        }

    def status_deciders(self, sample_ids: Iterable[int]) -> dict:
        """Who made the latest status decision of each of these (unfiltered) samples: `people` {reviewer: samples}
        (a person's decision, or a person's confirmation of an automatic one), `automatic` {reviewer: samples} (a
        decision no person made or confirmed, e.g. the demo's gate review) and `undecided` (no status decision
        recorded: pending since made, or given its status on import)."""
        rows = self.conn.execute(
            "SELECT r.reviewer, json_extract(r.after, '$.automatic') FROM samples s LEFT JOIN reviews r ON r.id = ("
            " SELECT r2.id FROM reviews r2 WHERE r2.sample_id = s.id AND r2.action = 'status'"
            " ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1)"
            " WHERE s.filter_reason IS NULL AND s.id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(sample_ids))],
        ).fetchall()
        found: dict = {"people": {}, "automatic": {}, "undecided": 0}
        for reviewer, automatic in rows:
            if reviewer is None:
                found["undecided"] += 1
            else:
                who = found["automatic" if automatic else "people"]
                who[reviewer] = who.get(reviewer, 0) + 1
        return found

    # ---- decontamination (issue 16)

    # Benchmarks are test sets registered by name; `contamination` holds, per seed or sample and benchmark, its
    # strongest match (the scan replaces a benchmark's rows as a whole). Hits are joined to live seeds/samples only.

    def add_benchmark(self, name: str, file: str, field: str, texts: list[str], content_hash: str) -> int:
        """Register a benchmark and its items in one transaction. Raises StoreError (nothing stored) when the
        name or the same content (content_hash) is registered already."""
        with self.transaction():
            same = self._one("SELECT name, file FROM benchmarks WHERE name = ? OR content_hash = ?", [name, content_hash])
            if same is not None:
                why = (f"a benchmark named '{name}' is registered already" if same["name"] == name
                       else f"the same items are registered already as '{same['name']}' (from {same['file']})")
                raise StoreError(f"{why}; nothing was added")
            benchmark_id = self.conn.execute(
                "INSERT INTO benchmarks (name, file, field, n_items, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [name, file, field, len(texts), content_hash, now()],
            ).lastrowid
            self.conn.executemany(
                "INSERT INTO benchmark_items (benchmark_id, idx, text, text_hash) VALUES (?, ?, ?, ?)",
                [(benchmark_id, index, text, text_hash(text)) for index, text in enumerate(texts)],
            )
        return benchmark_id

    def list_benchmarks(self) -> list[dict]:
        """Every benchmark: id, name, file, field, n_items, created_at, and `flagged` (seeds and samples matching it)."""
        return self._rows(
            "SELECT b.id, b.name, b.file, b.field, b.n_items, b.created_at, count(c.item_id) AS flagged FROM benchmarks b"
            f" LEFT JOIN ({self._LIVE_HITS}) c ON c.benchmark_id = b.id GROUP BY b.id ORDER BY b.name"
        )

    def delete_benchmark(self, name: str) -> bool:
        """Forget a benchmark, its items and its hits. False when no benchmark has that name."""
        return self.conn.execute("DELETE FROM benchmarks WHERE name = ?", [name]).rowcount > 0

    def benchmark_items(self, benchmark_id: int) -> dict[str, list]:
        """Columns id, idx, text, text_hash of one benchmark's items, in file order."""
        return self._columns("SELECT id, idx, text, text_hash FROM benchmark_items WHERE benchmark_id = ? ORDER BY idx",
                             [benchmark_id])

    def decontam_corpus(self) -> dict[str, list]:
        """Columns of every seed and sample a scan checks: item_type, item_id, instruction, input, output (a seed's
        reference answer), extra (a seed's reference solution), turns (JSON or None), text_hash (its embedding key)."""
        return self._columns(
            "SELECT 'seed' AS item_type, id AS item_id, instruction, input, reference_answer AS output,"
            " reference_solution AS extra, NULL AS turns, text_hash FROM seeds UNION ALL"
            " SELECT 'sample', id, instruction, input, output, NULL, turns, text_hash FROM samples"
        )

    _UNEMBEDDED = (
        f"SELECT 'seed' AS kind, t.id, {TASK_TEXT.replace(' AS instruction', ' AS text')} FROM seeds t {{missing}}"
        f" UNION ALL SELECT 'sample', t.id, {TASK_TEXT.replace(' AS instruction', '')} FROM samples t {{missing}}"
        " UNION ALL SELECT 'benchmark_item', t.id, t.text FROM benchmark_items t {missing}"
    ).format(missing="LEFT JOIN embeddings e ON e.model = :model AND e.text_hash = t.text_hash WHERE e.text_hash IS NULL")

    def decontam_unembedded(self, model: str) -> list[dict]:
        """Seeds, samples (their task text) and benchmark items with no cached vector of `model`: kind, id, text."""
        return self._rows(f"{self._UNEMBEDDED} ORDER BY 1, 2", {"model": model})

    def decontam_unembedded_count(self, model: str) -> int:
        """How many texts decontam_unembedded would return (distinct texts are embedded once)."""
        return self._scalar(f"SELECT count(*) FROM ({self._UNEMBEDDED})", {"model": model})

    def samples_changed_since(self, timestamp: float, ids: Iterable[int] | None = None) -> int:
        """How many samples (of `ids`, or all) were created, or had their text edited, after `timestamp`."""
        return self._scalar(
            "SELECT count(*) FROM samples s WHERE (:ids IS NULL OR s.id IN (SELECT value FROM json_each(:ids)))"
            " AND (s.created_at > :at OR EXISTS (SELECT 1 FROM reviews r WHERE r.sample_id = s.id AND r.action = 'edit'"
            " AND r.created_at > :at))",
            {"at": timestamp, "ids": None if ids is None else json.dumps(list(ids))},
        )

    def replace_contamination(self, benchmark_id: int, hits: Iterable[tuple[str, int, int, float, float | None]]) -> int:
        """A benchmark's hits from a new scan, replacing its old ones: (item_type, item_id, benchmark_item_id,
        ngram_overlap, similarity). Returns how many were stored."""
        timestamp = now()
        rows = [(kind, item, benchmark_id, match, overlap, similarity, timestamp)
                for kind, item, match, overlap, similarity in hits]
        with self.transaction():
            self.conn.execute("DELETE FROM contamination WHERE benchmark_id = ?", [benchmark_id])
            self.conn.executemany(
                "INSERT INTO contamination (item_type, item_id, benchmark_id, benchmark_item_id, ngram_overlap, similarity,"
                " scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    _LIVE_HITS = (
        "SELECT c.* FROM contamination c WHERE (c.item_type = 'seed' AND c.item_id IN (SELECT id FROM seeds))"
        " OR (c.item_type = 'sample' AND c.item_id IN (SELECT id FROM samples))"
    )

    def contamination_hits(self, item_type: str | None = None, item_ids: Iterable[int] | None = None) -> list[dict]:
        """Hits of live seeds/samples (of one type and ids, or all): item_type, item_id, benchmark, benchmark_id,
        benchmark_item_id, item_index (0-based, in its file), match (the benchmark item's text), ngram_overlap,
        similarity (None when not computed), scanned_at; by type, id, then benchmark name."""
        ids = None if item_ids is None else json.dumps(list(item_ids))
        return self._rows(
            "SELECT c.item_type, c.item_id, b.name AS benchmark, c.benchmark_id, c.benchmark_item_id,"
            " i.idx AS item_index, i.text AS match, c.ngram_overlap, c.similarity, c.scanned_at"
            f" FROM ({self._LIVE_HITS}) c JOIN benchmarks b ON b.id = c.benchmark_id"
            " JOIN benchmark_items i ON i.id = c.benchmark_item_id"
            " WHERE (:type IS NULL OR c.item_type = :type) AND (:ids IS NULL OR c.item_id IN (SELECT value FROM json_each(:ids)))"
            " ORDER BY c.item_type DESC, c.item_id, b.name",
            {"type": item_type, "ids": ids},
        )

    def contaminated_sample_ids(self) -> set[int]:
        """Ids of the samples matching any benchmark item (the ones an export leaves out by default)."""
        return {r[0] for r in self.conn.execute("SELECT DISTINCT item_id FROM contamination WHERE item_type = 'sample'")}
