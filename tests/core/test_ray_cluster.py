"""The CPU-bound stages on a real Ray cluster: a head and a second node on this machine, started as Ray's own tests
start them (`ray.cluster_utils.Cluster`). The same PII scan, embedding and verification jobs give the same rows as
on one machine; a node killed in the middle of a job loses nothing and repeats nothing.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from workbench.core.executor import LOCAL_WHERE
from workbench.core.jobs import queue, worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PEOPLE = ["Maria Gonzalez", "John Smith", "Priya Patel", "Alan Turing", "Chen Wei", "Olga Petrova"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def gsm8k_solutions() -> list[dict]:
    """Real GSM8K solutions (some with planted slips): the task's reference is its own final answer."""
    rows = [json.loads(line) for line in (FIXTURES / "gsm8k_style_solutions.jsonl").read_text().splitlines() if line]
    return [{"id": r["id"], "steps": r["solution"].split("\n"), "answer": r["solution"].rsplit("####", 1)[-1].strip()}
            for r in rows]


def fill(store: Store, samples: int) -> dict[str, int]:
    """Seeds with one stored reasoning path each (real GSM8K solutions), samples carrying contact data, and the
    three jobs queued: reason (arithmetic verifier), pii_scan and embed."""
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": "unused"}))
    solutions = gsm8k_solutions()
    seed_ids = store.seeds.insert_seeds([{"instruction": f"GSM8K problem {s['id']}: find the total.",
                                    "reference_answer": s["answer"]} for s in solutions])
    store.samples.insert_samples([
        {"source": "import", "unit_key": f"pii-{i}",
         "instruction": f"Write to {PEOPLE[i % len(PEOPLE)]} at {PEOPLE[i % 6].split()[0].lower()}{i}@example.com "
                        f"about invoice {i}, or call +1 415-555-{1000 + i:04d}.",
         "output": f"Dear {PEOPLE[(i + 1) % 6]}, invoice {i} of ${12 * i} is attached. "
                   "It was paid with card 4111 1111 1111 1111."}
        for i in range(samples)
    ])
    reason = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": i} for i in seed_ids], "n": 1,
                                           "verifiers": ["arithmetic"]})
    for seed_id, solution in zip(seed_ids, solutions, strict=True):  # the path the teacher would have written
        store.verify.add_reasoning_path({"job_id": reason, "task_type": "seed", "task_id": seed_id, "path_index": 0,
                                  "text": "\n".join(solution["steps"]), "final_answer": solution["answer"]},
                                 solution["steps"])
    return {"reason": reason, "pii_scan": queue.submit(store, "pii_scan", {"scope": "all", "concurrency": 1}),
            "embed": queue.submit(store, "analyse.embed", {"concurrency": 1})}


def rows(store: Store) -> dict[str, list]:
    """What the three jobs wrote: step verdicts, PII findings (without their time) and embeddings."""
    scores = store.conn.execute("SELECT step_id, verifier, score, label, rationale FROM step_scores "
                                "ORDER BY step_id, verifier").fetchall()
    pii = [(i, {k: v for k, v in json.loads(p).items() if k != "scanned_at"})
           for i, p in store.conn.execute("SELECT id, pii FROM samples ORDER BY id").fetchall()]
    vectors = store.conn.execute("SELECT model, text_hash, vector FROM embeddings ORDER BY text_hash").fetchall()
    return {"step_scores": scores, "pii": pii, "embeddings": vectors}


def test_the_same_jobs_give_the_same_rows_on_the_cluster_as_on_one_machine(cluster, tmp_path):
    local, remote = tmp_path / "local.db", tmp_path / "ray.db"
    store = Store(local)
    queued = fill(store, samples=60)
    store.close()
    shutil.copy(local, remote)
    assert worker.run_worker(local, exit_when_idle=True, log=lambda m: None) == 0
    assert worker.run_worker(remote, exit_when_idle=True, log=lambda m: None, ray_address=cluster.address) == 0
    here, there = Store(local), Store(remote)
    for kind, job_id in queued.items():
        ran_here, ran_there = here.jobs.get_job(job_id), there.jobs.get_job(job_id)
        assert (ran_there["status"], ran_there["failed_units"]) == ("done", 0), (kind, ran_there["error"])
        assert ran_here["done_units"] == ran_there["done_units"] == ran_there["total_units"] > 0
        assert ran_here["ran_on"] == LOCAL_WHERE
        assert ran_there["ran_on"].startswith(f"Ray cluster at {cluster.address} (2 nodes, 2 CPUs)")
    expected, found = rows(here), rows(there)
    assert len(expected["step_scores"]) > 200 and len(expected["pii"]) == 60 and len(expected["embeddings"]) > 150
    assert any(label == "incorrect" for *_, label, _ in expected["step_scores"])  # the slips were caught
    assert all(p["findings"] for _, p in expected["pii"])
    assert found == expected


def test_a_node_killed_mid_job_loses_nothing_and_repeats_nothing(cluster, db_path, store):
    store.samples.insert_samples([
        {"source": "import", "unit_key": f"kill-{i}",
         "instruction": f"Forward the report to {PEOPLE[i % 6]} ({PEOPLE[i % 6].split()[0].lower()}@example.org).",
         "output": f"Done: the report {i} went to {PEOPLE[(i + 2) % 6]} at 221B Baker Street."}
        for i in range(400)
    ])
    job_id = queue.submit(store, "pii_scan", {"scope": "all", "concurrency": 1})
    node = next(n for n in cluster.worker_nodes)
    killed = threading.Event()

    def kill_when_under_way() -> None:
        watcher = Store(db_path)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (watcher.jobs.get_job(job_id) or {}).get("done_units"):
            time.sleep(0.2)
        cluster.remove_node(node)  # kill -9 of the node's raylet and its workers, tasks in flight included
        killed.set()
        watcher.close()

    killer = threading.Thread(target=kill_when_under_way)
    killer.start()
    try:
        assert worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None, ray_address=cluster.address) == 0
    finally:
        killer.join()
        cluster.add_node(num_cpus=1)  # the module's cluster keeps two nodes
    job = store.jobs.get_job(job_id)
    assert killed.is_set() and 1 <= job["done_units"]
    assert (job["status"], job["done_units"], job["failed_units"]) == ("done", job["total_units"], 0)
    assert store.conn.execute("SELECT count(*) FROM job_units WHERE job_id = ?", [job_id]).fetchone()[0] == 8
    scanned = [json.loads(p) for (p,) in store.conn.execute("SELECT pii FROM samples ORDER BY id").fetchall()]
    assert len(scanned) == 400 and all(p and p["findings"] for p in scanned)  # every sample once, none lost
