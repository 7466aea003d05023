"""The arithmetic/symbolic verifier: the offline default, no model.

Every calculation written in a step (`12 / 3 = 4`, `3 x $2 = $6`, `15% of 80 is 12`, `<<50*3=150>>`,
`5 times 4 equals 20`, LaTeX `\\frac{1}{2} \\times 8 = 4`, `$400/month * 6 months = $2,400`...) is
re-computed exactly with rational numbers (workbench.verify.written_arithmetic reads the text). A false
calculation scores 0 and the rationale names it; a step with nothing checkable is `unverifiable` and
scores the neutral 0.5 (never 1.0): what cannot be read is never called wrong.

How real solutions are read:
- a number followed by a label is a count, not a claimed value: "4 tickets is $12 x 4 = $48" and
  "2 weeks = 2 * 7 = 14 days" check only `12 x 4 = 48` and `2 * 7 = 14`; so is a bare number before
  a word copula ("is", "makes", "gives", "equals");
- a running calculation "12 + -30 = -18 - (-20) = 2" checks `12 + -30 = -18` and `-18 - (-20) = 2`;
- labelled terms "40 total - 12 red - 8 blue - 6 green = 14" are one calculation; a spaced minus
  after a word ("... red - 8 blue = 5") starts a fragment whose first term is lost: skipped;
- a GSM8K annotation is checked once (a visible calculation it repeats is not counted twice);
- a written decimal may round the exact value to the digits shown ("10/3 = 3.33", "$3.8 million");
  a whole number may round a quotient when the sentence says so ("50/8 = 6 full boxes").

LaTeX members with roots, pi or variables are checked in floating point (workbench.verify.latex_equations: identities
hold, conditions abstain). When the final answer misses the reference and no earlier step was found wrong, the
step where the solution most likely went wrong is marked (workbench.verify.first_error: a heuristic, scored 0.25,
and its rationale says so).

The final answer is compared with the task's reference by `check_answer`
(workbench.verify.answer_equivalence: math-verify with stricter checks, under its own time limit).
"""

from __future__ import annotations

import re

from workbench.seeds.answer_extraction import extract_final_answer
from workbench.verify.answer_equivalence import ANSWER_TIME_LIMIT_S, check_answer, read_numbers
from workbench.verify.calculations import Calculation, find_calculations, normalise
from workbench.verify.latex_equations import check_latex_equations
from workbench.verify.restated_answer import PathSoFar, restated_result, step_results
from workbench.verify.verifiers.base import (
    CORRECT,
    EVIDENCE,
    INCORRECT,
    OUTCOME,
    StepScore,
    Task,
    unverifiable,
)

__all__ = ["ArithmeticVerifier", "Calculation", "check_answer", "extract_answer", "find_calculations",
           "is_math_reference", "normalise"]

LOCATED_SCORE = 0.25  # a step located by a heuristic, not a calculation found false


# ---------------------------------------------------------------- final answer

WORDY = re.compile(r"[A-Za-z]{3,}")


def extract_answer(text: str) -> str | None:
    """The answer a step states ('Answer: 54', '\\boxed{54}', '#### 54'), or None (workbench.seeds.answer_extraction)."""
    return extract_final_answer(text)


def is_math_reference(reference: str | None) -> bool:
    """A reference answer that `check_answer` compares: numbers ("3 and 8", "46 stickers") or a formula, not a sentence."""
    if not reference or not reference.strip():
        return False
    numbers = read_numbers(reference)
    if numbers is not None and numbers.members and not numbers.sentence:
        return True
    return not WORDY.search(re.sub(r"\\[a-zA-Z]+", "", reference)) and len(reference) < 200


# ---------------------------------------------------------------- the verifier


