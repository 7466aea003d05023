"""One member of a LaTeX equation (`\\frac{4}{3}\\pi r^3`, `3\\sqrt{2}`) read into a small postfix program.

The readable subset: numbers, `+ - * /`, `\\frac`/`\\dfrac`/`\\tfrac`, `\\sqrt`, `\\pi`, `\\cdot`, `\\times`,
`\\div`, `^`, brackets and implicit products (`2\\pi r`, `2(3 + 4)`, `(x + 1)(x - 1)`), every letter its own
variable as in math italic (`xy` is x times y). Anything else (functions, subscripts, `\\sum`, `!`, inequalities)
is not read: `read_member` returns None and the caller abstains.

How: a small converter turns the LaTeX into Python's notation (`**`, `sqrt(...)`, `pi`), and a recursive-descent
reader in Python's precedence, where a value right after a value multiplies it, writes the member as a postfix
program. Evaluation is in double precision: sums are exact-rounded (`math.fsum`, so `10^{20} + \\sqrt{2} - 10^{20}`
keeps its `\\sqrt{2}`), a power with an exponent over 200 in size or a negative base under a fractional exponent
is undefined, and so is anything not real or not finite. This is the reading sympy's `parse_expr` with implicit
multiplication gave (the same verdicts on every step of the ProcessBench development halves), whose expression
was evaluated in floating point anyway: sympy cost about a millisecond a member, this reader tens of microseconds.
"""

from __future__ import annotations

import math
import random
import re
import string
from dataclasses import dataclass, replace
from functools import lru_cache

MAX_MEMBER = 200
MAX_EXPONENT = 200
READABLE = re.compile(r"^(?:[0-9a-zA-Z.+\-*/^(){}\[\] ]|\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|div|left|right)"
                      r"(?![A-Za-z])|\\[,;!:])*$")
TOKEN = re.compile(r"(?P<num>\d+\.?\d*|\.\d+)|(?P<letters>(?<![A-Za-z])pi(?![A-Za-z])|[A-Za-z])|(?P<command>\\[A-Za-z]+|\\[,;!:])"
                   r"|(?P<op>[-+*/^])|(?P<open>[({\[])|(?P<close>[)}\]])|(?P<space>\s+)")
COMMANDS = {"frac": ("frac", "frac"), "dfrac": ("frac", "frac"), "tfrac": ("frac", "frac"), "sqrt": ("sqrt", "sqrt"),
            "pi": ("pi", "pi"), "cdot": ("op", "*"), "times": ("op", "*"), "div": ("op", "/"), "left": None,
            "right": None, ",": None, ";": None, "!": None, ":": None}
CLOSING = {"(": ")", "{": "}", "[": "]"}
VALUE_STARTS = frozenset(("num", "letters", "pi", "frac", "sqrt", "open"))


def _sample_points(count: int) -> tuple[dict[str, float], ...]:
    """`count` points giving every letter a rational value p/q (p in 2..97, q in 2..13), distinct within a point:
    the points an identity is tested at (Schwartz-Zippel: two different rational functions rarely agree there)."""
    rng = random.Random(20241212)
    points = []
    for _ in range(count):
        point: dict[str, float] = {}
        for letter in string.ascii_letters:
            value = rng.randint(2, 97) / rng.randint(2, 13)
            while value in point.values():
                value = rng.randint(2, 97) / rng.randint(2, 13)
            point[letter] = value
        points.append(point)
    return tuple(points)


SAMPLE_POINTS = _sample_points(3)


@dataclass(frozen=True)
class Member:
    """A readable member: its variables (sorted names), the variable it is when it is a lone name (`x`, a
    definition's left side), its operations in postfix order and its values at `SAMPLE_POINTS` (None where
    undefined; for a member without variables, its value three times)."""

    symbols: tuple[str, ...]
    name: str | None
    program: tuple[tuple[str, object], ...]
    samples: tuple[float | None, ...] = ()

    def value(self, point: dict[str, float] | None = None) -> float | None:
        """The member's value with `point` ({variable: value}) in double precision; None when it is undefined
        (division by zero, a negative root, an overflow), not real or a variable has no value."""
        stack: list[float] = []
        try:
            for operation, argument in self.program:
                if operation == "num":
                    stack.append(argument)
                elif operation == "var":
                    stack.append(point[argument])  # type: ignore[index]
                elif operation == "sum":
                    terms = stack[-argument:]
                    del stack[-argument:]
                    stack.append(math.fsum(terms))
                elif operation == "neg":
                    stack.append(-stack.pop())
                elif operation == "sqrt":
                    stack.append(math.sqrt(stack.pop()))
                else:
                    right = stack.pop()
                    left = stack.pop()
                    stack.append(left * right if operation == "*" else left / right if operation == "/"
                                 else _pow(left, right))
        except (OverflowError, ZeroDivisionError, ValueError, TypeError, KeyError):
            return None
        value = stack[-1]
        if value != value or abs(value) == math.inf:
            return None
        return value


