"""The Magpie page: AppTest runs (empty store, chat-only teacher, starting a job, live results, custom
templates) and a real-browser run (slow) that watches samples from the bundled model stream in."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, assert_no_exception, screenshot, wait_for_streamlit
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.magpie.engine import all_templates, get_template
from workbench.magpie.job import KIND, build_params
from workbench.store import Store

TIMEOUT = 60


def magpie_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/magpie.py")
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_empty_store_shows_detected_template_and_empty_state(db_path):
    at = magpie_page()
    assert not at.exception
    assert at.selectbox[0].value == "gemma"
    assert any("Detected: **gemma**" in c.value for c in at.caption)
    assert any("No Magpie runs yet" in i.value for i in at.info)
    assert at.code[0].value == "<bos><start_of_turn>user\\n"
    assert not at.error


def test_chat_only_model_shows_the_message_and_cannot_start(store: Store):
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini"))
    at = magpie_page()
    assert not at.exception
    assert any("chat-only API" in e.value and "raw text completion" in e.value for e in at.error)
    assert button(at, "Start Magpie job").disabled
    at.text_input[0].input("hosted_vllm/Qwen/Qwen2.5-7B-Instruct").run()
    assert not at.error
    assert at.selectbox[0].value == "qwen2.5"
    assert not button(at, "Start Magpie job").disabled


def test_start_queues_a_job_with_the_options(store: Store):
    at = magpie_page()
    at.number_input[0].set_value(3)
    at.text_area[0].input("Users ask about astronomy.")
    at = button(at, "Start Magpie job").click().run()
    assert not at.exception
    [job] = store.jobs.list_jobs(kind=KIND)
    assert job["params"]["n"] == 3 and job["params"]["system"] == "Users ask about astronomy."
    assert job["params"]["template"]["name"] == "gemma" and job["model"] == "local/gemma-3-270m"
    assert job["params"]["primer_examples"] == 3 and job["params"]["single_line"]
    assert any("Queued Magpie job" in s.value for s in at.success)
    assert any(f"Job {job['id']} · magpie · queued" in m.value for m in at.markdown)  # no units counted yet: no bar


def test_results_show_queries_answers_filter_results_and_entropy(store: Store):
    params = build_params(TeacherConfig(), get_template("gemma"), {"n": 2})
    job_id = store.jobs.create_job(KIND, params, model="local/gemma-3-270m")
    kept = store.samples.insert_sample({"source": "magpie", "job_id": job_id, "unit_key": "k", "instruction": "What is a comet?",
                                "output": "A ball of ice and dust.", "turns": []})
    store.metrics.set_metrics("sample", kept, {"token_entropy_mean": 1.75}, note="full next-token distribution")
    store.samples.insert_sample({"source": "magpie", "job_id": job_id, "unit_key": "d", "instruction": "What is a comet?",
                         "output": "Ice.", "filter_reason": f"duplicate of sample {kept}"})
    at = magpie_page()
    assert not at.exception
    reasons, table = (d.value for d in at.dataframe)
    assert list(table["query"]) == ["What is a comet?", "What is a comet?"]
    assert list(table["kept"]) == [False, True]
    assert list(table["reason"]) == [f"duplicate of sample {kept}", ""]
    assert table["entropy"].iloc[1] == pytest.approx(1.75)
    assert [m.value for m in at.metric] == ["2", "1", "1", "0"]
    assert reasons.to_dict("records") == [{"Reason": "duplicate", "Samples": 1}]
    assert any("bundled model" in i.value and "not the quality a real teacher gives" in i.value for i in at.info)
    assert next(s for s in at.selectbox if s.label == "Run").options == [f"Job {job_id} · local/gemma-3-270m · 2 samples"]


def test_custom_template_is_saved_and_offered(store: Store):
    at = magpie_page()
    form_inputs = [t for t in at.text_input if t.label == "Name"]
    form_inputs[0].input("my-format")
    next(t for t in at.text_input if t.label.startswith("User turn start")).input("### User:\\n")
    at = button(at, "Save template").click().run()
    assert not at.exception
    assert all_templates(store)["my-format"].user_start == "### User:\n"
    assert "my-format" in at.selectbox[0].options
    next(t for t in at.text_input if t.label == "Name").input("gemma")
    at = button(at, "Save template").click().run()
    assert any("built-in" in e.value for e in at.error)


@pytest.mark.slow
def test_browser_watches_bundled_model_samples_stream_in(running_app, page):
    page.goto(running_app.url)  # app.py's st.navigation runs first and starts the worker
    wait_for_streamlit(page)
    page.goto(running_app.page_url("magpie"))
    wait_for_streamlit(page)
    assert_no_exception(page)
    page.get_by_label("Samples", exact=True).fill("2")
    page.get_by_role("button", name="Start Magpie job").click()
    wait_for_streamlit(page)
    store = Store(running_app.db)
    deadline = time.time() + 480
    while time.time() < deadline and len(store.samples.list_samples(source="magpie", include_filtered=True)) < 2:
        time.sleep(3)
    page.wait_for_timeout(3000)  # one more poll of the live fragment
    assert_no_exception(page)
    screenshot(page, "magpie-form")
    page.get_by_text("Samples written").scroll_into_view_if_needed()
    screenshot(page, "magpie-live")
    assert len(store.samples.list_samples(source="magpie", include_filtered=True)) == 2
    assert page.get_by_text("Samples written").count() == 1
    assert page.locator("[data-testid='stDataFrame']").count() >= 1
