"""The probe with the bundled model as the student: real attempts, each with its verdict and its token entropy in bits."""

from __future__ import annotations

import pytest

from workbench.core import jobs
from workbench.store import Store
from workbench.student.job import submit_probe
from workbench.student.probe import pass_at_k


@pytest.mark.slow
def test_the_bundled_student_is_probed_with_real_entropy(store: Store):
    ids = store.insert_seeds([{"instruction": "What is 2 + 2?", "reference_answer": "4", "domain": "math"},
                              {"instruction": "What is 10 - 3?", "reference_answer": "7", "domain": "math"}])
    job_id = submit_probe(store, "seeds", student={"k": 2, "max_tokens": 32})
    assert jobs.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    job = store.get_job(job_id)
    assert (job["status"], job["done_units"], job["student"], job["model"]) == ("done", 4, "local/gemma-3-270m", None)
    assert job["completion_tokens"] > 0 and job["cost"] == 0.0
    attempts = store.job_attempts(job_id)
    assert len(attempts) == 4 and {a["model"] for a in attempts} == {"local/gemma-3-270m"}
    for attempt in attempts:
        assert attempt["text"].startswith("Step 1:") and attempt["verdict"]  # the few-shot prompt's own start
        assert attempt["token_entropy"] > 0 and attempt["entropy_note"] == "full next-token distribution"
        assert attempt["correct"] is (attempt["verdict"].startswith("states") and "which is the reference" in
                                      attempt["verdict"])
    report = job["result"]
    for row in report["seeds"]:
        assert row["pass_at_k"] == pass_at_k(2, row["correct"], 2) and row["known_failure"] == (row["correct"] == 0)
    assert {s["id"] for s in store.list_seeds(known_failure=True)} == set(report["known_failures"])
    for seed_id in ids:
        assert store.get_metrics("seed", seed_id)["student_token_entropy"] > 0
