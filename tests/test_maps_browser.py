"""The Maps page in a real browser: the WebGL map draws, a box selection opens the samples, bulk approve works."""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from tests.test_maps_pages import fill
from workbench.store import Store


@pytest.mark.slow
def test_map_draws_and_box_selection_reviews_samples(running_app, page):
    store = Store(running_app.db)
    ids = fill(store, samples=30)
    page.goto(running_app.page_url())
    page.get_by_role("heading", name="Entropy Workbench").wait_for(timeout=60_000)  # app.py's navigation is live
    page.get_by_test_id("stSidebarNav").get_by_text("Maps", exact=True).click()
    wait_for_streamlit(page)
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
    assert_no_exception(page)
    assert page.locator(".js-plotly-plot canvas").count() > 0  # WebGL (Scattergl) layers
    screenshot(page, "maps-drawn")

    page.locator(".js-plotly-plot .modebar-btn[data-title='Box Select']").click()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + 3, area["y"] + 3)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=8)
    page.mouse.move(area["x"] + area["width"] - 3, area["y"] + area["height"] - 3, steps=8)
    page.mouse.up()
    page.get_by_text("points selected").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert_no_exception(page)
    assert page.get_by_text(f"{len(ids)} samples, 4 seeds").count() == 1
    screenshot(page, "maps-box-selection")

    page.get_by_role("button", name=f"Approve {len(ids)}").click()
    page.get_by_text(f"{len(ids)} samples set to approved").wait_for(timeout=30_000)
    assert_no_exception(page)
    assert {s["status"] for s in store.list_samples()} == {"approved"}
    assert store.sample_reviews(ids[0])[0]["after"] == {"status": "approved"}
    store.close()
