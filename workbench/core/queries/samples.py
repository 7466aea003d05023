"""The samples table: every statement that writes a sample, the one decoder of its JSON columns, and the reads
of samples alone. Reads that join other tables for a page are in the read modules (review queue, maps,
overview).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries, StoreError, Where, from_json, now, task_text, text_hash, to_json


class SamplesQueries(Queries):
    """store.samples. Owner of samples: only it writes it."""

    TABLES = ("samples",)

    SAMPLE_JSON_COLUMNS = {"tags": [], "metadata": {}, "params": {}, "turns": None, "pii": None}

    def _sample_row(self, sample: dict, timestamp: float) -> dict:
        """A sample dict as the columns of its `samples` row."""
        return {
            "source": sample["source"],
            "unit_key": sample.get("unit_key"),
            "job_id": sample.get("job_id"),
            "seed_id": sample.get("seed_id"),
            "node_id": sample.get("node_id"),
            "instruction": sample["instruction"],
            "input": sample.get("input") or None,
            "output": sample.get("output"),
            "turns": to_json(sample.get("turns")),
            "status": sample.get("status", "pending"),
            "filter_reason": sample.get("filter_reason"),
            "tags": to_json(list(sample.get("tags") or [])),
            "metadata": to_json(sample.get("metadata") or {}),
            "model": sample.get("model"),
            "params": to_json(sample.get("params") or {}),
            "text_hash": text_hash(task_text(sample["instruction"], sample.get("input"))),
            "created_at": timestamp,
            "updated_at": timestamp,
        }

    def insert_sample(self, sample: dict) -> int:
        """Insert one sample; a sample with the same unit_key already stored is returned, not duplicated."""
        row = self._sample_row(sample, now())
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        cursor = self.conn.execute(
            f"INSERT INTO samples ({columns}) VALUES ({marks}) ON CONFLICT(unit_key) DO NOTHING", row
        )
        if cursor.rowcount == 0:
            return self._scalar("SELECT id FROM samples WHERE unit_key = ?", [row["unit_key"]])
        return cursor.lastrowid

    def insert_samples(self, samples: list[dict]) -> list[int]:
        with self.transaction():
            return [self.insert_sample(s) for s in samples]

    def sample_from_row(self, row: dict) -> dict:
        row["tags"] = from_json(row.get("tags"), [])
        row["metadata"] = from_json(row.get("metadata"), {})
        row["params"] = from_json(row.get("params"), {})
        row["turns"] = from_json(row.get("turns"))
        row["pii"] = from_json(row.get("pii"))
        return row

    def get_sample(self, sample_id: int) -> dict | None:
        row = self._one("SELECT * FROM samples WHERE id = ?", [sample_id])
        return self.sample_from_row(row) if row else None

    def list_samples(
        self,
        status: str | None = None,
        source: str | None = None,
        include_filtered: bool = False,
        ids: Iterable[int] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        where = Where() if include_filtered else Where("filter_reason IS NULL")
        where.equals("status", status or None)
        where.equals("source", source or None)
        where.among("id", ids)
        sql = f"SELECT * FROM samples WHERE {where} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [self.sample_from_row(r) for r in self._rows(sql, where.params)]

    def samples_by_ids(self, ids: Iterable[int]) -> list[dict]:
        rows = self._rows("SELECT * FROM samples WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))])
        return [self.sample_from_row(r) for r in rows]

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

    def max_sample_id(self) -> int:
        return self._scalar("SELECT coalesce(max(id), 0) FROM samples")

    def sample_id_for_unit(self, unit_key: str) -> int | None:
        return self._scalar("SELECT id FROM samples WHERE unit_key = ?", [unit_key])

    def sample_instructions(self) -> list[tuple[int, str]]:
        """(id, instruction) of every sample not filtered out, for duplicate checks."""
        sql = "SELECT id, instruction FROM samples WHERE filter_reason IS NULL ORDER BY id"
        return [tuple(r) for r in self.conn.execute(sql)]

    def job_samples(self, job_id: int, limit: int = 200) -> list[dict]:
        """A job's samples, newest first, each with its token_entropy_mean (None when not available)."""
        rows = self._rows(
            "SELECT s.*, m.value AS token_entropy_mean, m.note AS entropy_source FROM samples s "
            "LEFT JOIN metrics m ON m.item_type = 'sample' AND m.item_id = s.id AND m.name = 'token_entropy_mean' "
            "WHERE s.job_id = ? ORDER BY s.id DESC LIMIT ?",
            [job_id, int(limit)],
        )
        return [self.sample_from_row(r) for r in rows]

    def job_filter_counts(self, job_id: int) -> dict[str, int]:
        """How many of a job's samples were kept ('kept') and dropped, by filter reason."""
        sql = (
            "SELECT coalesce(filter_reason, 'kept'), count(*) FROM samples WHERE job_id = ? "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        return dict(self.conn.execute(sql, [job_id]).fetchall())

    def sample_nodes(self) -> dict[int, int]:
        """sample id -> evolution node id, for samples grown by evolution."""
        return dict(self.conn.execute("SELECT id, node_id FROM samples WHERE node_id IS NOT NULL").fetchall())

    def approved_sample_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM samples WHERE status = 'approved'")]

    def sample_review_states(self, ids: Iterable[int]) -> list[dict]:
        """id, status and filter_reason of the given samples (those that exist), by id."""
        return self._rows(
            "SELECT id, status, filter_reason FROM samples WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(list(ids))],
        )

    def gate_candidates(self) -> list[dict]:
        """Samples the similarity gate judges: not copies of seeds, not approved by a person."""
        return self._rows("SELECT id, source, status, filter_reason FROM samples WHERE source != 'seed' AND status != 'approved'")

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

    # PII scan results live in samples.pii: {"engine", "scanned_at", "findings": [{field, entity, start, end, score}]}

    def set_sample_pii(self, results: dict[int, dict]) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE samples SET pii = ? WHERE id = ?", [(to_json(r), i) for i, r in results.items()])

    def clear_sample_pii(self) -> int:
        """Forget every PII scan (the rules changed): every sample is then unscanned. Returns how many were scanned."""
        return self.conn.execute("UPDATE samples SET pii = NULL WHERE pii IS NOT NULL").rowcount

    def forget_pii_scan(self, path_id: int) -> None:
        """A sample's PII scan no longer covers its texts once a path or a corrected step is added: forget it, so the
        sample is scanned again before it is exported (exports ship path text)."""
        self.conn.execute(
            "UPDATE samples SET pii = NULL WHERE id = (SELECT task_id FROM reasoning_paths WHERE id = ? AND task_type = 'sample')",
            [path_id],
        )

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

    def export_sample_ids(self, status: str | None, exclude_flagged: bool) -> list[int]:
        """Ids of the unfiltered samples an export takes, in id order."""
        sql = (
            "SELECT id FROM samples WHERE filter_reason IS NULL AND (? IS NULL OR status = ?)"
            " AND (? = 0 OR coalesce(json_array_length(pii, '$.findings'), 0) = 0) ORDER BY id"
        )
        return [r[0] for r in self.conn.execute(sql, [status, status, int(exclude_flagged)])]


    def insert_imported(self, sample: dict, timestamp: float) -> tuple[int, bool]:
        """Insert an imported sample (status pending) unless a sample with its unit_key is stored: (the sample's id,
        whether it is new)."""
        row = self._sample_row({**sample, "status": "pending"}, timestamp)
        found = self.conn.execute(
            f"INSERT INTO samples ({', '.join(row)}) VALUES ({', '.join(f':{k}' for k in row)})"
            " ON CONFLICT(unit_key) DO NOTHING RETURNING id",
            row,
        ).fetchone()
        if found is not None:
            return found[0], True
        return self._scalar("SELECT id FROM samples WHERE unit_key = ?", [row["unit_key"]]), False


    def write_status(self, ids: Iterable[int], status: str, timestamp: float) -> None:
        """Set these samples' review status (store.review.set_sample_status records who decided, and when)."""
        self.conn.executemany("UPDATE samples SET status = ?, updated_at = ? WHERE id = ?",
                              [(status, timestamp, i) for i in ids])

    def write_tags(self, tags: dict[int, list[str]], timestamp: float) -> None:
        """Replace samples' tags (sample id -> its whole tag list; store.review records the change)."""
        self.conn.executemany("UPDATE samples SET tags = ?, updated_at = ? WHERE id = ?",
                              [(to_json(new), timestamp, i) for i, new in tags.items()])

    def write_edit(self, sample_id: int, diff: dict, task_hash: str | None, timestamp: float) -> None:
        """Write a person's edit of a sample's text columns (`diff`: column -> new value), keeping the first original
        instruction and output; `task_hash` is the task text's new text_hash when the instruction or input changed.
        The PII scan is cleared, since it no longer describes the text (store.review.edit_sample records the edit)."""
        assignments = [f"original_{k} = coalesce(original_{k}, {k}), {k} = :{k}" if k in ("instruction", "output")
                       else f"{k} = :{k}" for k in diff]
        values = {**diff, "turns": to_json(diff.get("turns")), "now": timestamp, "id": sample_id}
        if task_hash is not None:
            assignments.append("text_hash = :text_hash")
            values["text_hash"] = task_hash
        self.conn.execute(f"UPDATE samples SET {', '.join(assignments)}, pii = NULL, updated_at = :now WHERE id = :id",
                          values)
