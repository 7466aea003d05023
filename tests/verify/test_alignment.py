"""Reference-solution alignment: the first step whose results a worked reference solution cannot reach is a likely
first error when the final answer disagrees; agreement is evidence and never passes a step; a reference solution
that cannot be read is named and used for nothing."""

from __future__ import annotations

import asyncio

from workbench.verify.verifiers import DESCRIPTIONS, REGISTRY, get_verifier
from workbench.verify.verifiers.alignment import reference_solution_problem, solution_quantities
from workbench.verify.verifiers.base import Task

GSM8K_STYLE = ("The hall has 18 rows of 24 seats: 18*24=<<18*24=432>>432 seats.\n"
               "Of these 432-57=<<432-57=375>>375 are taken.\n#### 375")
MATH_STYLE = r"The area is $\frac{1}{2} \cdot 10 \cdot 6 = 30$, so the answer is $\boxed{30}$."
PROBLEM = "A hall has 18 rows of 24 seats and 57 are empty. How many seats are taken?"
VERIFIER = get_verifier("alignment")


def scores(steps: list[str], reference_answer: str | None = "375", solution: str | None = GSM8K_STYLE):
    task = Task(PROBLEM, reference_answer=reference_answer, reference_solution=solution)
    return asyncio.run(VERIFIER.score_steps(task, steps))


def test_it_is_registered_with_a_description():
    assert "alignment" in REGISTRY and "heuristic" in DESCRIPTIONS["alignment"]


def test_the_quantities_of_gsm8k_and_math_solutions_are_read():
    assert {432, 375, 18, 24, 57} <= solution_quantities(GSM8K_STYLE)
    assert 30 in solution_quantities(MATH_STYLE)


def test_the_first_unreached_step_is_flagged_when_the_answer_disagrees_and_says_it_is_a_heuristic():
    found = scores(["There are 18 + 24 = 42 seats in all.", "So 42 - 57 = -15 are taken. The answer is -15."])
    assert [s.label for s in found] == ["incorrect", "unverifiable"]
    assert "heuristic" in found[0].rationale and "18 + 24" in found[0].rationale
    assert found[0].score < 0.5


def test_a_path_that_agrees_is_evidence_never_a_pass():
    found = scores(["The hall seats 24 * 18 = 432 people.", "Taken: 432 - 57 = 375. The answer is 375."])
    assert {s.label for s in found} == {"unverifiable"}
    assert all(s.score == 0.5 for s in found)
    assert "evidence, not verification" in found[0].rationale and "432" in found[0].rationale


def test_another_route_is_not_flagged_when_the_answer_cannot_be_shown_wrong():
    found = scores(["There are 18 + 24 = 42 seats in all.", "The answer is 42."], reference_answer=None,
                   solution="We count the seats row by row, then subtract the empty ones.")
    assert {s.label for s in found} == {"unverifiable"}


def test_an_unreadable_reference_solution_is_named_and_used_for_nothing():
    unreadable = "Count the seats, then take away the empty ones."
    assert "no final answer" in reference_solution_problem(unreadable)
    assert reference_solution_problem(GSM8K_STYLE) is None and reference_solution_problem(None) is None
    found = scores(["There are 18 + 24 = 42 seats in all.", "The answer is 42."], solution=unreadable)
    assert {s.label for s in found} == {"unverifiable"}
    assert "not used" in found[0].rationale
