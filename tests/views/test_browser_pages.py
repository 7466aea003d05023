"""Every page in a real browser: the app starts, each page renders without an exception, no rate on screen
exceeds 100%, the Overview's funnel never widens and shows the store's numbers, Home is live. Screenshots saved
(empty store, sample seeds, a copy of the bundled-model demo store built once per session: `demo_db`); the
pages agree on the approved count and the gate's counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.factory.overview import overview_report
from workbench.seeds.engine import load_sample_seeds
from workbench.store import Store

PAGES = ["", "overview", "seeds", "evolution", "magpie", "verifier", "calibration", "maps", "distributions", "review", "decontamination", "export", "jobs", "settings"]
PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)\s?%")

pytestmark = pytest.mark.slow


def texts_on_screen(page) -> list[str]:
    """The page's text, the text drawn in its charts (SVG) and the cells of its tables (the grids' DOM)."""
    return page.evaluate(
        "() => [document.querySelector('[data-testid=\"stMain\"]').innerText,"
        " ...[...document.querySelectorAll('[data-testid=\"stMain\"] svg text')].map(e => e.textContent),"
        " ...[...document.querySelectorAll('[data-testid=\"stDataFrame\"] td, [data-testid=\"stDataFrame\"]"
        " [role=gridcell]')].map(e => e.textContent)]"
    )


def assert_no_rate_above_100(page, where: str) -> None:
    rates = [float(m) for text in texts_on_screen(page) for m in PERCENT.findall(text)]
    assert all(rate <= 100.0 for rate in rates), f"{where}: a rate above 100% on screen: {sorted(rates)[-3:]}"


def funnel_on_screen(page) -> list[int]:
    """The count at each stage of the Overview's funnel chart, top to bottom (the labels beside its bars)."""
    labels = page.locator(".js-plotly-plot").first.locator(".annotation-text").all_text_contents()
    return [int(label.split(" ")[0].replace(",", "")) for label in labels]


def visit_every_page(page, running_app, label: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 2400})  # the whole page in the screenshot
    for path in PAGES:
        page.goto(running_app.page_url(path))
        wait_for_streamlit(page)
        assert_no_exception(page)
        assert_no_rate_above_100(page, path or "home")
        screenshot(page, f"{label}-{path or 'home'}")


def test_every_page_on_an_empty_store(running_app, page):
    visit_every_page(page, running_app, "empty")
    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    page.get_by_text("The store is empty").wait_for(timeout=15_000)  # the live fragment renders after the script


def test_load_sample_seeds_from_the_browser(running_app, page):
    page.goto(running_app.page_url("seeds"))  # the server's first visit, straight to a deep link
    wait_for_streamlit(page)
    assert page.get_by_text("Page not found", exact=True).count() == 0
    page.get_by_role("button", name="Load sample seeds").click()
    page.get_by_text("Loaded", exact=False).first.wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert_no_exception(page)
    screenshot(page, "seeds-loaded")
    store = Store(running_app.db)
    assert store.overview.counts()["seeds"] >= 90
    store.close()


def test_every_page_on_a_store_with_seeds(running_app, page):
    store = Store(running_app.db)
    load_sample_seeds(store)
    store.close()
    visit_every_page(page, running_app, "seeded")


def test_home_is_live_while_the_store_changes(running_app, page):
    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    page.get_by_text("The store is empty").wait_for(timeout=15_000)  # the live fragment renders after the script
    store = Store(running_app.db)
    store.seeds.insert_seeds([{"instruction": "Add 2 and 3."}, {"instruction": "Name three primes."}])
    job_id = store.jobs.create_job("analyse.embed", {})
    store.close()
    # no reload: the page polls the store
    page.get_by_text(f"Job {job_id} · analyse.embed").wait_for(timeout=15_000)
    page.get_by_text("Next step:").wait_for(timeout=15_000)
    assert not page.get_by_text("The store is empty").is_visible()
    seeds_metric = page.locator("[data-testid='stMetric']").filter(has_text="Gold seeds")
    assert seeds_metric.locator("[data-testid='stMetricValue']").inner_text() == "2"
    assert_no_exception(page)


def approve_by_hand(db: Path) -> int:
    """One manual approval, as a person gives it: the first sample the demo's gate rejected. Returns its id."""
    store = Store(db)
    try:
        [sample] = store.samples.list_samples(status="rejected")[:1]
        assert store.review.set_sample_status([sample["id"]], "approved", "ana") == 1
        return sample["id"]
    finally:
        store.close()


