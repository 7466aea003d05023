"""LaTeX arithmetic in real solution text: chains are re-computed, roots and algebra are evaluated as members, and what is not
plain arithmetic (subscripts, matrices, repeating decimals, factorials, conditions to solve) is never called wrong."""

from __future__ import annotations

import pytest

from workbench.verify.latex_equations import check_latex_equations
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier

VERIFIER = ArithmeticVerifier()


def label(text: str) -> str:
    return VERIFIER.score_step(text).label


@pytest.mark.parametrize(("right", "wrong"), [
    (r"The width is \(\frac{3}{4} \times 16 = 12\) metres.", r"The width is \(\frac{3}{4} \times 16 = 10\) metres."),
    (r"\[ \dfrac{7}{2} \cdot 4 = 14 \]", r"\[ \dfrac{7}{2} \cdot 4 = 15 \]"),
    (r"$2^{5} - 3 = 29$", r"$2^{5} - 3 = 31$"),
    (r"\[ \left(3 + 5\right)^2 = 64 = 8 \times 8 \]", r"\[ \left(3 + 5\right)^2 = 64 = 8 \times 9 \]"),
    (r"\( \sqrt{50} = 5\sqrt{2} \)", r"\( \sqrt{50} = 2\sqrt{5} \)"),
    (r"\( \frac{6}{\sqrt{3}} = 2\sqrt{3} \)", r"\( \frac{6}{\sqrt{3}} = 3\sqrt{2} \)"),
    (r"\( 2\pi \cdot 3 = 6\pi \)", r"\( 2\pi \cdot 3 = 5\pi \)"),
])
def test_an_equation_chain_whose_sides_disagree_is_found_and_a_right_one_is_not(right: str, wrong: str):
    assert label(right) == "correct"
    assert label(wrong) == "incorrect"


def test_a_two_display_block_step_is_read_as_two_calculations():
    text = r"\[ \frac{1}{5} = \frac{4}{20} \] \[ \frac{1}{4} = \frac{5}{20} \]"
    assert label(text) == "correct"


def test_an_algebraic_identity_holds_and_a_condition_to_solve_abstains():
    [identity] = check_latex_equations(r"\[ (m - 2)(m + 2) = m^2 - 4 \]")
    assert identity.holds and "identity" in identity.detail
    assert check_latex_equations(r"\( k^2 = 9k \)") == []  # a condition, not an identity: never called wrong
    assert label(r"Then \( 5w + 1 = 3w + 9 \), so \( w = 3 \).") != "incorrect"


def test_an_equation_satisfied_by_the_steps_own_value_is_evidence_and_a_wrong_one_is_not_called_wrong():
    found = check_latex_equations(r"\[ 3t - 4 = 11 \] \[ 3t = 15 \] \[ t = 5 \]")
    assert [c.holds for c in found] == [True, True]
    assert check_latex_equations(r"\[ 3t - 4 = 12 \] \[ t = 5 \]") == []


@pytest.mark.parametrize("text", [
    r"The third term is \(a_3 = \frac{5}{2} = 2.5\).",  # a subscripted name is not a number
    r"\[ \begin{pmatrix} 4 \\ 1 \end{pmatrix} \cdot \begin{pmatrix} 4 \\ 1 \end{pmatrix} = 4^2 + 1^2 = 17 \]",
    r"So \(\frac{5}{9} = 0.\overline{5}\).",
    r"\[ (3!)^2 = (2 \times 3)^2 = 36 \]",
    r"At the turning point \(g''(2) = 24 - 8 = 16 > 0\).",
    r"The last digit of \(13^{21}\) is 3.",
    r"We know \( \frac{1}{4} \text{ cup} = 2 \text{ ounces} \).",
    r"\[ |P \cap Q| + |Q \cap R| - 2 \times 5 = 31 - 10 = 21 \]",
    r"Solving, \[ 60 - 12 = 4xy \] \[ 48 = 4xy \]",
    r"\[ (7 + 2i)(7 - 2i) = 49 - 4i^2 = 49 + 4 = 53 \]",
    r"So the GCD of \(2^3 \times 3\) and \(6^{2}\) is \(\boxed{12}\).",  # both arguments of a function noun
])
def test_what_is_not_plain_arithmetic_is_never_called_wrong(text: str):
    assert label(text) != "incorrect", VERIFIER.score_step(text).rationale


@pytest.mark.parametrize(("text", "holds"), [
    (r"\[ 250 \div 7 = 35 \text{ remainder } 5 \]", True),
    (r"\[ 250 \div 7 = 35 \text{ remainder } 4 \]", False),
    ("Dividing, 250 ÷ 7 = 36 with a remainder of 2.", False),
])
def test_a_quotient_with_a_remainder_is_checked_as_whole_number_division(text: str, holds: bool):
    assert label(text) == ("correct" if holds else "incorrect")


def test_a_step_with_latex_it_cannot_read_abstains_with_the_neutral_score():
    score = VERIFIER.score_step(r"Let \(\theta\) be the angle with \(\sin\theta = \frac{3}{5}\).")
    assert (score.label, score.score) == ("unverifiable", 0.5)
