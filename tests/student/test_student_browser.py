"""The frontier in a real browser: a box selection on the Student page starts an evolution job on the seeds inside."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.analyse.test_maps_browser import box_select_everything, open_page
from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from tests.student.test_student_pages import probed
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store


@pytest.mark.slow
def test_a_box_selection_on_the_frontier_starts_an_evolution(running_app, page):
    store = Store(running_app.db)
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": "Answer: 5"}))
    with ThreadPoolExecutor(1) as thread:  # Playwright's event loop runs in this thread; the worker needs its own
        ids = thread.submit(probed, store).result()  # three seeds probed (two known failures), one that cannot be
    page.goto(running_app.page_url())
    page.get_by_role("heading", name="Entropy Workbench").wait_for(timeout=60_000)
    open_page(page, "Student")
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=60_000)
    screenshot(page, "student-frontier")

    box_select_everything(page)
    page.get_by_text("3 seeds selected (2 known failures)").wait_for(timeout=30_000)
    wait_for_streamlit(page)
    assert_no_exception(page)
    page.get_by_role("button", name="Evolve the 3 selected seeds").click()
    page.get_by_text("queued on 3 seeds selected on the frontier").wait_for(timeout=30_000)
    assert_no_exception(page)
    screenshot(page, "student-frontier-evolution")
    [job] = [j for j in store.jobs.list_jobs() if j["kind"] == "evolve"]
    assert sorted(job["params"]["seeds"]) == ids[:3] and job["student"] == "openai/gpt-4o-mini"
    assert job["params"]["seed_choice"]["choice"] == "selected on the frontier"
    store.close()
