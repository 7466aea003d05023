"""AppTest runs of the Export page: empty state, writing a file, overwrite confirmation, path refusal, PII scan."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.ship_data import add_sample
from workbench.store import Store


def export_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/export.py")
    return at


def export_button(at: AppTest):
    return next(b for b in at.button if b.label == "Export")


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
    at = export_button(at).click().run()
    assert not at.exception
    exports = db_path.parent / "exports"
    written = exports / "dataset-alpaca.jsonl"
    assert [json.loads(line) for line in written.read_text().splitlines()] == [
        {"instruction": "Approved task", "input": "", "output": "answer"}
    ]
    assert (exports / "README.md").exists()
    assert any("Wrote 1 rows" in s.value for s in at.success)
    assert len(at.get("download_button")) == 2
    assert store.list_exports()[0]["format"] == "alpaca"


def test_an_existing_file_needs_the_overwrite_box(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    exports = db_path.parent / "exports"
    exports.mkdir()
    (exports / "dataset-openai.jsonl").write_text("old")
    at = export_page().run()
    assert any("Already there" in w.value for w in at.warning)
    assert export_button(at).disabled
    at = next(c for c in at.checkbox if c.label.startswith("Overwrite")).check().run()
    at = export_button(at).click().run()
    assert not at.exception
    assert json.loads((exports / "dataset-openai.jsonl").read_text())["messages"][0]["content"] == "Approved task"


def test_a_path_outside_the_export_folder_is_refused(store: Store, db_path):
    add_sample(store, "Approved task", "answer")
    at = export_page().run()
    at.text_input[0].input("../escape.jsonl").run()
    assert not at.exception
    assert any("outside the export folder" in e.value for e in at.error)
    assert export_button(at).disabled
    assert not (Path(db_path).parent / "escape.jsonl").exists()


def test_unscanned_samples_block_export_until_scanned(store: Store):
    add_sample(store, "Approved task", "answer", pii=None)
    at = export_page().run()
    assert any("have not been scanned for PII" in w.value for w in at.warning)
    at = export_button(at).click().run()
    assert any("Nothing was written" in e.value and "not been scanned" in e.value for e in at.error)
    at = next(b for b in at.button if b.label.startswith("Scan 1 samples")).click().run()
    assert not at.exception
    assert store.list_jobs()[0]["kind"] == "pii_scan"
