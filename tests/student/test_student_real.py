"""The probe with the bundled model as the student: real attempts, each with its verdict and its token entropy in bits;
the uncertainty job after it, with the same settings, asks the same samples and gets them from the response cache."""

from __future__ import annotations

import pytest

from workbench.core.jobs import queue, worker
from workbench.store import Store
from workbench.student.job import submit_probe
from workbench.student.probe import pass_at_k


@pytest.mark.slow
def test_the_bundled_student_is_probed_with_real_entropy_and_measured_again_from_the_cache(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": "What is 2 + 2?", "reference_answer": "4", "domain": "math"}])
    job_id = submit_probe(store, "seeds", student={"k": 2, "max_tokens": 16})
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["done_units"], job["student"], job["model"]) == ("done", 2, "local/gemma-3-270m", None)
    assert job["completion_tokens"] > 0 and job["cost"] == 0.0 and job["model_calls"] == 2
    attempts = store.student.job_attempts(job_id)
    assert len(attempts) == 2 and {a["model"] for a in attempts} == {"local/gemma-3-270m"}
    for attempt in attempts:
        assert attempt["text"].startswith("Step 1:")  # the few-shot prompt's own start
        assert attempt["token_entropy"] > 0 and attempt["entropy_note"] == "full next-token distribution"
        assert attempt["correct"] is ("which is the reference answer" in attempt["verdict"])
    [row] = job["result"]["seeds"]
    assert row["pass_at_k"] == pass_at_k(2, row["correct"], 2) and row["known_failure"] == (row["correct"] == 0)
    assert store.seeds.get_seed(seed_id)["known_failure"] == row["known_failure"]
    measured = store.metrics.get_metrics("seed", seed_id)
    assert measured["student_token_entropy"] > 0 and 0 <= measured["student_semantic_disagreement"] <= 1.0

    queue.submit(store, "analyse.uncertainty", {"k": 2, "max_tokens": 16, "concurrency": 1})
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    again = store.jobs.list_jobs()[0]
    assert (again["status"], again["model_calls"], again["cache_hits"]) == ("done", 0, 2)
    assert store.metrics.get_metrics("seed", seed_id) == measured
    [ranked] = store.analyse.seed_uncertainty_ranking()
    assert ranked["token_entropy_source"] == "bits; full next-token distribution"
