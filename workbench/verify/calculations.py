"""Every calculation written in a step's text, parsed and re-computed exactly.

The reading behind the arithmetic verifier (workbench.verify.verifiers.arithmetic) and the first-error locator
(workbench.verify.first_error): `find_calculations(text)` returns each written calculation with whether it holds,
its computing side's tokens and the result the text states. How real solutions are read is described in the
verifier's docstring; the reading of numbers and operators is workbench.verify.written_arithmetic's, LaTeX math is
made safe first by workbench.verify.math_segments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from workbench.core.wording import plural
from workbench.verify.math_segments import mark_math
from workbench.verify.written_arithmetic import (
    APPROX_WORDS,
    EQUALITY_WORDS,
    OPERATOR_WORDS,
    STOP_WORDS,
    Parser,
    Token,
    Unsupported,
    Value,
    tokenize,
)
from workbench.verify.written_arithmetic import normalise as normalise_arithmetic

STEP_LABEL = re.compile(r"^\s*(?:[*#]+\s*)?(?:step\s*\d+|\d+\s*[.)](?!\d))\s*[:.)\-]?\s*(?:\*+\s*)?", re.IGNORECASE)
# "the units digit of 16^17 is 6", "the remainder of 194 / 11 is 7": a function of the expression, not its value
FUNCTION_NOUNS = {"digit", "digits", "remainder", "remainders", "factor", "factors", "divisor", "divisors", "multiple",
                  "multiples", "root", "roots", "square", "cube", "reciprocal", "inverse", "logarithm", "log", "sine",
                  "cosine", "tangent", "floor", "ceiling", "gcd", "lcm", "modulo", "mod", "parity", "sign", "conjugate",
                  "opposite", "negative", "exponent", "residue"}
# where the tokenizer ends a clause (its separators), and what a clause needs to state a value
CLAUSE_END = re.compile(r'\.(?!\d)|[,;:!?\n\[\]"<>|&±]')
RELATION = re.compile(r"[=≈~]|\b(?:" + "|".join(sorted(EQUALITY_WORDS | APPROX_WORDS)) + r")\b", re.IGNORECASE)
OPERATION = re.compile(r"[-+*/^(]|(?<![A-Za-z])x(?![A-Za-z])|\b(?:" + "|".join(sorted({*OPERATOR_WORDS, "of"})) + r")\b",
                       re.IGNORECASE)
DIGIT = re.compile(r"\d")
RATE_WRITTEN = re.compile(r"\s?PER(?=[A-Za-z])")  # "400 PERmonth" as written: "400/month"
# a calculator's floating-point result written out in full (GSM8K annotations: "<<0.06*60=3.5999999999999996>>")
FLOAT_DECIMALS = 10
FLOAT_ERROR = Fraction(1, 10**12)
ROUNDING_CUE = re.compile(r"\b(?:full|whole|complete|round(?:ed|ing)?|nearest|down|up|quotient)\b", re.IGNORECASE)


# "$105 (lost income) - $90 (fee)", "15 (\text{light blue}) + 45", "17 inches (remaining space)", "300 (from step 2)",
# "2 (quotient)": a label or remark in brackets after a number or its unit, opening with a word of two letters or more
BRACKETED_LABEL = re.compile(r"(?<=[\d%])(\s*(?:[A-Za-z]+\s*)?)\(\s*([A-Za-z]{2,})\b[^()]*\)")


def normalise(text: str) -> str:
    """A step's arithmetic in plain ASCII (see workbench.verify.written_arithmetic), its 'Step k:' label removed."""
    text = normalise_arithmetic(mark_math(STEP_LABEL.sub("", text, count=1)))
    return BRACKETED_LABEL.sub(_label, text) if "(" in text else text


def _label(match: re.Match) -> str:
    """A bracketed label or remark after a number is dropped, its first word kept as the number's label ("2
    quotient", "105 lost"), unless it is a word like "from" that would break the calculation."""
    word = match[2]
    return match[1] + (f" {word} " if word.lower() not in STOP_WORDS else " ")


@dataclass
class Calculation:
    """One written calculation and whether it holds: `expression` is the computing side's tokens (its numbers are
    the operands), `result` the value the text states for it (what later steps carry forward)."""

    text: str
    holds: bool
    detail: str
    expression: list[Token] = field(default_factory=list, repr=False)
    result: Fraction | None = None
    unit: str | None = None  # the word written after the stated result ("13 apples")


