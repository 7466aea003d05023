"""Where a solution whose final answer misses the reference went wrong: heuristics that locate the first error.

No model. When the reference answer shows that a solution is wrong, it does not say where. This module reads the
solution's written calculations (workbench.verify.calculations.find_calculations) as a data flow: an operand of a
later calculation that equals an earlier calculation's stated result is that result carried forward (the most
recent one; each result feeds one operand per calculation, or two for a doubling "10 + 10" of a value the problem
does not give). The final answer is the last one a step states (else the last number of the last step), and the
final calculation is the last one that states its value. `locate_first_error` tries, in this order (evidence
written in the text first, then counterfactual searches from the fewest candidates to the most), and every
rationale says it is a heuristic:

1. `locate_by_overshoot`: a calculation reached the reference answer and a later step went on from it;
2. `locate_by_unexplained`: a step brings in a number the problem never gives and no step computes;
3. `locate_by_final_terms`: the final total misses a number the problem gives and no step uses, or holds one
   term too many;
4. `locate_by_repair`, counterfactual one-edit repair: for each calculation in order, try every one-edit
   alternative the step could have written, re-compute every later calculation that depends on it and ask whether
   the final answer becomes the reference answer. The edits are those the ProcessBench annotators' first errors
   are made of (Zheng et al. 2024: a wrong quantity or a wrong operation far more often than a slip of
   arithmetic): another operation between the same operands (`18 * 0.3` for `18 / 0.3`), or the operands of `-`
   and `/` swapped; one operand replaced by another quantity available at that step (a number of the problem:
   digits, number words, "half", "twice", "dozen"..., or a result stated before or within the step); the result
   replaced by an available quantity (a term added that should not be, "12 + 6 = 18" for 12). A repaired value
   keeps the sign of the written one and does not vanish;
5. `locate_by_substitution`: one quantity used in place of another throughout a step (a two-edit repair bounded
   to one substitution per step).

Where none applies, nothing is located (an abstention, not a verdict). Measured on the ProcessBench GSM8K
development half with its reference answers (located exactly / located): overshoot 3/4, unexplained quantity
5/10, missing term 1/2, extra term 1/1, one-edit repair 13/22, substitution 1/1; a wrong choice is usually a step
whose correct value an alternative edit further on would also repair, and no correct solution is affected (the
locator runs only when the final answer misses the reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

from workbench.verify.calculations import Calculation, find_calculations, format_number
from workbench.verify.latex_equations import equation_results
from workbench.verify.written_arithmetic import Parser, Token, Unsupported, normalise, tokenize

OPERATORS = ("+", "-", "*", "/")
MAX_CANDIDATES = 400  # edits tried per calculation: a bound on the work, far above a real step's need
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12, "twice": 2,
    "double": 2, "triple": 3, "thrice": 3, "half": Fraction(1, 2), "third": Fraction(1, 3), "quarter": Fraction(1, 4),
    "fourth": Fraction(1, 4), "fifth": Fraction(1, 5), "tenth": Fraction(1, 10), "halves": Fraction(1, 2),
    "thirds": Fraction(1, 3), "quarters": Fraction(1, 4), "fourths": Fraction(1, 4), "fifths": Fraction(1, 5),
}
# the conversion a unit word in the problem brings with it ("a week" holds 7 days)
UNIT_CONSTANTS = {
    "week": (7,), "weeks": (7,), "day": (24,), "days": (24,), "hour": (60,), "hours": (60,), "minute": (60,),
    "minutes": (60,), "year": (12, 52, 365), "years": (12, 52, 365), "feet": (12,), "foot": (12,), "yard": (3,),
    "yards": (3,), "gallon": (4,), "gallons": (4,), "cents": (100,), "cent": (100,), "percent": (100,),
    "dozen": (12,), "dozens": (12,), "pair": (2,), "pairs": (2,),
}
WORD = re.compile(r"[a-z]+")
THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


@dataclass
class Flow:
    """One calculation of a solution: its step, its computing side's tokens and the result the text states."""

    step: int
    expression: list[Token]
    result: Fraction
    unit: str | None = None

    @property
    def operands(self) -> list[int]:
        """Indexes of the expression's number tokens."""
        return [i for i, t in enumerate(self.expression) if t.kind == "num"]


