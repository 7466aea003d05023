"""A final answer that restates the result just computed: a step with nothing else to check is checked by that.

Real solutions (ProcessBench's MATH split above all) close with a step such as "Thus, the final answer is
\\boxed{\\frac{4}{13}}." that computes nothing: the arithmetic verifier has no calculation in it and abstains. What
such a step claims is that its answer is the result the derivation reached. `restated_result` checks that claim:
the answer's value (a number, or LaTeX in the readable subset of workbench.verify.latex_members: `\\frac`,
`\\sqrt`, `\\pi`) equals a result stated by the nearest earlier step that states results (the result of a written
calculation, or the numeric last member of an equation chain: `x = \\frac{4}{13}`) within 1e-9 relative. Only the
nearest such step counts, so that a number the solution mentioned long before is not taken for the result; an
answer that is not a single value (a set, an interval, an expression with variables, words) is not checked.

It never finds a step wrong: an answer that differs from the last result may have been derived in the step's
prose. Measured on the ProcessBench MATH development half it checks 204 of the 390 answer steps that were
unverifiable, with no correct solution newly flagged (it flags nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.seeds.answer_extraction import extract_final_answer
from workbench.verify.calculations import Calculation
from workbench.verify.latex_equations import Conditions, equation_results
from workbench.verify.latex_members import read_member

Results = list[tuple[float, str]]  # (value, the calculation or chain that states it)


@dataclass
class PathSoFar:
    """What a path's steps before the current one established: their equations with variables (so that one
    rearranged is recognised: workbench.verify.latex_equations) and the results each step stated."""

    conditions: Conditions = field(default_factory=list)
    results: list[Results] = field(default_factory=list)


def step_results(text: str, calculations: list[Calculation]) -> Results:
    """The results a step states: those of its calculations that hold, and its equation chains' numeric ends."""
    found = [(float(c.result), c.text) for c in calculations if c.holds and c.result is not None]
    if "\\" in text or "$" in text:
        found += equation_results(text)
    return found


def answer_value(answer: str) -> float | None:
    """The single value an answer states ("$12", "\\frac{4}{13}", "8\\sqrt{3}", "x = 5"), or None."""
    from workbench.verify.answer_equivalence import read_numbers

    text = answer.strip().strip("$").strip()
    text = text.rsplit("=", 1)[-1].strip() if text.count("=") == 1 else text
    member = read_member(text)
    if member is not None:
        return member.samples[0] if not member.symbols else None
    numbers = read_numbers(text)
    if numbers is None or len(numbers.members) != 1:
        return None
    return float(numbers.members[0].value)


def restated_result(text: str, earlier: list[Results]) -> str | None:
    """A note naming the result this step's final answer restates, or None (see the module docstring)."""
    answer = extract_final_answer(text)
    previous = next((results for results in reversed(earlier) if results), None)
    if answer is None or previous is None:
        return None
    value = answer_value(answer)
    if value is None:
        return None
    for result, written in previous:
        if abs(value - result) <= 1e-9 * max(1.0, abs(result)):
            shown = str(int(result)) if result.is_integer() and abs(result) < 1e15 else f"{result:.6g}"
            return f"the final answer {answer!r} restates {shown}, the result of `{written}`"
    return None
