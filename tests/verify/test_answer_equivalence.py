"""Final-answer equivalence: right answers pass, wrong ones never do, and 'cannot tell' is said as None."""

from __future__ import annotations

import threading

import pytest

from workbench.verify.answer_equivalence import answers_equivalent, check_answer, read_numbers
from workbench.verify.verifiers.arithmetic import check_answer as verifier_check_answer

# (reference, candidate, verdict): the issue's examples first, then more of each kind
ISSUE_EXAMPLES = [
    ("1", "1 1/4", False),  # a mixed number is 5/4
    ("5/4", "$1\\frac{1}{4}$", True),
    ("\\frac{1}{2^{30}}", "\\frac{1}{2^{31}}", False),  # definitely wrong, never None
    ("0.0000004", "0.0000002", False),  # no absolute tolerance
    ("3 and 8", "8", False),  # a set answer needs every member
    ("8, 3", "3 and 8", True),
    ("\\pm 5", "5", False),
    ("12,345", "12345", True),
    ("$1,250", "1250", True),
    ("45%", "45", True),
    ("46", "She ends with 46 stickers, in total.", True),
]

NUMBERS = [
    ("\\frac{1}{2^{30}}", "2^{-30}", True),
    ("0.0000004", "4e-7", True),
    ("0.5", "1/2", True),
    ("10", "10.0", True),
    ("10", "10.01", False),
    ("54", "52", False),
    ("5624.32", "5,624.32", True),
    ("1250", "$1,250.00", True),
    ("3.8 million", "3,800,000", True),
    ("3.8 million", "3,849,000", False),  # both exact: no rounding between them
    ("$40k", "40000", True),
    ("250000", "250 000", True),
    ("250000", "250\u2009000", True),  # a thin space
    ("12", "twelve", True),
    ("25", "twenty-five", True),
]
MIXED_NUMBERS_AND_FRACTIONS = [
    ("2 1/2", "5/2", True),
    ("2 1/2", "2.5", True),
    ("2 1/2", "2", False),
    ("\\frac{9}{2}", "4\\frac{1}{2}", True),
    ("-1 1/4", "-5/4", True),
    ("23/3", "\\frac{23}{3}", True),
    ("1/3", "0.333", True),  # rounded to the digits shown, 3 significant digits
    ("1/3", "0.33", False),  # too few digits to tell it from 0.33
    ("23/3", "7.67", True),
    ("23/3", "7.5", False),
]
NEGATIVES_AND_SIGNS = [
    ("-5", "5", False),
    ("-5", "\u22125", True),  # a unicode minus
    ("-18", "-18", True),
    ("\\pm 5", "5, -5", True),
    ("\\pm 5", "-5 and 5", True),
    ("3 \\pm 2", "1, 5", True),
    ("5", "\\pm 5", False),
]
ASSIGNMENTS_AND_SENTENCES = [
    ("5", "x = 5", True),
    ("-5", "x = -5", True),
    ("5", "x=6", False),
    ("3 and 8", "x = 3 or x = 8", True),
    ("46", "She ends with 45 stickers, in total.", False),
    ("46", "She has 50 - 4 = 46 stickers left.", True),
    ("46", "She has 50 - 4 = 44 stickers left.", False),
    ("46", "She has 46 stickers in 2 albums.", None),  # two numbers, no '=': cannot tell which is meant
    ("18", "she needs 18 cups", True),
    ("3 and 8", "The solutions are 3 and 8.", True),
    ("3 and 8", "The solutions are 3 and 9.", False),
]
SETS = [
    ("3, 4", "3, 4, 5", False),
    ("3, 4", "4, 3", True),
    ("3", "3, 3", True),
    ("\\{1, 2\\}", "\\{2, 1\\}", True),
    ("1, 2", "2", False),
]
INTERVALS_AND_TUPLES = [
    ("[2, 5)", "[2,5)", True),
    ("[2, 5)", "(2, 5)", False),
    ("(-\\infty, 3]", "(-\\infty,3]", True),
    ("(-\\infty, 3]", "(-\\infty,3)", False),
    ("(-\\infty, 3]", "(\\infty, 3]", False),
    ("(1, 2)", "(2, 1)", False),
    ("[2, 5)", "3", False),
]
PERCENT_CURRENCY_UNITS = [
    ("45%", "0.45", True),
    ("45%", "46", False),
    ("0.25", "25%", True),
    ("25", "25 percent", True),
    ("54", "$54", True),
    ("5 cm", "5", True),
    ("5", "5 cm", True),
    ("5 cm", "5 cm", True),
    ("5 cm", "6 cm", False),
    ("5 cm", "50 mm", None),  # units are not converted
    ("7", "7 hours 30 minutes", None),
]
SYMBOLIC = [
    ("x^2+1", "1+x^2", True),
    ("x^2+1", "x^2-1", False),
    ("\\sqrt{2}", "\\frac{2}{\\sqrt{2}}", True),
    ("\\sqrt{2}", "1.414", True),
    ("\\sqrt{2}", "1.4", False),
    ("2\\pi", "6.283", True),
    ("$90\\pi$", "90\\pi", True),
    ("$90\\pi$", "90\u03c0", True),
]
TEXT_CHOICES_YES_NO = [
    ("Paris", "paris", True),
    ("Paris", "The capital is Paris.", True),
    ("Paris", "London", False),
    ("Paris", "Not Paris", False),
    ("B", "(B)", True),
    ("B", "The answer is (B).", True),
    ("B", "option B", True),
    ("B", "C", False),
    ("(C)", "C", True),
    ("yes", "Yes, she can.", True),
    ("yes", "No.", False),
    ("No", "no", True),
    ("True", "yes", True),
    ("yes", "maybe", None),
]

ALL = (ISSUE_EXAMPLES + NUMBERS + MIXED_NUMBERS_AND_FRACTIONS + NEGATIVES_AND_SIGNS + ASSIGNMENTS_AND_SENTENCES
       + SETS + INTERVALS_AND_TUPLES + PERCENT_CURRENCY_UNITS + SYMBOLIC + TEXT_CHOICES_YES_NO)


@pytest.mark.parametrize(("reference", "candidate", "verdict"), ALL)
def test_equivalence_verdict(reference: str, candidate: str, verdict: bool | None):
    assert check_answer(reference, candidate) is verdict


@pytest.mark.parametrize(("reference", "candidate", "verdict"), ISSUE_EXAMPLES)
def test_the_verifier_entry_point_gives_the_same_verdict(reference: str, candidate: str, verdict: bool | None):
    assert verifier_check_answer(reference, candidate) is verdict


def test_a_wrong_answer_never_passes_in_either_direction():
    wrong = [(r, c) for r, c, v in ALL if v is False]
    assert all(answers_equivalent(c, r) is not True for r, c in wrong)


def test_thousands_against_a_list():
    assert read_numbers("12,345").members[0].value == 12345
    assert [q.value for q in read_numbers("3,8").members] == [3, 8]  # not three digits: a list


def test_empty_or_unreadable_input_cannot_be_told():
    assert check_answer("", "5") is None
    assert check_answer("5", "   ") is None


def test_it_runs_outside_the_main_thread_under_its_own_time_limit():
    results = []
    thread = threading.Thread(target=lambda: results.append(check_answer("\\sqrt{2}", "1.414", time_limit_s=5)))
    thread.start()
    thread.join()
    assert results == [True]


def test_a_check_over_its_time_limit_says_cannot_tell():
    assert check_answer("x^2 + 2x + 1", "(x + 1)^2", time_limit_s=0.000001) is None
