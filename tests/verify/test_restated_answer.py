"""A final step that only states the answer is checked against the result the derivation just reached: it holds
when it restates that result, and it is never called wrong when it does not."""

from __future__ import annotations

import pytest

from workbench.verify.restated_answer import answer_value
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier
from workbench.verify.verifiers.base import Task

VERIFIER = ArithmeticVerifier()


@pytest.mark.parametrize(("derivation", "answer"), [
    (r"The probability is \( \frac{4 + 12}{52} = \frac{4}{13} \).", r"The final answer is \( \boxed{\frac{4}{13}} \)."),
    (r"So \( V = \frac{4}{3}\pi \cdot 27 = 36\pi \).", r"\[ \boxed{36\pi} \]"),
    ("She pays 3 * $12 = $36 for the tickets.", "The answer is $36."),
    (r"Solving, \( x = \frac{7}{2} \).", r"Therefore \( \boxed{3.5} \)."),
])
def test_a_final_answer_that_restates_the_last_result_holds(derivation: str, answer: str):
    scores = VERIFIER.score_all(Task("?"), [derivation, answer])
    assert scores[1].label == "correct", scores[1].rationale
    assert "restates" in scores[1].rationale


@pytest.mark.parametrize(("steps", "why"), [
    (["She pays 3 * $12 = $36 for the tickets.", "The answer is $35."], "another value"),
    (["She pays 3 * $12 = $36.", "Then 36 + 4 = 40 with the tax.", "Explaining the tax rules.", "The answer is $36."],
     "not the nearest result"),
    (["The sides are 3 and 4.", r"So the answer is \( \boxed{5} \)."], "no result before"),
    ([r"We get \( x = 2 \).", r"The solutions are \( \boxed{\{2, 3\}} \)."], "not one value"),
])
def test_an_answer_that_restates_nothing_just_computed_abstains(steps: list[str], why: str):
    assert VERIFIER.score_all(Task("?"), steps)[-1].label == "unverifiable", why


def test_an_answer_value_is_a_number_or_latex_without_variables():
    assert answer_value(r"\frac{\sqrt{3} + 3\sqrt{6}}{4}") == pytest.approx((3 ** 0.5 + 3 * 6 ** 0.5) / 4)
    assert answer_value("$1,250") == 1250
    assert answer_value("x + 1") is None
    assert answer_value("between 3 and 4") is None
