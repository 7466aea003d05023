"""Review decisions: the reviews table (who changed a sample's status, tags or text, when, before and after).
The sample's own columns are written through store.samples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from workbench.core.store import Queries, StoreError, from_json, now, task_text, text_hash, to_json


class ReviewQueries(Queries):
    """store.review. Owner of reviews: only it writes it."""

    TABLES = ("reviews",)

    # Id lists travel as one JSON parameter (`IN (SELECT value FROM json_each(?))`): any length, one statement.

    REVIEW_STATUSES = ("pending", "approved", "rejected")

    # The queue of what needs a person: pending samples, and samples whose latest decision was made automatically
    # (an automatic rejection to check, an automatic approval to confirm). A status filter value, not a status.
    NEEDS_HUMAN = "needs a human"

    # The latest status decision of sample s (a `reviews` row), and whether it was automatic.
    LATEST_AUTOMATIC = (
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
        confirms = "0" if automatic else f"{self.LATEST_AUTOMATIC} = 1"
        after = {"status": status, **({"automatic": True} if automatic else {})}
        with self.transaction():
            found = self.conn.execute(
                "SELECT s.id, s.status FROM samples s WHERE s.id IN (SELECT value FROM json_each(?))"
                f" AND (s.status != ? OR {confirms})",
                [json.dumps(list(ids)), status],
            ).fetchall()
            self.store.samples.write_status([i for i, _ in found], status, timestamp)
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
            self.store.samples.write_tags({i: new for i, _, new in updates}, timestamp)
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
        current = self.store.samples.get_sample(sample_id)
        if current is None:
            raise StoreError(f"no sample {sample_id}")
        diff = {k: v for k, v in changes.items() if k in self.EDITABLE_SAMPLE_FIELDS and v != current.get(k)}
        if not diff:
            return False
        if "instruction" in diff and not str(diff["instruction"] or "").strip():
            raise StoreError(f"sample {sample_id}: the instruction cannot be empty")
        merged = {**current, **diff}
        task_hash = (text_hash(task_text(merged.get("instruction") or "", merged.get("input")))
                     if "instruction" in diff or "input" in diff else None)
        before, after = history or ({k: current.get(k) for k in diff}, diff)
        timestamp = now()
        with self.transaction():
            self.store.samples.write_edit(sample_id, diff, task_hash, timestamp)
            self._insert_reviews([(sample_id, "edit", reviewer, to_json(before), to_json(after), note, timestamp)])
        return True

    def sample_reviews(self, sample_id: int) -> list[dict]:
        """The review history of one sample, newest first."""
        rows = self._rows("SELECT * FROM reviews WHERE sample_id = ? ORDER BY created_at DESC, id DESC", [sample_id])
        for row in rows:
            row["before"], row["after"] = from_json(row["before"]), from_json(row["after"])
        return rows

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

    def samples_changed_since(self, timestamp: float, ids: Iterable[int] | None = None) -> int:
        """How many samples (of `ids`, or all) were created, or had their text edited, after `timestamp`."""
        return self._scalar(
            "SELECT count(*) FROM samples s WHERE (:ids IS NULL OR s.id IN (SELECT value FROM json_each(:ids)))"
            " AND (s.created_at > :at OR EXISTS (SELECT 1 FROM reviews r WHERE r.sample_id = s.id AND r.action = 'edit'"
            " AND r.created_at > :at))",
            {"at": timestamp, "ids": None if ids is None else json.dumps(list(ids))},
        )
