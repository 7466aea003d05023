"""The store: schema, migrations, WAL, round trips, and the job bookkeeping behind resumable runs."""

from __future__ import annotations

import sqlite3

import pytest

from workbench.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, text_hash

TABLES = {
    "settings", "seeds", "jobs", "job_units", "operators", "evol_nodes", "samples", "reasoning_paths", "steps",
    "step_scores", "step_overrules", "metrics", "embeddings", "projections", "projection_points", "reviews",
    "exports", "export_items",
}


def test_new_store_has_schema_wal_and_foreign_keys(store: Store):
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert TABLES <= set(store.db.table_names())
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_does_not_rerun_migrations(db_path):
    first = Store(db_path)
    first.seeds.insert_seeds([{"instruction": "keep me"}])
    first.close()
    second = Store(db_path)
    assert [s["instruction"] for s in second.seeds.list_seeds()] == ["keep me"]
    second.close()


def test_migrations_apply_forward_from_an_older_version(db_path, monkeypatch):
    applied = []

    def migration_2(db):
        db.execute("ALTER TABLE seeds ADD COLUMN difficulty INTEGER")
        applied.append(2)

    old = Store(db_path)
    old.seeds.insert_seeds([{"instruction": "survives the migration"}])
    old.close()
    monkeypatch.setattr("workbench.core.store.MIGRATIONS", [*MIGRATIONS, migration_2])
    upgraded = Store(db_path)
    assert applied == [2] and upgraded.schema_version == 2
    assert "difficulty" in upgraded.db["seeds"].columns_dict
    assert upgraded.seeds.list_seeds()[0]["instruction"] == "survives the migration"
    upgraded.close()


def test_a_store_newer_than_the_app_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this app"):
        Store(db_path)


def test_seed_round_trip_keeps_every_field(store: Store):
    [seed_id] = store.seeds.insert_seeds([{
        "instruction": "Add 2 and 3.", "reference_answer": "5", "domain": "math", "tags": ["easy", "sum"],
        "notes": "warm-up", "known_failure": True, "tests": None,
    }])
    seed = store.seeds.get_seed(seed_id)
    assert seed["instruction"] == "Add 2 and 3." and seed["reference_answer"] == "5"
    assert seed["tags"] == ["easy", "sum"] and seed["known_failure"] is True and seed["domain"] == "math"
    assert seed["text_hash"] == text_hash("  add 2 AND 3. ")


def test_insert_seeds_is_all_or_nothing(store: Store):
    store.seeds.insert_seeds([{"instruction": "already here"}])
    with pytest.raises(StoreError, match="seed 2 duplicates"):
        store.seeds.insert_seeds([{"instruction": "new one"}, {"instruction": "Already   HERE"}])
    assert [s["instruction"] for s in store.seeds.list_seeds()] == ["already here"]


def test_seed_filters(store: Store):
    _, haiku = store.seeds.insert_seeds([
        {"instruction": "integrate x", "domain": "math", "tags": ["calculus"], "known_failure": True},
        {"instruction": "write a haiku", "domain": "writing", "tags": ["poetry"]},
    ])
    assert [s["instruction"] for s in store.seeds.list_seeds(ids=[haiku], domain="")] == ["write a haiku"]
    assert store.seeds.list_seeds(ids=[]) == []  # an empty id list matches nothing; None filters nothing
    assert [s["instruction"] for s in store.seeds.list_seeds(search="haiku")] == ["write a haiku"]
    assert [s["domain"] for s in store.seeds.list_seeds(domain="math")] == ["math"]
    assert [s["instruction"] for s in store.seeds.list_seeds(tag="poetry")] == ["write a haiku"]
    assert [s["instruction"] for s in store.seeds.list_seeds(known_failure=True)] == ["integrate x"]
    assert store.seeds.seed_domains() == ["math", "writing"] and store.seeds.seed_tags() == ["calculus", "poetry"]


def test_update_seed_refuses_empty_and_duplicate_instruction(store: Store):
    first, second = store.seeds.insert_seeds([{"instruction": "one"}, {"instruction": "two"}])
    with pytest.raises(StoreError, match="empty"):
        store.seeds.update_seed(first, {"instruction": "  "})
    with pytest.raises(StoreError, match="another seed"):
        store.seeds.update_seeds({first: {"notes": "changed"}, second: {"instruction": "ONE"}})
    assert store.seeds.get_seed(first)["notes"] is None  # the whole batch rolled back
    store.seeds.update_seed(second, {"tags": ["x"], "known_failure": True})
    assert store.seeds.get_seed(second)["tags"] == ["x"] and store.seeds.get_seed(second)["known_failure"]


def test_delete_seeds(store: Store):
    ids = store.seeds.insert_seeds([{"instruction": "a"}, {"instruction": "b"}, {"instruction": "c"}])
    assert store.seeds.delete_seeds(ids[:2]) == 2
    assert [s["instruction"] for s in store.seeds.list_seeds()] == ["c"]


def test_sample_unit_key_prevents_duplicates(store: Store):
    job = store.jobs.create_job("probe", {})
    row = {"source": "evol", "unit_key": f"{job}:seed1:0", "job_id": job, "instruction": "evolved", "model": "m",
           "params": {"temperature": 0.2}}
    first = store.samples.insert_sample(row)
    again = store.samples.insert_sample(row)
    assert first == again and store.overview.counts()["samples"] == 1
    sample = store.samples.get_sample(first)
    assert sample["params"] == {"temperature": 0.2} and sample["model"] == "m" and sample["status"] == "pending"


