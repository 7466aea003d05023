"""AppTest runs of the Export page: empty state, the export job (scan, then write) followed live, overwrite
confirmation, one card per export, path refusal, GSM8K annotations."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.ship_data import PLANTED, add_sample
from workbench.core.jobs import worker
from workbench.store import Store


def export_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/export.py")
    return at


def export_button(at: AppTest):
    return next(b for b in at.button if b.label == "Export")


def export_and_wait(at: AppTest, db_path: Path) -> AppTest:
    """Click Export (which queues the export job), let a worker run it, and rerun the page as its fragment would."""
    at = export_button(at).click().run()
    assert not at.exception
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    return at.run()


def test_empty_store_explains_what_to_do(db_path):
    at = export_page().run()
    assert not at.exception
    assert any("Nothing to export yet" in i.value for i in at.info)


def test_export_writes_the_file_and_the_card_and_offers_downloads(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    add_sample(store, "Pending task", "answer", status="pending")
    at = export_page().run()
    assert not at.exception
    at.selectbox[0].set_value("alpaca").run()
    assert any("license: other" in c.value for c in at.code)
    assert any(c.label == "Write the dataset card (dataset-alpaca.README.md) beside the file" for c in at.checkbox)
    at = export_and_wait(at, db_path)
    assert not at.exception
    exports = db_path.parent / "exports"
    written = exports / "dataset-alpaca.jsonl"
    assert [json.loads(line) for line in written.read_text().splitlines()] == [
        {"instruction": "Approved task", "input": "", "output": "answer"}
    ]
    assert (exports / "dataset-alpaca.README.md").exists()
    assert any("Wrote 1 row to" in s.value for s in at.success)
    assert [b.label for b in at.get("download_button")] == ["Download dataset-alpaca.jsonl", "Download dataset-alpaca.README.md"]
    assert store.export.list_exports()[0]["format"] == "alpaca"


def test_an_existing_file_needs_the_overwrite_box(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    exports = db_path.parent / "exports"
    exports.mkdir()
    (exports / "dataset-openai.jsonl").write_text("old")
    at = export_page().run()
    assert any("Already there" in w.value for w in at.warning)
    assert export_button(at).disabled
    at = next(c for c in at.checkbox if c.label.startswith("Overwrite")).check().run()
    at = export_and_wait(at, db_path)
    assert not at.exception
    assert json.loads((exports / "dataset-openai.jsonl").read_text())["messages"][0]["content"] == "Approved task"


def test_a_card_of_another_export_is_never_overwritten(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    exports = db_path.parent / "exports"
    exports.mkdir()
    (exports / "dataset-openai.README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files: other.jsonl\n---\n")
    at = export_page().run()
    assert any("dataset-openai.README.md is the dataset card of other.jsonl" in e.value for e in at.error)
    assert export_button(at).disabled


def test_a_path_outside_the_export_folder_is_refused(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    at = export_page().run()
    at.text_input[0].input("../escape.jsonl").run()
    assert not at.exception
    assert any("outside the export folder" in e.value for e in at.error)
    assert export_button(at).disabled
    assert not (Path(db_path).parent / "escape.jsonl").exists()


def test_export_scans_unscanned_samples_first_and_the_caption_follows(store: Store, db_path):
    add_sample(store, "Approved task", "answer", pii=None)
    add_sample(store, PLANTED["EMAIL_ADDRESS"][1], "ok", pii=None)
    at = export_page().run()
    assert any("2 not scanned (the export scans them first)" in c.value for c in at.caption)
    at = export_and_wait(at, db_path)
    assert not at.exception
    assert any("0 not scanned." in c.value and "1 with PII (left out)" in c.value for c in at.caption)
    assert any("Wrote 1 row to" in s.value and "1 left out for PII" in s.value for s in at.success)
    assert [j["kind"] for j in store.jobs.list_jobs()] == ["export"]


def test_calculator_annotations_can_be_stripped(store: Store, db_path):
    add_sample(store, "Natalia sold 48/2 = <<48/2=24>>24 clips in May.", "72")
    at = export_page().run()
    at = next(c for c in at.checkbox if c.label == "Strip GSM8K calculator annotations").check().run()
    at = export_and_wait(at, db_path)
    row = json.loads((db_path.parent / "exports" / "dataset-openai.jsonl").read_text())
    assert row["messages"][0]["content"] == "Natalia sold 48/2 = 24 clips in May."


def test_preference_formats_offer_the_pairing_policy_and_write_the_gates_pairs(store: Store, db_path):
    from tests.ship_data import add_gate_path, add_math_task
    from workbench.export.preference_pairs import load_pairing

    sample_id = add_math_task(store, "Tom has 3 boxes of 4 pens. How many pens?", "12", "twelve")
    add_gate_path(store, sample_id, ["3 * 4 = 12 pens.", "Answer: 12"])
    add_gate_path(store, sample_id, ["3 + 4 = 7 pens.", "Answer: 7"], wrong_at=0, path_index=1)
    at = export_page().run()
    at.selectbox[0].set_value("dpo").run()
    assert not at.exception
    policy = next(s for s in at.selectbox if s.label == "Pairing policy")
    policy.set_value("best_vs_worst").run()
    assert load_pairing(store).policy == "best_vs_worst"
    next(c for c in at.checkbox if c.label == "Step-DPO step pairs").uncheck().run()
    at = export_and_wait(at, db_path)
    rows = [json.loads(line) for line in (db_path.parent / "exports" / "dataset-dpo.jsonl").read_text().splitlines()]
    assert rows == [{"prompt": "Tom has 3 boxes of 4 pens. How many pens?", "chosen": "3 * 4 = 12 pens.\nAnswer: 12",
                     "rejected": "3 + 4 = 7 pens.\nAnswer: 7"}]


def test_chat_formats_ship_the_verified_path_and_can_leave_out_unverified_answers(store: Store, db_path):
    from tests.ship_data import add_gate_path, add_math_task

    sample_id = add_math_task(store, "Tom has 3 boxes of 4 pens. How many pens?", "12", "twelve")
    add_gate_path(store, sample_id, ["3 * 4 = 12 pens.", "Answer: 12"])
    add_sample(store, "Write a haiku.", "Rain on the roof")
    at = export_page().run()
    next(r for r in at.radio if r.label == "Unverified answers").set_value("leave_out").run()
    at = export_and_wait(at, db_path)
    rows = [json.loads(line) for line in (db_path.parent / "exports" / "dataset-openai.jsonl").read_text().splitlines()]
    assert [r["messages"][-1]["content"] for r in rows] == ["3 * 4 = 12 pens.\nAnswer: 12"]
    assert any("1 left out as unverified: no reasoning paths" in s.value for s in at.success)
