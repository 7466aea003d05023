"""Real slips of the kinds GPT-3 and open models make in GSM8K solutions (examples of our own writing): results with
a magnitude suffix, a calculation followed by a unit word, rates with units between the operands, labels in
brackets. Each is found at its step; the same text without the slip is not flagged."""

from __future__ import annotations

import pytest

from workbench.verify.verifiers.arithmetic import ArithmeticVerifier
from workbench.verify.verifiers.base import Task

VERIFIER = ArithmeticVerifier()

SLIPS = [
    # (kind, the step as written with its slip, the same step written right)
    ("magnitude suffix", "The 3 vans cost 3*45k=$125,000 in all.", "The 3 vans cost 3*45k=$135,000 in all."),
    ("magnitude suffix", "Each share is $1.8M / 6 = $200,000.", "Each share is $1.8M / 6 = $300,000."),
    ("magnitude suffix", "She saves 2.5k*4=$9,000 a year.", "She saves 2.5k*4=$10,000 a year."),
    ("unit word after", "He had 75-28=57 nails left.", "He had 75-28=47 nails left."),
    ("unit word after", "So 30-45=15 chairs are still missing.", "So 45-30=15 chairs are still missing."),
    ("unit word after", "Then 12*7=<<12*7=84>>74 eggs a week.", "Then 12*7=<<12*7=84>>84 eggs a week."),
    ("rate between operands", "They need 18 bricks/row * 24 rows = 422 bricks.",
     "They need 18 bricks/row * 24 rows = 432 bricks."),
    ("rate between operands", "That is 145 paper cups/box * 12 boxes = 1,640 paper cups.",
     "That is 145 paper cups/box * 12 boxes = 1,740 paper cups."),
    ("rate between operands", "The tank loses 3.5 liters/hour * 6 hours = 20 liters.",
     "The tank loses 3.5 liters/hour * 6 hours = 21 liters."),
    ("labels in brackets", r"\[ 14 (\text{red}) + 23 (\text{blue}) + 9 (\text{green}) = 44 \]",
     r"\[ 14 (\text{red}) + 23 (\text{blue}) + 9 (\text{green}) = 46 \]"),
    ("labels in brackets", "$240 (rent) - $95 (food) = $155", "$240 (rent) - $95 (food) = $145"),
    ("remarks in brackets", "So 300 (from step 2) + 10 (invited by friends) = 320 guests.",
     "So 300 (from step 2) + 10 (invited by friends) = 310 guests."),
    ("remarks in brackets", "We need 8 / 3 = 2.76 (round up to 3, since masks are whole) sets.",
     "We need 8 / 3 = 2.67 (round up to 3, since masks are whole) sets."),
    ("percentage of a number", "So 15% of 60 students = 0.15 students stay.", "So 15% of 60 students = 9 students stay."),
    ("visible result against its annotation", "The fee is 84,000 x .1 = <<84000*.1=8400.0>>6,400 dollars.",
     "The fee is 84,000 x .1 = <<84000*.1=8400.0>>8,400 dollars."),
    ("quotient", r"\[ 2863 \div 1344 = 3 \quad \text{(quotient)} \]", r"\[ 2863 \div 1344 = 2 \quad \text{(quotient)} \]"),
]


@pytest.mark.parametrize(("kind", "slip", "right"), SLIPS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SLIPS)])
def test_a_real_slip_is_found_and_its_correction_is_not(kind: str, slip: str, right: str):
    assert VERIFIER.score_step(slip).label == "incorrect", kind
    assert VERIFIER.score_step(right).label == "correct", VERIFIER.score_step(right).rationale


def test_a_slip_is_found_at_its_step_of_a_whole_solution():
    steps = ["A printer costs $320 and toner costs $45 a cartridge.",
             "She buys 4 cartridges: 4 cartridges * $45/cartridge = $180.",
             "Together that is 320+180=$490.",
             "The answer is 490."]
    labels = [s.label for s in VERIFIER.score_all(Task("?"), steps)]
    assert labels.index("incorrect") == 2


def test_a_fragment_after_a_word_operand_is_not_read_as_a_claim():
    text = "Dozens = Total muffins / 12 = 78 / 12 = 6.5 dozens."
    assert VERIFIER.score_step(text).label == "correct"


def test_a_calculators_floating_point_rendering_is_not_a_slip():
    assert VERIFIER.score_step("That is 0.1 km/minute x 3 minutes = <<0.1*3=0.30000000000000004>>0.3 km.").label == "correct"
    assert VERIFIER.score_step("So 0.35 - 0.3 = <<0.35-0.3=0.04999999999999999>>0.05 of the tank.").label == "correct"


@pytest.mark.parametrize("text", [
    "Each bag holds 410 cups / 120 cups per bag = 3.416 bags.",  # cut, not rounded, to the digits shown
    "She splits 30 empty jars into (30/6) = 5 boxes.",  # a label, then a bracket: no product
    "So 1/7 = 0.14285714285 of the cake.",
])
def test_what_is_not_a_slip_is_not_flagged(text: str):
    assert VERIFIER.score_step(text).label == "correct", VERIFIER.score_step(text).rationale


def test_a_cut_decimal_that_is_not_the_value_cut_is_still_a_slip():
    assert VERIFIER.score_step("Each bag holds 410 cups / 120 cups per bag = 3.412 bags.").label == "incorrect"
