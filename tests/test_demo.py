"""The demo project: every stage runs as a real job over a loopback OpenAI-compatible server."""

from __future__ import annotations

import pytest

from benchmarks.loopback_server import serve
from tests.test_pages_foundation import page
from workbench.demo import DEMO_REVIEWER, STAGES, review_by_gate, submit_demo
from workbench.jobs import run_worker
from workbench.settings import save_teacher_config
from workbench.store import Store
from workbench.teacher import TeacherConfig


def test_demo_runs_every_stage_as_its_own_job(store: Store, db_path):
    with serve(latency_s=0.0, reply_words=40) as url:
        save_teacher_config(store, TeacherConfig(model="hosted_vllm/loopback", api_base=url, max_retries=0,
                                                 extra={"api_key": "x"}))
        job_id = submit_demo(store)
        assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
    demo = store.get_job(job_id)
    assert demo["status"] == "done", store.unit_errors(job_id)
    assert (demo["done_units"], demo["total_units"], demo["failed_units"]) == (len(STAGES), len(STAGES), 0), store.unit_errors(job_id)
    kinds = {job["kind"]: job for job in store.list_jobs(limit=20) if job["id"] != job_id}
    assert set(kinds) == {"evolve", "magpie", "reason", "embed", "project"}
    assert all(job["status"] == "done" for job in kinds.values())
    assert store.counts()["seeds"] >= 90  # the shipped seeds were loaded into the empty store
    assert store.counts()["evol_nodes"] > 0 and store.counts()["paths"] > 0
    assert {s["source"] for s in store.list_samples(include_filtered=True)} >= {"evol", "magpie"}
    assert set(demo["result"]) == {"approved", "rejected"}


def test_review_by_gate_signs_its_decisions(store: Store):
    passed = store.insert_sample({"source": "evol", "instruction": "passes", "unit_key": "p"})
    wrong = store.insert_sample({"source": "evol", "instruction": "has a false step", "unit_key": "w"})
    unsure = store.insert_sample({"source": "evol", "instruction": "unverifiable", "unit_key": "u"})
    store.set_metrics("sample", passed, {"best_path_score": 1.0})
    store.set_metrics("sample", wrong, {"best_path_score": 0.0})
    store.set_metrics("sample", unsure, {"best_path_score": 0.5})
    assert review_by_gate(store) == {"approved": 1, "rejected": 1}
    assert [store.get_sample(i)["status"] for i in (passed, wrong, unsure)] == ["approved", "rejected", "pending"]
    assert store.sample_reviews(passed)[0]["reviewer"] == DEMO_REVIEWER


def test_home_offers_the_demo_on_an_empty_store(store: Store):
    at = page("home").run()
    button = next(b for b in at.button if b.label == "Build the demo project")
    at = button.click().run()
    assert not at.exception
    assert store.list_jobs()[0]["kind"] == "demo"


@pytest.mark.slow
def test_cli_demo_on_the_bundled_model(db_path, capsys):
    from workbench.cli import main

    assert main(["--db", str(db_path), "demo"]) in (0, 1)
    out = capsys.readouterr().out
    assert "demo job 1 done: 6/6 stages done" in out
