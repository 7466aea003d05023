"""The evolve stage's tables: operators and evol_nodes (Evol-Instruct trees)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.core.store import Queries, Where, from_json, now, to_json


class EvolveQueries(Queries):
    """store.evolve. Owner of operators, evol_nodes: only it writes them."""

    TABLES = ("operators", "evol_nodes")

    OPERATOR_FIELDS = (
        "name", "kind", "description", "chat_template", "completion_template", "completion_output", "builtin"
    )

    def list_operators(self) -> list[dict]:
        rows = self._rows("SELECT * FROM operators ORDER BY builtin DESC, rowid")
        for row in rows:
            row["builtin"] = bool(row["builtin"])
        return rows

    def save_operators(self, operators: list[dict], overwrite: bool = True) -> None:
        """Insert or update operators by name; with overwrite=False existing ones are left as they are."""
        action = (
            "DO UPDATE SET kind = excluded.kind, description = excluded.description, chat_template = "
            "excluded.chat_template, completion_template = excluded.completion_template, "
            "completion_output = excluded.completion_output, builtin = excluded.builtin, "
            "updated_at = excluded.updated_at"
            if overwrite
            else "DO NOTHING"
        )
        rows = [[op[f] if f != "builtin" else int(bool(op[f])) for f in self.OPERATOR_FIELDS] + [now()] for op in operators]
        with self.transaction():
            self.conn.executemany(
                f"INSERT INTO operators ({', '.join(self.OPERATOR_FIELDS)}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT(name) {action}",
                rows,
            )

    def delete_operator(self, name: str) -> bool:
        """Delete a user's operator (built-ins are reset, never deleted). Returns whether one was deleted."""
        cursor = self.conn.execute("DELETE FROM operators WHERE name = ? AND builtin = 0", [name])
        return cursor.rowcount == 1

    def save_evol_node(
        self,
        node: dict,
        metrics: list[tuple[dict[str, float | None], str | None]] = (),
        sample: dict | None = None,
        usage: tuple[int, int, float | None] | None = None,
        sample_metrics: list[tuple[dict[str, float | None], str | None]] = (),
    ) -> int:
        """Write one evolution node with its metrics, its sample (and the sample's metrics) and its usage in one
        transaction.

        Keyed on (job_id, node_key): a node already stored is kept (returned as is), except a 'failed'
        one, which the new attempt replaces. Usage is added only when the node is new.
        """
        row = {
            "job_id": node.get("job_id"),
            "node_key": node["node_key"],
            "seed_id": node["seed_id"],
            "parent_id": node.get("parent_id"),
            "depth": node["depth"],
            "operator": node["operator"],
            "attempt": node.get("attempt", 0),
            "prompt": node.get("prompt"),
            "raw_response": node.get("raw_response"),
            "instruction": node.get("instruction"),
            "input": node.get("input"),
            "input_origin": node.get("input_origin"),
            "answer": node.get("answer"),
            "status": node["status"],
            "elimination_reason": node.get("elimination_reason"),
            "model": node.get("model"),
            "params": to_json(node.get("params") or {}),
            "created_at": now(),
        }
        columns = ", ".join(row)
        updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("job_id", "node_key"))
        with self.transaction():
            inserted = self.conn.execute(
                f"INSERT INTO evol_nodes ({columns}) VALUES ({', '.join(f':{k}' for k in row)}) "
                f"ON CONFLICT(job_id, node_key) DO UPDATE SET {updates} WHERE evol_nodes.status = 'failed' RETURNING id",
                row,
            ).fetchone()
            if inserted is None:
                return self._scalar(
                    "SELECT id FROM evol_nodes WHERE job_id IS ? AND node_key = ?", [row["job_id"], row["node_key"]]
                )
            node_id = inserted[0]
            for values, note in metrics:
                self.store.metrics.set_metrics("node", node_id, values, note)
            if sample is not None:
                sample_id = self.store.samples.insert_sample({**sample, "node_id": node_id})
                for values, note in sample_metrics:
                    self.store.metrics.set_metrics("sample", sample_id, values, note)
            if usage is not None and row["job_id"] is not None:
                self.store.jobs.add_job_usage(row["job_id"], *usage)
        return node_id

    def _node_from_row(self, row: dict) -> dict:
        row["params"] = from_json(row.get("params"), {})
        return row

    def evol_nodes(self, job_id: int | None = None, seed_id: int | None = None) -> list[dict]:
        """Nodes in tree order (depth, then key), filtered by job and seed."""
        where = Where()
        where.equals("job_id", job_id)
        where.equals("seed_id", seed_id)
        sql = f"SELECT * FROM evol_nodes WHERE {where} ORDER BY depth, node_key"
        return [self._node_from_row(r) for r in self._rows(sql, where.params)]

    def evol_node_texts(self) -> list[dict]:
        """Evolution nodes with an instruction: id, parent, seed, depth (for entropy gains)."""
        return self._rows(
            "SELECT id, parent_id, seed_id, depth, instruction FROM evol_nodes WHERE instruction IS NOT NULL ORDER BY id"
        )

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

    def evol_job_seed_summary(self, job_id: int) -> list[dict]:
        """Per seed of a job: node counts by status, and the seed's instruction."""
        return self._rows(
            "SELECT n.seed_id, s.instruction AS seed_instruction, count(*) AS nodes,"
            " sum(n.status = 'survived') AS survived, sum(n.status = 'eliminated') AS eliminated,"
            " sum(n.status = 'failed') AS failed, max(n.depth) AS depth"
            " FROM evol_nodes n JOIN seeds s ON s.id = n.seed_id WHERE n.job_id = ?"
            " GROUP BY n.seed_id ORDER BY n.seed_id",
            [job_id],
        )

    def operator_effectiveness(self, job_id: int | None = None) -> list[dict]:
        """Per operator: attempts, survivors, survival rate, mean entropy and novelty gain over the parent."""
        where = "WHERE n.job_id = ? AND n.status != 'failed'" if job_id is not None else "WHERE n.status != 'failed'"
        return self._rows(
            "SELECT n.operator, count(*) AS attempts, sum(n.status = 'survived') AS survived,"
            " avg(n.status = 'survived') AS survival_rate,"
            " avg(CASE WHEN n.status = 'survived' THEN eg.value END) AS mean_entropy_gain,"
            " avg(CASE WHEN n.status = 'survived' THEN nv.value END) AS mean_novelty_gain"
            " FROM evol_nodes n"
            " LEFT JOIN metrics eg ON eg.item_type = 'node' AND eg.item_id = n.id AND eg.name = 'entropy_gain_parent'"
            " LEFT JOIN metrics nv ON nv.item_type = 'node' AND nv.item_id = n.id AND nv.name = 'novelty_parent'"
            f" {where} GROUP BY n.operator ORDER BY survival_rate DESC, n.operator",
            [job_id] if job_id is not None else [],
        )
