"""One LaTeX member read as math is read: precedence, implicit products, one-character powers and roots, brackets,
and what is not plain algebra is not read at all (the verifier then abstains)."""

from __future__ import annotations

import math

import pytest

from workbench.verify.latex_members import read_member


@pytest.mark.parametrize(("latex", "point", "value"), [
    (r"\frac{4}{3}\pi r^3", {"r": 3.0}, 36 * math.pi),
    (r"2x^2", {"x": 3.0}, 18.0),  # the power binds the letter, not the product
    (r"-x^2", {"x": 3.0}, -9.0),
    (r"xy", {"x": 2.0, "y": 5.0}, 10.0),  # math italic: two letters are a product
    (r"2(3 + 4)", {}, 14.0),
    (r"\left(a + 1\right)(a - 1)", {"a": 4.0}, 15.0),
    (r"2^10", {}, 0.0),  # LaTeX sets 2^10 as 2 to the 1, times 0
    (r"2^{10}", {}, 1024.0),
    (r"2^{3}^{2}", {}, 512.0),  # right-associative
    (r"3\sqrt 2", {}, 3 * math.sqrt(2)),
    (r"\sqrt{18}", {}, math.sqrt(18)),
    (r"\dfrac{1}{\sqrt{2}} \cdot 2", {}, math.sqrt(2)),
    (r"12 \div 4 \times 3", {}, 9.0),
    (r"10^{20} + \sqrt{2} - 10^{20}", {}, math.sqrt(2)),  # sums are exact-rounded
    (r"[x + 1]", {"x": 1.0}, 2.0),
])
def test_a_member_is_read_in_maths_precedence(latex: str, point: dict, value: float):
    member = read_member(latex)
    assert member is not None
    assert member.value(point) == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("latex", [
    r"\sin x", r"a_1 + 2", r"\sqrt[3]{8}", r"x^-1", r"\frac12", r"3!", r"(x + 1", r"x + 1]", r"\sum_{k=1}^{n} k",
    r"|x|", r"f'(x)", "x" * 201,
])
def test_what_is_not_plain_algebra_is_not_read(latex: str):
    assert read_member(latex) is None


def test_an_undefined_value_is_none_never_a_number():
    assert read_member(r"\frac{1}{x - 2}").value({"x": 2.0}) is None
    assert read_member(r"\sqrt{x}").value({"x": -4.0}) is None
    assert read_member(r"x^{300}").value({"x": 2.0}) is None  # exponents over 200 are not evaluated
    assert read_member(r"x + y").value({"x": 1.0}) is None  # a variable without a value


def test_a_lone_variable_is_named_and_its_symbols_are_listed():
    assert read_member(r"(x)").name == "x"
    assert read_member(r"2x").name is None
    assert read_member(r"b^2 - 4ac").symbols == ("a", "b", "c")
