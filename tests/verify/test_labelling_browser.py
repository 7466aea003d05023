"""The labelling mode in a real browser: a task labelled from the keyboard alone (1/2/3, arrows, Enter), the
refusal naming the unrated step, the corrected step, and the labels found in the store."""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception, screenshot, wait_for_streamlit
from workbench.core.settings import set_reviewer_name
from workbench.store import Store

STEPS = ["25% of $80 is $20.", "$80 - $20 = $50.", "10% of $50 is $5, so the price is $45.", "Answer: 45"]


def prepared(db_path) -> tuple[int, list[int]]:
    store = Store(db_path)
    set_reviewer_name(store, "ada")
    seed_id = store.seeds.insert_seeds([{"instruction": "A jacket costs $80. It is 25% off, then 10% off the sale price. "
                                                  "What is the final price in dollars?", "reference_answer": "54"}])[0]
    path_id = store.verify.add_reasoning_path({"task_type": "seed", "task_id": seed_id, "path_index": 0,
                                        "text": "\n".join(STEPS), "model": "local/gemma-3-270m"}, STEPS)
    step_ids = [s["id"] for s in store.verify.path_steps(path_id)]
    store.verify.set_step_scores([{"step_id": i, "verifier": "arithmetic", "score": score, "label": label}
                           for i, (score, label) in zip(step_ids, [(1.0, "correct"), (0.0, "incorrect"),
                                                                    (0.5, "unverifiable"), (0.5, "unverifiable")],
                                                        strict=True)])
    store.close()
    return path_id, step_ids


def press(page, key: str, then: str) -> None:
    """Press a key with the focus on the page (not in a box), then wait for the element that shows its effect."""
    page.keyboard.press(key)
    page.wait_for_selector(then, timeout=20_000)
    wait_for_streamlit(page)
    assert_no_exception(page)


def current(step: int) -> str:
    return f".st-key-labelling-step-{step}-current"


@pytest.mark.slow
def test_a_task_is_labelled_from_the_keyboard_and_its_labels_reach_the_store(db_path, running_app, page):
    path_id, step_ids = prepared(db_path)
    page.goto(running_app.page_url("verifier"))
    wait_for_streamlit(page)
    page.get_by_text("Label steps", exact=True).click()
    wait_for_streamlit(page)
    page.get_by_role("button", name="Build queue").click()
    page.wait_for_selector(current(1), timeout=20_000)
    wait_for_streamlit(page)
    assert "These steps come from the bundled model" in page.inner_text("[data-testid='stMain']")

    press(page, "3", current(2))               # step 1: +1
    press(page, "ArrowRight", current(3))      # leave step 2 unrated for now
    press(page, "2", current(4))               # step 3: 0
    press(page, "2", ":text('3 of 4 steps rated')")  # step 4: 0 (the last step: the cursor stays)
    press(page, "Enter", "[data-testid='stAlertContentError']")
    assert "Step 2 is not rated" in page.inner_text("[data-testid='stAlertContentError']")
    store = Store(db_path)
    assert store.labelling.latest_step_labels() == {}  # refused: nothing saved

    press(page, "ArrowLeft", current(3))
    press(page, "ArrowLeft", current(2))
    press(page, "1", "textarea[aria-label='Corrected step 2 (optional)']")  # step 2: -1, the correction box opens
    page.fill("textarea[aria-label='Corrected step 2 (optional)']", "$80 - $20 = $60.")
    page.get_by_role("heading", name="Problem").click()  # leave the box: its text reaches the app
    wait_for_streamlit(page)
    page.set_viewport_size({"width": 1400, "height": 1700})
    screenshot(page, "verifier-labelling-mode")
    press(page, "Enter", "[data-testid='stAlertContentSuccess']")
    assert "Saved 4 step labels and your corrected step as ada" in page.inner_text("[data-testid='stMain']")
    screenshot(page, "verifier-labelling-done")

    assert store.labelling.latest_step_labels("ada") == {
        path_id: dict(zip(step_ids, ["correct", "incorrect", "neutral", "neutral"], strict=True))}
    (completion,) = store.verify.human_completions([path_id])[path_id]
    assert (completion["step_id"], completion["text"], completion["labeller"]) == (step_ids[1], "$80 - $20 = $60.", "ada")
    store.close()
