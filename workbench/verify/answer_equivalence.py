"""Final-answer equivalence: is a candidate final answer the reference answer?

`check_answer(reference, answer)` returns True (right), False (wrong) or None (cannot tell). It is
built to never pass a wrong answer: where it is unsure it says None, never True.

Reading order: a multiple-choice letter, yes/no, an interval or tuple, numbers (read exactly, with
workbench.verify.written_arithmetic), then math-verify (https://github.com/huggingface/Math-Verify) for
symbolic answers, then plain text.

Numeric policy:
- Numbers compare exactly as rationals: "0.5" = "1/2" = "\\frac{1}{2}", "0.0000004" != "0.0000002"
  (no absolute tolerance). A mixed number is its sum: "1 1/4" = "5/4" = "1\\frac{1}{4}" != "1".
- Rounding: a written decimal matches a value with no finite decimal form (1/3, 23/3, pi, sqrt 2)
  when it is that value rounded to the digits written and shows at least 3 significant digits
  ("7.67" for 23/3 is right, "0.33" for 1/3 cannot pass). Symbolic values that math-verify calls
  equal must also agree numerically within a relative 1e-9.
- Thousands separators are dropped: "12,345" = "12 345" = "12345" (a comma, space or thin space
  followed by exactly three digits). Any other comma separates members: "3,8" is the set {3, 8}.
- Currency signs and words are dropped, not converted: "$1,250" = "1250" = "1250 dollars".
- Magnitudes scale: "3.8 million" = "3,800,000", "$40k" = "40000".
- Percent: "45%" matches "45" (the number of percent, how word problems state a percentage) and
  "0.45" (its value); "45 percent" is "45%".
- Units: a word after a number is dropped ("5 cm" = "5", "46 stickers" = "46"). Units are not
  converted: when both sides name different physical units ("5 cm" vs "50 mm") the answer is None.
- Signs count: "-5" != "5"; "\\pm 5" is the set {-5, 5}, so it never equals "5".
- Sets: "3 and 8", "8, 3", "{3, 8}", "x = 3 or x = 8" are the same set; a set answer needs every
  member and no other ("8" is wrong for "3 and 8"). Intervals and tuples keep order and brackets.
- "x = 5" is 5. A sentence ("She ends with 46 stickers, in total.") states the number it names;
  with several different numbers it states the one after its last "=", else it cannot tell.

Other answers: a choice letter ("B", "(B)", "option B") must be the same letter; yes/no (and
true/false) must have the same polarity; text compares case- and article-insensitively, and a
sentence that contains the reference phrase without a negation is right.

math-verify's own signal-based timeouts fail outside the main thread (Streamlit runs pages in other
threads), so it is called with parsing_timeout=None, timeout_seconds=None, in a worker thread under
this module's time limit.
"""

from __future__ import annotations

import logging
import math
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from fractions import Fraction

from workbench.verify.written_arithmetic import Parser, Token, Unsupported, normalise, tokenize

ANSWER_TIME_LIMIT_S = 5.0
MAX_ANSWER_CHARS = 500
MIN_SIGNIFICANT_DIGITS = 3
RELATIVE_TOLERANCE = 1e-9

logging.getLogger("math_verify").setLevel(logging.ERROR)
logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="answer-equivalence")


def check_answer(reference: str, answer: str, time_limit_s: float = ANSWER_TIME_LIMIT_S) -> bool | None:
    """True when `answer` states the reference answer, False when it states another, None when it
    cannot tell (unreadable, ambiguous, or over `time_limit_s` seconds). Safe in any thread."""
    future = _executor.submit(answers_equivalent, reference, answer[:MAX_ANSWER_CHARS])
    try:
        return future.result(timeout=time_limit_s)
    except FutureTimeout:
        return None


def answers_equivalent(reference: str, answer: str) -> bool | None:
    """The verdict of `check_answer`, computed in the calling thread with no time limit of its own."""
    reference, answer = _strip(reference), _strip(answer)
    if not reference or not answer:
        return None
    for compare in (_compare_choices, _compare_yes_no, _compare_brackets, _compare_numbers, _compare_symbolic):
        verdict = compare(reference, answer)
        if verdict is not NOT_MINE:
            return verdict
    return _compare_text(reference, answer)


NOT_MINE = object()  # a comparer's "this reference is not my kind"

# ---------------------------------------------------------------- clean-up

MATH_DELIMITERS = re.compile(r"^\$+(.*?)\$+$|^\\\((.*)\\\)$|^\\\[(.*)\\\]$", re.DOTALL)
BOXED = re.compile(r"^\\(?:boxed|fbox)\s*\{(.*)\}$", re.DOTALL)
ASSIGNMENT = re.compile(r"(?<![\w)\\])[A-Za-z]\s*=\s*(?=[-+$\d.(\\])")


