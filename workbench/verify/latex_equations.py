"""Equations in LaTeX math that plain arithmetic cannot read: roots, pi and algebra, checked with sympy.

The prose reader (workbench.verify.calculations) re-computes plain arithmetic exactly and leaves a member with a
variable, `\\sqrt` or `\\pi` unread. This module reads the members of every `a = b = c` chain in a math segment
(`\\(...\\)`, `$...$`, `\\[...\\]`: workbench.verify.math_segments) into sympy and compares each neighbouring pair
where one of them holds such a thing:

- no variable (`\\frac{2}{\\sqrt{2}} = \\sqrt{2}`, `\\sqrt{18} = 3\\sqrt{2}`): both sides are evaluated in double
  precision; a relative difference under 1e-12 holds, over 1e-6 is false (a written decimal may round the exact
  value to the digits it shows: within 0.5% it holds), anything between abstains;
- variables (`(x + y)^2 = x^2 + 2xy + y^2`): an identity holds when both sides agree at three random rational
  points (Schwartz-Zippel: two different rational functions rarely agree there); otherwise the equation may
  be a condition to solve ("x^2 = 8y"), so it abstains: algebra is never called wrong;
- what it abstains on: a lone name on one side (a definition, `V_1 = ...`), functions, sums, binomials,
  factorials, subscripts, trigonometry and logarithms (degrees and bases are ambiguous), inequalities.

The LaTeX is turned into a sympy expression by this module's own small converter (`\\frac`, `\\sqrt`, `\\pi`,
`\\cdot`, `^`, implicit products, one letter per variable as in math italic) and sympy's `parse_expr`: about a
millisecond a member, where math-verify's ANTLR parser (latex2sympy2_extended) takes tens of milliseconds and
reads `\\pi (1.5)` as a function call. Each comparison is bounded (members over 200 characters, exponents over
200 and nested powers are not read).
"""

from __future__ import annotations

import math
import random
import re
from functools import lru_cache
from tokenize import TokenError

from workbench.verify.calculations import Calculation
from workbench.verify.math_segments import math_spans

MAX_MEMBER = 200
POINTS = 3
SEPARATORS = re.compile(r"\\\\|\\quad|\\qquad|\\Rightarrow|\\implies|\\iff|\\Longrightarrow|\\text\{[^{}]*\}|[,;]|"
                        r"\\(?:text|mbox)\b")
RELATIONS = re.compile(r"<|>|\\[lg]eq?\b|\\neq|\\ne\b|\\approx|\\equiv|\\pmod|\\in\b|\\to\b|\\sim|\\propto")
READABLE = re.compile(r"^(?:[0-9a-zA-Z.+\-*/^(){}\[\] ]|\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|div|left|right)"
                      r"(?![A-Za-z])|\\[,;!:])*$")
PLAIN_COMMANDS = re.compile(r"\\(?:[dt]?frac|cdot|times|div|left|right)(?![A-Za-z])")
LETTER = re.compile(r"[A-Za-z]")
BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
FRAC = re.compile(r"\\[dt]?frac\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
SQRT = re.compile(r"\\sqrt\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
SQRT_SHORT = re.compile(r"\\sqrt\s*(\d|[A-Za-z])")
POWER = re.compile(r"\^\s*\{((?:[^{}]|\{[^{}]*\})*)\}|\^\s*(\d|[A-Za-z])")
LETTERS = re.compile(r"[A-Za-z]+")
BIG_EXPONENT = re.compile(r"\*\*\(?\s*\d{4,}|\*\*\([^()]*\*\*")


S_PI = None  # sympy.pi, bound on first use (sympy is imported only where a member is read)


def check_latex_equations(text: str) -> list[Calculation]:
    """Every comparison of neighbouring members that sympy decides, in the text's math segments (see the module).

    An equation in one variable that is no identity ("2x + 3 = 11") holds when the value the same text assigns to
    that variable ("x = 4") satisfies it: evidence that the step is consistent with its own solution, never a
    reason to call it wrong (another case may have another value).
    """
    pairs = []
    for start, end, _ in math_spans(text):
        for chain in SEPARATORS.split(BOXED.sub(r"\1", text[start:end]).replace("&", "")):
            if "=" not in chain or RELATIONS.search(chain):
                continue
            members = [m.strip() for m in chain.split("=")]
            pairs += [(left, right) for left, right in zip(members, members[1:], strict=False)]
    assigned = _assignments(pairs)
    found: list[Calculation] = []
    for left, right in pairs:
        verdict = _compare(left, right, assigned)
        if verdict is not None:
            found.append(Calculation(f"{left} = {right}", verdict[0], verdict[1]))
    return found


def _assignments(pairs: list[tuple[str, str]]) -> dict:
    """{variable: value} for every `x = <a number>` the text states once (a variable given two values is left out)."""
    values: dict = {}
    for left, right in pairs:
        a, b = _expression(left), _expression(right)
        for name, value in ((a, b), (b, a)):
            if name is not None and value is not None and name.is_Symbol and not value.free_symbols:
                values.setdefault(name, set()).add(_value(value, {}))
    return {name: found.pop() for name, found in values.items() if len(found) == 1 and None not in found}


def _compare(left: str, right: str, assigned: dict | None = None) -> tuple[bool, str] | None:
    if not left or not right or left == right or not LETTER.search(PLAIN_COMMANDS.sub("", left + right)):
        return None  # plain arithmetic is the prose reader's (a variable, \sqrt or \pi is this module's)
    a, b = _expression(left), _expression(right)
    if a is None or b is None or a.is_Symbol or b.is_Symbol:
        return None  # unreadable, or a definition: `s = 8\sqrt{3}`
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if not symbols:
        return _numbers_agree(a, b, "." in left + right)
    rng = random.Random(f"{left}={right}")
    for _ in range(POINTS):
        point = {s: rng.randint(2, 97) / rng.randint(2, 13) for s in symbols}
        x, y = _value(a, point), _value(b, point)
        if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x)):
            return _satisfied(a, b, symbols, assigned or {})
    return True, "identity (sympy, checked at random points)"


