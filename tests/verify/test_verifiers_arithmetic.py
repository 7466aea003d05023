"""The arithmetic verifier: every calculation form, true and false; unverifiable steps; the final answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from workbench.verify.reasoning import split_steps
from workbench.verify.verifiers import get_verifier
from workbench.verify.verifiers.arithmetic import (
    ArithmeticVerifier,
    check_answer,
    extract_answer,
    find_calculations,
    is_math_reference,
)
from workbench.verify.verifiers.base import Task

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
    ("1/3 = 0.33", "2/3 = 0.65"),
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
    # the problem never gives 35%: the step bringing it in is the likely first error (a heuristic, scored 0.25)
    assert [s.score for s in scores] == [0.25, 1.0, 0.0]
    assert "heuristic" in scores[0].rationale
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


# ---------------------------------------------------------------- real solution text (issue 12, section 4)

# (kind, text, True when every calculation holds / False when one is false): mine and the issue's
REAL_TEXT = [
    ("copula", "The 4 tickets come to $12 x 4 = $48.", True),
    ("copula", "The total for 4 tickets is $12 x 4 = $48.", True),
    ("copula", "The total for 4 tickets is $12 x 4 = $46.", False),
    ("copula", "3 weeks equals 3 * 7 = 21 days.", True),
    ("copula", "6 boxes makes 6 x 24 = 144 crayons.", True),
    ("copula", "5 shirts at $9 each gives 5 x $9 = $45.", True),
    ("copula", "5 shirts at $9 each gives 5 x $9 = $54.", False),
    ("copula", "A 20% tip on a $45 meal is 45 * 20/100 = $9.", True),
    ("copula", "Part 2 is 3 + 4 = 7.", True),
    ("copula", "The discount is 20% of $50, which is $10.", True),
    ("copula", "The discount is 20% of $50, which is $12.", False),
    ("labelled equality", "2 weeks = 2 * 7 = 14 days.", True),
    ("labelled equality", "1 hour 30 minutes = 60 + 30 = 90 minutes.", True),
    ("labelled equality", "1 hour 30 minutes = 60 + 30 = 80 minutes.", False),
    ("mixed number", "He has 7 - 2 - 1/2 = 4 1/2 cups left.", True),
    ("mixed number", "He has 7 - 2 - 1/2 = 4 cups left.", False),
    ("mixed number", "4 boards are 4 * 3 1/2 = 14 feet long.", True),
    ("mixed number", "2 1/4 + 3 3/4 = 6 miles", True),
    ("mixed number", "2 1/4 + 3 3/4 = 5 miles", False),
    ("mixed number", "3 x 1\\frac{1}{2} = 4\\frac{1}{2} cups", True),
    ("spaced thousands", "$250 000 x 4/100 = $10 000", True),
    ("spaced thousands", "$250 000 x 4/100 = $1 000", False),
    ("spaced thousands", "1\u2009200 x 12 = 14\u2009400 euros", True),
    ("spaced thousands", "1 200 x 12 = 14 000 euros", False),
    ("magnitude", "3*40k = $120,000", True),
    ("magnitude", "3*40k = $110,000", False),
    ("magnitude", "$2,500,000 + $1,300,000 = $3.8 million", True),
    ("magnitude", "$2.1 million + $1.3 million = $3.2 million", False),
    ("magnitude", "$2.4 million / 4 = $600,000 each", True),
    ("magnitude", "0.25 * 1.2 million = 300,000 children", True),
    ("magnitude", "$1.2M / 3 = $400,000", True),
    ("magnitude", "$1.2M / 3 = $500,000", False),
    ("units between operands", "$400/month * 6 months = $2,400", True),
    ("units between operands", "$300/week * 4 weeks = $1,100", False),
    ("units between operands", "$15/hour * 8 hours/day = $120/day", True),
    ("units between operands", "450 pages / 30 pages/minute = 15 minutes", True),
    ("units between operands", "2 trains * 80 miles/train = 150 miles", False),
    ("units between operands", "The area is 8 x 5 = 40 cm² and the perimeter 2(8 + 5) = 26 cm.", True),
    ("chained with negatives", "12 + -30 = -18 - (-20) = 2", True),
    ("chained with negatives", "12 + -30 = -18 - (-20) = -2", False),
    ("chained with negatives", "12 + -30 = -16 - (-20) = 4", False),
    ("chained with negatives", "He had 20 * 2 = 40 + 10 = 50 marbles.", True),
    ("chained with negatives", "He had 20 * 2 = 45 + 10 = 55 marbles.", False),
    ("chained with negatives", "$150 - $200 = -$50", True),
    ("labelled terms", "40 total - 12 red - 8 blue - 6 green = 14", True),
    ("labelled terms", "40 total - 12 red - 8 blue - 6 green = 16", False),
    ("labelled terms", "100 seats - 45 sold - 30 reserved = 25 seats", True),
    ("labelled terms", "2 coffees * $3 + 3 muffins * $2 = $12", True),
    ("labelled terms", "- 5 red cars + 3 blue cars = 8 cars", True),  # a list bullet, not a minus
    ("annotation", "She makes 9 * 2 = $<<9*2=18>>18 every day.", True),
    ("annotation", "She makes 9 * 2 = $<<9*2=16>>16 every day.", False),
    ("annotation", "He needs to remove 15 toys because 7.5 / .5 = <<15=15>>15", True),
    ("model markup", "**Total cost:** $12 × 4 = **$48**", True),
    ("model markup", "**Total cost:** $12 × 4 = **$46**", False),
    ("model markup", "\\begin{align*} 12 \\times 4 &= 46 \\\\ 46 + 2 &= 48 \\end{align*}", False),
    ("model markup", "\\[ \\text{Total} = 3 \\times 15 = 45 \\quad \\text{dollars} \\]", True),
    ("model markup", "So, the total is \\( 12 \\times 4 = 46 \\) dollars.", False),
    ("model markup", "2**3 = 8", True),
    ("rounding", "Each gets $100 / 3 = $33.33.", True),
    ("rounding", "Each gets $100 / 3 = $33.43.", False),
    ("rounding", "50 / 8 = 6 full bags fit in the crate.", True),
    ("rounding", "The average is (85 + 90 + 78) / 3 = 83 points.", False),
]


@pytest.mark.parametrize(("kind", "text", "holds"), REAL_TEXT)
def test_real_solution_text(kind: str, text: str, holds: bool):
    score = VERIFIER.score_step(text)
    assert score.label == ("correct" if holds else "incorrect"), f"{kind}: {score.rationale}"


def test_a_copula_count_is_not_read_as_a_claim():
    calculations, _ = find_calculations("The total for 4 tickets is $12 x 4 = $48.")
    assert [c.text for c in calculations] == ["12 x 4 = 48"]


def test_a_running_calculation_checks_each_link():
    calculations, _ = find_calculations("12 + -30 = -18 - (-20) = 2")
    assert [(c.text, c.holds) for c in calculations] == [("12 + -30 = -18", True), ("-18 - (-20) = 2", True)]


def test_labelled_terms_are_one_calculation_not_a_fragment():
    calculations, _ = find_calculations("40 total - 12 red - 8 blue - 6 green = 14")
    assert [c.text for c in calculations] == ["40 total - 12 red - 8 blue - 6 green = 14"]


def test_a_fragment_whose_first_term_is_lost_is_skipped_not_called_wrong():
    assert VERIFIER.score_step("He had many red - 8 blue = 5 left").label == "unverifiable"


def test_a_wrong_rate_calculation_is_found_and_named():
    score = VERIFIER.score_step("$300/week * 4 weeks = $1,100")
    assert "`300/week * 4 weeks = 1100` (300/week * 4 is 1200)" in score.rationale


def test_each_annotation_is_checked_once_and_never_joins_the_visible_claim():
    calculations, _ = find_calculations("Natalia sold 48+24 = <<48+24=72>>72 clips, and 72/2 = <<72/2=36>>36 each.")
    assert [c.text for c in calculations] == ["48+24 = 72", "72/2 = 36"]
    calculations, _ = find_calculations("She has <<3*4=12>>12 eggs.")
    assert [(c.text, c.holds) for c in calculations] == [("3*4=12", True)]


@pytest.mark.parametrize("text", ["The movie runs from 7:30 to 9:45 = 2 hours 15 minutes.", "The ratio 7:11 = 18 parts"])
def test_times_of_day_are_not_arithmetic(text: str):
    assert VERIFIER.score_step(text).label == "unverifiable"


# ---------------------------------------------------------------- a corpus of realistic solutions

CORPUS = [json.loads(line) for line in (Path(__file__).parents[1] / "fixtures" / "gsm8k_style_solutions.jsonl").open()]


def _flagged(solution: str) -> list[tuple[str, str]]:
    steps = split_steps(solution)
    return [(step, score.rationale) for step, score in zip(steps, VERIFIER.score_all(Task("?"), steps), strict=True)
            if score.label == "incorrect"]


def test_the_corpus_is_large_enough():
    assert sum(item["slip"] is None for item in CORPUS) >= 60
    assert sum(item["slip"] is not None for item in CORPUS) >= 30


@pytest.mark.parametrize("item", [i for i in CORPUS if i["slip"] is None], ids=lambda i: i["id"])
def test_no_false_alarm_on_a_correct_solution(item: dict):
    assert _flagged(item["solution"]) == []


@pytest.mark.parametrize("item", [i for i in CORPUS if i["slip"] is not None], ids=lambda i: i["id"])
def test_every_planted_slip_is_found_in_its_step(item: dict):
    assert any(item["slip"] in step for step, _ in _flagged(item["solution"])), item["solution"]


@pytest.mark.parametrize(("reference", "compared"), [("54", True), ("3 and 8", True), ("46 stickers", True), ("$1,250", True),
                                                     ("\\frac{1}{2}", True), ("Paris", False),
                                                     ("A is a knight and B is a knave.", False)])
def test_which_references_are_compared(reference: str, compared: bool):
    assert is_math_reference(reference) is compared


def test_a_set_reference_needs_every_member_in_the_final_answer():
    task = Task("Which two numbers?", reference_answer="3 and 8")
    assert VERIFIER.score_all(task, ["Answer: 8, 3"])[-1].label == "correct"
    assert VERIFIER.score_all(task, ["Answer: 8"])[-1].label == "incorrect"
