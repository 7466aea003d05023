"""The map selection: stored per store for Review, and bulk actions on it that say what they leave out."""

from __future__ import annotations

from workbench.analyse.selection import outcome, plan_bulk, reason_kind
from workbench.store import Store


def add(store: Store, n: int) -> list[int]:
    return store.samples.insert_samples([{"source": "magpie", "instruction": f"task {i}", "unit_key": f"u{i}"} for i in range(n)])


def test_the_selection_is_stored_replaced_and_cleared(store: Store):
    ids = add(store, 5)
    assert store.analyse.set_map_selection("map-a", [ids[3], ids[1], ids[1], 999]) == 2  # duplicates and unknown ids dropped
    assert store.analyse.map_selection_ids() == [ids[1], ids[3]]
    store.analyse.set_map_selection("map-a", ids[:1])
    assert store.analyse.map_selection_ids() == ids[:1]
    store.db["samples"].delete(ids[0])
    assert store.analyse.map_selection_ids() == []  # a deleted sample leaves the selection
    store.analyse.set_map_selection("map-a", ids[1:])
    store.analyse.clear_map_selection()
    assert store.analyse.map_selection_ids() == []


def test_review_queue_filtered_to_the_map_selection(store: Store):
    ids = add(store, 4)
    store.analyse.set_map_selection("map-a", ids[2:])
    assert store.queue.query_sample_ids(status="pending", ids=store.analyse.map_selection_ids()) == ids[2:]


def test_reason_kinds_drop_the_particulars():
    assert reason_kind("similar to seed 3 (cosine 0.951 > 0.90)") == "similar to seed"
    assert reason_kind("near duplicate of sample 12 (97% similar)") == "near duplicate of sample"
    assert reason_kind("too short (query under 12 characters)") == "too short"
    assert reason_kind("turn 2: template leakage ('<|im_end|>' in the text)") == "template leakage"
    assert reason_kind("42") == "42"


def test_a_bulk_plan_leaves_out_filtered_unchanged_deleted_and_seeds(store: Store):
    ids = add(store, 6)
    store.db["samples"].update(ids[0], {"filter_reason": "similar to seed 1 (cosine 0.97 > 0.90)"})
    store.db["samples"].update(ids[1], {"filter_reason": "similar to seed 4 (cosine 0.93 > 0.90)"})
    store.db["samples"].update(ids[2], {"filter_reason": "too short (query under 12 characters)"})
    store.review.set_sample_status([ids[3]], "approved", "ana")
    selected = [*ids, 9999]
    states = store.samples.sample_review_states(selected)
    plan = plan_bulk(states, len(selected), "approved", seeds=2)
    assert plan.targets == ids[4:]
    assert plan.filtered == {"similar to seed": 2, "too short": 1}
    assert (plan.unchanged, plan.missing, plan.seeds) == (1, 1, 2)
    assert outcome(2, "set to approved", plan) == (
        "2 samples set to approved. Left out: 2 filtered out of the review queue (similar to seed); "
        "1 filtered out of the review queue (too short); 1 already so; 1 deleted since they were selected; "
        "2 seeds (not samples: edit seeds on the Seeds page)."
    )
    tagging = plan_bulk(states, len(selected), None)
    assert tagging.targets == ids[3:] and tagging.unchanged == 0  # tags: an approved sample is not 'unchanged'
    assert outcome(1, "tagged", plan_bulk(states[4:5], 1, None)) == "1 sample tagged."
