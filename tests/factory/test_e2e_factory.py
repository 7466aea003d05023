"""The whole factory as a new user walks through it, in a real browser, on the bundled model.

Load the sample seeds, evolve three of them, sample reasoning paths checked by the arithmetic verifier,
approve two samples with the keyboard (before the map's similarity gate, which never touches approved
samples), map everything, export OpenAI JSONL and read the downloaded file. A screenshot of every page is saved on the way and of every page at the end.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.safety.pii import findings_by_field, redact
from workbench.store import Store

pytestmark = pytest.mark.slow

PAGES = ["Home", "Overview", "Seeds", "Evolution", "Magpie", "Verifier", "Calibration", "Maps", "Distributions", "Review", "Export",
         "Jobs", "Settings"]


def open_page(page, name: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a", has_text=name).first.click()
    wait_for_streamlit(page)
    assert_no_exception(page)


def wait_for_job(db: Store, kind: str, timeout_s: float = 900) -> dict:
    """The newest job of a kind, once it stopped (the worker the app started runs it)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        jobs = db.jobs.list_jobs(kind=kind, limit=1)
        if jobs and jobs[0]["status"] in ("done", "failed", "cancelled"):
            return jobs[0]
        time.sleep(1.0)
    raise AssertionError(f"the {kind} job did not finish in {timeout_s:.0f} s: {db.jobs.list_jobs(kind=kind, limit=1)}")


def pick(page, label: str, text: str) -> None:
    """Choose the first option containing text in a multiselect, then close its list."""
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text=label).first
    box.locator("input").click()
    box.locator("input").fill(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    page.locator("h1").first.click()
    wait_for_streamlit(page)


def slide_to(page, label: str, fraction: float) -> None:
    """Click a slider's track at a fraction of its width (0 = minimum, 1 = maximum)."""
    track = page.locator("[data-testid='stSlider']").get_by_label(label, exact=True)
    box = track.bounding_box()
    track.click(position={"x": box["width"] * fraction, "y": box["height"] / 2}, force=True)
    wait_for_streamlit(page)


def test_whole_factory_as_a_new_user(running_app, page):
    db = Store(running_app.db)
    page.goto(running_app.url)
    wait_for_streamlit(page)
    screenshot(page, "e2e-01-home-empty")

    open_page(page, "Seeds")
    page.get_by_role("button", name="Load sample seeds").click()
    page.get_by_text("Loaded", exact=False).first.wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert db.overview.counts()["seeds"] >= 90
    screenshot(page, "e2e-02-seeds")

    open_page(page, "Settings")
    page.get_by_label("Max tokens per call").fill("64")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved.", exact=False).first.wait_for(timeout=30_000)
    assert db.settings.get_setting("teacher")["max_tokens"] == 64

    open_page(page, "Evolution")
    page.get_by_text("Selected seeds").click()
    wait_for_streamlit(page)
    for _ in range(3):
        pick(page, "Choose seeds", "[math]")
    slide_to(page, "Depth", 0.2)  # depth 2 of 1-6: a chain of two evolutions per seed
    page.get_by_role("button", name="Start evolution").click()
    page.get_by_text("queued: 3 seeds (seeds: selected), depth 2").wait_for(timeout=30_000)
    evolve = wait_for_job(db, "evolve")
    assert evolve["status"] == "done" and evolve["total_units"] == 3
    nodes = db.evolve.evol_nodes(evolve["id"])
    assert nodes and all(n["model"] == "local/gemma-3-270m" for n in nodes)
    page.wait_for_timeout(3000)
    wait_for_streamlit(page)
    screenshot(page, "e2e-03-evolution")
    samples = db.samples.list_samples(source="evol")
    assert len(samples) >= 2, [(n["status"], n["elimination_reason"]) for n in nodes]

    open_page(page, "Verifier")
    pick(page, "Tasks", "seed")
    page.get_by_label("Paths per task (N)").fill("2")
    page.get_by_label("Max tokens per path").fill("96")
    page.get_by_role("button", name="Start reasoning job").click()
    reason = wait_for_job(db, "verify")
    assert reason["status"] == "done" and reason["failed_units"] == 0
    assert db.overview.counts()["paths"] == 2
    page.reload()
    wait_for_streamlit(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert_no_exception(page)
    screenshot(page, "e2e-04-verifier-heatmap")

    open_page(page, "Review")
    first, second = (s["id"] for s in db.samples.list_samples(status="pending")[:2])
    page.get_by_text(f"Sample {first}").first.wait_for(timeout=30_000)
    page.get_by_role("heading", name="Review").first.click()
    page.keyboard.press("a")
    page.get_by_text(f"Sample {second}").first.wait_for(timeout=30_000)
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Review").first.click()
    page.keyboard.press("a")
    deadline = time.time() + 30
    while {db.samples.get_sample(first)["status"], db.samples.get_sample(second)["status"]} != {"approved"} and time.time() < deadline:
        time.sleep(0.5)
    assert db.samples.get_sample(first)["status"] == db.samples.get_sample(second)["status"] == "approved"
    wait_for_streamlit(page)
    screenshot(page, "e2e-06-review")

    open_page(page, "Maps")
    page.get_by_role("button", name="Compute embeddings & metrics").click()
    assert wait_for_job(db, "analyse.embed")["status"] == "done"
    page.reload()
    wait_for_streamlit(page)
    page.get_by_role("button", name="Update map").click()
    assert wait_for_job(db, "analyse.project")["status"] == "done"
    page.reload()
    wait_for_streamlit(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert_no_exception(page)
    screenshot(page, "e2e-05-map")

    open_page(page, "Export")
    # Redact rather than block: a model-written sample may name a person, and it must still be written, redacted.
    page.get_by_text("redact to <TYPE> placeholders").click()
    wait_for_streamlit(page)
    page.get_by_role("button", name="Export", exact=True).click()  # the export job scans what was never scanned, then writes
    outcome = page.get_by_text("Wrote 2 rows").or_(page.get_by_text("Nothing was written"))
    outcome.first.wait_for(timeout=90_000)
    assert "Wrote 2 rows" in outcome.first.inner_text(), outcome.first.inner_text()
    assert db.samples.pii_counts("approved")["unscanned"] == 0
    wait_for_streamlit(page)
    screenshot(page, "e2e-07-export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download dataset-openai.jsonl").click()
    rows = [json.loads(line) for line in open(download_info.value.path(), encoding="utf-8")]
    expected = {}
    for sample in db.samples.list_samples(status="approved"):
        found = findings_by_field(sample["pii"])
        expected[redact(sample["instruction"], found.get("instruction", []))] = redact(sample["output"], found.get("output", []))
    assert len(rows) == 2
    for row in rows:
        user, assistant = row["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert expected[user["content"]] == assistant["content"]

    for name in PAGES:
        open_page(page, name)
        screenshot(page, f"full-{name.lower()}")
    db.close()