def _strip(text: str) -> str:
    text = " ".join(str(text).split()).rstrip(".").strip()
    for _ in range(3):
        delimited = MATH_DELIMITERS.match(text) or BOXED.match(text)
        if delimited is None:
            break
        text = next(g for g in delimited.groups() if g is not None).strip().rstrip(".").strip()
    return text


# ---------------------------------------------------------------- choices, yes/no, text

CHOICE_REFERENCE = re.compile(r"^\(?([A-J])\)?(?:[.):]|\s*$|\)?\s)")
CHOICE_CANDIDATE = re.compile(r"^\(?([A-J])\)?(?:[.):]|\s*$|\s)|\b(?:option|choice|answer)\s*\(?([A-J])\b|\(([A-J])\)")
POLARITY = {"yes": True, "true": True, "no": False, "false": False}
NEGATIONS = re.compile(r"\b(?:not|no|never|neither|nor|isn't|aren't|wasn't|cannot|can't)\b|n't\b", re.IGNORECASE)
ARTICLES = re.compile(r"\b(?:the|a|an)\b")


def _compare_choices(reference: str, answer: str) -> object:
    match = CHOICE_REFERENCE.match(reference)
    if match is None or (len(reference) > 3 and not reference.startswith("(") and reference[1] != ")"):
        return NOT_MINE
    letters = {next(g for g in m.groups() if g) for m in CHOICE_CANDIDATE.finditer(answer)}
    if len(letters) != 1:
        return None
    return letters.pop() == match.group(1)


def _compare_yes_no(reference: str, answer: str) -> object:
    words = re.findall(r"[a-z]+", reference.lower())
    if len(words) != 1 or words[0] not in POLARITY:
        return NOT_MINE
    said = [POLARITY[w] for w in re.findall(r"[a-z]+", answer.lower()) if w in POLARITY]
    if not said:
        return None
    first_word = re.match(r"\W*([a-z]+)", answer.lower())
    if first_word and first_word.group(1) in POLARITY:
        return POLARITY[first_word.group(1)] == POLARITY[words[0]]
    return said[0] == POLARITY[words[0]] if len(set(said)) == 1 else None


def _plain_text(text: str) -> str:
    text = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", text).lower()
    return " ".join(ARTICLES.sub(" ", re.sub(r"[^\w\s]", " ", text)).split())


def _compare_text(reference: str, answer: str) -> bool | None:
    wanted, given = _plain_text(reference), _plain_text(answer)
    if not wanted:
        return None
    if wanted == given:
        return True
    if re.search(rf"\b{re.escape(wanted)}\b", given) and not NEGATIONS.search(answer):
        return True
    return False


# ---------------------------------------------------------------- numbers

PHYSICAL_UNITS = {
    "length": {"mm", "millimeter", "millimetre", "cm", "centimeter", "centimetre", "m", "meter", "metre", "km",
               "kilometer", "kilometre", "in", "inch", "inche", "ft", "foot", "feet", "yd", "yard", "mi", "mile"},
    "mass": {"mg", "g", "gram", "kg", "kilogram", "lb", "pound", "oz", "ounce", "ton", "tonne"},
    "time": {"s", "sec", "second", "min", "minute", "h", "hr", "hour", "day", "week", "month", "year"},
    "volume": {"ml", "milliliter", "millilitre", "l", "liter", "litre", "gallon", "quart", "pint", "cup"},
}


def _canonical_unit(word: str | None) -> str | None:
    """The singular physical unit a word names ('hours' -> 'hour'), or None for labels and currency."""
    if not word:
        return None
    singular = word[:-1] if word.endswith("s") and len(word) > 2 else word
    for name in (word, singular):
        if any(name in units for units in PHYSICAL_UNITS.values()):
            return {"feet": "foot", "inche": "inch"}.get(name, name)
    return None


@dataclass
class Quantity:
    """One number of an answer: its exact value and how it was written."""

    value: Fraction
    percent: bool = False
    decimals: int = 0  # digits written after the decimal point (0 for whole numbers and fractions)
    unit: str | None = None  # a physical unit named after it, singular

    @classmethod
    def from_token(cls, token: Token | None, value: Fraction) -> Quantity:
        if token is None:  # an expression ("1/2", "2^{-30}"): exact
            return cls(value)
        return cls(value, token.percent, token.decimals, _canonical_unit(token.unit))


@dataclass
class NumericAnswer:
    """The numbers an answer states: its members in order (a set, a list or ± give several)."""

    members: list[Quantity]
    sentence: bool = False  # prose around the numbers
    after_equals: Quantity | None = None  # in a sentence, the value after its last '='


LIST_WORDS = {"and", "or", "&"}
LIST_MARKS = {",", ";"}