def test_job_lifecycle_and_unit_bookkeeping(store: Store):
    job_id = store.jobs.create_job("probe", {"x": 1}, model="local/gemma-3-270m")
    claimed = store.jobs.claim_next_job(worker_pid=123)
    assert claimed["id"] == job_id and claimed["status"] == "running" and claimed["params"] == {"x": 1}
    assert [j["id"] for j in store.jobs.list_jobs(kind="probe", statuses=["queued", "running"])] == [job_id]
    assert store.jobs.list_jobs(statuses=[]) == [] and store.jobs.list_jobs(kind="evolve") == []
    assert store.jobs.claim_next_job(worker_pid=123) is None
    store.jobs.record_unit(job_id, "a", "done")
    store.jobs.record_unit(job_id, "b", "failed", "boom")
    store.jobs.record_unit(job_id, "a", "done")  # recording twice does not double count
    job = store.jobs.get_job(job_id)
    assert (job["done_units"], job["failed_units"]) == (1, 1)
    assert store.jobs.unit_errors(job_id)[0]["error"] == "boom"
    store.jobs.add_job_usage(job_id, 10, 5, None)
    store.jobs.add_job_usage(job_id, 1, 1, 0.25)
    job = store.jobs.get_job(job_id)
    assert (job["prompt_tokens"], job["completion_tokens"], job["cost"]) == (11, 6, 0.25)


def test_orphaned_running_jobs_are_requeued(store: Store):
    job_id = store.jobs.create_job("probe", {})
    store.jobs.claim_next_job(worker_pid=1)
    assert store.jobs.requeue_orphaned_jobs() == 1
    assert store.jobs.get_job(job_id)["status"] == "queued"


def test_user_requests_respect_job_state(store: Store):
    job_id = store.jobs.create_job("probe", {})
    assert store.jobs.request_job_status(job_id, "paused")
    assert not store.jobs.request_job_status(job_id, "paused")
    assert store.jobs.request_job_status(job_id, "queued")
    assert store.jobs.request_job_status(job_id, "cancelled")
    store.jobs.set_job_status(job_id, "done")
    assert not store.jobs.request_job_status(job_id, "cancelled")


def test_settings_round_trip(store: Store):
    assert store.settings.get_setting("missing", "default") == "default"
    store.settings.set_setting("teacher", {"model": "x"})
    store.settings.set_setting("teacher", {"model": "y"})
    assert store.settings.get_setting("teacher") == {"model": "y"}


def test_metrics_round_trip(store: Store):
    store.metrics.set_metrics("sample", 7, {"lexical_entropy": 2.5, "token_entropy_mean": None})
    store.metrics.set_metrics("sample", 7, {"lexical_entropy": 3.0})
    assert store.metrics.get_metrics("sample", 7) == {"lexical_entropy": 3.0, "token_entropy_mean": None}


def test_concurrent_openers_of_a_new_store_create_the_schema_once(tmp_path):
    """Page threads, the worker and the CLI may open a new store at the same moment: none of them fails."""
    import subprocess
    import sys
    import threading
    import time

    path = tmp_path / "new.db"
    start_at = time.time() + 4.0  # every opener starts at this instant; processes need time to import
    opener = (
        "import sys, time\n"
        "from workbench.store import Store\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "Store(sys.argv[1]).close()\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", opener, str(path), str(start_at)], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors: list[BaseException] = []

    def open_in_thread() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        try:
            Store(path).close()
        except BaseException as error:  # noqa: BLE001 - the test reports every failure
            errors.append(error)

    threads = [threading.Thread(target=open_in_thread) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [p.stderr.read().decode() for p in processes if p.wait(timeout=60) != 0]
    assert errors == [] and failures == []
    opened = Store(path)
    assert opened.schema_version == SCHEMA_VERSION
    assert TABLES <= set(opened.db.table_names())
    opened.close()


def test_human_completions_are_kept_per_path_with_their_labeller(tmp_path):
    store = Store(tmp_path / "hc.db")
    [seed_id] = store.seeds.insert_seeds([{"instruction": "What is 2 + 3?"}])
    path_id = store.verify.add_reasoning_path({"task_type": "seed", "task_id": seed_id, "path_index": 0, "text": "x"},
                                       ["2 + 3 = 6", "Answer: 6"])
    first, second = (step["id"] for step in store.verify.path_steps(path_id))
    store.verify.add_human_completion(first, "  2 + 3 = 5 ", "ada")
    store.verify.add_human_completion(first, "Two plus three is five.", "grace")
    kept = store.verify.human_completions([path_id, 999])
    assert [(row["idx"], row["text"], row["labeller"]) for row in kept[path_id]] == [
        (0, "2 + 3 = 5", "ada"), (0, "Two plus three is five.", "grace")]
    assert kept[999] == []
    with pytest.raises(StoreError, match="cannot be empty"):
        store.verify.add_human_completion(second, " ", "ada")
    with pytest.raises(StoreError, match="no step 12345"):
        store.verify.add_human_completion(12345, "text", "ada")
