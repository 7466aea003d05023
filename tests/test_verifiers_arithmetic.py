"""The arithmetic verifier: every calculation form, true and false; unverifiable steps; the final answer."""

from __future__ import annotations

import asyncio

import pytest

from workbench.verifiers import get_verifier
from workbench.verifiers.arithmetic import ArithmeticVerifier, check_answer, extract_answer, find_calculations
from workbench.verifiers.base import Task

VERIFIER = ArithmeticVerifier()

# (a true calculation, the same with a slip) for every form the verifier reads
FORMS = [
    ("12 / 3 = 4", "12 / 3 = 5"),
    ("3 x $2 = $6", "3 x $2 = $7"),
    ("3 × 2 = 6", "3 × 2 = 8"),
    ("6 * 7 = 42.", "6 * 7 = 44."),
    ("15% of 80 is 12", "15% of 80 is 13"),
    ("35 percent of 480 = 168", "35 percent of 480 = 170"),
    ("<<50*3=150>>150 apples", "<<50*3=160>>160 apples"),
    ("5 times 4 equals 20", "5 times 4 equals 24"),
    ("10 plus 5 minus 3 is 12", "10 plus 5 minus 3 is 13"),
    ("18 divided by 3 is 6", "18 divided by 3 is 5"),
    ("Step 2: $1,250,000 * 0.68 = $850,000", "Step 2: $1,250,000 * 0.68 = $860,000"),
    ("The trip takes 120 km / 2 h = 60 km/h.", "The trip takes 120 km / 2 h = 50 km/h."),
    ("1/3 of 12 = 4", "1/3 of 12 = 3"),
    ("20/80 = 25%", "20/80 = 20%"),
    ("20/80 * 100 = 25%", "20/80 * 100 = 30%"),
    ("1/3 = 0.33", "2/3 = 0.66"),
    ("22/7 is about 3.14", "22/7 is about 3.5"),
    ("1/3 ≈ 0.333", "1/3 ≈ 0.4"),
    ("5000 * 1.04^3 = 5624.32", "5000 * 1.04^3 = 5600"),
    ("2^10 = 1024", "2^10 = 1000"),
    ("(3 + 4) * 2 = 14", "(3 + 4) * 2 = 11"),
    ("2(3 + 4) = 14", "2(3 + 4) = 10"),
    ("-3 + 5 = 2", "-3 + 5 = -2"),
    ("10 - 3 - 2 = 5", "10 - 3 - 2 = 9"),
    ("\\frac{1}{2} \\times 8 = 4", "\\frac{1}{2} \\times 8 = 5"),
    ("1.2 x 0.8 = 0.96, so the price is 4% lower", "1.2 x 0.8 = 0.98, so the price is 2% lower"),
    ("She buys 3 more, so 5 + 3 = 8 apples.", "She buys 3 more, so 5 + 3 = 9 apples."),
    ("3 * 4 = 12 = 6 * 2", "3 * 4 = 12 = 6 * 3"),
    ("He earns $15 per hour times 8 hours = $120", "He earns $15 per hour times 8 hours = $100"),
    ("0.1 + 0.2 = 0.3", "0.1 + 0.2 = 0.4"),
]


@pytest.mark.parametrize(("true", "false"), FORMS)
def test_each_form_true_scores_one_and_false_scores_zero(true: str, false: str):
    good = VERIFIER.score_step(true)
    assert (good.score, good.label) == (1.0, "correct"), good.rationale
    assert "checked" in good.rationale
    bad = VERIFIER.score_step(false)
    assert (bad.score, bad.label) == (0.0, "incorrect"), bad.rationale
    assert bad.rationale.startswith("false: `")


def test_a_false_calculation_is_named_with_its_true_value():
    score = VERIFIER.score_step("First 4 + 4 = 8, then 8 * 3 = 25 and 25 - 1 = 24.")
    assert score.score == 0.0
    assert "`8 * 3 = 25` (8 * 3 is 24)" in score.rationale
    assert "`4 + 4 = 8`" in score.rationale  # the true ones are listed as checked