SMALL_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen eighteen nineteen").split()
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
NUMBER_WORDS = re.compile(
    rf"\b(?:({'|'.join(TENS)})(?:[- ]({'|'.join(SMALL_NUMBERS[1:10])}))?|({'|'.join(SMALL_NUMBERS)}))\b",
    re.IGNORECASE)


def _digits_for_words(text: str) -> str:
    """'twenty-five' -> '25', 'twelve' -> '12' (the words an answer uses for numbers under 100)."""
    def value(match: re.Match) -> str:
        tens, units, small = (g.lower() if g else None for g in match.groups())
        if small is not None:
            return str(SMALL_NUMBERS.index(small))
        return str(TENS[tens] + (SMALL_NUMBERS.index(units) if units else 0))

    return NUMBER_WORDS.sub(value, text)


def read_numbers(text: str) -> NumericAnswer | None:
    """The numbers an answer states, or None when it holds variables, functions or no number."""
    plain = ASSIGNMENT.sub("", normalise(_digits_for_words(text)))
    if "±" in plain:
        return _read_plus_minus(plain)
    tokens = tokenize(plain)
    if not tokens or any(t.kind == "var" for t in tokens):
        return None
    words = [t for t in tokens if t.kind in ("break", "eq", "approx", "of") and t.text.lower() not in LIST_WORDS
             and t.text not in LIST_MARKS]
    if words:
        return _read_sentence(tokens)
    members: list[Quantity] = []
    group: list[Token] = []
    for token in [*tokens, Token("break", ",", 0, 0)]:
        if token.kind == "break":
            if group:
                quantity = _whole_expression(group)
                if quantity is None:
                    return None
                members.append(quantity)
            group = []
        else:
            group.append(token)
    return NumericAnswer(members) if members else None


def _whole_expression(tokens: list[Token]) -> Quantity | None:
    parser = Parser(tokens, 0)
    try:
        value = parser.expression()
    except (SyntaxError, Unsupported, ZeroDivisionError):
        return None
    if parser.position != len(tokens) or value.number is None:
        return None
    if value.literal is None and value.percent:
        return Quantity(value.number, percent=True)
    return Quantity.from_token(value.literal, value.number)


def _read_plus_minus(plain: str) -> NumericAnswer | None:
    centre_text, _, spread_text = plain.partition("±")
    centre = read_numbers(centre_text) if centre_text.strip() else NumericAnswer([Quantity(Fraction(0))])
    spread = read_numbers(spread_text)
    if not centre or not spread or len(centre.members) != 1 or len(spread.members) != 1 or centre.sentence:
        return None
    middle, width = centre.members[0].value, spread.members[0].value
    return NumericAnswer([Quantity(middle - width), Quantity(middle + width)])


def _read_sentence(tokens: list[Token]) -> NumericAnswer | None:
    """The values a sentence states: each maximal expression; the one after the last '=' is kept apart."""
    stated: list[Quantity] = []
    after_equals: Quantity | None = None
    position = 0
    while position < len(tokens):
        if tokens[position].kind not in ("num", "lp", "op"):
            position += 1
            continue
        parser = Parser(tokens, position)
        try:
            value = parser.expression()
        except (SyntaxError, Unsupported, ZeroDivisionError):
            position += 1
            continue
        if value.number is not None:
            quantity = Quantity.from_token(value.literal, value.number)
            stated.append(quantity)
            if position > 0 and tokens[position - 1].kind in ("eq", "approx") and not tokens[position - 1].text.isalpha():
                after_equals = quantity
        position = max(parser.position, position + 1)
    if not stated:
        return NumericAnswer([], sentence=True)
    return NumericAnswer(stated, sentence=True, after_equals=after_equals)


