"""The Verifier page's heatmap in a real browser: it renders, hover shows the step and rationale, a click opens a path."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from tests.verify.test_reasoning_page import SLIP, reasoned_store
from workbench.store import Store


@pytest.mark.slow
def test_heatmap_hover_and_click_open_a_path(db_path, running_app, page):
    def prepare() -> None:  # the job runs its own event loop: keep it off Playwright's
        store = Store(db_path)
        reasoned_store(store, SLIP)
        store.close()

    worker = threading.Thread(target=prepare)
    worker.start()
    worker.join()

    page.goto(running_app.page_url("verifier"))
    wait_for_streamlit(page)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point", timeout=30_000)
    assert_no_exception(page)
    page.get_by_text("Fails the gate", exact=False).first.wait_for(timeout=15_000)

    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # the pointer only reaches what is on screen
    cells = page.locator(".js-plotly-plot .scatterlayer .point")
    assert cells.count() == 6  # 2 paths x 3 steps
    def centre(index: int) -> tuple[float, float]:  # plotly's drag layer takes the pointer: aim at coordinates
        box = cells.nth(index).bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.mouse.move(*centre(1))
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    hover = page.locator(".hoverlayer").text_content()
    assert "Step 2" in hover and "arithmetic" in hover and "80 - 20 is 60" in hover
    screenshot(page, "verifier-heatmap-hover")

    path_box = page.locator("input[aria-label='Path']")
    assert path_box.input_value().startswith("★ path 1")  # the best path opens first
    page.mouse.click(*centre(4))  # path 2, step 2
    page.wait_for_function(
        "() => document.querySelector(\"input[aria-label='Path']\").value.startsWith('path 2 · job')",
        timeout=20_000,
    )
    wait_for_streamlit(page)
    assert_no_exception(page)
    page.locator("input[aria-label='Path']").scroll_into_view_if_needed()
    screenshot(page, "verifier-path-selected")