@pytest.mark.parametrize(
    "prose",
    [
        "First, we find the sale price.",
        "So the answer is 54.",
        "There are 3 boxes, each holding 4 apples.",
        "3x + 2 = 11",  # algebra: the arithmetic verifier does not guess values for x
        "Let x be 5. Then 2x = 10",
        "The area is π × 9^2 = 81π",
        "f(x) = x^3 sin(x)",
        "80 + 20% = 96",  # a percentage added to a number is ambiguous
        "9^9^9 = 1",  # too large to check
        "In 2023 the shop opened.",
        "The code:\n```python\ndef f(x):\n    return x * 2 + 1 == 3\n```",  # code is for the code verifier
        "Call `add(2, 3) == 6` to see it fail.",
    ],
)
def test_nothing_checkable_is_unverifiable_and_neutral_never_one(prose: str):
    score = VERIFIER.score_step(prose)
    assert (score.score, score.label) == (0.5, "unverifiable"), score.rationale


def test_division_by_zero_is_false():
    score = VERIFIER.score_step("5 / 0 = 0")
    assert score.label == "incorrect" and "division by zero" in score.rationale


def test_a_gsm8k_annotation_that_repeats_the_visible_calculation_is_checked_once():
    calculations, _ = find_calculations("Natalia sold 48/2 = <<48/2=24>>24 clips in May.")
    assert [(c.text, c.holds) for c in calculations] == [("48/2 = 24", True)]


@pytest.mark.parametrize(
    ("text", "answer"),
    [("Answer: 54", "54"), ("The final answer is \\boxed{54}.", "54"), ("#### 1,250", "1,250"),
     ("So the answer is $0.40.", "$0.40"), ("No answer here.", None)],
)
def test_extract_answer(text: str, answer: str | None):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("reference", "answer", "expected"),
    [("54", "$54", True), ("54", "52", False), ("1/2", "0.5", True), ("5624.32", "5,624.32", True),
     ("$90\\pi$", "90\\pi", True), ("$90\\pi$", "90π", True), ("23/3", "\\frac{23}{3}", True), ("23/3", "7.5", False)],
)
def test_math_verify_compares_the_final_answer(reference: str, answer: str, expected: bool):
    assert check_answer(reference, answer) is expected


def test_final_answer_step_is_checked_against_the_reference():
    task = Task("A jacket costs $80 ...", reference_answer="54")
    right = ["25% of $80 = $20", "$80 - $20 = $60", "10% of $60 = $6", "$60 - $6 = $54", "Answer: 54"]
    scores = asyncio.run(get_verifier("arithmetic").score_steps(task, right))
    assert [s.score for s in scores] == [1.0] * 5
    assert "matches the reference" in scores[-1].rationale
    wrong = ["35% of $80 = $28", "$80 - $28 = $52", "Answer: 52"]
    scores = asyncio.run(get_verifier("arithmetic").score_steps(task, wrong))
    assert [s.score for s in scores] == [1.0, 1.0, 0.0]
    assert "'52' does not match the reference '54'" in scores[-1].rationale


def test_without_an_answer_line_the_last_step_must_reach_the_reference():
    task = Task("...", reference_answer="54")
    scores = VERIFIER.score_all(task, ["25% of 80 = 20", "The price is 60 - 6 = 54 dollars."])
    assert scores[-1].label == "correct"
    scores = VERIFIER.score_all(task, ["25% of 80 = 20", "We keep going."])
    assert scores[-1].label == "incorrect" and "no final answer" in scores[-1].rationale


def test_a_sentence_reference_is_not_compared():
    task = Task("Who is the knight?", reference_answer="A is a knight and B is a knave.")
    scores = VERIFIER.score_all(task, ["A says B lies.", "Answer: B is a knight"])
    assert [s.label for s in scores] == ["unverifiable", "unverifiable"]


def test_answer_check_has_its_own_time_limit_outside_the_main_thread():
    import threading

    results = []
    thread = threading.Thread(target=lambda: results.append(check_answer("54", "54", time_limit_s=5)))
    thread.start()
    thread.join()
    assert results == [True]


def test_inline_code_with_a_calculation_is_still_checked():
    assert VERIFIER.score_step("Compute `5 * 3 = 16` next.").label == "incorrect"