def _terminates(value: Fraction) -> bool:
    """True when the value has a finite decimal form (its denominator has no prime but 2 and 5)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _rounds_to(exact: float | Fraction, written: Quantity) -> bool:
    """A written decimal that is the exact value rounded to the digits shown, with enough digits."""
    if written.decimals == 0 or written.value == 0:
        return False
    shown = written.value * 100 if written.percent else written.value
    significant = len(str(round(abs(shown) * 10**written.decimals)))
    if significant < MIN_SIGNIFICANT_DIGITS:
        return False
    target = float(exact) * (100 if written.percent else 1)
    return abs(target - float(shown)) <= 0.5 * 10**-written.decimals * (1 + 1e-12)


def _same_quantity(wanted: Quantity, given: Quantity) -> bool | None:
    units = (wanted.unit, given.unit)
    if all(units) and units[0] != units[1]:
        return None  # different units, and units are not converted
    if wanted.value == given.value:
        return True
    for one, other in ((wanted, given), (given, wanted)):
        if one.percent and not other.percent and other.value == one.value * 100:
            return True
    for exact, written in ((wanted, given), (given, wanted)):
        if not _terminates(exact.value) and _rounds_to(exact.value, written):
            return True
    return False


def _same_members(wanted: list[Quantity], given: list[Quantity]) -> bool | None:
    """Set equality: every wanted member is given and every given member is wanted."""
    verdicts = []
    for side, others in ((wanted, given), (given, wanted)):
        for quantity in side:
            matches = [_same_quantity(quantity, other) for other in others]
            verdicts.append(True if True in matches else (None if None in matches else False))
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _compare_numbers(reference: str, answer: str) -> object:
    wanted = read_numbers(reference)
    if wanted is None or not wanted.members or (wanted.sentence and len(wanted.members) != 1):
        return NOT_MINE
    given = read_numbers(answer)
    if given is None:  # variables or LaTeX are math-verify's; anything else cannot be told
        return NOT_MINE if any(t.kind == "var" for t in tokenize(normalise(answer))) else None
    if not given.sentence:
        return _same_members(wanted.members, given.members)
    if not given.members:
        return False
    if len(wanted.members) > 1:
        verdict = _same_members(wanted.members, given.members)
        if verdict is False and all(_same_members([w], given.members) for w in wanted.members):
            return None  # every member is named, with other numbers beside them
        return verdict
    distinct = _distinct(given.members)
    if len(distinct) == 1:
        return _same_quantity(wanted.members[0], distinct[0])
    if given.after_equals is not None:
        return _same_quantity(wanted.members[0], given.after_equals)
    if not any(_same_quantity(wanted.members[0], q) for q in distinct):
        return False
    return None


def _distinct(quantities: list[Quantity]) -> list[Quantity]:
    seen: list[Quantity] = []
    for quantity in quantities:
        if not any(q.value == quantity.value for q in seen):
            seen.append(quantity)
    return seen


# ---------------------------------------------------------------- intervals and tuples

BRACKETED = re.compile(r"^(?:\\left)?\s*([\[(])(.*),(.*?)(?:\\right)?\s*([\])])$")
INFINITY = re.compile(r"\\infty|∞|\binf(?:inity)?\b", re.IGNORECASE)


def _compare_brackets(reference: str, answer: str) -> object:
    wanted = BRACKETED.match(reference)
    if wanted is None:
        return NOT_MINE
    given = BRACKETED.match(answer)
    if given is None:
        single = read_numbers(answer)
        return False if single is not None and not single.sentence and len(single.members) == 1 else None
    if (wanted.group(1), wanted.group(4)) != (given.group(1), given.group(4)):
        return False
    verdicts = [_same_endpoint(wanted.group(i), given.group(i)) for i in (2, 3)]
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _same_endpoint(wanted: str, given: str) -> bool | None:
    infinities = [INFINITY.search(side) for side in (wanted, given)]
    if any(infinities):
        signs = [side.strip().startswith("-") for side in (wanted, given)]
        return all(infinities) and signs[0] == signs[1]
    return answers_equivalent(wanted, given)


# ---------------------------------------------------------------- symbolic answers (math-verify)


def _compare_symbolic(reference: str, answer: str) -> object:
    from math_verify import parse, verify

    if re.search(r"[A-Za-z]{3,}", re.sub(r"\\[a-zA-Z]+|\\text\s*\{[^{}]*\}", "", reference)):
        return NOT_MINE  # a sentence or a word answer
    try:
        gold = parse(f"${reference}$", parsing_timeout=None)
        if not gold:
            return NOT_MINE
        target = parse(f"${answer}$", parsing_timeout=None) or parse(answer, parsing_timeout=None)
        if not target:
            return None
        if _has_plus_minus(reference) != _has_plus_minus(answer):
            return False
        matched = verify(gold, target, timeout_seconds=None)
    except Exception:  # math-verify and sympy raise many kinds on odd input: cannot tell
        return None
    wanted, given = _numeric_value(gold[0]), _numeric_value(target[0])
    if wanted is None or given is None:
        return bool(matched)  # not plain numbers (formulas, sets, intervals): math-verify's verdict
    if math.isclose(wanted, given, rel_tol=RELATIVE_TOLERANCE):
        return True
    return _decimal_approximates(wanted, answer) or _decimal_approximates(given, reference)


def _decimal_approximates(exact: float, text: str) -> bool:
    """The text is one decimal number that rounds `exact` to the digits it shows."""
    written = read_numbers(text)
    if written is None or written.sentence or len(written.members) != 1:
        return False
    return _rounds_to(exact, written.members[0])


def _has_plus_minus(text: str) -> bool:
    return "\\pm" in text or "±" in text or "\\mp" in text


def _numeric_value(expression: object) -> float | None:
    try:
        if getattr(expression, "is_number", False) and not getattr(expression, "free_symbols", True):
            value = complex(expression.evalf())
            return value.real if value.imag == 0 else None
    except (TypeError, ValueError, AttributeError):
        return None
    return None
