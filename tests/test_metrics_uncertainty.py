"""The uncertainty job: k sampled answers per seed, their token entropy and semantic disagreement, a ranking."""

from __future__ import annotations

import math

import pytest

from workbench.core import jobs
from workbench.store import Store

MOCK_TEACHER = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "Paris is the capital."}}


def run_all(store: Store) -> dict:
    assert jobs.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    return store.list_jobs()[0]


def test_identical_answers_do_not_disagree_and_missing_entropy_is_not_invented(store: Store):
    seeds = store.insert_seeds([{"instruction": "What is the capital of France?"}, {"instruction": "Name a colour."}])
    jobs.submit(store, "uncertainty", {"k": 3, "max_tokens": 8, "teacher": MOCK_TEACHER})
    job = run_all(store)
    assert job["status"] == "done" and job["done_units"] == 2, job["error"]
    for seed in seeds:
        metrics = store.get_metrics("seed", seed)
        assert metrics["semantic_disagreement"] == pytest.approx(0.0)
        assert metrics["uncertainty_token_entropy"] is None  # the provider gave no distribution
    ranking = store.seed_uncertainty_ranking()
    assert {r["id"] for r in ranking} == set(seeds) and ranking[0]["token_entropy_source"].startswith("not available: ")
    assert job["result"]["ranked_seeds"] == 2


def test_uncertainty_job_can_target_chosen_seeds(store: Store):
    seeds = store.insert_seeds([{"instruction": f"Question {i}?"} for i in range(3)])
    jobs.submit(store, "uncertainty", {"k": 2, "seed_ids": [seeds[1]], "teacher": MOCK_TEACHER})
    run_all(store)
    assert store.top_uncertain_seed_ids(5) == [seeds[1]]


@pytest.mark.slow
def test_bundled_model_ranks_seeds_by_real_uncertainty(store: Store):
    seeds = store.insert_seeds([
        {"instruction": "What is 2 + 2?"},
        {"instruction": "Invent a name for a new colour and describe it."},
        {"instruction": "What is the capital of France?"},
    ])
    jobs.submit(store, "uncertainty", {"k": 3, "max_tokens": 16, "temperature": 1.0, "concurrency": 1})
    job = run_all(store)
    assert job["status"] == "done" and job["failed_units"] == 0, store.unit_errors(job["id"])
    assert job["completion_tokens"] > 0
    ranking = store.seed_uncertainty_ranking()
    assert sorted(r["id"] for r in ranking) == sorted(seeds)
    for row in ranking:
        assert row["token_entropy"] > 0 and row["token_entropy_source"] == "full next-token distribution"
        assert 0 <= row["semantic_disagreement"] <= math.log2(3) + 1e-6  # bits: at most log2 3 for 3 answers
    scores = [r["uncertainty"] for r in ranking]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    assert store.top_uncertain_seed_ids(1) == [ranking[0]["id"]]
