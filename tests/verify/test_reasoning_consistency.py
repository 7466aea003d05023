"""Self-consistency: answers vote by equivalence, shares and the pseudo-reference, the reference check."""

from __future__ import annotations

import asyncio

import pytest

from workbench.verify.verifiers import get_verifier
from workbench.verify.verifiers.base import Task, VerifierError
from workbench.verify.verifiers.consistency import (
    PSEUDO_REFERENCE,
    REFERENCE,
    PathContext,
    comparable_reference,
    concluded_answer,
    reference_problem,
    same_answer,
    stated_answer,
    task_target,
    vote,
)

PROBLEM = Task("A jacket costs $80, 25% off, then 10% off. What is the final price in dollars?")
PATHS = [
    ["25% of $80 = $20.", "$80 - $20 = $60.", "10% of $60 = $6, so $60 - $6 = $54.", "Answer: 54"],
    ["The two discounts make 35% off.", "35% of 80 is 28, 80 - 28 = 52.", "Answer: $52"],
    ["After 25% off it costs $60.", "After 10% more it costs $54.00.", "Answer: $54.00"],
    ["It costs 80 * 0.75 * 0.9 dollars.", "That is 54 dollars."],  # no final answer stated
]


def score_all(verifier, task: Task, paths: list[list[str]]):
    paths_vote = vote([stated_answer(p)[1] for p in paths])

    async def run():
        return [await verifier.score_in_context(task, p, PathContext(paths_vote, i)) for i, p in enumerate(paths)]

    return paths_vote, asyncio.run(run())


def test_answers_vote_by_equivalence_not_by_string():
    paths_vote = vote(["54", "$52", "$54.00", None, "54 dollars"])
    assert [(c.answer, c.members) for c in paths_vote.clusters] == [("54", [0, 2, 4]), ("$52", [1])]
    assert paths_vote.majority.answer == "54" and paths_vote.voters == 5 and paths_vote.stated == 4
    assert paths_vote.share(0) == pytest.approx(3 / 5) and paths_vote.share(3) == 0.0


def test_text_answers_the_checker_cannot_read_match_on_normalised_text():
    assert same_answer("The butler", "the butler.")
    assert not same_answer("The butler", "The gardener")
    assert vote(["Box 2", "box 2", "Box 3"]).majority.answer == "Box 2"


def test_share_mode_scores_the_final_step_by_agreement_and_records_the_pseudo_reference():
    paths_vote, scores = score_all(get_verifier("consistency", mode="share"), PROBLEM, PATHS)
    final = [path_scores[stated_answer(path)[0]] for path, path_scores in zip(PATHS, scores, strict=True)]
    assert [s.score for s in final] == [0.5, 0.25, 0.5, 0.0]
    assert final[0].rationale.startswith("2 of 4 paths state the final answer '54' (share 0.50)")
    assert "the pseudo-reference '54' (majority of 2/4 paths, margin 0.25, self-consistency)" in final[0].rationale
    assert final[3].label == "incorrect" and final[3].rationale.startswith("no final answer")
    # every other step abstains: self-consistency judges only the answer
    assert {s.label for s in scores[0][:-1]} == {"unverifiable"}
    target = task_target(PROBLEM, paths_vote)
    assert (target.answer, target.kind, target.votes, target.voters) == ("54", PSEUDO_REFERENCE, 2, 4)
    assert final[0].params["target_kind"] == PSEUDO_REFERENCE and final[0].params["margin"] == 0.25
    assert {s.checks for s in final} == {"outcome"}  # a final answer against a (pseudo-)reference checks the outcome


def test_majority_mode_the_default_gives_one_or_zero_against_the_majority():
    _, scores = score_all(get_verifier("consistency"), PROBLEM, PATHS)
    assert [s[-1].score for s in scores] == [1.0, 0.0, 1.0, 0.0]
    assert "it is not the pseudo-reference '54'" in scores[1][-1].rationale


