"""Locating the first error when the reference answer shows a solution is wrong: a result restated differently,
a quantity the problem never gives, and the one-edit repair that makes the later steps reach the reference."""

from __future__ import annotations

from fractions import Fraction

from workbench.verify.first_error import locate_by_unexplained, locate_first_error, problem_numbers
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier
from workbench.verify.verifiers.base import Task

VERIFIER = ArithmeticVerifier()


def first_wrong(problem: str, steps: list[str], reference: str) -> tuple[int, str]:
    scores = VERIFIER.score_all(Task(problem, reference_answer=reference), steps)
    index = next(i for i, s in enumerate(scores) if s.label == "incorrect")
    return index, scores[index].rationale


def test_a_result_restated_differently_is_found_with_both_numbers_named():
    problem = "Lena has 140 stickers and gives 36 to her brother. She then buys 25 more. How many does she have?"
    steps = ["She gives 36 away: 140 - 36 = 104 stickers.",
             "So she has 114 stickers left, and with 25 more she has 114 + 25 = 139 stickers.",
             "The answer is 139."]
    index, rationale = first_wrong(problem, steps, "129")
    assert index == 1
    assert "114" in rationale and "104" in rationale and "heuristic" in rationale


def test_a_quantity_the_problem_never_gives_is_found_where_it_is_brought_in():
    problem = "Omar earns $40 every day. He worked a whole week and spent $90. How much does he have left?"
    steps = ["Assuming a work week of 6 days, Omar earns $240 in the week.",
             "He has 240 - 90 = $150 left.",
             "The answer is 150."]
    located = locate_by_unexplained(problem, steps, Fraction(150))
    assert located is not None and located.step == 0 and "never gives" in located.rationale
    index, rationale = first_wrong(problem, steps, "190")
    assert index == 0 and "heuristic" in rationale


def test_a_wrong_operation_is_located_by_the_repair_the_later_steps_confirm():
    problem = ("A baker has 48 rolls and packs them 6 to a bag. Each bag sells for $3. "
               "How much does she earn?")
    steps = ["She fills 48 * 6 = 288 bags.",
             "She earns 288 * 3 = $864.",
             "The answer is 864."]
    index, rationale = first_wrong(problem, steps, "24")
    assert index == 0
    assert "/ instead of *" in rationale and "reference answer 24" in rationale


def test_a_slip_found_by_arithmetic_is_not_moved_by_the_locator():
    problem = "Tom has 15 marbles and wins 9 more. He loses 4. How many does he have?"
    steps = ["Tom has 15 + 9 = 25 marbles.", "He loses 4: 25 - 4 = 21.", "The answer is 21."]
    index, rationale = first_wrong(problem, steps, "20")
    assert index == 0 and "false" in rationale


def test_nothing_is_located_when_the_answer_matches_or_no_single_edit_explains_it():
    problem = "Ana buys 3 pens at $2 and 2 books at $7. What does she spend?"
    right = ["Pens cost 3 * 2 = $6.", "Books cost 2 * 7 = $14.", "She spends 6 + 14 = $20.", "The answer is 20."]
    assert all(s.label != "incorrect" for s in VERIFIER.score_all(Task(problem, reference_answer="20"), right))
    assert locate_first_error(problem, right, "20") is None
    unexplained = ["Pens cost 3 * 2 = $6.", "She spends 6 + 14 = $20.", "The answer is 20."]
    assert locate_first_error(problem, unexplained, "97") is None


def test_the_problem_gives_digits_number_words_percentages_and_unit_conversions():
    numbers = problem_numbers("Twelve kids share $1,250, half of it on 15% fees, over a week.")
    assert {12, 1250, 0.5, 2, 15, 0.15, 7} <= {float(n) for n in numbers}
