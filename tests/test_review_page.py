"""AppTest runs of the Review page: empty state, focus view decisions, edit with history, bulk actions, map selection."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.ship_data import PLANTED, add_chain, add_sample, add_scored_path
from workbench.settings import set_reviewer_name
from workbench.store import Store


def review_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/review.py")
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_empty_store_shows_how_to_get_samples(db_path):
    at = review_page().run()
    assert not at.exception
    assert any("No samples yet" in i.value for i in at.info)


def test_focus_view_approves_rejects_and_skips_in_queue_order(store: Store):
    set_reviewer_name(store, "Ada")
    seed_id, leaf = add_chain(store)
    first = add_sample(store, "First task", status="pending", seed_id=seed_id, node_id=leaf)
    add_scored_path(store, first, ["step one", "step two"], [0.9, 0.4])
    second = add_sample(store, "Second task", status="pending")
    third = add_sample(store, "Third task", status="pending")
    at = review_page().run()
    assert not at.exception
    assert at.subheader[0].value == f"Sample {first} · 1 of 3"
    assert any("add_constraints → deepen" in m.value for m in at.markdown)
    at = button(at, "Approve").click().run()
    assert store.get_sample(first)["status"] == "approved"
    assert store.sample_reviews(first)[0]["reviewer"] == "Ada"
    assert at.subheader[0].value == f"Sample {second} · 1 of 2"
    at = button(at, "Skip").click().run()
    assert at.subheader[0].value == f"Sample {third} · 2 of 2"
    at = button(at, "Reject").click().run()
    assert not at.exception
    assert store.get_sample(third)["status"] == "rejected"
    assert store.get_sample(second)["status"] == "pending"
    assert at.subheader[0].value == f"Sample {second} · 1 of 1"


def test_edit_keeps_the_original_and_queues_a_pii_rescan(store: Store):
    sample_id = add_sample(store, "Orignal task", "old answer", status="pending")
    at = review_page().run()
    at = button(at, "Edit").click().run()
    at.text_area[0].input("Original task")
    at.text_area[1].input("new answer")
    at = next(b for b in at.button if b.label == "Save edit").click().run()
    assert not at.exception
    sample = store.get_sample(sample_id)
    assert (sample["instruction"], sample["original_instruction"]) == ("Original task", "Orignal task")
    assert (sample["output"], sample["original_output"]) == ("new answer", "old answer")
    assert [j["kind"] for j in store.list_jobs()] == ["pii_scan"]
    assert store.list_jobs()[0]["params"]["ids"] == [sample_id]
    assert any("original is kept" in s.value for s in at.success)


def test_pii_flags_show_in_the_focus_view_and_the_scan_button_queues_a_job(store: Store):
    finding = {"field": "output", "entity": "EMAIL_ADDRESS", "start": 0, "end": 5, "score": 1.0}
    add_sample(store, "Task with mail", PLANTED["EMAIL_ADDRESS"][1], status="pending",
               pii={"engine": "ner", "note": "n", "findings": [finding]})
    add_sample(store, "Unscanned task", status="pending", pii=None)
    at = review_page().run()
    assert any("PII found: 1 EMAIL_ADDRESS" in w.value for w in at.warning)
    at = button(at, "Scan 1 samples for PII").click().run()
    assert not at.exception
    assert store.list_jobs()[0]["kind"] == "pii_scan"


def test_bulk_view_approves_and_tags_every_sample_matching_the_filters(store: Store):
    ids = [add_sample(store, f"bulk task {i}", status="pending") for i in range(3)]
    other = add_sample(store, "magpie task", source="magpie", status="pending")
    at = review_page().run()
    at.segmented_control[0].set_value("Bulk").run()
    at.multiselect[0].set_value(["evol"]).run()  # the Source filter
    assert not at.exception
    assert any("3 samples in this queue" in c.value for c in at.caption)
    at = next(c for c in at.checkbox if c.label.startswith("Apply to all")).check().run()
    at = next(t for t in at.text_input if t.label.startswith("Tags")).input("batch-1").run()
    at = button(at, "Add tags").click().run()
    assert [s["tags"] for s in store.samples_by_ids(ids)] == [["batch-1"]] * 3
    at = next(c for c in at.checkbox if c.label.startswith("Apply to all")).check().run()
    at = button(at, "Approve 3").click().run()
    assert not at.exception
    assert [s["status"] for s in store.samples_by_ids([*ids, other])] == ["approved"] * 3 + ["pending"]


def test_a_map_selection_narrows_the_queue(store: Store):
    ids = [add_sample(store, f"task {i}", status="pending") for i in range(4)]
    at = review_page().run()
    assert not any("selected on the map" in c.label for c in at.checkbox)  # nothing selected: no such filter
    store.set_map_selection("a-map", [ids[2], ids[3]])  # as the Maps page stores it
    at = review_page().run()
    assert not at.exception
    assert at.checkbox[0].label == "Only the 2 samples selected on the map" and at.checkbox[0].value
    assert any("2 samples in this queue" in c.value for c in at.caption)
    assert at.subheader[0].value == f"Sample {ids[2]} · 1 of 2"


def test_scans_made_without_the_ner_model_are_stated_plainly(store: Store):
    note = "pattern recognisers only: the NER model could not load; person names and locations are NOT detected"
    add_sample(store, "Some task", status="pending", pii={"engine": "patterns", "note": note, "findings": []})
    at = review_page().run()
    assert not at.exception
    assert any("NOT detected" in w.value for w in at.warning)