def test_every_page_on_a_demo_store(demo_db, running_app, page):
    approve_by_hand(demo_db)  # one approved without passing the gate, beside the funnel
    store = Store(demo_db)
    report = overview_report(store)
    store.close()
    expected = [row["count"] for row in report["funnel"]]
    assert expected[0] > 0 and expected[3] > 0, expected  # the demo reached the gate and passed some

    visit_every_page(page, running_app, "demo")

    page.goto(running_app.page_url("overview"))
    wait_for_streamlit(page)
    shown = funnel_on_screen(page)
    assert shown == expected
    assert all(later <= earlier for earlier, later in zip(shown, shown[1:], strict=False)), shown
    assert page.get_by_text("Why they failed").count() + page.get_by_text("Failed the gate").count() >= 1

    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    stages = {row["key"]: row["count"] for row in report["funnel"]}
    for label, key in (("Passed the filters", "kept"), ("Passed the gate", "gated")):
        assert metric_on_screen(page, label) == stages[key], label
    assert page.get_by_text("Next step:").is_visible()


def test_the_rate_check_catches_a_rate_above_100(running_app, page):
    """The check itself can fail: a page showing 171% is caught."""
    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"] h1').append(' 171%')")
    with pytest.raises(AssertionError, match="171"):
        assert_no_rate_above_100(page, "home")


def metric_on_screen(page, label: str) -> int:
    """The number a metric shows under exactly this label."""
    metric = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(f"^{re.escape(label)}$")))
    return int(metric.first.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))


def number_in_text(page, pattern: str) -> tuple[int, ...]:
    """The numbers the first text on the page matching `pattern` (a regex with groups of digits) shows."""
    text = "\n".join(texts_on_screen(page))
    found = re.search(pattern, text)
    assert found, f"{pattern!r} is not on the page"
    return tuple(int(group.replace(",", "")) for group in found.groups())


def figures_on_every_page(page, running_app) -> dict[str, tuple[int, ...]]:
    """The approved count and the gate's counts of samples, as each page shows them."""
    def visit(path: str) -> None:
        page.goto(running_app.page_url(path))
        wait_for_streamlit(page)
        assert_no_exception(page)

    visit("")
    figures = {"home approved": (metric_on_screen(page, "Approved samples"),)}
    visit("overview")
    figures["overview approved"] = (metric_on_screen(page, "Approved samples in all"),)
    figures["overview gate"] = tuple(metric_on_screen(page, label) for label in (
        "Samples decided by the gate", "Passed", "Unverified", "Failed"))
    visit("verifier")
    figures["verifier gate"] = number_in_text(
        page, r"samples ([\d,]+) \(([\d,]+) passed, ([\d,]+) unverified, ([\d,]+) failed\)")
    visit("review")
    figures["review approved"] = number_in_text(page, r"In the store \(samples no filter removed\): ([\d,]+) approved")
    visit("export")
    figures["export approved"] = number_in_text(page, r"([\d,]+) approved samples?:")
    return figures


def test_pages_agree_on_the_approved_and_gate_counts_after_the_demo_and_a_manual_approval(demo_db, running_app,
                                                                                           page):
    """Home, Overview, Verifier, Review and Export show one approved count and one count of the gate's decisions on
    samples, after the bundled-model demo and again after a person approves a sample the gate rejected."""
    store = Store(demo_db)
    approved, gate = store.overview.approved_counts(), store.overview.gate_counts()["samples"]
    store.close()
    expected_gate = (gate["decided"], gate["passed"], gate["unverified"], gate["failed"])
    figures = figures_on_every_page(page, running_app)
    assert {figures[key] for key in figures if key.endswith("approved")} == {(approved["total"],)}, figures
    assert figures["overview gate"] == figures["verifier gate"] == expected_gate, figures

    approve_by_hand(demo_db)
    figures = figures_on_every_page(page, running_app)
    assert {figures[key] for key in figures if key.endswith("approved")} == {(approved["total"] + 1,)}, figures
    assert figures["overview gate"] == figures["verifier gate"] == expected_gate, figures  # a review is no decision
    # the Overview names what the person did: approved against the gate's verdict, not "without verification"
    page.goto(running_app.page_url("overview"))
    wait_for_streamlit(page)
    text = "\n".join(texts_on_screen(page))
    assert re.search(r"approved (though the gate failed it|while the gate left it unverified)", text)
    assert "without verification" not in text
