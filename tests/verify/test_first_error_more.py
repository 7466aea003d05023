"""More ways to locate the first error when the final answer misses the reference (examples of our own writing):
the answer reached and then left, one quantity used in place of another throughout a step, a total missing a term
or holding one too many, a doubled quantity, and a closing sentence with no answer marker."""

from __future__ import annotations

from workbench.verify.first_error import locate_first_error
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier
from workbench.verify.verifiers.base import Task

VERIFIER = ArithmeticVerifier()


def located(problem: str, steps: list[str], reference: str) -> tuple[int, str, str]:
    found = locate_first_error(problem, steps, reference)
    assert found is not None
    return found.step, found.method, found.rationale


def test_the_step_that_goes_on_from_the_reached_answer_is_located():
    problem = "A shelf is 30 inches long and each book is 1.5 inches thick. How many books fit on the shelf?"
    steps = ["Each book takes 1.5 inches.",
             "So 30 / 1.5 = 20 books fit.",
             "We leave room for 2 bookends, so 20 + 2 = 22 books.",
             "The answer is 22."]
    assert located(problem, steps, "20")[:2] == (2, "overshoot")


def test_one_quantity_used_in_place_of_another_throughout_a_step_is_located():
    problem = "Mia is 10 years old. Her aunt is three times her age. Her cousin is 20% younger than Mia. Total age?"
    steps = ["The aunt is 3 * 10 = 30 years old.",
             "20% of the aunt's age is 0.2 * 30 = 6, so the cousin is 30 - 6 = 24.",
             "Together they are 10 + 30 + 24 = 64.",
             "The answer is 64."]
    step, method, rationale = located(problem, steps, "48")
    assert (step, method) == (1, "substitution")
    assert "10 wherever this step uses 30" in rationale and "heuristic" in rationale


def test_a_total_missing_a_term_the_problem_gives_is_located_at_the_total():
    problem = "A box holds 14 apples, 9 pears and 6 plums. Half of the apples are eaten. How many fruits are left?"
    steps = ["Half the apples are eaten: 14 / 2 = 7 apples left.",
             "The fruits left are 7 + 9 = 16.",
             "So there are 16 fruits left."]
    assert located(problem, steps, "22")[:2] == (1, "missing term")


def test_a_term_too_many_in_the_total_is_located_where_it_was_brought_in():
    problem = "In a relay the first leg takes 12 minutes and the other two take 9 minutes each. How long is the relay?"
    steps = ["The first leg takes 12 minutes.",
             "The second and third legs take 9 + 9 = 18 minutes.",
             "The anchor leg also takes 12 minutes.",
             "In all, 12 + 18 + 12 = 42 minutes.",
             "The answer is 42."]
    assert located(problem, steps, "30")[:2] == (2, "extra term")


def test_a_doubled_result_carries_a_repair_through_both_of_its_uses():
    problem = "A tank starts with 6 fish. Every month the number of fish doubles. After 2 months, 4 fish are sold."
    steps = ["First the 6 fish double: 6 + 6 = 12 fish.",
             "After the first month: 12 fish + 12 fish = 24 fish.",
             "After the second month: 24 + 24 = 48 fish.",
             "Selling 4 leaves 48 - 4 = 44 fish."]
    assert located(problem, steps, "20")[:2] == (0, "repair")  # "6 + 6" should not be there: 6 stands


def test_a_closing_sentence_without_an_answer_marker_gives_the_answer_to_locate_from():
    problem = "A shelf is 30 inches long and each book is 1.5 inches thick. How many books fit on the shelf?"
    steps = ["So 30 / 1.5 = 20 books fit.", "With 2 bookends, 20 + 2 = 22 books.", "So **22 books** fit on it."]
    scores = VERIFIER.score_all(Task(problem, reference_answer="20"), steps)
    assert [s.label for s in scores][:2] == ["correct", "incorrect"]


def test_a_value_computed_in_latex_is_not_an_unexplained_quantity():
    problem = "A farm packs 4 crates of 12 melons and 3 melons are rotten. Each good melon sells for $2. Income?"
    steps = [r"The good melons: \(m = 4 \times 12 - 3\), so \(m = 45\).", "They sell for 45 * 2 = $90.",
             "The answer is 90."]
    found = locate_first_error(problem, steps, "96")
    assert found is None or found.method != "unexplained quantity"
