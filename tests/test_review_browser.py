"""Real browser: approve a sample with the keyboard on the Review page, then export and download it."""

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


@pytest.mark.slow
def test_keyboard_approval_then_export_download(store: Store, running_app, page):
    first = add_sample(store, "Explain why the sky is blue.", "Rayleigh scattering.", status="pending")
    second = add_sample(store, "Name a prime number.", "7", status="pending")

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
    assert wait_until(lambda: store.get_sample(first)["status"] == "approved")
    page.get_by_text(f"Sample {second}").first.wait_for()
    wait_for_streamlit(page)
    assert store.get_sample(second)["status"] == "pending"
    assert store.sample_reviews(first)[0]["after"] == {"status": "approved"}
    screenshot(page, "review-after-keyboard-approve")

    page.goto(running_app.page_url("export"))
    wait_for_streamlit(page)
    assert_no_exception(page)
    page.get_by_role("button", name="Export", exact=True).click()
    page.get_by_text("Wrote 1 rows").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    screenshot(page, "export-written")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download dataset-openai.jsonl").click()
    rows = [json.loads(line) for line in open(download_info.value.path(), encoding="utf-8")]
    assert rows == [{"messages": [{"role": "user", "content": "Explain why the sky is blue."},
                                  {"role": "assistant", "content": "Rayleigh scattering."}]}]
