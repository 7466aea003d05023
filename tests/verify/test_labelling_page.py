"""AppTest runs of the Verifier page's labelling mode: a queue, rating steps with the rating and move buttons, the
refusal naming the unrated step, the corrected step, the next task; the gold panel and its accuracy table."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.verify.test_labelling import scored_task
from workbench.core.settings import set_reviewer_name
from workbench.store import Store
from workbench.verify.labelling import mark_gold, submit_labels

TIMEOUT = 60


def labelling_page(store: Store) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/verifier.py")
    at.run()
    assert not at.exception
    at = at.toggle(key="verifier-labelling").set_value(True).run()
    assert not at.exception
    return at


def click(at: AppTest, key: str) -> AppTest:
    at = at.button(key=key).click().run()
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_labelling_mode_rates_steps_refuses_a_gap_and_saves_the_labels_with_the_correction(store: Store):
    set_reviewer_name(store, "ada")
    _, [(path_id, steps)] = scored_task(store, "Add 2 and 3, then double it.", [1.0, 0.5, 1.0])
    at = labelling_page(store)
    assert any("Build a queue" in i.value for i in at.info)
    at = button(at, "Build queue").click().run()
    assert "Task 1 of 1" in at.get("progress")[0].proto.text
    assert [m.value for m in at.markdown if m.value.startswith("**Step")][0].endswith("◀ current · :gray[not rated]")

    at = click(at, "labelling-rate-1")                  # step 1: +1, the cursor moves on
    at = click(at, "labelling-next")                    # skip over step 2 unrated
    at = click(at, "labelling-rate--1")                 # step 3: -1
    at = button(at, "Submit task").click().run()
    assert [e.value for e in at.error] == ["Step 2 is not rated: rate every step before submitting. Nothing was saved."]
    assert store.labelling.latest_step_labels() == {}

    at = click(at, "labelling-previous")                # back to step 2
    at = click(at, "labelling-rate--1")                 # -1: now the first wrong step
    at = at.text_area(key=f"labelling-completion-{path_id}").input("3 * 2 = 6").run()
    assert at.text_area(key=f"labelling-completion-{path_id}").label == "Corrected step 2 (optional)"
    at = button(at, "Submit task").click().run()
    assert not at.exception
    assert any("Saved 3 step labels and your corrected step as ada" in s.value for s in at.success)
    assert store.labelling.latest_step_labels("ada") == {path_id: dict(zip(steps, ["correct", "incorrect", "incorrect"],
                                                                   strict=True))}
    (completion,) = store.verify.human_completions([path_id])[path_id]
    assert (completion["idx"], completion["text"], completion["labeller"]) == (1, "3 * 2 = 6", "ada")
    assert any("Nothing left in this queue for ada" in i.value for i in at.info)


def test_a_second_labeller_starts_blank_and_the_gold_panel_shows_accuracy(store: Store):
    _, [(path_id, steps)] = scored_task(store, "Gold task", [1.0, 1.0])
    store.labelling.add_step_labels("teacher", {steps[0]: "correct", steps[1]: "incorrect"}, "known")
    mark_gold(store, path_id, "lead", "teacher")
    _, [(_, ordinary)] = scored_task(store, "Ordinary task", [0.5, 0.5])
    store.labelling.add_step_labels("teacher", {ordinary[0]: "correct"}, "another labeller's label")
    set_reviewer_name(store, "bob")
    at = labelling_page(store)
    at = button(at, "Build queue").click().run()
    texts = " ".join(t.value for t in at.text)
    assert "Ordinary task" in texts and "Task 1 of 1" in at.get("progress")[0].proto.text  # 10% of 1 task: no gold
    step_lines = [m.value for m in at.markdown if m.value.startswith("**Step")]
    assert len(step_lines) == 2 and all(":gray[not rated]" in line for line in step_lines)  # not teacher's label

    # bob answers the gold task directly (as if it came up in his queue): it counts for accuracy only
    submit_labels(store, path_id, "bob", {steps[0]: 1, steps[1]: 1})
    at = at.toggle(key="verifier-labelling").set_value(False).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert table.to_dict("records") == [{"labeller": "bob", "steps": 2, "correct": 1, "accuracy": 0.5}]


def test_the_audit_view_makes_the_path_on_screen_gold_or_names_the_unlabelled_steps(store: Store):
    _, [(path_id, steps)] = scored_task(store, "Labelled task", [1.0, 1.0, 1.0])
    store.labelling.add_step_labels("teacher", {steps[0]: "correct"}, "known")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/verifier.py")
    at = button(at.run(), "Make this path a gold task").click().run()
    assert not at.exception
    assert f"Steps 2 and 3 of path {path_id} have no label by anyone: gold needs every step labelled" in [
        e.value for e in at.error]  # beside the gate's own error: the path states no final answer
    assert store.labelling.gold_paths() == []
    store.labelling.add_step_labels("bob", {steps[1]: "neutral", steps[2]: "incorrect"}, "known")
    at = button(at.run(), "Make this path a gold task").click().run()
    assert any(f"Path {path_id} is gold with 3 known ratings" in s.value for s in at.success)
    assert [(g["path_id"], g["steps"], g["labeller"]) for g in store.labelling.gold_paths()] == [(path_id, 3, None)]
