"""The seeds table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from workbench.core.store import Queries, StoreError, Where, from_json, now, task_text, text_hash, to_json


class SeedsQueries(Queries):
    """store.seeds. Owner of seeds: only it writes it."""

    TABLES = ("seeds",)

    SEED_FIELDS = ("instruction", "input", "reference_answer", "reference_solution", "domain", "tags", "notes",
                   "known_failure", "tests")

    def _seed_row(self, seed: dict, timestamp: float) -> dict:
        return {
            "instruction": seed["instruction"],
            "input": seed.get("input") or None,
            "reference_answer": seed.get("reference_answer"),
            "reference_solution": seed.get("reference_solution"),
            "origin": to_json(seed.get("origin") or {}),
            "domain": seed.get("domain"),
            "tags": to_json(list(seed.get("tags") or [])),
            "notes": seed.get("notes"),
            "known_failure": int(bool(seed.get("known_failure"))),
            "known_failure_source": "manual" if seed.get("known_failure") else None,
            "tests": seed.get("tests"),
            "text_hash": text_hash(task_text(seed["instruction"], seed.get("input"))),
            "created_at": timestamp,
            "updated_at": timestamp,
        }

    def _insert_seed(self, row: dict, on_conflict: str = "") -> int | None:
        columns = ", ".join(row)
        cursor = self.conn.execute(
            f"INSERT INTO seeds ({columns}) VALUES ({', '.join(f':{k}' for k in row)}) {on_conflict}", row
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def insert_seeds(self, seeds: list[dict]) -> list[int]:
        """Insert all seeds in one transaction (all or nothing). Duplicates raise StoreError."""
        timestamp = now()
        ids: list[int] = []
        with self.transaction():
            for number, seed in enumerate(seeds, start=1):
                try:
                    ids.append(self._insert_seed(self._seed_row(seed, timestamp)))
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"seed {number} duplicates a seed already in the store") from exc
        return ids

    def insert_new_seeds(self, seeds: list[dict]) -> tuple[list[int], list[int]]:
        """Insert, in one transaction, the seeds whose instruction + input the store does not hold yet.

        Returns (ids of the inserted seeds, positions in `seeds` skipped as already stored)."""
        timestamp = now()
        ids: list[int] = []
        skipped: list[int] = []
        with self.transaction():
            for position, seed in enumerate(seeds):
                seed_id = self._insert_seed(self._seed_row(seed, timestamp), "ON CONFLICT(text_hash) DO NOTHING")
                if seed_id is None:
                    skipped.append(position)
                else:
                    ids.append(seed_id)
        return ids, skipped

    def stored_seed_ids(self, seeds: list[dict]) -> list[int]:
        """The ids of the stored seeds asking these seeds' questions (instruction + input), in their order; a seed
        not stored is left out."""
        hashes = [text_hash(task_text(seed["instruction"], seed.get("input"))) for seed in seeds]
        found = dict(self.conn.execute("SELECT text_hash, id FROM seeds WHERE text_hash IN (SELECT value FROM json_each(?))",
                                       [json.dumps(hashes)]).fetchall())
        return [found[h] for h in hashes if h in found]

    def _seed_from_row(self, row: dict) -> dict:
        row["tags"] = from_json(row["tags"], [])
        row["origin"] = from_json(row["origin"], {})
        row["known_failure"] = bool(row["known_failure"])
        return row

    def list_seeds(
        self,
        search: str = "",
        domain: str | None = None,
        tag: str | None = None,
        known_failure: bool | None = None,
        ids: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        where = Where()
        if search:
            searched = ("instruction", "coalesce(input,'')", "coalesce(reference_answer,'')", "coalesce(notes,'')")
            where.add("(" + " OR ".join(f"{column} LIKE ?" for column in searched) + ")", *[f"%{search}%"] * len(searched))
        where.equals("domain", domain or None)
        if tag:
            where.add("EXISTS (SELECT 1 FROM json_each(seeds.tags) WHERE value = ?)", tag)
        where.equals("known_failure", None if known_failure is None else int(known_failure))
        where.among("id", ids)
        sql = f"SELECT * FROM seeds WHERE {where} ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._seed_from_row(r) for r in self._rows(sql, where.params)]

    def get_seed(self, seed_id: int) -> dict | None:
        row = self._one("SELECT * FROM seeds WHERE id = ?", [seed_id])
        return self._seed_from_row(row) if row else None

    def seed_domains(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT domain FROM seeds WHERE domain IS NOT NULL ORDER BY 1")]

    def seed_tags(self) -> list[str]:
        sql = "SELECT DISTINCT value FROM seeds, json_each(seeds.tags) ORDER BY 1"
        return [r[0] for r in self.conn.execute(sql)]

    def seed_instructions(self) -> list[tuple[int, str]]:
        """(id, instruction) of every seed, for duplicate checks."""
        return [tuple(r) for r in self.conn.execute("SELECT id, instruction FROM seeds ORDER BY id")]

    def update_seed(self, seed_id: int, changes: dict) -> None:
        """Update the given fields of one seed; an instruction + input equal to another seed's raises StoreError."""
        fields = {k: v for k, v in changes.items() if k in self.SEED_FIELDS}
        if not fields:
            return
        if "instruction" in fields and not str(fields["instruction"] or "").strip():
            raise StoreError(f"seed {seed_id}: instruction cannot be empty")
        if "input" in fields:
            fields["input"] = fields["input"] or None
        if "instruction" in fields or "input" in fields:
            current = self.get_seed(seed_id)
            if current is None:
                raise StoreError(f"no seed {seed_id}")
            merged = {**current, **fields}
            fields["text_hash"] = text_hash(task_text(merged["instruction"], merged["input"]))
        if "tags" in fields:
            fields["tags"] = to_json(list(fields["tags"] or []))
        if "known_failure" in fields:  # ticked or unticked by a person: a hand-ticked failure is labelled manual
            fields["known_failure"] = int(bool(fields["known_failure"]))
            fields["known_failure_source"] = "manual" if fields["known_failure"] else None
        fields["updated_at"] = now()
        assignments = ", ".join(f"{k} = :{k}" for k in fields)
        try:
            self.conn.execute(f"UPDATE seeds SET {assignments} WHERE id = :id", {**fields, "id": seed_id})
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"seed {seed_id}: another seed already has this instruction and input") from exc

    def update_seeds(self, changes: dict[int, dict]) -> None:
        """Apply several seed edits in one transaction."""
        with self.transaction():
            for seed_id, fields in changes.items():
                self.update_seed(seed_id, fields)

    def delete_seeds(self, ids: Iterable[int]) -> int:
        id_list = list(ids)
        if not id_list:
            return 0
        with self.transaction():
            cursor = self.conn.execute(f"DELETE FROM seeds WHERE id IN ({','.join('?' * len(id_list))})", id_list)
        return cursor.rowcount

    def mark_probe_failures(self, failing: Iterable[int], passing: Iterable[int]) -> dict[str, int]:
        """Record a probe's verdicts on seeds: a failing seed becomes a known failure labelled 'probe' (a hand-ticked
        one stays 'manual'); a passing seed loses a failure only the probe had set. Returns how many were marked and
        cleared."""
        failing, passing = list(failing), list(passing)
        with self.transaction():
            marked = self.conn.execute(
                "UPDATE seeds SET known_failure = 1, known_failure_source = 'probe', updated_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND known_failure_source IS NULL",
                [now(), to_json(failing)],
            ).rowcount
            cleared = self.conn.execute(
                "UPDATE seeds SET known_failure = 0, known_failure_source = NULL, updated_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND known_failure_source = 'probe'",
                [now(), to_json(passing)],
            ).rowcount
        return {"marked": marked, "cleared": cleared}

    def known_failure_counts(self) -> dict[str, int]:
        """Known failures by where they come from: {'probe': n, 'manual': n}."""
        rows = self.conn.execute(
            "SELECT coalesce(known_failure_source, 'manual'), count(*) FROM seeds WHERE known_failure = 1 GROUP BY 1"
        ).fetchall()
        return {"probe": 0, "manual": 0, **dict(rows)}
