"""Exports carry human labels (issue 16 §3): PRM800K rows with people's ratings first and their human_completion,
ground_truth_answer as the final answer, TRL labels from people first then the verifiers, and a dataset card
that says how many steps people labelled, who, and how far they agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ship_data import CLEAN_PII, add_correction, add_sample, add_scored_path
from workbench.export.engine import ExportOptions, export, preview_card
from workbench.formats.sample_formats import SampleRecord, ground_truth_answer
from workbench.formats.sample_import import import_samples
from workbench.store import Store

QUESTION = "Natalia sold 48 clips in April and half as many in May. How many clips did she sell?"
WORKED = "In May she sold 48/2 = 24 clips.\nAltogether 48 + 24 = 72 clips.\n#### 72"


def run(store: Store, fmt: str, name: str | None = None, **options):
    return export(store, ExportOptions(fmt=fmt, **options), name or f"out.{fmt}", Path(store.path).parent / "exports")


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def labelled(store: Store) -> dict:
    """One approved sample whose path a verifier scored right throughout; Ada says step 2 is wrong and writes the
    corrected step (twice: the second one counts), Bob agrees with her on step 1 and says step 2 is neutral."""
    sample = add_sample(store, QUESTION, WORKED)
    _, steps = add_scored_path(store, sample, ["48/2 = 24 clips in May.", "48 + 24 = 70 clips.", "Answer: 70"],
                               [0.9, 0.8, 0.9])
    store.verify.add_step_overrule(steps[0], "correct", "fine", "Bob")
    store.verify.add_step_overrule(steps[1], "neutral", "unsure", "Bob")
    store.verify.add_step_overrule(steps[0], "correct", "fine", "Ada")
    store.verify.add_step_overrule(steps[1], "incorrect", "48 + 24 is 72", "Ada")
    add_correction(store, steps[1], "48 + 24 = 27 clips.")
    add_correction(store, steps[1], "48 + 24 = 72 clips.")
    return {"sample": sample, "steps": steps}


def test_prm800k_rows_carry_human_ratings_first_and_the_human_completion(store: Store, labelled):
    (row,) = rows(run(store, "prm800k").path)
    steps = row["label"]["steps"]
    # the verifier said 0.8 (right) for step 2; the latest person said incorrect: the person wins
    assert [s["completions"][0]["rating"] for s in steps] == [1, -1, 1]
    assert steps[1]["human_completion"] == {"text": "48 + 24 = 72 clips.", "rating": None, "source": "human",
                                            "flagged": False, "corrected_rating": None}
    assert steps[1]["chosen_completion"] == 0 and steps[0]["human_completion"] is None
    assert row["question"]["ground_truth_answer"] == "72"  # the output's '#### 72', not the whole worked output
    assert row["label"]["finish_reason"] == "found_error"


def test_prm800k_with_human_completions_round_trips(store: Store, labelled, tmp_path: Path):
    first = run(store, "prm800k")
    fresh = Store(tmp_path / "fresh.db")
    result = import_samples(fresh, first.path, first.path.name)
    ids = list(result.sample_ids)
    fresh.samples.set_sample_pii(dict.fromkeys(ids, CLEAN_PII))
    fresh.review.set_sample_status(ids, "approved", "Ada")
    path_id = fresh.verify.best_paths(ids)[ids[0]]["id"]
    assert [(h["idx"], h["text"]) for h in fresh.verify.human_completions([path_id])[path_id]] == [(1, "48 + 24 = 72 clips.")]
    second = export(fresh, ExportOptions(fmt="prm800k"), "again.prm800k", tmp_path / "exports")
    assert second.path.read_bytes() == first.path.read_bytes()
    fresh.close()


@pytest.mark.parametrize(("output", "reference", "expected"), [
    ("The total is 48 + 24 = 72.\n#### 72", None, "72"),
    ("So the area is $\\boxed{\\frac{1}{2}}$ square units.", None, "\\frac{1}{2}"),
    ("She pays $12 each week, so the answer is $48.", None, "$48"),
    ("72", None, "72"),
    ("First she sold 48 clips.\nThen she sold half as many, and together that makes a lot of clips.", None, None),
    ("anything at all, #### 70", "72", "72"),  # the task's reference answer comes first
])
def test_ground_truth_answer_is_the_final_answer(output, reference, expected):
    record = SampleRecord(turns=[{"role": "user", "content": "q"}, {"role": "assistant", "content": output}],
                          steps=["a"], ratings=[1], reference_answer=reference)
    assert ground_truth_answer(record) == expected


def test_ground_truth_answer_comes_from_the_seeds_reference(store: Store):
    seed = store.seeds.insert_seeds([{"instruction": QUESTION, "reference_answer": "72"}])[0]
    sample = add_sample(store, QUESTION, "She sold 48 and then 24 more, which is quite a few clips.", seed_id=seed)
    add_scored_path(store, sample, ["48 + 24 = 72"], [1.0])
    other = add_sample(store, "A harder question evolved from the seed.",
                       "No stated answer here.\nOnly prose, over two lines.", seed_id=seed)
    add_scored_path(store, other, ["some step"], [1.0])
    answers = [r["question"]["ground_truth_answer"] for r in rows(run(store, "prm800k").path)]
    assert answers == ["72", None]  # the evolved task asks another question: the seed's answer is not its answer


def test_trl_labels_come_from_people_first_then_the_verifiers(store: Store):
    sample = add_sample(store, "Add 2 and 3, then double it.")
    _, steps = add_scored_path(store, sample, ["2 + 3 = 5", "5 * 2 = 11", "Answer: 11"], [0.2, 0.9, 0.1])
    store.verify.add_step_overrule(steps[0], "correct", "it is right", "Ada")  # over a verifier's 0.2
    store.verify.add_step_overrule(steps[1], "incorrect", "10, not 11", "Ada")  # over a verifier's 0.9
    (row,) = rows(run(store, "trl-stepwise").path)
    assert row["labels"] == [True, False, False]  # step 3 has no human label: the verifier's 0.1


def test_the_card_says_how_many_steps_people_labelled_by_whom_and_their_agreement(store: Store, labelled):
    card = run(store, "prm800k", card=True).card
    # Ada and Bob share two steps: Ada +1, -1 and Bob +1, 0: p_o = 1/2, p_e = 1/2 * 1/2 = 1/4, kappa = 1/3
    assert ("Step labels by people: 2 reasoning steps labelled (PRM800K ratings -1/0/+1) by Ada (2), Bob (2)"
            in card)
    assert "Agreement between labellers: Cohen's kappa 0.333 on 2 steps labelled by more than one person." in card
    assert "expert-generated" in card
    assert "Step labels by people: 2 reasoning steps" in preview_card(store, ExportOptions(fmt="prm800k"), "x.jsonl")


def test_the_card_of_a_stepwise_export_without_human_labels_says_so(store: Store):
    sample = add_sample(store, "task")
    add_scored_path(store, sample, ["good"], [0.9])
    card = run(store, "trl-stepwise", card=True).card
    assert "no reasoning step was labelled by a person; every step rating comes from the verifiers" in card
    assert "Step labels" not in run(store, "openai", "chat.jsonl", card=True).card
