"""The Evolution page: AppTest runs on empty and full stores, and a real browser on the bundled model."""

from __future__ import annotations

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, assert_no_exception, screenshot, wait_for_streamlit
from workbench.core.jobs import worker
from workbench.evolve.engine import BUILTIN_OPERATORS
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.store import Store

MOCK = {"model": "openai/gpt-4o-mini",
        "extra": {"mock_response": "Compute the total cost of seven baskets of plums at 30 cents each."}}


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("views/evolution.py")
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def html_bodies(at: AppTest) -> str:
    return "\n".join(element.proto.body for element in at.get("html"))


def seed_store(store: Store) -> list[int]:
    return store.seeds.insert_seeds([
        {"instruction": "A jacket costs $80 and is marked down 25%. What is the sale price?", "known_failure": True},
        {"instruction": "Write a haiku about autumn rain.", "domain": "writing"},
    ])


def test_empty_store_points_to_seeds(db_path):
    at = page().run()
    assert not at.exception
    assert any("No seeds to evolve yet" in info.value for info in at.info)


def test_start_a_job_on_known_failures(store: Store):
    seeds = seed_store(store)
    at = page().run()
    assert not at.exception
    assert any("No evolution jobs yet" in info.value for info in at.info)
    at.radio[0].set_value("Known failures").run()
    at = button(at, "Start evolution").click().run()
    assert not at.exception
    [job] = store.jobs.list_jobs()
    assert job["kind"] == "evolve" and job["params"]["seeds"] == seeds[:1]
    assert job["params"]["depth"] == 3 and job["params"]["operators"] == [op.name for op in BUILTIN_OPERATORS]
    assert any("queued: 1 seed (seeds: known-failures)," in s.value for s in at.success)
    assert any("Job 1 · evolve · queued" in m.value for m in at.markdown)  # no units counted yet: no bar


def test_selected_seeds_without_a_choice_is_refused(store: Store):
    seed_store(store)
    at = page().run()
    at.radio[0].set_value("Selected seeds").run()
    at = button(at, "Start evolution").click().run()
    assert not at.exception
    assert any("Choose at least one seed" in e.value for e in at.error)
    assert store.jobs.list_jobs() == []


def test_finished_job_shows_trees_reasons_and_operator_effectiveness(store: Store, db_path):
    seeds = seed_store(store)
    submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "what_if"], depth=2, max_tries=2,
                                      teacher=MOCK))
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    at = page().run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["6", "2", "4", "0"]  # depth-2 children repeat their parent
    trees = html_bodies(at)
    assert "add_constraints" in trees and "what_if" in trees
    assert "no information gain" in trees  # eliminated nodes are shown with their reason
    assert "<ins" in trees and "Δlength" in trees and "novelty" in trees
    table = at.dataframe[0].value
    assert set(table["operator"]) == {"add_constraints", "what_if"} and table["attempts"].sum() == 6
    assert at.get("plotly_chart")


def test_operator_editor_adds_validates_and_resets(store: Store):
    seed_store(store)
    at = page().run()
    name = next(t for t in at.text_input if t.label == "Name")
    name.input("pirate")
    chat = next(t for t in at.text_area if t.label == "Chat template")
    chat.input("Ask it like a pirate: {instruction}")
    at = button(at, "Save operator").click().run()
    assert not at.exception
    assert any(row["name"] == "pirate" for row in store.evolve.list_operators())
    at.selectbox(key="evol-operator-choice").set_value("pirate").run()
    chat = next(t for t in at.text_area if t.label == "Chat template")
    chat.input("no placeholder here")
    at = button(at, "Save operator").click().run()
    assert any("must contain {instruction}" in e.value for e in at.error)
    assert next(r for r in store.evolve.list_operators() if r["name"] == "pirate")["chat_template"].startswith("Ask it")
    at = button(at, "Delete pirate").click().run()
    assert not any(row["name"] == "pirate" for row in store.evolve.list_operators())
    store.conn.execute("UPDATE operators SET chat_template = 'edited {instruction}' WHERE name = 'deepen'")
    at = button(at, "Reset built-in operators").click().run()
    deepen = next(r for r in store.evolve.list_operators() if r["name"] == "deepen")
    assert deepen["chat_template"] == next(op for op in BUILTIN_OPERATORS if op.name == "deepen").chat_template


@pytest.mark.slow
def test_browser_starts_a_job_on_the_bundled_model_and_nodes_appear(running_app, page):
    db = Store(running_app.db)
    db.seeds.insert_seeds([{"instruction": "A train travels 180 km in 3 hours. What is its average speed in km/h?",
                      "known_failure": True}])
    db.settings.set_setting("teacher", {"model": "local/gemma-3-270m", "max_tokens": 40})
    # through app.py's navigation (a direct /evolution URL can run the page without app.py, hence no worker)
    page.goto(running_app.url)
    wait_for_streamlit(page)
    page.locator("[data-testid='stSidebarNav'] a", has_text="Evolution").click()
    wait_for_streamlit(page)
    page.get_by_text("Known failures").click()
    page.get_by_role("button", name="Start evolution").click()
    page.get_by_text("queued: 1 seed (seeds: known-failures),").wait_for(timeout=30_000)
    if not worker.worker_alive(running_app.db):  # the app normally starts one; `workbench worker` is the manual way
        subprocess.Popen([sys.executable, "-m", "workbench.cli", "--db", str(running_app.db), "worker"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # the worker loads the model and evolves; the live fragment shows the first node when it is written
    tree = page.locator("[data-testid='stExpander']").filter(has_text="Seed #1").first
    tree.wait_for(timeout=420_000)
    page.wait_for_timeout(3000)
    tree.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot(page, "evolution-live-tree")))  # full page, then the tree in view
    assert "depth 1" in tree.inner_text()
    assert_no_exception(page)
    nodes = db.evolve.evol_nodes()
    assert nodes and nodes[0]["model"] == "local/gemma-3-270m" and nodes[0]["prompt"].startswith("Each task below")
    db.close()