def format_number(number: Fraction | None) -> str:
    """A value as a rationale shows it: 24, 0.5, or 1/3 ≈ 0.333333."""
    if number is None:
        return "undefined (division by zero)"
    if number.denominator == 1:
        return str(number.numerator)
    decimal = float(number)
    exact = Fraction(decimal).limit_denominator(10**9) == number and len(repr(decimal)) < 14
    return repr(decimal) if exact else f"{number.numerator}/{number.denominator} ≈ {decimal:.6g}"


def _no_cue() -> str | None:
    return None


def _equal(left: Value, right: Value, approximate: bool,
           rounding_cue: Callable[[], str | None] = _no_cue) -> tuple[bool, str]:
    """Exact equality, or agreement to the precision a written number (or '≈') shows; a whole number for a quotient
    when the sentence says it was rounded (`rounding_cue`: "6 full boxes") or is the quotient of a whole-number
    division ("2 (quotient)": the floor)."""
    if left.number is None or right.number is None:
        return False, "division by zero"
    if left.number == right.number:
        return True, "exact"
    for computed, written in ((left, right), (right, left)):
        token = written.literal
        if token is None:
            continue
        if token.percent and not computed.percent and computed.number == token.value * 100:
            return True, "percentage written as its number of percent"
        difference = abs(computed.number - written.number)
        if approximate and difference <= max(token.precision / 2, abs(written.number) / 100):
            return True, "approximately"
        if token.decimals > 0 and difference <= token.precision / 2:
            return True, f"rounded to {plural(token.decimals, 'decimal')}"
        if token.decimals > 0 and difference < token.precision and _truncated(computed.number, token.decimals) == written.number:
            return True, f"cut to {plural(token.decimals, 'decimal')}"  # 370 / 110 = 3.363
        if token.decimals >= FLOAT_DECIMALS and difference <= abs(computed.number) * FLOAT_ERROR:
            return True, "a calculator's floating-point rendering"  # 0.06*60=3.5999999999999996
        if token.value.denominator == 1 and computed.number.denominator != 1 and difference < 1 and (cue := rounding_cue()):
            if cue != "quotient":
                return True, "rounded to a whole number"
            if token.value == math.floor(computed.number):
                return True, "the quotient of a whole-number division"
    return False, "false"


def _truncated(number: Fraction, decimals: int) -> Fraction:
    """`number` with its digits after the first `decimals` decimals dropped (toward zero)."""
    scale = 10**decimals
    return Fraction(math.trunc(number * scale), scale)


def find_calculations(text: str) -> tuple[list[Calculation], list[str]]:
    """Every checkable calculation in a text, and notes on what was skipped (algebra, functions...)."""
    normalised = normalise(text)
    calculations: list[Calculation] = []
    skipped: list[str] = []
    for clause in _clauses(normalised):
        if not any(t.kind in ("eq", "approx") for t in clause):
            continue  # a calculation states its value: a clause without "=", "is" or "≈" holds none
        if any(t.kind == "var" for t in clause):
            # only the members of a chain free of variables are compared: `V = 4/3 π r^3 = 4/3 * 27 = 36` checks the last
            skipped.append(f"`{_span(normalised, clause)}` has variables or functions")
        start, end = clause[0].start, clause[-1].end + 40

        def rounding_cue(start: int = start, end: int = end) -> str | None:
            """The word saying a quotient was rounded ("6 full boxes") or is a whole-number quotient, or None."""
            cue = ROUNDING_CUE.search(normalised, start, end)
            return cue[0].lower() if cue is not None else None

        reaches = _reaches_relation(clause)
        position = 0
        while position < len(clause):
            if not reaches[position] or clause[position].kind not in ("num", "lp", "op"):
                position += 1
                continue
            end = _chain(normalised, clause, position, calculations, skipped, rounding_cue)
            position = max(end, position + 1)
    return _once_each(calculations), skipped


EXPRESSION_KINDS = frozenset(("num", "op", "lp", "rp", "of"))


def _reaches_relation(clause: list[Token]) -> list[bool]:
    """For each token: whether only expression tokens lie between it and the next relation ("=", "is", "≈"). A
    chain's first member ends at a relation, so a start with a word or variable before the next one begins none."""
    reaches = [False] * len(clause)
    open_to_relation = False
    for index in range(len(clause) - 1, -1, -1):
        kind = clause[index].kind
        if kind in ("eq", "approx"):
            open_to_relation = True
        elif kind in EXPRESSION_KINDS:
            reaches[index] = open_to_relation
        else:
            open_to_relation = False
    return reaches


