"""Each metric on hand-computed examples; the store functions behind the gate, gains and reviews."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.analyse.job import compute_entropy_gains
from workbench.analyse.uncertainty import entropy_bits, rank_uncertainty
from workbench.core.metrics import (
    cluster_labels,
    distinct_n,
    entropy_gain,
    label_entropy,
    lexical_entropy,
    max_similarity,
    near_duplicate_groups,
    novelty,
    percentile_ranks,
    similar_pairs,
)
from workbench.store import Store, StoreError


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_lexical_entropy_and_distinct_n_by_hand():
    assert lexical_entropy("a b a b") == pytest.approx(1.0)  # two tokens, each p = 1/2
    assert lexical_entropy("a b c d") == pytest.approx(2.0)
    assert lexical_entropy("") == 0.0
    assert distinct_n("a b a b", 2) == pytest.approx(2 / 3)  # (a,b) (b,a) (a,b)


def test_entropy_gain_is_a_difference_and_unknown_stays_unknown():
    assert entropy_gain(3.5, 2.0) == pytest.approx(1.5)
    assert entropy_gain(1.0, 2.0) == pytest.approx(-1.0)
    assert entropy_gain(None, 2.0) is None and entropy_gain(1.0, None) is None


def test_novelty_is_one_minus_the_closest_reference():
    reference = np.stack([unit(1, 0), unit(0, 1)])
    vectors = np.stack([unit(1, 0), unit(0.6, 0.8), unit(-1, 0)])
    assert novelty(vectors, reference) == pytest.approx([0.0, 0.2, 1.0], abs=1e-6)  # 1 - 1, 1 - 0.8, 1 - 0


def test_novelty_can_exclude_the_item_itself_and_is_nan_without_reference():
    vectors = np.stack([unit(1, 0), unit(0.6, 0.8)])
    similarity, where = max_similarity(vectors, vectors, exclude=np.array([0, 1]))
    assert similarity == pytest.approx([0.6, 0.6]) and list(where) == [1, 0]
    assert np.isnan(novelty(vectors, np.zeros((0, 2), dtype=np.float32))).all()
    assert np.isnan(novelty(vectors[:1], vectors[:1], exclude=np.array([0])))[0]


def test_near_duplicate_groups_link_transitively_above_the_threshold():
    a, a2 = unit(1, 0, 0), unit(1, 0.1, 0)  # cos 0.995
    a3 = unit(1, 0.2, 0)  # cos(a2, a3) 0.995, cos(a, a3) 0.98
    b, b2 = unit(0, 0, 1), unit(0, 0.05, 1)
    lone = unit(0, 1, 0)
    vectors = np.stack([a, b, lone, a2, b2, a3])
    assert near_duplicate_groups(vectors, threshold=0.99) == [[0, 3, 5], [1, 4]]
    assert near_duplicate_groups(vectors, threshold=0.999) == []
    assert near_duplicate_groups(np.zeros((0, 3), dtype=np.float32)) == []


def test_semantic_disagreement_is_entropy_in_bits_over_answer_clusters():
    same = np.stack([unit(1, 0, 0)] * 4)
    two_camps = np.stack([unit(1, 0, 0), unit(1, 0.01, 0), unit(0, 1, 0), unit(0, 1, 0.01)])
    all_differ = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])
    assert entropy_bits(cluster_labels(same)) == pytest.approx(0.0)
    assert entropy_bits(cluster_labels(two_camps)) == pytest.approx(1.0)
    assert entropy_bits(cluster_labels(all_differ)) == pytest.approx(math.log2(3))
    assert label_entropy([1, 1, 2, 3]) == pytest.approx(1.5)  # -(0.5 log2 0.5 + 2 * 0.25 log2 0.25)


def test_percentile_ranks_share_ties():
    assert percentile_ranks({1: 0.1, 2: 0.5, 3: 0.5}) == pytest.approx({1: 1 / 3, 2: 2.5 / 3, 3: 2.5 / 3})
    assert percentile_ranks({}) == {}


def add_node(store: Store, seed_id: int, parent_id: int | None, depth: int, instruction: str) -> int:
    return store.db["evol_nodes"].insert(
        {"node_key": f"n{depth}-{instruction[:8]}", "seed_id": seed_id, "parent_id": parent_id, "depth": depth,
         "operator": "deepen", "instruction": instruction, "status": "survived", "created_at": 0.0}
    ).last_pk


def test_entropy_gain_of_nodes_over_parent_and_seed(store: Store):
    [seed] = store.seeds.insert_seeds([{"instruction": "a b"}])  # 1 bit
    first = add_node(store, seed, None, 1, "a b c d")  # 2 bits
    second = add_node(store, seed, first, 2, "a b c d e f g h")  # 3 bits
    [sample] = store.samples.insert_samples([{"source": "evol", "instruction": "a b c d e f g h", "node_id": second,
                                      "seed_id": seed, "unit_key": "s"}])
    assert compute_entropy_gains(store) == 2
    assert store.metrics.get_metrics("node", first)["entropy_gain_parent"] == pytest.approx(1.0)
    assert store.metrics.get_metrics("node", second)["entropy_gain_parent"] == pytest.approx(1.0)
    assert store.metrics.get_metrics("node", second)["entropy_gain_seed"] == pytest.approx(2.0)
    assert store.metrics.get_metrics("sample", sample)["entropy_gain_seed"] == pytest.approx(2.0)
    frontier = store.maps.entropy_frontier()
    assert [(row["depth"], row["mean_entropy_gain"], row["pass_rate"]) for row in frontier] == [(1, 1.0, None), (2, 1.0, None)]
    store.metrics.set_metrics("sample", sample, {"best_path_score": 0.9})
    assert store.maps.entropy_frontier(0.5)[1]["pass_rate"] == 1.0
    assert store.maps.entropy_frontier(0.95)[1]["pass_rate"] == 0.0


def test_similarity_gate_records_and_lifts_only_its_own_reasons(store: Store):
    ids = store.samples.insert_samples([{"source": "magpie", "instruction": f"q{i}", "unit_key": f"k{i}"} for i in range(4)])
    store.review.set_sample_status([ids[3]], "approved", "ana")
    store.db["samples"].update(ids[2], {"filter_reason": "pii"})
    reason = f"{store.samples.SIMILARITY_GATE_PREFIX} 7 (cosine 0.950 > 0.90)"
    assert store.samples.apply_similarity_gate({ids[0]: reason, ids[2]: reason, ids[3]: reason}) == 1
    assert [s["filter_reason"] for s in store.samples.list_samples(include_filtered=True)] == [reason, None, "pii", None]
    assert store.samples.apply_similarity_gate({}) == 0  # threshold raised: the gate lifts its own reason only
    assert [s["filter_reason"] for s in store.samples.list_samples(include_filtered=True)] == [None, None, "pii", None]


def test_review_functions_change_status_and_tags_with_a_trail(store: Store):
    ids = store.samples.insert_samples([{"source": "magpie", "instruction": f"q{i}", "unit_key": f"k{i}"} for i in range(3)])
    assert store.review.set_sample_status(ids[:2], "approved", "ana", note="good") == 2
    assert store.review.set_sample_status(ids, "approved", "ana") == 1  # only the one that changed
    assert [s["status"] for s in store.samples.list_samples()] == ["approved"] * 3
    with pytest.raises(StoreError, match="unknown status"):
        store.review.set_sample_status(ids, "maybe", "ana")
    assert store.review.add_sample_tags(ids[:2], ["math", " hard ", "math"], "bo") == 2
    assert store.review.add_sample_tags(ids[:1], ["math"], "bo") == 0
    assert store.review.remove_sample_tags(ids, ["hard"], "bo") == 2
    assert [s["tags"] for s in store.samples.list_samples()] == [["math"], ["math"], []]
    trail = store.review.sample_reviews(ids[0])  # newest first
    assert [(r["action"], r["before"], r["after"], r["reviewer"]) for r in trail] == [
        ("untag", {"tags": ["math", "hard"]}, {"tags": ["math"]}, "bo"),
        ("tag", {"tags": []}, {"tags": ["math", "hard"]}, "bo"),
        ("status", {"status": "pending"}, {"status": "approved"}, "ana"),
    ]
    assert trail[-1]["note"] == "good"


def test_uncertainty_rank_combines_components_and_lists_top_seeds(store: Store):
    seeds = store.seeds.insert_seeds([{"instruction": f"seed {i}"} for i in range(3)])
    for seed, entropy, disagreement in zip(seeds, [0.5, 2.0, None], [0.0, 1.1, 0.6], strict=True):
        store.metrics.set_metrics("seed", seed, {"student_token_entropy": entropy, "student_semantic_disagreement": disagreement})
    store.metrics.set_metrics("seed", seeds[0], {"teacher_token_entropy": 1.0})
    assert rank_uncertainty(store, "student") == 3
    # entropy ranks: 1/2, 2/2; disagreement ranks: 1/3, 3/3, 2/3
    assert store.metrics.get_metrics("seed", seeds[0])["student_uncertainty"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert store.metrics.get_metrics("seed", seeds[2])["student_uncertainty"] == pytest.approx(2 / 3)
    assert store.analyse.top_uncertain_seed_ids(2) == [seeds[1], seeds[2]]
    assert [r["id"] for r in store.analyse.seed_uncertainty_ranking()] == [seeds[1], seeds[2], seeds[0]]
    assert rank_uncertainty(store, "teacher") == 1  # the teacher's own ranking, kept apart
    [teacher_row] = store.analyse.seed_uncertainty_ranking(role="teacher")
    assert teacher_row["id"] == seeds[0] and teacher_row["teacher_uncertainty"] == 1.0
    assert teacher_row["student_uncertainty"] == pytest.approx((0.5 + 1 / 3) / 2)


@pytest.mark.parametrize("fp32", [False, True])
def test_similar_pairs_are_exactly_the_float32_pairs_also_through_the_bfloat16_screen(monkeypatch, fp32):
    if fp32:
        monkeypatch.setenv("WORKBENCH_EMBED_FP32", "1")  # no screen: plain float32 blocks
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1500, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    noise = rng.normal(size=(600, 64)).astype(np.float32) * rng.uniform(0.05, 0.5, size=(600, 1)).astype(np.float32)
    twins = base[:600] + noise  # similarities spread around the threshold
    vectors = np.vstack([base, twins / np.linalg.norm(twins, axis=1, keepdims=True)])
    similarity = vectors @ vectors.T
    threshold = float(np.sort(similarity[np.arange(600), 1500 + np.arange(600)])[300])  # half the twins pass
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(similarity >= threshold, k=1)), strict=True)}
    rows, cols = similar_pairs(vectors, threshold)
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected and len(expected) >= 300
