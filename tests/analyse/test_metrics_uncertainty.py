"""The uncertainty job: k sampled attempts per seed by the student (or, named apart, the teacher), their token entropy
and semantic disagreement in bits, a ranking."""

from __future__ import annotations

import pytest

from workbench.core.jobs import queue, worker
from workbench.store import Store

MOCK = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "Step 1: Paris is the capital.\nAnswer: Paris"}}


def run_all(store: Store) -> dict:
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    return store.jobs.list_jobs()[0]


def test_the_student_is_measured_by_default_and_the_teacher_apart(store: Store):
    seeds = store.seeds.insert_seeds([{"instruction": "What is the capital of France?", "reference_answer": "Paris"},
                                {"instruction": "Name the capital of France.", "reference_answer": "Paris"}])
    queue.submit(store, "analyse.uncertainty", {"k": 3, "max_tokens": 8, "student": MOCK})
    job = run_all(store)
    assert job["status"] == "done" and job["done_units"] == 2, job["error"]
    for seed in seeds:
        metrics = store.metrics.get_metrics("seed", seed)
        assert metrics["student_semantic_disagreement"] == pytest.approx(0.0)  # three times "Paris"
        assert metrics["student_token_entropy"] is None  # the provider gave no distribution: none is invented
        assert "teacher_uncertainty" not in metrics
    ranking = store.analyse.seed_uncertainty_ranking()
    assert {r["id"] for r in ranking} == set(seeds) and ranking[0]["token_entropy_source"].startswith("bits; not available: ")
    assert job["result"] == {"role": "student", "ranked_seeds": 2, "top": [seeds[0], seeds[1]]}

    queue.submit(store, "analyse.uncertainty", {"k": 2, "seed_ids": [seeds[1]], "role": "teacher", "teacher": MOCK})
    run_all(store)
    assert [r["id"] for r in store.analyse.seed_uncertainty_ranking(role="teacher")] == [seeds[1]]
    assert store.metrics.get_metrics("seed", seeds[1])["teacher_uncertainty"] == 1.0
    assert len(store.analyse.seed_uncertainty_ranking()) == 2  # the student's ranking is untouched