@dataclass
class Located:
    """A located first error: the step, a rationale naming what was found, and the method that found it."""

    step: int
    rationale: str
    method: str = "repair"


def problem_numbers(problem: str, conversions: bool = True) -> set[Fraction]:
    """The numbers a problem gives: written in digits, as number words ("twelve", "half", "twice"), percentages
    as both the number of percent and the fraction, and the conversions its unit words bring ("week": 7)."""
    values: set[Fraction] = set()
    for token in tokenize(normalise(THOUSANDS_COMMA.sub("", problem))):
        if token.kind == "num" and token.value is not None:
            values.add(token.value)
            if token.percent:
                values.add(token.value * 100)
    words = set(WORD.findall(problem.lower()))
    for word in words & NUMBER_WORDS.keys():
        value = Fraction(NUMBER_WORDS[word])
        values.update((value, Fraction(value.denominator)) if value < 1 else (value,))  # "a tenth": 1/10 and 10
    if conversions:
        values.update(Fraction(c) for w in words if w in UNIT_CONSTANTS for c in UNIT_CONSTANTS[w])
    return values


def flows(steps: list[str]) -> list[Flow]:
    """Every calculation of every step, in order, with a stated result."""
    found: list[Flow] = []
    for index, step in enumerate(steps):
        calculations, _ = find_calculations(step)
        found += [_flow(index, c) for c in calculations if _usable(c)]
    return found


def _usable(calculation: Calculation) -> bool:
    return calculation.result is not None and any(t.kind == "op" for t in calculation.expression)


def _flow(step: int, calculation: Calculation) -> Flow:
    return Flow(step, calculation.expression, calculation.result, calculation.unit)


def _evaluate(tokens: list[Token]) -> Fraction | None:
    try:
        parser = Parser(tokens, 0)
        value = parser.expression()
    except (SyntaxError, Unsupported, ZeroDivisionError, OverflowError):
        return None
    return value.number if parser.position == len(tokens) else None


def _sources(found: list[Flow], given: set[Fraction] = frozenset()) -> list[dict[int, int]]:
    """For each calculation, which operand (token index) carries which earlier calculation's result (its index):
    the most recent one with that value not yet feeding the calculation; when every such one already does, the
    same one again unless the problem gives the value (a doubling: "10 children + 10 children" after "5 + 5 = 10")."""
    sources: list[dict[int, int]] = []
    for index, flow in enumerate(found):
        links: dict[int, int] = {}
        used: set[int] = set()
        for operand in flow.operands:
            value = flow.expression[operand].value
            earlier = next((j for j in range(index - 1, -1, -1) if found[j].result == value and j not in used), None)
            if earlier is None and value not in given:
                earlier = next((j for j in range(index - 1, -1, -1) if found[j].result == value), None)
            if earlier is not None:
                links[operand] = earlier
                used.add(earlier)
        sources.append(links)
    return sources


@dataclass
class SolutionFlow:
    """A solution's calculations (`found`), the index of the final one (the last that states the answer), the
    numbers the problem gives and which operand carries which earlier result (`sources`)."""

    found: list[Flow]
    final: int
    given: set[Fraction]
    sources: list[dict[int, int]]

    @classmethod
    def read(cls, problem: str, steps: list[str], answer: Fraction) -> SolutionFlow | None:
        """The flow of `steps`, or None when no calculation states the answer."""
        found = flows(steps)
        final = next((i for i in range(len(found) - 1, -1, -1) if found[i].result == answer), None)
        if final is None:
            return None
        given = problem_numbers(problem)
        return cls(found, final, given, _sources(found, given))


