"""AppTest runs of the Review page: empty state, focus view decisions, edit with history, bulk actions, map selection."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.ship_data import PLANTED, add_chain, add_sample, add_scored_path
from workbench.core.settings import set_reviewer_name
from workbench.store import Store


def review_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/review.py")
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
    assert any("add_constraints → deepen" in d.value["value"].tolist() for d in at.dataframe if "value" in d.value)
    at = button(at, "Approve").click().run()
    assert store.samples.get_sample(first)["status"] == "approved"
    assert store.review.sample_reviews(first)[0]["reviewer"] == "Ada"
    assert at.subheader[0].value == f"Sample {second} · 1 of 2"
    at = button(at, "Skip").click().run()
    assert at.subheader[0].value == f"Sample {third} · 2 of 2"
    at = button(at, "Reject").click().run()
    assert not at.exception
    assert store.samples.get_sample(third)["status"] == "rejected"
    assert store.samples.get_sample(second)["status"] == "pending"
    assert at.subheader[0].value == f"Sample {second} · 1 of 1"


def test_edit_keeps_the_original_and_queues_a_pii_rescan(store: Store):
    sample_id = add_sample(store, "Orignal task", "old answer", status="pending")
    at = review_page().run()
    at = button(at, "Edit").click().run()
    at.text_area[0].input("Original task")
    at.text_area[1].input("new answer")
    at = next(b for b in at.button if b.label == "Save edit").click().run()
    assert not at.exception
    sample = store.samples.get_sample(sample_id)
    assert (sample["instruction"], sample["original_instruction"]) == ("Original task", "Orignal task")
    assert (sample["output"], sample["original_output"]) == ("new answer", "old answer")
    assert [j["kind"] for j in store.jobs.list_jobs()] == ["pii_scan"]
    assert store.jobs.list_jobs()[0]["params"]["ids"] == [sample_id]
    assert any("original is kept" in s.value for s in at.success)


def test_pii_flags_show_in_the_focus_view_and_the_scan_button_queues_a_job(store: Store):
    finding = {"field": "output", "entity": "EMAIL_ADDRESS", "start": 0, "end": 5, "score": 1.0}
    add_sample(store, "Task with mail", PLANTED["EMAIL_ADDRESS"][1], status="pending",
               pii={"engine": "ner", "note": "n", "findings": [finding]})
    add_sample(store, "Unscanned task", status="pending", pii=None)
    at = review_page().run()
    assert any("PII found: 1 EMAIL_ADDRESS" in w.value for w in at.warning)
    at = button(at, "Scan 1 sample for PII").click().run()
    assert not at.exception
    assert store.jobs.list_jobs()[0]["kind"] == "pii_scan"


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
    assert [s["tags"] for s in store.samples.samples_by_ids(ids)] == [["batch-1"]] * 3
    at = next(c for c in at.checkbox if c.label.startswith("Apply to all")).check().run()
    at = button(at, "Approve 3").click().run()
    assert not at.exception
    assert [s["status"] for s in store.samples.samples_by_ids([*ids, other])] == ["approved"] * 3 + ["pending"]


def test_a_map_selection_narrows_the_queue(store: Store):
    ids = [add_sample(store, f"task {i}", status="pending") for i in range(4)]
    at = review_page().run()
    assert not any("selected on the map" in c.label for c in at.checkbox)  # nothing selected: no such filter
    store.analyse.set_map_selection("a-map", [ids[2], ids[3]])  # as the Maps page stores it
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


def test_a_conversation_is_shown_turn_by_turn_and_edited_per_turn(store: Store):
    from tests.review.test_review import CONVERSATION

    sample_id = add_sample(store, "What is 12 * 4?", "12 * 4 = 48.", source="magpie", status="pending", turns=CONVERSATION)
    at = review_page().run()
    assert not at.exception
    assert any(m.value == "**Conversation** (5 turns)" for m in at.markdown)
    assert [c.value for c in at.caption if " · turn " in c.value] == [
        "System · turn 1", "User · turn 2", "Assistant · turn 3", "User · turn 4", "Assistant · turn 5"]
    assert [t.value for t in at.text][:5] == [t["content"] for t in CONVERSATION]
    at = button(at, "Edit").click().run()
    assert [a.label for a in at.text_area] == [
        "System · turn 1", "User · turn 2", "Assistant · turn 3", "User · turn 4", "Assistant · turn 5"]
    at.text_area[4].input("Half of 48 is 24 (48 / 2).")
    at = next(b for b in at.button if b.label == "Save edit").click().run()
    assert not at.exception
    assert store.samples.get_sample(sample_id)["turns"][4]["content"] == "Half of 48 is 24 (48 / 2)."
    assert store.review.sample_reviews(sample_id)[0]["after"] == {"turn:4": "Half of 48 is 24 (48 / 2)."}


def test_model_text_is_shown_truthfully_code_as_code_and_markup_as_text(store: Store):
    answer = "Use this:\n```python\ndef add(a, b):\n    return a + b\n```\n<b>bold?</b> **not markdown**\nline two"
    add_sample(store, "Write an add function.", answer, status="pending")
    at = review_page().run()
    assert not at.exception
    (code,) = [c for c in at.code if c.language == "python"]
    assert code.value == "def add(a, b):\n    return a + b"
    texts = [t.value for t in at.text]
    assert "Use this:" in texts and "<b>bold?</b> **not markdown**\nline two" in texts
    assert not any("<b>" in m.value or "**not markdown**" in m.value for m in at.markdown)


def test_the_import_job_of_an_upload_is_followed_on_the_page(store: Store, db_path):
    import json

    from workbench.core.jobs import worker
    from workbench.formats.job import save_upload, submit_import

    rows = [{"conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": f"Answer {i}."}],
             "system": "Be brief."} for i in range(7)]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    at = review_page()
    at.session_state["import_job"] = submit_import(store, save_upload(store, data, "chats.jsonl"), "chats.jsonl")
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    at.run()
    assert not at.exception
    assert any("7 samples imported from chats.jsonl" in s.value for s in at.success)
    assert any(m.value == "**Conversation** (3 turns)" for m in at.markdown)
    bad = submit_import(store, save_upload(store, b'{"messages": [{"role": "bot", "content": "x"}]}\n', "bad.jsonl"), "bad.jsonl")
    at.session_state["import_job"] = bad
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    at.run()
    assert any("Could not import bad.jsonl: nothing was imported." in e.value for e in at.error)
    (problems,) = [d.value for d in at.dataframe if "problem" in d.value]
    assert problems["problem"].tolist() == ["bad.jsonl, line 1, field 'messages[0].role': unknown role 'bot'"]


def test_an_empty_queue_says_where_the_reviewed_samples_are(store: Store):
    add_sample(store, "Approved task", status="approved")
    for name in ("First rejected", "Second rejected"):
        add_sample(store, name, status="rejected")
    at = review_page().run()
    assert not at.exception
    assert any("Nothing here needs a human; with these filters: 1 approved, 2 rejected" in i.value for i in at.info)
    at.selectbox[0].set_value("approved").run()  # the status filter
    assert not at.exception and not any("needs a human" in i.value for i in at.info)


def test_review_says_why_a_sample_is_flagged_and_not_pii_clears_it(store: Store):
    from workbench.safety.pii import allow_list

    text = "Books by Carl Sagan include Contact."
    finding = {"field": "output", "entity": "PERSON", "start": 9, "end": 19, "score": 0.85,
               "why": "a person's name (the strict policy counts every person)"}
    sample_id = add_sample(store, "Recommend a book.", text, status="pending",
                           pii={"engine": "ner", "note": "n", "findings": [finding], "ignored": []})
    at = review_page().run()
    assert any("**PERSON** in `output`: a person's name (the strict policy counts every person)" in m.value for m in at.markdown)
    assert any(c.value == "Carl Sagan" for c in at.code)
    at = button(at, "Not PII").click().run()
    assert not at.exception
    assert store.samples.get_sample(sample_id)["pii"]["findings"] == []
    assert [(e["entity"], e["text"]) for e in allow_list(store)] == [("PERSON", "Carl Sagan")]
    assert any("cleared from 1 sample" in s.value for s in at.success)