def test_a_tie_has_no_majority_and_no_pseudo_reference():
    paths = [["Answer: 54"], ["Answer: 52"], ["Answer: 54"], ["Answer: 52"]]
    paths_vote, share = score_all(get_verifier("consistency"), PROBLEM, paths)
    assert paths_vote.majority is None and task_target(PROBLEM, paths_vote) is None
    assert [s[0].score for s in share] == [0.5] * 4
    assert "no majority: '54' and '52' tie with 2 of 4 paths each" in share[0][0].rationale
    _, majority = score_all(get_verifier("consistency", mode="majority"), PROBLEM, paths)
    assert {s[0].label for s in majority} == {"unverifiable"}


def test_a_single_agreeing_path_is_no_majority():
    paths_vote = vote(["1", "2", "3"])
    assert paths_vote.majority is None and "no two of the 3 paths agree" in paths_vote.no_majority_reason()


def test_with_a_reference_the_final_answer_is_checked_against_it_and_nobody_votes():
    task = Task(PROBLEM.problem, reference_answer="52")
    paths_vote, scores = score_all(get_verifier("consistency"), task, PATHS)
    assert [s[-1].score for s in scores[:3]] == [0.0, 1.0, 0.0]
    assert "matches the reference answer '52' (checked against the reference; no vote)" in scores[1][-1].rationale
    assert task_target(task, paths_vote).kind == REFERENCE
    assert scores[3][-1].rationale.startswith("no final answer")


def test_a_reference_that_cannot_be_compared_falls_back_to_the_vote():
    code = "def f(x):\n    return 2 * x"
    assert not comparable_reference(code) and not comparable_reference("   ")
    assert comparable_reference("54") and comparable_reference("The butler")
    task = Task(PROBLEM.problem, reference_answer=code)
    assert task_target(task, vote(["54", "54"])).kind == PSEUDO_REFERENCE


def test_no_path_with_an_answer_means_no_verdict_rather_than_a_failure():
    paths = [["An essay paragraph."], ["Another paragraph."]]
    _, scores = score_all(get_verifier("consistency"), Task("Write an essay."), paths)
    assert scores[0][0].label == "unverifiable"
    assert "none of the 2 paths states a final answer" in scores[0][0].rationale


def test_one_path_alone_is_checked_against_the_reference_or_left_unverified():
    verifier = get_verifier("consistency")
    alone = asyncio.run(verifier.score_steps(Task("q", reference_answer="54"), ["$80 - $26 = $54", "Answer: 54"]))
    assert [s.label for s in alone] == ["unverifiable", "correct"]
    no_reference = asyncio.run(verifier.score_steps(Task("q"), ["Answer: 54"]))
    assert no_reference[0].label == "unverifiable" and "no other paths to vote with" in no_reference[0].rationale
    assert asyncio.run(verifier.score_steps(Task("q"), [])) == []


def test_an_unknown_mode_is_refused():
    with pytest.raises(VerifierError, match="share, majority"):
        get_verifier("consistency", mode="plurality")


def test_reference_problems_are_explained():
    assert reference_problem("54") is None and reference_problem(None) is None
    assert "compared with it as text" in reference_problem("The butler")
    assert "is not a short final answer" in reference_problem("Step 1: add.\nStep 2: 12 + 30 = 42")


@pytest.mark.parametrize(("step", "expected"), [
    ("The rope is cut in two. Therefore, the red rope is 20 centimeters long.", "20"),
    ("Thus, Charlie will make a total of \\(\\$1,440\\) for the day.", "1440"),
    ("So the discount is 25%.", "25%"),
    ("Therefore, 7.5 pounds remain.", "15/2"),
    ("So she keeps 12 of the 15 apples.", None),  # two numbers: no single conclusion
    ("The rope is 20 centimeters long.", None),  # no conclusion word
    ("Therefore, the rope is long enough.", None),  # no number
])
def test_a_closing_conclusion_sentence_states_the_final_answer_when_nothing_else_does(step: str, expected):
    assert concluded_answer(step) == expected
    assert stated_answer(["First, 3 + 4 = 7.", step]) == (1, expected)
    assert stated_answer([step, "Answer: 9"]) == (1, "9")  # an explicit answer comes first
