"""In a real browser: register a benchmark by upload on the Decontamination page, scan in the worker, and see the
match on Review beside the sample (screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from tests.ship_data import add_sample
from workbench.store import Store

NATALIA = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?")
WENG = "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?"


@pytest.mark.slow
def test_upload_scan_and_review_in_the_browser(running_app, page, tmp_path):
    store = Store(running_app.db)
    copied = add_sample(store, f"Here is a practice problem. {NATALIA} Show your work.", "72", status="pending")
    add_sample(store, "Marco sold pencils to 30 of his classmates in March. How many pencils did he sell?", "30",
               status="pending")
    benchmark = tmp_path / "gsm8k_test.jsonl"
    benchmark.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in ((NATALIA, "72"), (WENG, "10"))))

    page.goto(running_app.page_url("decontamination"))
    wait_for_streamlit(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(benchmark))
    page.get_by_role("button", name="Register this benchmark").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    screenshot(page, "decontam-register")
    page.get_by_role("button", name="Register this benchmark").click()
    page.get_by_text("Registered gsm8k_test: 2 items").wait_for(timeout=30_000)
    page.get_by_text("Compare meanings too (embedding similarity)").click()  # off: n-grams only, the model is not the point
    wait_for_streamlit(page)
    screenshot(page, "decontam-registered")
    page.get_by_role("button", name="Save and scan").click()
    deadline = time.time() + 120
    while not store.safety.contamination_hits() and time.time() < deadline:
        time.sleep(0.5)
    assert [h["item_id"] for h in store.safety.contamination_hits()] == [copied]
    page.reload()
    wait_for_streamlit(page)
    page.get_by_text("Matches (1 seed or sample)").wait_for(timeout=30_000)
    assert_no_exception(page)
    screenshot(page, "decontam-matches")

    page.goto(running_app.page_url("review"))
    wait_for_streamlit(page)
    page.get_by_text("Matches gsm8k_test item 1").wait_for(timeout=30_000)
    assert_no_exception(page)
    screenshot(page, "decontam-review")
    store.close()
