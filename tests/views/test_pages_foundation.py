"""AppTest runs of the foundation pages: empty store and a store with seeds."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.seeds.engine import load_sample_seeds
from workbench.store import Store

TIMEOUT = 60


def page(name: str) -> AppTest:
    """The whole app (navigation included), switched to one page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(f"views/{name}.py")
    return at


def test_home_on_empty_store_shows_empty_state(db_path):
    at = page("home").run()
    assert not at.exception
    assert any("store is empty" in info.value for info in at.info)
    assert [m.value for m in at.metric] == ["0", "0", "0", "0"]


def test_home_counts_seeds(store: Store):
    load_sample_seeds(store)
    at = page("home").run()
    assert not at.exception
    assert at.metric[0].value == f"{store.overview.counts()['seeds']:,}"


def test_seeds_page_loads_sample_seeds_with_one_click(store: Store):
    at = page("seeds").run()
    assert not at.exception
    load = next(b for b in at.button if b.label == "Load sample seeds")
    at = load.click().run()
    assert not at.exception
    assert store.overview.counts()["seeds"] >= 90
    assert any("Loaded" in s.value for s in at.success)


def test_seeds_page_paste_import_and_bad_paste(store: Store):
    at = page("seeds").run()
    at.text_area[0].input("First pasted seed\nSecond pasted seed").run()
    at = next(b for b in at.button if b.label == "Import pasted seeds").click().run()
    assert not at.exception
    assert [s["instruction"] for s in store.seeds.list_seeds()] == ["First pasted seed", "Second pasted seed"]
    at.text_area[0].input('[{"instruction": "ok"}, {"prompt_missing": 1}]').run()
    at = next(b for b in at.button if b.label == "Import pasted seeds").click().run()
    assert not at.exception
    assert any("item 2" in e.value and "nothing was imported" in e.value for e in at.error)
    assert store.overview.counts()["seeds"] == 2


def test_seeds_page_search_filters(store: Store):
    store.seeds.insert_seeds([{"instruction": "alpha task", "domain": "math"}, {"instruction": "beta task", "domain": "code"}])
    at = page("seeds").run()
    at.text_input[0].input("beta").run()
    assert not at.exception
    assert "1 of 2 seeds shown" in " ".join(c.value for c in at.caption)


def test_settings_saves_teacher_and_queues_a_connection_test(store: Store):
    at = page("settings").run()
    assert not at.exception
    at.text_input[0].input("openai/gpt-4o-mini")
    at = at.button[0].click().run()  # the form's Save button
    assert not at.exception
    assert store.settings.get_setting("teacher")["model"] == "openai/gpt-4o-mini"
    at = next(b for b in at.button if b.label == "Test connection").click().run()
    jobs = store.jobs.list_jobs()
    assert jobs[0]["kind"] == "connection_test" and jobs[0]["params"]["teacher"]["model"] == "openai/gpt-4o-mini"


def test_jobs_page_empty_and_with_jobs(store: Store):
    at = page("jobs").run()
    assert not at.exception
    store.jobs.create_job("probe", {})
    at = page("jobs").run()
    assert not at.exception
    assert any("Job 1 · probe · queued" in m.value for m in at.markdown)  # no units counted yet: no bar
