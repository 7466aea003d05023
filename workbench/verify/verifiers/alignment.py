"""Reference-solution alignment: a candidate step whose result the worked reference solution cannot reach.

Offline, no model, and a heuristic: its rationale says so. Given a worked reference solution (GSM8K's, with
`<<a*b=c>>` annotations and `#### n`; MATH's, with `\\boxed{}`; a seed's `reference_solution`), it reads the
solution's quantities: every number it states and every result of its calculations
(workbench.verify.calculations). A candidate step's calculation result is *reached* when it is one of those
quantities, a number of the problem or a result the candidate reached before, or one operation away from a
quantity the reference (or the candidate, reaching) derived and another such quantity or number of the problem,
using only the operations the step itself writes (closed under the step's operations). Two numbers of the
problem combined into a value the reference never derives are not reached: "12 + 5 = 17" where the reference
multiplies. The first step with a result not reached is the likely first error.

When it speaks:
- only when the path's final answer disagrees with the reference (the task's reference answer, else the
  solution's own final answer): a solution may take another correct route, so on a path whose answer agrees,
  or whose answer cannot be compared, every step abstains and the rationale lists the quantities it shares with
  the reference solution;
- agreement is evidence, never verification: a step whose results are all reached abstains (neutral 0.5) and
  says which reference quantities it matched. This verifier never scores a step correct, so it passes nothing;
- steps after the first one flagged abstain (their results derive from the departure).

Measured limits (docs/ARCHITECTURE.md has the figures): one operation of closure over a dozen quantities
reaches most small whole numbers, so a wrong small count is often "reached" (a miss); a correct step that takes
a route the reference does not (several operations at once, a unit conversion the reference never writes) is
flagged only when the answer is wrong anyway. A reference solution with no final answer and no number
(`reference_solution_problem`) is named and used for nothing.
"""

from __future__ import annotations

from fractions import Fraction

from workbench.verify.answer_equivalence import ANSWER_TIME_LIMIT_S, check_answer
from workbench.verify.calculations import find_calculations, format_number, normalise
from workbench.verify.first_error import Flow, flows, problem_numbers
from workbench.verify.verifiers.base import INCORRECT, StepScore, Task, unverifiable
from workbench.verify.written_arithmetic import tokenize

FLAGGED_SCORE = 0.25  # a heuristic's finding, not a calculation found false
OPERATIONS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
              "/": lambda x, y: x / y if y else None}


def reference_solution_problem(solution: str | None) -> str | None:
    """Why a worked reference solution cannot be used (no final answer, no number), or None when it can be or
    there is none."""
    if solution is None or not solution.strip():
        return None
    from workbench.seeds.answer_extraction import extract_final_answer

    numbers = solution_quantities(solution)
    if extract_final_answer(solution) is None and not numbers:
        return "The reference solution states no final answer and no number: it is not used to check steps."
    if extract_final_answer(solution) is None:
        return ("The reference solution states no final answer (#### n, \\boxed{}, 'The answer is ...'): it is not "
                "used to check steps.")
    if not numbers:
        return "The reference solution holds no number to compare steps with: it is not used to check steps."
    return None


def solution_quantities(solution: str) -> set[Fraction]:
    """Every number a worked solution states and every result of its calculations (annotations included)."""
    values = {t.value for t in tokenize(normalise(solution)) if t.kind == "num" and t.value is not None}
    calculations, _ = find_calculations(solution)
    values.update(c.result for c in calculations if c.result is not None)
    return values


def _reached(flow: Flow, derived: set[Fraction], given: set[Fraction]) -> bool:
    """In `derived` or `given`, or one of the step's operations away from a derived quantity and another one."""
    if flow.result in derived or flow.result in given:
        return True
    operators = {t.text for t in flow.expression if t.kind == "op" and t.text in OPERATIONS}
    either = derived | given
    return any(OPERATIONS[op](x, y) == flow.result or OPERATIONS[op](y, x) == flow.result
               for op in operators for x in derived for y in either)


class AlignmentVerifier:
    """Flags the first step whose results the worked reference solution cannot reach (see the module docstring)."""

    name = "alignment"

    def __init__(self, answer_time_limit_s: float = ANSWER_TIME_LIMIT_S) -> None:
        self.answer_time_limit_s = answer_time_limit_s

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return self.score_all(task, steps)

    def score_all(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One verdict per step: a flagged step (score 0.25, incorrect) or an abstention with what was compared."""
        solution = task.reference_solution
        if not solution or not solution.strip():
            return [unverifiable("no worked reference solution to align with")] * len(steps)
        if problem := reference_solution_problem(solution):
            return [unverifiable(problem)] * len(steps)
        disagrees = self._answer_disagrees(task, steps)
        quantities = solution_quantities(solution)
        given = problem_numbers(task.text)
        derived = quantities - given  # what the reference computed; the candidate's reached results join it
        scores: list[StepScore] = []
        flagged = False
        found = flows(steps)
        for index in range(len(steps)):
            mine = [f for f in found if f.step == index]
            if flagged or not mine:
                scores.append(unverifiable("after the first departure from the reference solution" if flagged
                                           else "no calculation to align"))
                continue
            unreached = [f for f in mine if not _reached(f, derived, given)]
            matched = sorted({f.result for f in mine if f.result in quantities})
            if unreached and disagrees:
                flagged = True
                flow = unreached[0]
                scores.append(StepScore(FLAGGED_SCORE, INCORRECT, (
                    f"likely first error (heuristic: reference-solution alignment): "
                    f"`{' '.join(t.text for t in flow.expression)}` gives {format_number(flow.result)}, which the reference "
                    f"solution's quantities and the problem's numbers do not reach in one of the step's operations, "
                    f"and the final answer disagrees with the reference")))
                continue
            derived.update(f.result for f in mine)
            shown = ", ".join(format_number(v) for v in matched) or "none"
            scores.append(unverifiable(f"evidence, not verification: results shared with the reference solution: "
                                       f"{shown}" + ("" if disagrees else "; the final answer is not known to disagree, "
                                                     "so nothing is flagged")))
        return scores

    def _answer_disagrees(self, task: Task, steps: list[str]) -> bool:
        from workbench.seeds.answer_extraction import extract_final_answer

        reference = task.reference_answer or extract_final_answer(task.reference_solution or "")
        stated = next((a for a in map(extract_final_answer, reversed(steps)) if a), None)
        if not reference or not stated:
            return False
        return check_answer(str(reference), stated, self.answer_time_limit_s) is False