def _propagate(found: list[Flow], sources: list[dict[int, int]], changed: int, value: Fraction) -> list[Fraction | None]:
    """Every calculation's result once calculation `changed` states `value` and the later ones re-compute."""
    results: list[Fraction | None] = [f.result for f in found]
    results[changed] = value
    return _recompute(found, sources, changed + 1, results, {})


def _recompute(found: list[Flow], sources: list[dict[int, int]], start: int, results: list[Fraction | None],
               edits: dict[int, dict[int, Fraction]]) -> list[Fraction | None]:
    """`results` with every calculation from `start` on re-computed where an operand was edited (`edits`:
    {calculation: {operand token: value}}) or an earlier result it carries changed."""
    for index in range(start, len(found)):
        links, edited = sources[index], edits.get(index, {})
        if not edited and not any(results[j] != found[j].result for j in links.values()):
            continue
        tokens = list(found[index].expression)
        for operand, source in links.items():
            if operand not in edited:
                if results[source] is None:
                    return results
                tokens[operand] = replace(tokens[operand], value=results[source], percent=False)
        for operand, value in edited.items():
            tokens[operand] = replace(tokens[operand], value=value, percent=False)
        results[index] = _evaluate(tokens)
    return results


def _operations(flow: Flow, available: set[Fraction]) -> list[tuple[Fraction | None, str]]:
    """Another operation between the same operands, or the operands of a two-operand calculation swapped."""
    out: list[tuple[Fraction | None, str]] = []
    tokens = flow.expression
    for index, token in enumerate(tokens):
        if token.kind == "op" and token.text in OPERATORS:
            for operator in OPERATORS:
                if operator != token.text:
                    edited = [*tokens[:index], replace(token, text=operator), *tokens[index + 1 :]]
                    out.append((_evaluate(edited), f"{operator} instead of {token.text}"))
    operands = flow.operands
    if len(operands) == 2:
        first, second = operands
        swapped = list(tokens)
        swapped[first], swapped[second] = tokens[second], tokens[first]
        out.append((_evaluate(swapped), "its operands the other way round"))
    return out


def _restated(flow: Flow, available: set[Fraction]) -> list[tuple[Fraction | None, str]]:
    """The result replaced by a quantity already at hand: a calculation that should not have been made."""
    return [(value, f"{format_number(value)} as it stands") for value in sorted(available)]


def _operands(flow: Flow, available: set[Fraction]) -> list[tuple[Fraction | None, str]]:
    """One operand replaced by another quantity at hand."""
    out: list[tuple[Fraction | None, str]] = []
    tokens = flow.expression
    for operand in flow.operands:
        written = tokens[operand]
        for value in sorted(available):
            if value != written.value:
                edited = [*tokens[:operand], replace(written, value=value, percent=False), *tokens[operand + 1 :]]
                out.append((_evaluate(edited), f"{format_number(value)} in place of {format_number(written.value)}"))
    return out


# edit families, most telling first (their measured precision is in docs/ARCHITECTURE.md)
EDITS = (_operations, _restated, _operands)


def locate_by_repair(problem: str, steps: list[str], reference: Fraction, answer: Fraction,
                     edits: tuple = EDITS) -> Located | None:
    """The step of the earliest calculation whose one-edit repair makes the final answer the reference, or None.

    `answer` is the solution's final answer, `reference` the reference answer (they differ). Edit families are
    tried in turn (`EDITS`: the most telling first), each over every calculation in order. A repaired value keeps
    the sign of the written one (quantities in word problems do not turn negative). See the module docstring.
    """
    flow_of = SolutionFlow.read(problem, steps, answer)
    if flow_of is None:
        return None
    found, final, given, sources = flow_of.found, flow_of.final, flow_of.given, flow_of.sources
    for family in edits:
        for index in range(final):  # the final calculation itself: nothing after it would confirm a repair
            flow = found[index]
            available = given | {f.result for f in found[:index] if f.step <= flow.step}
            available |= {f.result for f in found[index + 1 :] if f.step == flow.step}
            for value, how in family(flow, available)[:MAX_CANDIDATES]:
                if value is None or value == flow.result or (value < 0) != (flow.result < 0) or value == 0:
                    continue  # quantities in word problems neither turn negative nor vanish
                results = _propagate(found, sources, index, value)
                if results[final] is not None and abs(results[final] - reference) <= abs(reference) / 1000:
                    written = " ".join(t.text for t in flow.expression)
                    return Located(flow.step, (
                        f"likely first error (heuristic, a one-edit repair): with {how}, `{written}` would give "
                        f"{format_number(value)} instead of {format_number(flow.result)}, and the later steps' own calculations would "
                        f"then reach the reference answer {format_number(reference)}"))
    return None


