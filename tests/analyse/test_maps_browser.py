"""The Maps page in a real browser: the WebGL map draws; a box selection is stored, reaches the Review page's
"selected on the map" filter and survives a visit there; bulk approve says what it leaves out."""

from __future__ import annotations

import pytest

from tests.analyse.test_maps_pages import fill
from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.store import Store


def box_select_everything(page) -> None:
    page.locator(".js-plotly-plot .modebar-btn[data-title='Box Select']").click()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + 3, area["y"] + 3)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=8)
    page.mouse.move(area["x"] + area["width"] - 3, area["y"] + area["height"] - 3, steps=8)
    page.mouse.up()


def open_page(page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
    wait_for_streamlit(page)
    assert_no_exception(page)


@pytest.mark.slow
def test_a_box_selection_on_the_map_reaches_review_and_bulk_actions(running_app, page):
    store = Store(running_app.db)
    ids = fill(store, samples=30)
    store.db["samples"].update(ids[0], {"filter_reason": "similar to seed 1 (cosine 0.970 > 0.90)"})
    page.goto(running_app.page_url())
    page.get_by_role("heading", name="Entropy Workbench").wait_for(timeout=60_000)  # app.py's navigation is live
    open_page(page, "Maps")
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
    assert page.locator(".js-plotly-plot canvas").count() > 0  # WebGL (Scattergl) layers
    screenshot(page, "maps-drawn")

    box_select_everything(page)
    page.get_by_text("points selected").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert_no_exception(page)
    assert page.get_by_text(f"{len(ids)} samples, 4 seeds").count() == 1
    assert store.analyse.map_selection_ids() == sorted(ids)  # stored, for Review
    assert page.get_by_text("1 filtered out of the review queue (similar to seed)").count() == 1
    screenshot(page, "maps-box-selection")

    page.get_by_text(f"Review these {len(ids)} samples on the Review page").click()
    wait_for_streamlit(page)
    assert_no_exception(page)
    assert page.get_by_role("heading", name="Review").count() == 1
    page.get_by_text("Filters", exact=True).click()
    filter_box = page.get_by_text(f"Only the {len(ids)} samples selected on the map")
    filter_box.wait_for(timeout=30_000)
    assert page.get_by_label(f"Only the {len(ids)} samples selected on the map").is_checked()
    queued = len(ids) - 1  # the filtered sample is not in the review queue
    assert page.get_by_text(f"{queued} samples in this queue").count() == 1
    screenshot(page, "review-map-selection")

    open_page(page, "Maps")  # a new visit draws the map afresh: the stored selection stays
    page.get_by_text(f"{len(ids)} samples selected on the map earlier").wait_for(timeout=30_000)
    page.get_by_role("button", name=f"Approve {queued}").click()
    page.get_by_text(f"{queued} samples set to approved").wait_for(timeout=30_000)
    assert_no_exception(page)
    assert page.get_by_text("Left out: 1 filtered out of the review queue (similar to seed)").count() == 1
    statuses = {s["id"]: s["status"] for s in store.samples.samples_by_ids(ids)}
    assert statuses[ids[0]] == "pending" and {statuses[i] for i in ids[1:]} == {"approved"}
    assert store.review.sample_reviews(ids[1])[0]["after"] == {"status": "approved"}
    store.close()
