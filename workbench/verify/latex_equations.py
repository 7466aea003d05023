"""Equations in LaTeX math that plain arithmetic cannot read: roots, pi and algebra.

The prose reader (workbench.verify.calculations) re-computes plain arithmetic exactly and leaves a member with a
variable, `\\sqrt` or `\\pi` unread. This module reads the members of every `a = b = c` chain in a math segment
(`\\(...\\)`, `$...$`, `\\[...\\]`: workbench.verify.math_segments) with workbench.verify.latex_members and
compares each neighbouring pair where one of them holds such a thing:

- no variable (`\\frac{2}{\\sqrt{2}} = \\sqrt{2}`, `\\sqrt{18} = 3\\sqrt{2}`): both sides are evaluated in double
  precision; a relative difference under 1e-12 holds, over 1e-6 is false (a written decimal may round the exact
  value to the digits it shows: within 0.5% it holds), anything between abstains;
- variables (`(x + y)^2 = x^2 + 2xy + y^2`): an identity holds when both sides agree at three random rational
  points (Schwartz-Zippel: two different rational functions rarely agree there); otherwise the equation may
  be a condition to solve ("x^2 = 8y"), so it abstains: algebra is never called wrong;
- what it abstains on: a lone name on one side (a definition, `V_1 = ...`), functions, sums, binomials,
  factorials, subscripts, trigonometry and logarithms (degrees and bases are ambiguous), inequalities.

Members are read by workbench.verify.latex_members (`\\frac`, `\\sqrt`, `\\pi`, `\\cdot`, `^`, implicit products,
one letter per variable as in math italic) into a compiled evaluator: tens of microseconds a member, where
sympy's `parse_expr` took about a millisecond and math-verify's ANTLR parser (latex2sympy2_extended) tens of
milliseconds (and reads `\\pi (1.5)` as a function call). Each comparison is bounded (members over 200
characters, exponents over 200 and nested powers are not read).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from workbench.verify.calculations import Calculation
from workbench.verify.latex_members import Member, read_member
from workbench.verify.math_segments import math_spans

SEPARATORS = re.compile(r"\\\\|\\quad|\\qquad|\\Rightarrow|\\implies|\\iff|\\Longrightarrow|\\text\{[^{}]*\}|[,;]|"
                        r"\\(?:text|mbox)\b")
RELATIONS = re.compile(r"<|>|\\[lg]eq?\b|\\neq|\\ne\b|\\approx|\\equiv|\\pmod|\\in\b|\\to\b|\\sim|\\propto")
PLAIN_COMMANDS = re.compile(r"\\(?:[dt]?frac|cdot|times|div|left|right)(?![A-Za-z])")
LETTER = re.compile(r"[A-Za-z]")
BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")


Conditions = list[tuple[str, tuple[float, ...]]]  # equations with variables that are no identity: (text, left - right)


def check_latex_equations(text: str, conditions: Conditions | None = None) -> list[Calculation]:
    """Every comparison of neighbouring members that can be decided, in the text's math segments (see the module).

    An equation in one variable that is no identity ("2x + 3 = 11") holds when the value the same text assigns to
    that variable ("x = 4") satisfies it: evidence that the step is consistent with its own solution, never a
    reason to call it wrong (another case may have another value). An equation that is an earlier one rearranged
    holds (`_equivalent`); `conditions` holds the equations of the steps before and receives this text's.
    """
    pairs = [pair for members in equation_chains(text) for pair in zip(members, members[1:], strict=False)]
    assigned: dict[str, float] | None = None

    def assignments() -> dict[str, float]:
        nonlocal assigned
        if assigned is None:
            assigned = _assignments(pairs)
        return assigned

    found: list[Calculation] = []
    conditions = [] if conditions is None else conditions
    for left, right in pairs:
        verdict = _compare(left, right, assignments)
        difference = _difference(left, right)
        if verdict is None and difference is not None:
            verdict = _equivalent(f"{left} = {right}", difference, conditions)
        if difference is not None:
            conditions.append((f"{left} = {right}", difference))
        if verdict is not None:
            found.append(Calculation(f"{left} = {right}", verdict[0], verdict[1]))
    return found


def _difference(left: str, right: str) -> tuple[float, ...] | None:
    """left - right at the sample points, for an equation with variables that is no identity; else None."""
    if not LETTER.search(PLAIN_COMMANDS.sub("", left + right)):
        return None  # no variable: plain arithmetic
    a, b = read_member(left), read_member(right)
    if a is None or b is None or not (a.symbols or b.symbols):
        return None
    out = []
    for x, y in zip(a.samples, b.samples, strict=True):
        if x is None or y is None or abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)):
            return None
        out.append(x - y)
    return tuple(out)


def _equivalent(written: str, difference: tuple[float, ...], conditions: Conditions) -> tuple[bool, str] | None:
    """Holds when an earlier equation of the text is this one rearranged: its left minus right side is a constant
    multiple of this one's at every sample point (both sides moved, multiplied or divided by a number). A repeated
    equation is no derivation; anything else (squared, divided by a variable, substituted) abstains."""
    plain = "".join(written.split())
    for earlier, before in conditions:
        if "".join(earlier.split()) == plain:
            continue
        ratios = [x / y for x, y in zip(before, difference, strict=True)]
        if all(abs(r - ratios[0]) <= 1e-9 * abs(ratios[0]) for r in ratios):
            return True, f"the equation `{earlier}` rearranged (an equivalent equation)"
    return None


def equation_chains(text: str) -> list[list[str]]:
    """The members of every `a = b = c` chain in the text's math segments, in order (chains end at `\\\\`, `\\quad`,
    `\\Rightarrow`, `\\text{...}`, commas; chains with an inequality or another relation are left out)."""
    chains = []
    for start, end, _ in math_spans(text):
        for chain in SEPARATORS.split(BOXED.sub(r"\1", text[start:end]).replace("&", "")):
            if "=" in chain and not RELATIONS.search(chain):
                chains.append([m.strip().rstrip(".").rstrip() for m in chain.split("=")])  # a sentence's full stop
    return chains


def equation_results(text: str) -> list[tuple[float, str]]:
    """(value, chain) for every chain in the text's math whose last member is a number (`x = \\frac{4}{13}`,
    `V = \\frac{4}{3}\\pi \\cdot 27 = 36\\pi`): the results the text states."""
    out = []
    for members in equation_chains(text):
        last = read_member(members[-1]) if len(members) > 1 else None
        if last is not None and not last.symbols and last.samples[0] is not None:
            out.append((last.samples[0], " = ".join(members)))
    return out


def _assignments(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """{variable: value} for every `x = <a number>` the text states once (a variable given two values is left out)."""
    values: dict[str, set[float | None]] = {}
    for left, right in pairs:
        for name_side, value_side in ((left, right), (right, left)):
            if len(LETTER.findall(name_side)) != 1 or not value_side:
                continue  # only a lone variable names a value (`x`, `(x)`)
            name, value = read_member(name_side), read_member(value_side)
            if name is not None and value is not None and name.name is not None and not value.symbols:
                values.setdefault(name.name, set()).add(value.value())
    return {name: found.pop() for name, found in values.items() if len(found) == 1 and None not in found}


def _compare(left: str, right: str, assignments: Callable[[], dict[str, float]] = dict) -> tuple[bool, str] | None:
    if not left or not right or left == right or not LETTER.search(PLAIN_COMMANDS.sub("", left + right)):
        return None  # plain arithmetic is the prose reader's (a variable, \sqrt or \pi is this module's)
    a, b = read_member(left), read_member(right)
    if a is None or b is None or a.name is not None or b.name is not None:
        return None  # unreadable, or a definition: `s = 8\sqrt{3}`
    if not a.symbols and not b.symbols:
        return _numbers_agree(a.samples[0], b.samples[0], "." in left + right)
    for x, y in zip(a.samples, b.samples, strict=True):  # at workbench.verify.latex_members.SAMPLE_POINTS
        if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x)):
            return _satisfied(a, b, sorted(set(a.symbols) | set(b.symbols)), assignments())
    return True, "identity (checked at random points)"


def _satisfied(a: Member, b: Member, symbols: list[str], assigned: dict[str, float]) -> tuple[bool, str] | None:
    """True when the values the text assigns to every variable satisfy the equation; None otherwise (abstain)."""
    if not all(s in assigned for s in symbols):
        return None
    point = {s: assigned[s] for s in symbols}
    x, y = a.value(point), b.value(point)
    if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
        return None
    shown = ", ".join(f"{s} = {_show(assigned[s])}" for s in symbols)
    return True, f"holds at {shown}, the value the step finds"


def _numbers_agree(x: float | None, y: float | None, decimal_written: bool) -> tuple[bool, str] | None:
    if x is None or y is None:
        return None
    scale = max(1.0, abs(x), abs(y))
    if abs(x - y) <= 1e-12 * scale:
        return True, "equal"
    if decimal_written and abs(x - y) <= 5e-3 * scale:
        return True, "approximately (a written decimal)"
    if abs(x - y) > 1e-6 * scale:
        return False, f"{_show(x)} is not {_show(y)}"
    return None


def _show(value: float) -> str:
    return f"{value:.6g}"