def locate_by_substitution(problem: str, steps: list[str], reference: Fraction, answer: Fraction) -> Located | None:
    """The earliest step that used one quantity in place of another throughout: every operand of the step's
    calculations equal to a value v it took from before (a number of the problem or an earlier result), replaced by
    another quantity at hand, makes the later steps' own calculations reach the reference answer ("Nani's sister
    is 25% younger than Nani": `0.25 * 16 = 4` and `16 - 4 = 12` both took the brother's 16 for Nani's 8). A
    two-edit repair bounded to one substitution per step; a heuristic, tried after the one-edit repairs. Measured on
    the ProcessBench GSM8K development half: 1 solution located, exactly."""
    flow_of = SolutionFlow.read(problem, steps, answer)
    if flow_of is None:
        return None
    found, final, given, sources = flow_of.found, flow_of.final, flow_of.given, flow_of.sources
    for step in sorted({f.step for f in found[:final]}):
        members = [i for i, f in enumerate(found) if f.step == step and i < final]
        inputs = {found[i].expression[o].value for i in members for o in found[i].operands
                  if sources[i].get(o) is None or found[sources[i][o]].step < step}
        available = given | {f.result for f in found if f.step < step}
        for written in sorted(inputs):
            uses = {i: {o: None for o in found[i].operands if found[i].expression[o].value == written
                        and (sources[i].get(o) is None or found[sources[i][o]].step < step)} for i in members}
            if sum(len(u) for u in uses.values()) < 2:
                continue  # one use is a one-edit repair's business
            for value in sorted(available - {written})[:MAX_CANDIDATES]:
                edits = {i: dict.fromkeys(u, value) for i, u in uses.items() if u}
                results = _recompute(found, sources, members[0], [f.result for f in found], edits)
                if results[final] is not None and abs(results[final] - reference) <= abs(reference) / 1000:
                    return Located(step, (
                        f"likely first error (heuristic, one quantity in place of another): with {format_number(value)} "
                        f"wherever this step uses {format_number(written)}, the later steps' own calculations would reach "
                        f"the reference answer {format_number(reference)}"), "substitution")
    return None


