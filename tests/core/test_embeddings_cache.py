"""Embeddings with the bundled all-MiniLM-L6-v2: cached by (model, text hash), never recomputed;
and the embed job: novelty, near-duplicates and the similarity gate computed from them."""

from __future__ import annotations

import numpy as np
import pytest

import workbench.core.embeddings as embeddings
from workbench.core.embeddings import cached_similarity, embed_texts, nearest_items
from workbench.core.jobs import queue, worker
from workbench.store import Store

SEEDS = ["How do I bake sourdough bread at home?", "Prove that the square root of 2 is irrational.",
         "Write a Python function that reverses a linked list."]


@pytest.fixture
def encode_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Records the texts every real encode call receives."""
    calls: list[list[str]] = []
    real = embeddings.encode

    def spy(texts, *args, **kwargs):
        calls.append(list(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "encode", spy)
    return calls


def test_embeddings_are_cached_and_only_new_text_is_embedded(store: Store, encode_calls):
    first = embed_texts(store, SEEDS)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.linalg.norm(first, axis=1) == pytest.approx([1, 1, 1], abs=1e-5)
    assert store.embeddings.embedding_count(embeddings.DEFAULT_MODEL) == 3
    again = embed_texts(store, [SEEDS[1], "A brand new question about tides?", SEEDS[0]])
    assert encode_calls == [SEEDS, ["A brand new question about tides?"]]
    assert again[0] == pytest.approx(first[1]) and again[2] == pytest.approx(first[0])
    embed_texts(store, ["  how do I bake SOURDOUGH bread at home? "])  # same text up to case and spaces
    assert len(encode_calls) == 2 and store.embeddings.embedding_count(embeddings.DEFAULT_MODEL) == 4


def test_cached_similarity_ranks_meaning(store: Store):
    similarity = cached_similarity(store, ["What is a good recipe for rye bread?"], SEEDS)
    assert similarity.shape == (1, 3)
    assert similarity[0].argmax() == 0 and similarity[0, 0] > similarity[0, 1]


def test_embed_job_gates_copies_of_seeds_and_scores_novelty(store: Store):
    store.seeds.insert_seeds([{"instruction": s} for s in SEEDS])
    ids = store.samples.insert_samples([
        {"source": "magpie", "instruction": "How can I bake sourdough bread at home?", "unit_key": "copy"},
        {"source": "magpie", "instruction": "Explain how volcanoes form under the ocean.", "unit_key": "new"},
        {"source": "magpie", "instruction": "Explain how volcanoes form beneath the ocean.", "unit_key": "twin"},
    ])
    store.settings.set_setting("similarity_gate_threshold", 0.9)
    queue.submit(store, "analyse.embed", {"concurrency": 1})
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    job = store.jobs.list_jobs()[0]
    assert job["status"] == "done", job["error"]
    copy, new, twin = (store.samples.get_sample(i) for i in ids)
    assert copy["filter_reason"].startswith("similar to seed 1 (cosine 0.9")
    assert new["filter_reason"] is None and twin["filter_reason"] is None
    vectors = embed_texts(store, [new["instruction"], *SEEDS])
    expected = 1 - float((vectors[1:] @ vectors[0]).max())
    assert store.metrics.get_metrics("sample", new["id"])["novelty_seeds"] == pytest.approx(expected, abs=1e-5)
    assert store.metrics.get_metrics("sample", new["id"])["lexical_entropy"] > 0
    assert store.metrics.get_metrics("seed", 1)["novelty_seeds"] > 0.5  # seeds are scored against the other seeds
    assert store.metrics.get_metrics("sample", new["id"])["novelty_accepted"] is None  # nothing accepted yet
    groups = {i: store.metrics.get_metrics("sample", i).get("near_duplicate_group") for i in ids}
    assert groups[new["id"]] == groups[twin["id"]] is not None
    assert job["result"]["gated"] == 1 and job["result"]["items"] == 6

    store.review.set_sample_status([new["id"]], "approved", "ana")
    store.settings.set_setting("similarity_gate_threshold", 0.999)  # a more lenient gate lets the copy back in
    queue.submit(store, "analyse.embed", {"concurrency": 1})
    worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None)
    assert store.samples.get_sample(ids[0])["filter_reason"] is None
    assert store.metrics.get_metrics("sample", twin["id"])["novelty_accepted"] < 0.05
    assert nearest_items(store, ("sample", new["id"]), k=1)[0]["item_id"] == twin["id"]


def test_bfloat16_embeddings_match_float32_ones(monkeypatch: pytest.MonkeyPatch):
    if not embeddings.native_bf16():
        pytest.skip("this CPU has no native bfloat16 arithmetic: embeddings run in float32")
    from benchmarks.maps import real_length_items

    pairs = real_length_items(40, seed=3)  # questions and question + answer texts of real length
    texts = [*SEEDS, *(p["instruction"] for p in pairs), *(f"{p['instruction']}\n\n{p['output']}" for p in pairs)]
    fast = embeddings.encode_torch(texts, batch_size=16)  # the torch backend (the fallback of ONNX Runtime)
    monkeypatch.setenv("WORKBENCH_EMBED_FP32", "1")
    assert not embeddings.native_bf16()
    exact = embeddings.encode_torch(texts, batch_size=16)
    assert not np.array_equal(fast, exact)  # the bfloat16 path really ran
    assert (fast * exact).sum(axis=1).min() > 0.999
