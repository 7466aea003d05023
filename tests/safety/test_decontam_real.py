"""The scan with the real bundled embedding model (all-MiniLM-L6-v2): a restated benchmark question that shares no
13-gram is caught by similarity; a question on the same template with other names and numbers is left alone."""

from __future__ import annotations

import pytest

from tests.ship_data import add_sample
from workbench.core.embeddings import DEFAULT_MODEL
from workbench.core.jobs import runner
from workbench.safety.benchmark_sets import register_benchmark
from workbench.safety.job import submit_decontam_scan

NATALIA = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?")
RESTATED = ("In April, Natalia sold clips to 48 friends; in May she sold half as many. Altogether, how many clips "
            "did she sell in April and May?")
SAME_TEMPLATE = ("Marco sold pencils to 30 of his classmates in March, and then he sold a third as many pencils in "
                 "April. How many pencils did Marco sell in total over the two months?")


@pytest.mark.slow
def test_real_embeddings_catch_a_restatement_and_leave_the_template_alone(store):
    register_benchmark(store, f'{{"question": "{NATALIA}"}}\n'.encode(), "gsm8k.jsonl", "question", "gsm8k")
    restated = add_sample(store, RESTATED, "72")
    add_sample(store, SAME_TEMPLATE, "40")
    submit_decontam_scan(store, similarity=True)
    assert runner.run_job(store, store.jobs.claim_next_job(1)) == "done"
    hits = store.safety.contamination_hits()
    assert [h["item_id"] for h in hits] == [restated]
    assert hits[0]["ngram_overlap"] == 0.0 and hits[0]["similarity"] >= 0.95
    assert store.embeddings.embedding_count(DEFAULT_MODEL) == 3  # the benchmark item and both samples, cached for next time
