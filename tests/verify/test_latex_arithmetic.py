"""LaTeX arithmetic in real solution text: chains are re-computed, roots and algebra are evaluated as members, and what is not
plain arithmetic (subscripts, matrices, repeating decimals, factorials, conditions to solve) is never called wrong."""

from __future__ import annotations

import pytest

from workbench.verify.latex_equations import check_latex_equations
from workbench.verify.verifiers.arithmetic import ArithmeticVerifier
from workbench.verify.verifiers.base import Task

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
    assert [c.holds for c in found] == [True, True, True]  # satisfied by t = 5; then each rearranges the one before
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


@pytest.mark.parametrize(("before", "after"), [
    (r"\[ x^3 - 2x^2 - 3x + 6 = 2x^2 + 4x. \]", r"\[ x^3 - 4x^2 - 7x + 6 = 0. \]"),  # terms moved across
    (r"\( \frac{a^2}{2} = 9 \)", r"\( a^2 = 18 \)"),  # both sides times 2
    (r"\( 2xy = 20(x + y) \)", r"\( (x - 10)(y - 10) = 100 \)"),  # Simon's trick: rearranged, factored
])
def test_an_equation_that_rearranges_one_before_it_holds_within_a_step_and_across_steps(before: str, after: str):
    assert [c.holds for c in check_latex_equations(f"{before} So {after}")] == [True]
    assert [s.label for s in VERIFIER.score_all(Task("?"), [f"We get {before}", f"Hence {after}"])] == \
        ["unverifiable", "correct"]


@pytest.mark.parametrize("text", [
    r"\( x^2 = 9 \) so \( x = 3 \)",  # one root: a consequence, not an equivalent equation
    r"\( 2x + 1 = 7 \) and \( x + y = 5 \)",  # a system of two equations
    r"\( a + b = 10 \) \( a + b = 10 \)",  # the same equation repeated is no derivation
])
def test_an_equation_that_is_not_a_rearrangement_is_not_claimed_to_be_one_and_never_called_wrong(text: str):
    assert all(c.holds for c in check_latex_equations(text))
    assert not any("rearranged" in c.detail for c in check_latex_equations(text))


@pytest.mark.parametrize(("right", "wrong"), [
    (r"\( \angle B = 180^\circ - 2 \cdot 35^\circ = 110^\circ \)", r"\( \angle B = 180^\circ - 2 \cdot 35^\circ = 120^\circ \)"),
    (r"The hour hand turns \((2 + \frac{48}{60}) \cdot 30^{\circ} = 84^{\circ}\).",
     r"The hour hand turns \((2 + \frac{48}{60}) \cdot 30^{\circ} = 108^{\circ}\)."),
])
def test_degrees_are_a_unit_and_angle_arithmetic_is_checked(right: str, wrong: str):
    assert label(right) == "correct"
    assert label(wrong) == "incorrect"
    assert label(r"So \( \cos 60^\circ = \frac{1}{2} \).") == "unverifiable"  # a function of an angle: not read
