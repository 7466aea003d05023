"""Real browser: upload a file on Review (format and preview, then the import job), read a conversation turn by turn
with its code shown as code, approve with the keyboard, then export (the job scans, then writes) and download."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from tests.ship_data import add_sample
from workbench.store import Store


def wait_until(condition, timeout_s: float = 20.0) -> bool:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


CODE_ANSWER = "Here it is:\n\n```python\ndef reverse(text):\n    return text[::-1]\n```\n\nIt uses <slicing>, *not* a loop."


@pytest.mark.slow
def test_upload_preview_import_then_read_a_conversation_with_code(store: Store, running_app, page, tmp_path):
    add_sample(store, "Explain why the sky is blue.", "Rayleigh scattering.", status="pending")
    rows = [{"messages": [{"role": "system", "content": "You write Python."},
                          {"role": "user", "content": "Reverse a string in Python."},
                          {"role": "assistant", "content": CODE_ANSWER},
                          {"role": "user", "content": "And without slicing?"},
                          {"role": "assistant", "content": "Use ''.join(reversed(text))."}]},
            {"messages": [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"}]}]
    upload = tmp_path / "chats.jsonl"
    upload.write_text("".join(json.dumps(r) + "\n" for r in rows))

    page.goto(running_app.page_url("review"))
    wait_for_streamlit(page)
    page.get_by_text("Import samples made elsewhere").first.click()
    page.locator("input[type=file]").first.set_input_files(str(upload))
    page.get_by_text("Detected OpenAI chat (messages) (jsonl)").first.wait_for()
    wait_for_streamlit(page)
    assert page.get_by_text("Reverse a string in Python.").count() > 0  # the preview's first rows
    screenshot(page, "review-import-preview")
    page.get_by_role("button", name="Import this file").click()
    page.get_by_text("2 samples imported from chats.jsonl").first.wait_for(timeout=30_000)
    assert store.queue.count_samples(status=None) == 3

    page.get_by_role("button", name="Skip").first.click()  # to the imported conversation
    page.get_by_text("Conversation (5 turns)").first.wait_for()
    wait_for_streamlit(page)
    assert_no_exception(page)
    code = page.locator("[data-testid='stCode']").filter(has_text="def reverse(text):").first
    assert code.inner_text().splitlines()[:2] == ["def reverse(text):", "    return text[::-1]"]
    prose = page.locator("[data-testid='stText']").filter(has_text="It uses <slicing>, *not* a loop.")
    assert prose.count() == 1 and prose.first.inner_text() == "It uses <slicing>, *not* a loop."  # markup shown as text
    screenshot(page, "review-conversation")


@pytest.mark.slow
def test_keyboard_approval_then_export_download(store: Store, running_app, page):
    first = add_sample(store, "Explain why the sky is blue.", "Rayleigh scattering.", status="pending", pii=None)
    second = add_sample(store, "Name a prime number.", "7", status="pending", pii=None)

    page.goto(running_app.page_url("review"))
    wait_for_streamlit(page)
    page.get_by_text(f"Sample {first}").first.wait_for()
    page.get_by_role("button", name="Approve").first.wait_for()
    page.get_by_text("Rayleigh scattering.").first.wait_for()
    wait_for_streamlit(page)
    assert_no_exception(page)
    screenshot(page, "review-focus")
    page.get_by_role("heading", name="Review").first.click()  # focus the page, not a text field
    page.keyboard.press("a")
    assert wait_until(lambda: store.samples.get_sample(first)["status"] == "approved")
    page.get_by_text(f"Sample {second}").first.wait_for()
    wait_for_streamlit(page)
    assert store.samples.get_sample(second)["status"] == "pending"
    assert store.review.sample_reviews(first)[0]["after"] == {"status": "approved"}
    screenshot(page, "review-after-keyboard-approve")

    page.goto(running_app.page_url("export"))
    wait_for_streamlit(page)
    assert_no_exception(page)
    page.get_by_text("1 not scanned (the export scans them first)").first.wait_for()
    page.get_by_role("button", name="Export", exact=True).click()
    page.get_by_text("Wrote 1 row to").wait_for(timeout=90_000)  # the job loads the PII model, scans, then writes
    wait_for_streamlit(page)
    assert page.get_by_text("0 not scanned.").count() > 0
    screenshot(page, "export-written")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download dataset-openai.jsonl").click()
    rows = [json.loads(line) for line in open(download_info.value.path(), encoding="utf-8")]
    assert rows == [{"messages": [{"role": "user", "content": "Explain why the sky is blue."},
                                  {"role": "assistant", "content": "Rayleigh scattering."}]}]
