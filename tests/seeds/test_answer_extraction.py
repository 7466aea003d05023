"""The one final-answer extractor: every marker the field uses, the last statement winning."""

from __future__ import annotations

import pytest

from workbench.seeds.answer_extraction import (
    extract_final_answer,
    split_reference,
    strip_calculator_annotations,
)
from workbench.verify.verifiers.arithmetic import extract_answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),
        ("#### 1,250", "1,250"),
        ("so $\\frac{x}{10} = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("Then $\\sin 60^\\circ = \\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}"),
        ("The set is $\\boxed{\\{1, 2\\}}$.", "\\{1, 2\\}"),
        ("Answer: 54", "54"),
        ("**Final Answer:** 17", "17"),
        ("The answer is $0.40.", "$0.40"),
        ("The answer is 4. I hope it is correct.", "4"),
        ("The final answer is $\\boxed{54}$. I hope it is correct.", "54"),
        ("The answer is $\\frac{3}{4}$.", "\\frac{3}{4}"),
        ("Q: Who wrote it?\nA: Ada Lovelace", "Ada Lovelace"),
        ("Answer: 3\nWait, no. The answer is 4.", "4"),
        ("No final answer in this text.", None),
        ("Answer:\n", None),
        ("\\boxed{unclosed", None),
    ],
)
def test_extract_final_answer(text: str, answer: str | None):
    assert extract_final_answer(text) == answer


def test_arithmetic_extract_answer_delegates():
    for text in ("Answer: 54", "The final answer is \\boxed{54}.", "#### 1,250", "So the answer is $0.40.", "none"):
        assert extract_answer(text) == extract_final_answer(text)


def test_calculator_annotations_are_stripped():
    assert strip_calculator_annotations("He has 6*4=<<6*4=24>>24 eggs and 24-5=<<24-5=19>>19 left.") == (
        "He has 6*4=24 eggs and 24-5=19 left.")


def test_split_reference_keeps_a_plain_answer_as_written():
    split = split_reference("  Canberra ")
    assert (split.answer, split.solution, split.marker) == ("Canberra", None, None)
    gsm8k = split_reference("3 x 4 = <<3*4=12>>12\n#### 12")
    assert (gsm8k.answer, gsm8k.solution) == ("12", "3 x 4 = 12\n#### 12")
