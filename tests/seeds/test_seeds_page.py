"""The Seeds page: import results, the error list, inputs and references shown and edited."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.core.jobs import queue, runner
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store

TIMEOUT = 60
GSM8K = (
    '{"question": "Natalia sold 48 clips in April and half as many in May. How many in all?", '
    '"answer": "48/2 = <<48/2=24>>24 in May.\\n48+24 = <<48+24=72>>72.\\n#### 72"}\n'
    '{"question": "Natalia sold 48 clips in April and half as many in May. How many in all? ", '
    '"answer": "#### 72"}\n'
)


def seeds_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/seeds.py")
    return at.run()


def paste(at: AppTest, text: str) -> AppTest:
    at.text_area[0].input(text).run()
    return next(b for b in at.button if b.label == "Import pasted seeds").click().run()


def test_import_result_says_what_was_read_and_what_was_skipped(store: Store):
    at = paste(seeds_page(), GSM8K)
    assert not at.exception
    assert at.success[0].value.startswith("Imported 1 seed from pasted text (GSM8K")
    report = at.info[0].value
    assert "reference from answer \\(the '\\#\\#\\#\\# n' line\\)" in report
    assert "1 duplicate skipped" in report and "line 2" in report
    [seed] = store.seeds.list_seeds()
    assert (seed["reference_answer"], seed["reference_solution"]) == ("72", "48/2 = 24 in May.\n48+24 = 72.\n#### 72")


def test_a_refused_file_lists_each_problem_on_its_own_line(store: Store):
    at = paste(seeds_page(), '{"instruction": "fine"}\n{broken\n{"instruction": ""}\n')
    assert not at.exception
    [error] = at.error
    lines = error.value.split("\n")
    assert "nothing was imported" in lines[0]
    assert [line[:24] for line in lines if line.startswith("- ")] == [
        "- pasted text, line 2: i", "- pasted text, line 3, f"]
    assert store.overview.counts()["seeds"] == 0


def test_input_and_reference_are_shown_and_edited(store: Store):
    [seed_id, code_id] = store.seeds.insert_seeds([
        {"instruction": "Identify the odd one out.", "input": "Twitter, Instagram, Telegram", "reference_answer": "Telegram"},
        {"instruction": "Write the identity function.", "reference_answer": "def f(x):\n    return x"}])
    at = seeds_page()
    assert not at.exception
    grid = at.dataframe[0].value
    assert grid.loc[seed_id, "input"] == "Twitter, Instagram, Telegram"
    assert grid.loc[seed_id, "answer check"] == "as text"
    assert any("cannot read the reference answer 'Telegram'" in w.value for w in at.warning)
    assert grid.loc[code_id, "answer check"] == "not a final answer"
    at.text_area(key=f"seed-{seed_id}-input").input("Apple, Banana, Carrot  \r\n")
    at.text_input(key=f"seed-{seed_id}-answer").input("")
    at.text_area(key=f"seed-{seed_id}-solution").input("Apples and bananas are fruit.\nThe answer is Carrot.")
    at = next(b for b in at.button if b.label == "Save this seed").click().run()
    assert not at.exception
    seed = store.seeds.get_seed(seed_id)
    assert seed["input"] == "Apple, Banana, Carrot"
    assert seed["reference_answer"] == "Carrot"  # read from the worked solution, the answer being empty
    assert seed["reference_solution"] == "Apples and bananas are fruit.\nThe answer is Carrot."
    assert any(s.value == f"Saved seed {seed_id}." for s in at.success)


def test_an_edit_clashing_with_another_seed_saves_nothing(store: Store):
    first, second = store.seeds.insert_seeds([{"instruction": "Sort the list.", "input": "3, 1, 2"},
                                        {"instruction": "Sort the list.", "input": "9, 8"}])
    at = seeds_page()
    seed_box = next(s for s in at.selectbox if s.label == "Seed")
    at = seed_box.set_value(second).run()
    at.text_area(key=f"seed-{second}-input").input("3, 1, 2")
    at = next(b for b in at.button if b.label == "Save this seed").click().run()
    assert not at.exception
    assert any("Nothing was saved" in e.value and "instruction and input" in e.value for e in at.error)
    assert store.seeds.get_seed(second)["input"] == "9, 8"


def test_the_verifier_shows_the_tasks_input_and_reference(store: Store):
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini",
                                             extra={"mock_response": "Step 1: Telegram is a messenger.\nAnswer: Telegram"}))
    [seed_id] = store.seeds.insert_seeds([{"instruction": "Identify the odd one out.", "input": "Twitter, Instagram, Telegram",
                                     "reference_answer": "Telegram", "reference_solution": "Two are social networks."}])
    job_id = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": seed_id}], "n": 1})
    runner.run_job(store, store.jobs.claim_job(job_id, 1))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/verifier.py")
    at = at.run()
    assert not at.exception
    shown = [t.value for t in at.text]
    assert shown[:4] == ["Identify the odd one out.", "Twitter, Instagram, Telegram", "Telegram", "Two are social networks."]
    assert any("compared with it as text" in w.value for w in at.warning)


def test_a_large_store_shows_the_first_rows_and_says_so(store: Store):
    store.seeds.insert_seeds([{"instruction": f"Seed number {i}"} for i in range(1005)])
    at = seeds_page()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1000
    assert any("The first 1,000 matching seeds of 1,005 are shown" in c.value for c in at.caption)
    at.text_input[0].input("number 1004").run()
    assert len(at.dataframe[0].value) == 1


def test_a_reference_that_is_not_a_final_answer_is_said_once_in_plain_words(store: Store):
    store.seeds.insert_seeds([{"instruction": "Write the identity function.", "reference_answer": "def f(x):\n    return x"}])
    at = seeds_page()
    assert not at.exception
    [warning] = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning if "not a short final answer" in w.value]  # as shown
    assert warning.count("def f(x)") == 1 and ".." not in warning
    assert "Self-consistency and rollouts use the paths' majority answer instead" in warning
    assert any(b.label == "Save edited seeds" and b.disabled for b in at.button)  # no "Save 0 edited seeds"


def test_a_reference_over_several_lines_is_edited_in_a_text_area_and_keeps_its_lines(store: Store):
    [code_id] = store.seeds.insert_seeds([{"instruction": "Write the identity function.", "reference_answer": "def f(x):\n    return x"}])
    at = seeds_page()
    box = at.text_area(key=f"seed-{code_id}-answer")
    assert box.value == "def f(x):\n    return x"
    box.input("def f(x):\n    return x  # identity")
    at = next(b for b in at.button if b.label == "Save this seed").click().run()
    assert not at.exception
    assert store.seeds.get_seed(code_id)["reference_answer"] == "def f(x):\n    return x  # identity"