def locate_by_final_terms(problem: str, steps: list[str], reference: Fraction, answer: Fraction) -> Located | None:
    """A total that misses a term or holds one too many, or None. The final calculation is a sum or difference:

    - a number the problem gives that no calculation used, added to it or taken from it, gives the reference
      answer: the term is missing, and the step of the final calculation is the likely first error ("15 + 6 + 6
      = 27" where the 7 green balloons were never counted);
    - one of its terms left out gives the reference answer: the term should not be there, and the likely first
      error is where that term came from (the calculation that computed it, else the latest earlier step that
      writes its number: "the sixth side takes 5 minutes" where the problem has five sides to solve).
    A heuristic: nothing after the final calculation confirms the change, but its candidates are few. Measured on
    the ProcessBench GSM8K development half: a missing term located exactly in 1 of 2, an extra term in 1 of 1."""
    flow_of = SolutionFlow.read(problem, steps, answer)
    if flow_of is None or any(t.kind == "op" and t.text not in "+-" for t in flow_of.found[flow_of.final].expression):
        return None
    found, final, sources = flow_of.found, flow_of.final, flow_of.sources
    flow = found[final]
    used = {f.expression[o].value for f in found for o in f.operands}
    for value in sorted(problem_numbers(problem, conversions=False) - used - {Fraction(0)}):
        if abs(answer + value - reference) <= abs(reference) / 1000 or abs(answer - value - reference) <= abs(reference) / 1000:
            return Located(flow.step, f"likely first error (heuristic, a missing term): {format_number(value)}, which the problem "
                                      f"gives and no step uses, is missing from this total: with it the total is the reference "
                                      f"answer {format_number(reference)}", "missing term")
    terms = flow.operands
    if len(terms) < 3:
        return None
    for operand in sorted(terms, key=lambda o: o in sources[final]):  # a term no calculation computed first
        token = flow.expression[operand]
        edited = [t for i, t in enumerate(flow.expression) if i != operand and not (i == operand - 1 and t.kind == "op")
                  and not (operand == terms[0] and i == operand + 1 and t.kind == "op" and t.text == "+")]
        value = _evaluate(edited)
        if value is None or abs(value - reference) > abs(reference) / 1000:
            continue
        source = sources[final].get(operand)
        step = found[source].step if source is not None else _latest_mention(steps, token.value, flow.step)
        if step is not None:
            return Located(step, f"likely first error (heuristic, an extra term): without {format_number(token.value)} the total "
                                 f"`{' '.join(t.text for t in flow.expression)}` is the reference answer "
                                 f"{format_number(reference)}; this step brings in that {format_number(token.value)}", "extra term")
    return None


def _latest_mention(steps: list[str], value: Fraction, before: int) -> int | None:
    """The latest step before `before` that writes `value`, or None."""
    for index in range(before - 1, -1, -1):
        if any(t.kind == "num" and t.value == value for t in tokenize(normalise(steps[index]))):
            return index
    return None


def single_number(text: str | None) -> Fraction | None:
    """The one number an answer states ("$1,250", "46 stickers"), or None (none, several, or not a number)."""
    from workbench.verify.answer_equivalence import read_numbers

    numbers = read_numbers(text) if text else None
    if numbers is None or len(numbers.members) != 1:
        return None
    return numbers.members[0].value


def last_number(text: str) -> Fraction | None:
    """The last number a step writes: the answer of a closing sentence with no answer marker ("So there are now
    **55 children** following the truck.")."""
    numbers = [t.value for t in tokenize(normalise(text)) if t.kind == "num" and t.value is not None]
    return numbers[-1] if numbers else None


def locate_first_error(problem: str, steps: list[str], reference: str) -> Located | None:
    """Where a solution whose final answer is not `reference` most likely went wrong, or None (see the module
    docstring). The final answer is the last one a step states, else the last number of the last step; both must be
    single numbers."""
    from workbench.seeds.answer_extraction import extract_final_answer

    stated = next((a for a in map(extract_final_answer, reversed(steps)) if a), None)
    expected = single_number(reference)
    answer = single_number(stated) if stated is not None else last_number(steps[-1]) if steps else None
    if expected is None or answer is None or expected == answer:
        return None
    # evidence written in the text first (the answer reached and left, a number nobody gave), then counterfactual
    # searches from the fewest candidates to the most: a coincidence among a handful of totals is rarer than among
    # the hundreds of one-edit repairs
    return (locate_by_overshoot(problem, steps, expected, answer)
            or locate_by_unexplained(problem, steps, answer)
            or locate_by_final_terms(problem, steps, expected, answer)
            or locate_by_repair(problem, steps, expected, answer)
            or locate_by_substitution(problem, steps, expected, answer))


