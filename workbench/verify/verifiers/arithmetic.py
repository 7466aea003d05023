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

The final answer is compared with the task's reference by `check_answer`
(workbench.verify.answer_equivalence: math-verify with stricter checks, under its own time limit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from workbench.core.wording import plural
from workbench.seeds.answer_extraction import extract_final_answer
from workbench.verify.answer_equivalence import ANSWER_TIME_LIMIT_S, check_answer, read_numbers
from workbench.verify.verifiers.base import (
    CORRECT,
    EVIDENCE,
    INCORRECT,
    OUTCOME,
    StepScore,
    Task,
    unverifiable,
)
from workbench.verify.written_arithmetic import EQUALITY_WORDS, Parser, Token, Unsupported, Value, tokenize
from workbench.verify.written_arithmetic import normalise as normalise_arithmetic

__all__ = ["ArithmeticVerifier", "Calculation", "check_answer", "extract_answer", "find_calculations",
           "is_math_reference", "normalise"]

STEP_LABEL = re.compile(r"^\s*(?:[*#]+\s*)?(?:step\s*\d+|\d+\s*[.)](?!\d))\s*[:.)\-]?\s*(?:\*+\s*)?", re.IGNORECASE)
ROUNDING_CUE = re.compile(r"\b(?:full|whole|complete|round(?:ed|ing)?|nearest|down|up)\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """A step's arithmetic in plain ASCII (see workbench.verify.written_arithmetic), its 'Step k:' label removed."""
    return normalise_arithmetic(STEP_LABEL.sub("", text, count=1))


@dataclass
class Calculation:
    """One written calculation and whether it holds."""

    text: str
    holds: bool
    detail: str


def _format(number: Fraction | None) -> str:
    if number is None:
        return "undefined (division by zero)"
    if number.denominator == 1:
        return str(number.numerator)
    decimal = float(number)
    exact = Fraction(decimal).limit_denominator(10**9) == number and len(repr(decimal)) < 14
    return repr(decimal) if exact else f"{number.numerator}/{number.denominator} ≈ {decimal:.6g}"


def _equal(left: Value, right: Value, approximate: bool, rounding_cue: bool = False) -> tuple[bool, str]:
    """Exact equality, or agreement to the precision a written number (or '≈') shows."""
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
        if rounding_cue and token.value.denominator == 1 and computed.number.denominator != 1 and difference < 1:
            return True, "rounded to a whole number"
    return False, "false"


def find_calculations(text: str) -> tuple[list[Calculation], list[str]]:
    """Every checkable calculation in a text, and notes on what was skipped (algebra, functions...)."""
    normalised = normalise(text)
    tokens = tokenize(normalised)
    calculations: list[Calculation] = []
    skipped: list[str] = []
    for clause in _clauses(tokens):
        if any(t.kind == "var" for t in clause):
            if any(t.kind in ("eq", "approx") for t in clause):
                skipped.append(f"`{_span(normalised, clause)}` has variables or functions")
            continue
        rounding_cue = bool(ROUNDING_CUE.search(normalised, clause[0].start, clause[-1].end + 40))
        position = 0
        while position < len(clause):
            if clause[position].kind not in ("num", "lp", "op"):
                position += 1
                continue
            end = _chain(normalised, clause, position, calculations, skipped, rounding_cue)
            position = max(end, position + 1)
    return _once_each(calculations), skipped


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


def _clauses(tokens: list[Token]) -> list[list[Token]]:
    clauses: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "break" and token.text in ",;:!?\n.[]\"<>|&±":
            clauses.append([])
        else:
            clauses[-1].append(token)
    return [c for c in clauses if c]


def _span(text: str, tokens: list[Token]) -> str:
    """The written text of a token range, rates shown as written ("400 PERmonth" -> "400/month")."""
    return re.sub(r"\s?PER(?=[A-Za-z])", "/", " ".join(text[tokens[0].start : tokens[-1].end].split()))


@dataclass
class _Part:
    """One side of a written equality: its value, token range, operation count and leading number."""

    value: Value
    start: int
    end: int
    operators: int
    leading: Fraction | None


def _chain(text: str, clause: list[Token], start: int, out: list[Calculation], skipped: list[str],
           rounding_cue: bool = False) -> int:
    """Parse `expr (= expr)+` from start; record its calculations; return where parsing stopped."""
    if _spaced_sign(clause, start):
        if start > 0 and clause[start - 1].kind == "break":
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
        parts.append(_Part(value, position, parser.position, parser.operators, parser.leading))
        position = parser.position
        if position < len(clause) and clause[position].kind in ("eq", "approx"):
            relations.append(clause[position])
            position += 1
            continue
        break
    if len(parts) < 2 or sum(p.operators for p in parts) == 0:
        return parts[0].end if parts else start + 1
    for left, right, relation in zip(parts, parts[1:], relations, strict=False):
        if not _is_claim(left, right, relation):
            continue
        approximate = relation.kind == "approx"
        holds, how = _equal(left.value, right.value, approximate, rounding_cue)
        if not holds and right.operators and right.leading is not None and left.value.number == right.leading:
            # a running calculation: "20 * 2 = 40 + 10 = 50" states 20 * 2 = 40, then 40 + 10 = 50
            leading_end = next(i for i in range(right.start, right.end) if clause[i].kind == "num") + 1
            out.append(Calculation(_span(text, clause[left.start : leading_end]), True, "running calculation"))
            continue
        written = _span(text, clause[left.start : right.end])
        computed = left if left.operators else right
        detail = how if holds else f"{_span(text, clause[computed.start : computed.end])} is {_format(computed.value.number)}"
        out.append(Calculation(written, holds, detail))
    return parts[-1].end


def _is_claim(left: _Part, right: _Part, relation: Token) -> bool:
    """False for restatements ("3 hours = 180 minutes") and for counts before a copula ("4 tickets is 12 x 4")."""
    if not left.operators and not right.operators:
        return False
    if not left.operators and left.value.literal is not None:
        return not (left.value.literal.labelled or relation.text.lower() in EQUALITY_WORDS)
    return True


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

    def score_step(self, text: str, answer_check: tuple[bool | None, str] | None = None) -> StepScore:
        calculations, skipped = find_calculations(text)
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
        return [self.score_step(step, answer[1] if answer and answer[0] == i else None) for i, step in enumerate(steps)]

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return self.score_all(task, steps)
