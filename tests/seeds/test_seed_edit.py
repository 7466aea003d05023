"""Editing a seed: texts cleaned, the final answer read from an edited worked solution, the checker's verdict."""

from __future__ import annotations

import pytest

from workbench.seeds.engine import edit_seeds
from workbench.store import Store, StoreError
from workbench.verify.verifiers.consistency import reference_problem


def seed(store: Store, **fields) -> int:
    return store.seeds.insert_seeds([{"instruction": "Tom has 3 bags of 4 apples. How many apples?", **fields}])[0]


def test_an_edited_solution_gives_the_answer_when_there_is_none(store: Store):
    seed_id = seed(store)
    edit_seeds(store, {seed_id: {"reference_solution": "3 x 4 = <<3*4=12>>12 apples.\r\n#### 12\r\n"}})
    stored = store.seeds.get_seed(seed_id)
    assert (stored["reference_answer"], stored["reference_solution"]) == ("12", "3 x 4 = 12 apples.\n#### 12")


def test_an_answer_read_from_the_old_solution_follows_the_new_one(store: Store):
    seed_id = seed(store, reference_answer="12", reference_solution="3 x 4 = 12\n#### 12")
    edit_seeds(store, {seed_id: {"reference_solution": "3 bags of 5: 3 x 5 = 15\n#### 15"}})
    assert store.seeds.get_seed(seed_id)["reference_answer"] == "15"


def test_a_hand_set_answer_is_kept_when_the_solution_changes(store: Store):
    seed_id = seed(store, reference_answer="twelve", reference_solution="3 x 4 = 12\n#### 12")
    edit_seeds(store, {seed_id: {"reference_solution": "Three bags of four.\nAnswer: 12"}})
    assert store.seeds.get_seed(seed_id)["reference_answer"] == "twelve"


def test_texts_are_cleaned_and_empty_means_none(store: Store):
    seed_id = seed(store, input="x")
    edit_seeds(store, {seed_id: {"instruction": "  Count the apples.\r\n", "input": "   ", "notes": "a\r\nb "}})
    stored = store.seeds.get_seed(seed_id)
    assert (stored["instruction"], stored["input"], stored["notes"]) == ("Count the apples.", None, "a\nb")


def test_bad_edits_save_nothing(store: Store):
    first, second = seed(store), store.seeds.insert_seeds([{"instruction": "Another task."}])[0]
    with pytest.raises(ValueError, match="the instruction cannot be empty"):
        edit_seeds(store, {first: {"notes": "kept?"}, second: {"instruction": " \r\n"}})
    with pytest.raises(StoreError, match="no seed 99"):
        edit_seeds(store, {99: {"notes": "x"}})
    assert store.seeds.get_seed(first)["notes"] is None


@pytest.mark.parametrize(("reference", "expected"), [
    ("54", None), ("$1,250", None), ("\\frac{1}{2}", None), ("Telegram", "compared with it as text"),
    ("def f(x):\n    return x", "is not a short final answer")])
def test_reference_check_says_when_the_checker_cannot_parse(reference: str, expected: str | None):
    note = reference_problem(reference)
    assert note is None if expected is None else expected in note