def _satisfied(a, b, symbols: list, assigned: dict) -> tuple[bool, str] | None:
    """True when the values the text assigns to every variable satisfy the equation; None otherwise (abstain)."""
    if not all(s in assigned for s in symbols):
        return None
    point = {s: assigned[s] for s in symbols}
    x, y = _value(a, point), _value(b, point)
    if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
        return None
    shown = ", ".join(f"{s} = {_show(assigned[s])}" for s in symbols)
    return True, f"holds at {shown}, the value the step finds (sympy)"


def _numbers_agree(a, b, decimal_written: bool) -> tuple[bool, str] | None:
    x, y = _value(a, {}), _value(b, {})
    if x is None or y is None:
        return None
    scale = max(1.0, abs(x), abs(y))
    if abs(x - y) <= 1e-12 * scale:
        return True, "equal (sympy)"
    if decimal_written and abs(x - y) <= 5e-3 * scale:
        return True, "approximately (a written decimal)"
    if abs(x - y) > 1e-6 * scale:
        return False, f"{_show(x)} is not {_show(y)} (sympy)"
    return None


def _show(value: float) -> str:
    return f"{value:.6g}"


def _value(expression, point: dict) -> float | None:
    """The expression's value at `point` ({symbol: float}) in floating point, or None (not real, not finite, or
    holding something other than + * ^, numbers, pi and the variables)."""
    try:
        value = _float(expression, point)
    except (OverflowError, ZeroDivisionError, ValueError, TypeError, KeyError):
        return None
    if value is None or isinstance(value, complex) or value != value or abs(value) == float("inf"):
        return None
    return value


def _float(expression, point: dict) -> float | None:
    if expression.is_Number:
        return float(expression)
    if expression.is_Symbol:
        return point[expression]
    if expression is S_PI:
        return math.pi
    args = [_float(arg, point) for arg in expression.args]
    if any(a is None for a in args):
        return None
    if expression.is_Add:
        return math.fsum(args)
    if expression.is_Mul:
        return math.prod(args)
    if expression.is_Pow:
        base, exponent = args
        if abs(exponent) > 200 or (base < 0 and not float(exponent).is_integer()):
            return None
        return base**exponent
    return None


@lru_cache(maxsize=4096)
def _expression(latex: str):
    """A sympy expression for a member written in the readable subset of LaTeX, or None."""
    if len(latex) > MAX_MEMBER or not READABLE.match(latex):
        return None
    python = _python(latex)
    if python is None or BIG_EXPONENT.search(python):
        return None
    from sympy import Symbol, pi, sqrt

    global S_PI
    S_PI = pi
    from sympy.parsing.sympy_parser import (
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    names = {name: Symbol(name) for name in set(LETTERS.findall(python)) - {"pi", "sqrt"}}
    try:
        return parse_expr(python, local_dict={**names, "pi": pi, "sqrt": sqrt}, evaluate=False,
                          transformations=(*standard_transformations, implicit_multiplication_application))
    except (SyntaxError, TypeError, ValueError, AttributeError, IndexError, TokenError, RecursionError,
            ZeroDivisionError):
        return None


def _python(latex: str) -> str | None:
    text = re.sub(r"\\(?:left|right)|\\[,;!:]", "", latex)
    text = text.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/").replace("\\pi", " pi ")
    for _ in range(4):
        text = FRAC.sub(r"((\1)/(\2))", text)
        text = SQRT.sub(r" sqrt(\1)", SQRT_SHORT.sub(r" sqrt(\1)", text))
        text = POWER.sub(lambda m: f"**({m[1] if m[1] is not None else m[2]})", text)
    if "\\" in text:
        return None
    text = text.replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    # math italic: every letter is its own variable ("xy" is x times y), save the names sympy needs
    return LETTERS.sub(lambda m: m[0] if m[0] in ("pi", "sqrt") else " " + "*".join(m[0]) + " ", text)
