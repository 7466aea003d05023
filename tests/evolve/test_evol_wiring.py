"""Evolution wired to the analysis stage: embedding similarity for elimination, uncertainty for seed choice."""

from __future__ import annotations

import pytest

from workbench.core.embeddings import embed_texts
from workbench.evolve.engine import EliminationRules, no_information_gain
from workbench.evolve.job import embedding_similarity
from workbench.store import Store


def test_lexical_only_until_embeddings_exist(store: Store):
    assert embedding_similarity(store) is None


def test_embedding_similarity_once_the_cache_has_vectors(store: Store):
    embed_texts(store, ["Compute the sum of 2 and 3."])
    similarity = embedding_similarity(store)
    assert similarity is not None
    parent = "Compute the sum of 2 and 3."
    same_meaning = "Compute the sum of 2 and 3, please, carefully and exactly."
    different = "Write a sonnet about the sea in winter, with a volta in line nine."
    assert similarity(parent, parent) == pytest.approx(1.0, abs=1e-5)
    assert similarity(parent, same_meaning) > similarity(parent, different)
    rules = EliminationRules(max_embedding_similarity=similarity(parent, same_meaning) - 1e-6)
    assert "embedding similarity" in no_information_gain(parent, same_meaning, rules, similarity(parent, same_meaning))
    assert no_information_gain(parent, different, rules, similarity(parent, different)) is None


def test_most_uncertain_seeds_can_be_targeted(store: Store):
    from workbench.evolve.job import choose_seeds

    seeds = store.seeds.insert_seeds([{"instruction": f"seed number {i}"} for i in range(4)])
    with pytest.raises(ValueError, match="No seed has an uncertainty score yet"):
        choose_seeds(store, "most-uncertain:2")
    for seed_id, value in zip(seeds, [0.1, 0.9, 0.5, 0.7], strict=True):
        store.metrics.set_metrics("seed", seed_id, {"student_uncertainty": value})
    assert choose_seeds(store, "most-uncertain:2") == {"choice": "most-uncertain:2", "seeds": [seeds[1], seeds[3]]}
    with pytest.raises(ValueError, match="most-uncertain takes a count of at least 1"):
        choose_seeds(store, "most-uncertain:zero")