def locate_by_overshoot(problem: str, steps: list[str], reference: Fraction, answer: Fraction) -> Located | None:
    """The step that moved on from the reference answer after a calculation had reached it, or None.

    A calculation before the final one states the reference answer as its result (a value the problem does not give),
    and a later calculation takes that result as an operand: the solution had the answer and went past it ("17 /
    0.25 = 68 beads", then "7 + 68 = 75"). The first such later calculation's step is the likely first error.
    Measured on the ProcessBench GSM8K development half: located exactly in 3 of the 4 solutions it located (the
    other one step late: the step that reached the answer had misnamed it).
    """
    flow_of = SolutionFlow.read(problem, steps, answer)
    if flow_of is None:
        return None
    found, final, given, sources = flow_of.found, flow_of.final, flow_of.given, flow_of.sources
    for index in range(final):
        if found[index].result != reference or reference in given:
            continue
        user = next((j for j in range(index + 1, len(found)) if index in sources[j].values()), None)
        if user is not None and found[user].step > found[index].step:
            reached = " ".join(t.text for t in found[index].expression)
            return Located(found[user].step, (
                f"likely first error (heuristic): `{reached}` had reached the reference answer {format_number(reference)} "
                f"at step {found[index].step + 1}, and this step goes on from it"), "overshoot")
    return None


def _equation_results(steps: list[str]) -> list[list[float]]:
    """For each step, the numeric results of its LaTeX equation chains (values the solution computed in math mode,
    where the prose reader sees a variable: `x = 3 \\times 12`, then `x = 36`)."""
    return [[result for result, _ in equation_results(step)] if "\\" in step or "$" in step else [] for step in steps]


def _closure(values: set[Fraction]) -> set[Fraction]:
    """The values and every x + y, x - y, x * y, x / y of two of them."""
    out = set(values)
    for x in values:
        for y in values:
            out.update((x + y, x - y, x * y))
            if y:
                out.add(x / y)
    return out


def locate_by_unexplained(problem: str, steps: list[str], answer: Fraction | None = None) -> Located | None:
    """The first step that brings in a number the problem never gives and uses it (in a calculation, or as the
    final `answer`), or None.

    A number is explained when the problem gives it (digits, number words, a unit's conversion), when a calculation
    at or before its first mention computed it, or when one operation on the problem's numbers and the results
    before that step gives it (mental arithmetic). A heuristic ("assuming a standard workweek of 5 days"). When the
    step before computed a result with the same unit word ("13 apples", then "12 apples left"), the rationale
    names both: a result restated differently.
    """
    found = flows(steps)
    stated = problem_numbers(problem, conversions=False)
    given = problem_numbers(problem) | {Fraction(0), Fraction(1), Fraction(2), Fraction(100)}
    mentions: dict[Fraction, tuple[int, str | None]] = {}
    for index, step in enumerate(steps):
        for token in tokenize(normalise(step)):
            if token.kind == "num" and token.value is not None and token.value not in mentions:
                mentions[token.value] = (index, token.unit)
    used = [(flow.expression[o].value, f"is used in `{' '.join(t.text for t in flow.expression)}`", flow.step)
            for flow in found for o in flow.operands]
    if answer is not None:
        used.append((answer, "is the final answer", len(steps) - 1))
    solved = _equation_results(steps)
    for value, how, step in used:
        step, unit = mentions.get(value, (step, None))
        if value in given or any(f.result == value and f.step <= step for f in found):
            continue
        if any(abs(float(value) - result) <= 1e-9 * max(1.0, abs(result)) for results in solved[: step + 1]
               for result in results):
            continue
        if value in _closure(stated | {f.result for f in found if f.step < step}):
            continue
        before = next((f for f in reversed(found) if f.step == step - 1 and unit is not None and f.unit == unit), None)
        if before is not None:
            return Located(step, f"likely first error (heuristic): this step states {format_number(value)} {unit} where the step "
                                 f"before computed {format_number(before.result)} {unit}; {format_number(value)} {how}",
                           "restated result")
        return Located(step, f"likely first error (heuristic): {format_number(value)} {how} but the problem never gives it and "
                             "no earlier step computes it", "unexplained quantity")
    return None