def _pow(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT or (base < 0 and not float(exponent).is_integer()):
        raise ValueError("power not checked")
    return base**exponent


@lru_cache(maxsize=8192)
def read_member(latex: str) -> Member | None:
    """The member written in `latex`, or None when it is outside the readable subset (see the module)."""
    if len(latex) > MAX_MEMBER or not READABLE.match(latex):
        return None
    tokens = _tokens(latex)
    if tokens is None:
        return None
    reader = _Reader(tokens)
    try:
        reader.expression()
    except (SyntaxError, RecursionError):
        return None
    if reader.peek()[0] != "end" or not reader.program:
        return None
    program = tuple(reader.program)
    names = sorted({argument for operation, argument in program if operation == "var"})
    name = program[0][1] if len(program) == 1 and program[0][0] == "var" else None
    member = Member(tuple(names), name, program)  # type: ignore[arg-type]
    samples = tuple(member.value(point) for point in SAMPLE_POINTS) if names else (member.value(),) * len(SAMPLE_POINTS)
    return replace(member, samples=samples)


def _tokens(latex: str) -> list[tuple[str, str]] | None:
    """(kind, text) of every token: num, letters (one letter, or `pi`), frac, sqrt, pi, op (+ - * / ^), open, close; None on
    anything else. `\\left`, `\\right` and spacing commands are dropped."""
    out: list[tuple[str, str]] = []
    position = 0
    for match in TOKEN.finditer(latex):
        if match.start() != position:
            return None
        position = match.end()
        kind = match.lastgroup
        if kind == "command":
            command = COMMANDS.get(match[0].lstrip("\\"))
            if command is not None:
                out.append(command)
        elif kind != "space":
            out.append((kind, match[0]))  # type: ignore[arg-type]
    out.append(("end", ""))
    return out if position == len(latex) else None


class _Reader:
    """Recursive descent over the tokens, in Python's precedence (what sympy's `parse_expr` with implicit
    multiplication read from the LaTeX written in Python's notation): sums, then products (a value right after a
    value multiplies it: `2\\pi r`, `2(3)`), then unary signs, then right-associative powers (`-x^2` is -(x^2)).
    `^` and `\\sqrt` without braces take one character (`2^10` is 2^1 times 0, as LaTeX sets it). Writes postfix."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0
        self.program: list[tuple[str, object]] = []

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position]

    def expression(self) -> None:
        self.term()
        terms = 1
        while (token := self.tokens[self.position])[0] == "op" and token[1] in "+-":
            self.position += 1
            self.term()
            if token[1] == "-":
                self.program.append(("neg", None))
            terms += 1
        if terms > 1:
            self.program.append(("sum", terms))

    def term(self) -> None:
        self.unary()
        while True:
            kind, text = self.tokens[self.position]
            if kind == "op" and text in "*/":
                self.position += 1
                self.unary()
                self.program.append((text, None))
            elif kind in VALUE_STARTS:
                self.unary()  # an implicit product
                self.program.append(("*", None))
            else:
                return

    def unary(self) -> None:
        kind, text = self.tokens[self.position]
        if kind == "op" and text in "+-":
            self.position += 1
            self.unary()
            if text == "-":
                self.program.append(("neg", None))
            return
        self.power()

    def power(self) -> None:
        self.atom()
        kind, text = self.tokens[self.position]
        if kind == "op" and text == "^":
            self.position += 1
            self.argument()
            self.exponent_rest()

    def exponent_rest(self) -> None:
        """Close a power; a power written right after it (`2^{3}^{2}`) is its exponent's (right-associative)."""
        kind, text = self.tokens[self.position]
        if kind == "op" and text == "^":
            self.position += 1
            self.argument()
            self.exponent_rest()
        self.program.append(("**", None))

    def argument(self) -> None:
        """A braced group, or the one character after `^` or `\\sqrt`."""
        kind, text = self.tokens[self.position]
        if kind == "open" and text == "{":
            self.atom()
        elif kind in ("num", "letters"):
            first, rest = text[0], text[1:]
            if first == ".":
                raise SyntaxError("a decimal point after ^")
            if rest:
                self.tokens[self.position] = (kind, rest)
            else:
                self.position += 1
            self.program.append(("num", float(first)) if kind == "num" else ("var", first))
        else:
            raise SyntaxError(f"unexpected {text!r} after ^ or \\sqrt")

    def atom(self) -> None:
        kind, text = self.tokens[self.position]
        self.position += 1
        if kind == "num":
            if text == ".":
                raise SyntaxError("a decimal point alone")  # what is left of `x^2.` after the exponent
            self.program.append(("num", float(text)))
        elif kind == "pi":
            self.program.append(("num", math.pi))
        elif kind == "letters":  # a letter is a variable (math italic: `xy` is x times y); `pi` written plainly is pi
            self.program.append(("num", math.pi) if text == "pi" else ("var", text))
        elif kind == "frac":
            for _ in range(2):
                if self.tokens[self.position] != ("open", "{"):
                    raise SyntaxError("\\frac without braces")
                self.atom()
            self.program.append(("/", None))
        elif kind == "sqrt":
            if self.tokens[self.position] == ("open", "["):
                raise SyntaxError("a root other than the square root")
            self.argument()
            self.program.append(("sqrt", None))
        elif kind == "open":
            self.expression()
            closing, written = self.tokens[self.position]
            if closing != "close" or CLOSING[text] != written:
                raise SyntaxError("unclosed bracket")
            self.position += 1
        else:
            raise SyntaxError(f"unexpected {text!r}")