class ArithmeticVerifier:
    """Checks every written calculation exactly, and the final answer against the reference."""

    name = "arithmetic"

    def __init__(self, answer_time_limit_s: float = ANSWER_TIME_LIMIT_S) -> None:
        self.answer_time_limit_s = answer_time_limit_s

    def score_step(self, text: str, answer_check: tuple[bool | None, str] | None = None,
                   so_far: PathSoFar | None = None) -> StepScore:
        """One step's verdict. `so_far` carries what the steps before established (an equation that is one of
        theirs rearranged holds; a final answer restating the last result holds) and receives this step's."""
        calculations, skipped = find_calculations(text)
        if "\\" in text or "$" in text:
            calculations += check_latex_equations(text, so_far.conditions if so_far is not None else None)
        if so_far is not None:
            earlier = list(so_far.results)
            so_far.results.append(step_results(text, calculations))
            if not calculations and answer_check is None and (restated := restated_result(text, earlier)):
                return StepScore(1.0, CORRECT, restated, params={"calculations": 0, "restated": True})
        false = [c for c in calculations if not c.holds]
        notes: list[str] = []
        if false:
            notes += [f"false: `{c.text}` ({c.detail})" for c in false]
        true = [c for c in calculations if c.holds]
        if true:
            notes.append("checked: " + "; ".join(f"`{c.text}`" for c in true))
        if answer_check is not None:
            notes.append(answer_check[1])
        answer_false = answer_check is not None and answer_check[0] is False
        answer_true = answer_check is not None and answer_check[0] is True
        # a checked final answer vouches for the outcome; calculations that hold are evidence, not a verified step
        checks = OUTCOME if answer_false or answer_true else EVIDENCE
        if false or answer_false:
            return StepScore(0.0, INCORRECT, "; ".join(notes), params={"calculations": len(calculations)}, checks=checks)
        if true or answer_true:
            return StepScore(1.0, CORRECT, "; ".join(notes), params={"calculations": len(calculations)}, checks=checks)
        shown = [f"skipped {s}" for s in skipped[:3]] + ([f"and {len(skipped) - 3} more"] if len(skipped) > 3 else [])
        reason = "; ".join(notes + shown) or "no calculation to check"
        return unverifiable(reason, params={"calculations": 0})

    def answer_verdict(self, task: Task, steps: list[str]) -> tuple[int, tuple[bool | None, str]] | None:
        """(index of the answer step, (matches?, note)) when the task has a math reference answer."""
        if not steps or not is_math_reference(task.reference_answer):
            return None
        reference = str(task.reference_answer)
        found = [(i, extract_answer(s)) for i, s in enumerate(steps)]
        stated = [(i, a) for i, a in found if a]
        if stated:
            index, answer = stated[-1]
        else:
            index, answer = len(steps) - 1, normalise(steps[-1])
        matches = check_answer(reference, answer, self.answer_time_limit_s)
        if matches is None:
            return index, (None, f"final answer not comparable with the reference {reference!r}")
        if matches:
            return index, (True, f"final answer {answer!r} matches the reference {reference!r}")
        if not stated:
            return index, (False, f"no final answer matching the reference {reference!r} found")
        return index, (False, f"final answer {answer!r} does not match the reference {reference!r}")

    def score_all(self, task: Task, steps: list[str]) -> list[StepScore]:
        answer = self.answer_verdict(task, steps)
        so_far = PathSoFar()
        scores = [self.score_step(step, answer[1] if answer and answer[0] == i else None, so_far)
                  for i, step in enumerate(steps)]
        if answer is not None and answer[1][0] is False:
            _place_first_error(task, steps, answer[0], scores)
        return scores

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return self.score_all(task, steps)


def _place_first_error(task: Task, steps: list[str], answer_step: int, scores: list[StepScore]) -> None:
    """The final answer misses the reference: mark the step where the solution most likely went wrong, when no
    step before the answer was found wrong (workbench.verify.first_error; a heuristic that says so)."""
    from workbench.verify.first_error import locate_first_error

    if any(score.label == INCORRECT for score in scores[:answer_step]):
        return
    located = locate_first_error(task.text, steps[: answer_step + 1], str(task.reference_answer))
    if located is None or located.step >= answer_step:
        return
    before = scores[located.step]
    scores[located.step] = StepScore(LOCATED_SCORE, INCORRECT, f"{located.rationale}; {before.rationale}",
                                     params={**before.params, "located_by": located.method})
