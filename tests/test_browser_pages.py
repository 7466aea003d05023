"""Every page in a real browser: the app starts, each page renders without an exception, no rate on screen
exceeds 100%, the Overview's funnel never widens and shows the store's numbers, Home is live. Screenshots saved
(empty store, sample seeds, a demo-like store built by the real demo job over a loopback teacher)."""

from __future__ import annotations

import re

import pytest

from benchmarks.loopback_server import serve
from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.core.jobs import run_worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.factory.demo import submit_demo
from workbench.factory.overview import overview_report
from workbench.seeds.engine import load_sample_seeds
from workbench.store import Store
from workbench.verify.reasoning import VerificationSettings, save_verification_settings

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
    page.goto(running_app.page_url("seeds"))
    wait_for_streamlit(page)
    page.get_by_role("button", name="Load sample seeds").click()
    page.get_by_text("Loaded", exact=False).first.wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert_no_exception(page)
    screenshot(page, "seeds-loaded")
    store = Store(running_app.db)
    assert store.counts()["seeds"] >= 90
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
    store.insert_seeds([{"instruction": "Add 2 and 3."}, {"instruction": "Name three primes."}])
    job_id = store.create_job("embed", {})
    store.close()
    # no reload: the page polls the store
    page.get_by_text(f"Job {job_id} · embed").wait_for(timeout=15_000)
    page.get_by_text("Next step:").wait_for(timeout=15_000)
    assert not page.get_by_text("The store is empty").is_visible()
    seeds_metric = page.locator("[data-testid='stMetric']").filter(has_text="Gold seeds")
    assert seeds_metric.locator("[data-testid='stMetricValue']").inner_text() == "2"
    assert_no_exception(page)


@pytest.fixture
def demo_db(db_path):
    """A store built by the real demo job (every stage its own job) over a loopback teacher, with a gate the
    loopback's unverifiable steps can pass, one approved sample exported and one approved without the gate."""
    store = Store(db_path)
    save_verification_settings(store, VerificationSettings(aggregation="min", threshold=0.5))
    with serve(latency_s=0.0, reply_words=30) as url:
        save_teacher_config(store, TeacherConfig(model="hosted_vllm/loopback", api_base=url, max_retries=0,
                                                 extra={"api_key": "x"}))
        demo = submit_demo(store)
        assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
    assert store.get_job(demo)["status"] == "done", store.unit_errors(demo)
    approved = store.list_samples(status="approved")
    if approved:
        store.record_export("openai", "/tmp/demo.jsonl", {}, [approved[0]["id"]])
    unverified = [s for s in store.list_samples(source="magpie") if s["status"] == "pending"]
    store.set_sample_status([s["id"] for s in unverified[:1]], "approved", "ana")
    store.close()
    return db_path


def test_every_page_on_a_demo_store(demo_db, running_app, page):
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
    for label, key in (("Passed the filters", "kept"), ("Passed the gate", "gated"), ("Approved", "approved")):
        metric = page.locator("[data-testid='stMetric']").filter(has_text=label)
        assert metric.locator("[data-testid='stMetricValue']").inner_text() == f"{stages[key]:,}", label
    assert page.get_by_text("Next step:").is_visible()


def test_the_rate_check_catches_a_rate_above_100(running_app, page):
    """The check itself can fail: a page showing 171% is caught."""
    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"] h1').append(' 171%')")
    with pytest.raises(AssertionError, match="171"):
        assert_no_rate_above_100(page, "home")
