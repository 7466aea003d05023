"""Every page in a real browser: the app starts, each page renders without an exception, screenshots saved."""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.seeds import load_sample_seeds
from workbench.store import Store

PAGES = ["", "overview", "seeds", "evolution", "magpie", "verifier", "maps", "distributions", "review", "export", "jobs", "settings"]

pytestmark = pytest.mark.slow


def visit_every_page(page, running_app, label: str) -> None:
    for path in PAGES:
        page.goto(running_app.page_url(path))
        wait_for_streamlit(page)
        assert_no_exception(page)
        screenshot(page, f"{label}-{path or 'home'}")


def test_every_page_on_an_empty_store(running_app, page):
    visit_every_page(page, running_app, "empty")
    page.goto(running_app.page_url(""))
    wait_for_streamlit(page)
    assert page.get_by_text("The store is empty").is_visible()


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