def _once_each(calculations: list[Calculation]) -> list[Calculation]:
    """A GSM8K annotation that repeats the visible calculation (`6*4 = <<6*4=24>>24`) counts once."""
    seen: set[str] = set()
    unique = []
    for calculation in calculations:
        key = "".join(calculation.text.split())
        if key not in seen:
            seen.add(key)
            unique.append(calculation)
    return unique


def _clauses(text: str) -> Iterator[list[Token]]:
    """The tokens of each clause (text between separators: `,;:!?.[]"<>|&±` and line breaks) that may hold a
    calculation: a relation ("=", "≈", "is", "about"...), an operation (a sign, a bracket, "times", "of"...) and a
    digit; any other clause is never tokenized."""
    start = 0
    for match in (*CLAUSE_END.finditer(text), None):
        end = match.end() if match is not None else len(text)
        if DIGIT.search(text, start, end) and RELATION.search(text, start, end) and OPERATION.search(text, start, end):
            clause = tokenize(text, start, end)
            if clause and match is not None and clause[-1].kind == "break" and clause[-1].start == match.start():
                clause.pop()
            if clause:
                yield clause
        start = end


def _span(text: str, tokens: list[Token]) -> str:
    """The written text of a token range, rates shown as written ("400 PERmonth" -> "400/month")."""
    written = " ".join(text[tokens[0].start : tokens[-1].end].split())
    return RATE_WRITTEN.sub("/", written) if "PER" in written else written


@dataclass
class _Part:
    """One side of a written equality: its value, token range, operation count and leading number."""

    value: Value
    start: int
    end: int
    operators: int
    leading: Fraction | None


def _chain(text: str, clause: list[Token], start: int, out: list[Calculation], skipped: list[str],
           rounding_cue: Callable[[], str | None] = _no_cue) -> int:
    """Parse `expr (= expr)+` from start; record its calculations; return where parsing stopped."""
    # "Total cookies / 12 = 66 / 12", "3x + 2 * 5": the first term is a word or a variable away;
    # "the units digit of 16^17 is 6": an argument of a function, not the value
    previous = clause[start - 1] if start > 0 else None
    detached = previous is not None and (previous.kind in ("op", "var", "rp") or _function_argument(clause, start))
    if previous is not None and previous.kind == "of":  # "the 291st digit in the expansion of 1/37 is 7"
        detached = detached or _word_copula_follows(clause, start)
    if _spaced_sign(clause, start):
        if previous is not None and previous.kind in ("break", "var", "rp"):
            return _skip_fragment(clause, start)  # "... red - 8 blue = 5": its first term is a word away
        start += 1  # a list bullet "- 5 + 3 = 8"
    parts: list[_Part] = []
    relations: list[Token] = []
    position = start
    while True:
        parser = Parser(clause, position)
        try:
            value = parser.expression()
        except SyntaxError:
            break
        except Unsupported as exc:
            skipped.append(f"`{_span(text, clause[start:])}`: {exc}")
            return len(clause)
        except ZeroDivisionError:
            value = Value(None)
        if parser.position < len(clause) and clause[parser.position].kind in ("var", "lp") \
                and not _remark(clause, parser.position):
            break  # "36 = 50 - 50 cos C", "43 = 3ab": a coefficient of a variable, not a value
        parts.append(_Part(value, position, parser.position, parser.operators, parser.leading))
        position = parser.position
        if position < len(clause) and clause[position].kind in ("eq", "approx"):
            relations.append(clause[position])
            position += 1
            continue
        break
    if len(parts) < 2 or sum(p.operators for p in parts) == 0:
        return parts[0].end if parts else start + 1
    if detached:
        parts, relations = parts[1:], relations[1:]
    for left, right, relation in zip(parts, parts[1:], relations, strict=False):
        if not _is_claim(left, right, relation) or _scale(clause, left, right):
            continue
        approximate = relation.kind == "approx"
        holds, how = _equal(left.value, right.value, approximate, rounding_cue)
        remainder = _remainder(clause, right.end) if left.operators and right.value.literal is not None else None
        if remainder is not None:
            holds, how = _division_with_remainder(clause, left, right.value.literal.value, remainder)
        if not holds and right.operators and right.leading is not None and left.value.number == right.leading:
            # a running calculation: "20 * 2 = 40 + 10 = 50" states 20 * 2 = 40, then 40 + 10 = 50
            leading_end = next(i for i in range(right.start, right.end) if clause[i].kind == "num") + 1
            out.append(Calculation(_span(text, clause[left.start : leading_end]), True, "running calculation",
                                   clause[left.start : left.end], right.leading))
            continue
        written = _span(text, clause[left.start : right.end])
        computed, stated = (left, right) if left.operators else (right, left)
        detail = how if holds or remainder is not None else f"{_span(text, clause[computed.start : computed.end])} is {format_number(computed.value.number)}"
        unit = stated.value.literal.unit if stated.value.literal is not None else None
        out.append(Calculation(written, holds, detail, clause[computed.start : computed.end], stated.value.number, unit))
    return parts[-1].end


