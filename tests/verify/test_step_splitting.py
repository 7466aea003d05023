"""Step splitting on real line ends: Windows paragraphs, Step markers, numbered lists, bold headers."""

from __future__ import annotations

import pytest

from workbench.verify.reasoning import split_steps


def test_paragraphs_separated_by_crlf_give_one_step_each():
    text = ("Janet's ducks lay 16 eggs a day.\r\nShe eats 3 and bakes with 4.\r\n\r\n"
            "She sells 16 - 3 - 4 = 9 eggs.\r\n\r\nShe makes 9 * 2 = $18 a day.\r\n")
    assert split_steps(text) == [
        "Janet's ducks lay 16 eggs a day.\nShe eats 3 and bakes with 4.",
        "She sells 16 - 3 - 4 = 9 eggs.",
        "She makes 9 * 2 = $18 a day.",
    ]


def test_crlf_step_markers():
    text = "Step 1: 5 * 12 = 60 pencils.\r\nStep 2: 60 - 7 = 53.\r\nAnswer: 53\r\n"
    assert split_steps(text) == ["5 * 12 = 60 pencils.", "60 - 7 = 53.", "Answer: 53"]


def test_crlf_numbered_list():
    assert split_steps("1. Add: 2 + 3 = 5.\r\n2) Double: 10.\r\n3. Done.") == ["Add: 2 + 3 = 5.", "Double: 10.", "Done."]


def test_old_mac_line_ends():
    assert split_steps("First.\r\rSecond.\r\rThird.") == ["First.", "Second.", "Third."]


def test_markdown_bold_step_headers_keep_their_title_without_the_markup():
    text = ("**Step 1: Find the total**\r\nThere are 3 * 4 = 12 apples.\r\n\r\n"
            "**Step 2: Share them**\r\n12 / 3 = 4 each.\r\n\r\nAnswer: 4")
    assert split_steps(text) == ["Find the total\nThere are 3 * 4 = 12 apples.", "Share them\n12 / 3 = 4 each.",
                                 "Answer: 4"]


def test_markdown_heading_steps():
    assert split_steps("### Step 1\r\nAdd.\r\n### Step 2\r\nDouble.") == ["Add.", "Double."]


@pytest.mark.parametrize(
    "text",
    ["A.\r\n\r\n\r\n\r\nB.\r\n \r\nC.\r\n", "Step 1: a\r\n\r\nStep 2: b\r\n\r\n", "1. x\r\n\r\n2. y\r\n", "\r\n\r\nOnly one.\r\n"],
)
def test_no_step_is_empty_or_ends_in_a_carriage_return(text: str):
    steps = split_steps(text)
    assert steps and all(step.strip() and "\r" not in step for step in steps)