def _remark(clause: list[Token], position: int) -> bool:
    """A bracket that opens words: "= 2.67 (round up to 3)" is a remark after the value, not a product."""
    following = clause[position + 1] if position + 1 < len(clause) else None
    return clause[position].kind == "lp" and following is not None and following.kind == "break"


def _is_claim(left: _Part, right: _Part, relation: Token) -> bool:
    """False for restatements ("3 hours = 180 minutes") and for counts before a copula ("4 tickets is 12 x 4")."""
    if not left.operators and not right.operators:
        return False
    if not left.operators and left.value.literal is not None:
        return not (left.value.literal.labelled or relation.text.lower() in EQUALITY_WORDS)
    return True


def _function_argument(clause: list[Token], start: int) -> bool:
    """True when the expression at `start` is an argument of a function noun: "the remainder of 194 / 11 is 7",
    "the gcd of 6^2 * 10 and 15^4 is 15" (both arguments)."""
    index = start - 1
    while index > 0 and (clause[index].kind in ("num", "op", "lp", "rp") or clause[index].text.lower() == "and"):
        index -= 1
    return index > 0 and clause[index].kind == "of" and clause[index - 1].text.lower() in FUNCTION_NOUNS


def _word_copula_follows(clause: list[Token], start: int) -> bool:
    """True when the first relation after `start` is a word ("is", "gives"), not a sign."""
    relation = next((t for t in clause[start:] if t.kind in ("eq", "approx")), None)
    return relation is not None and relation.text.lower() in EQUALITY_WORDS


def _remainder(clause: list[Token], end: int) -> Fraction | None:
    """The remainder written after a quotient ("= 496 remainder 2", "= 101 with a remainder of 1"), or None."""
    window = clause[end - 1 : end + 5]
    mentioned = any(t.text.lower() == "remainder" or t.unit == "remainder" for t in window)
    number = next((t for t in window[1:] if t.kind == "num"), None)
    return number.value if mentioned and number is not None else None


def _division_with_remainder(clause: list[Token], division: _Part, quotient: Fraction,
                             remainder: Fraction) -> tuple[bool, str]:
    """`a / b = q remainder r` holds when a = q * b + r with 0 <= r < |b| (whole-number division)."""
    tokens = clause[division.start : division.end]
    slash = next((i for i, t in enumerate(tokens) if t.kind == "op" and t.text == "/"), None)
    try:
        dividend = Parser(tokens[:slash], 0).expression().number if slash else None
        divisor = Parser(tokens[slash + 1 :], 0).expression().number if slash else None
    except (SyntaxError, Unsupported, ZeroDivisionError):
        dividend = divisor = None
    if dividend is None or divisor is None or divisor == 0 or dividend.denominator != 1 or divisor.denominator != 1:
        return False, "not a whole-number division"
    holds = dividend == quotient * divisor + remainder and 0 <= remainder < abs(divisor)
    return holds, "whole-number division" if holds else f"{dividend} = {dividend // divisor} x {divisor} + {dividend % divisor}"


def _scale(clause: list[Token], left: _Part, right: _Part) -> bool:
    """A written fraction in one unit equal to a number in another ("1/2 inch = 20 miles"): a scale, not a calculation."""
    written = clause[left.start : left.end]
    literal = right.value.literal
    return (left.operators == 1 and literal is not None and literal.unit is not None
            and written[-1].unit not in (None, literal.unit) and all(t.unit is None for t in written[:-1])
            and all(t.kind in ("lp", "rp") or (t.kind == "op" and t.text == "/") or (t.kind == "num" and t.value.denominator == 1)
                    for t in written))


def _spaced_sign(clause: list[Token], start: int) -> bool:
    """A chain opening with `- 8` (a space after the sign): a binary minus whose left term is missing, or a bullet."""
    token = clause[start]
    return (token.kind == "op" and token.text in "+-" and start + 1 < len(clause)
            and clause[start + 1].kind == "num" and token.end < clause[start + 1].start)


def _skip_fragment(clause: list[Token], start: int) -> int:
    position = start
    while position < len(clause) and clause[position].kind != "break":
        position += 1
    return position
