"""The arithmetic/symbolic verifier: the offline default, no model.

Every calculation written in a step (`12 / 3 = 4`, `3 x $2 = $6`, `15% of 80 is 12`, `<<50*3=150>>`,
`5 times 4 equals 20`, LaTeX `\\frac{1}{2} \\times 8 = 4`...) is re-computed exactly with rational
numbers. Currency signs, thousands separators, units and step labels are ignored; percentages are
read as hundredths. A false calculation scores 0 and the rationale names it; a step with nothing
checkable is `unverifiable` and scores the neutral 0.5 (never 1.0). The final answer is compared
with the task's reference answer by math-verify, under this module's own time limit (math-verify's
signal-based timeouts fail outside the main thread, e.g. in Streamlit).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from fractions import Fraction

from workbench.answer_extraction import extract_final_answer
from workbench.verifiers.base import CORRECT, INCORRECT, StepScore, Task, unverifiable

ANSWER_TIME_LIMIT_S = 5.0
MAX_EXPONENT = 64
MAX_BITS = 4096

logging.getLogger("math_verify").setLevel(logging.ERROR)

# ---------------------------------------------------------------- normalisation

CALCULATOR = re.compile(r"<<([^<>]*)>>")
CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
STEP_LABEL = re.compile(r"^\s*(?:[*#]+\s*)?(?:step\s*\d+|\d+\s*[.)](?!\d))\s*[:.)\-]?\s*(?:\*+\s*)?", re.IGNORECASE)
LATEX_WRAPPERS = re.compile(r"\\(?:text|mathrm|textbf|mathbf|boxed|operatorname)\s*\{([^{}]*)\}")
LATEX_FRAC = re.compile(r"\\d?t?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
LATEX_SYMBOLS = {
    r"\times": "*", r"\cdot": "*", r"\div": "/", r"\approx": "≈", r"\%": "%", r"\$": "$", r"\left": "",
    r"\right": "", r"\,": "", r"\!": "", r"\(": " ", r"\)": " ", r"\[": " ", r"\]": " ", r"\pi": " π ",
}
UNICODE = str.maketrans({"×": "*", "✕": "*", "⋅": "*", "·": "*", "∙": "*", "÷": "/", "−": "-", "–": "-",
                         "—": ";", "²": "^2", "³": "^3", "{": "(", "}": ")", "≃": "≈", "\u00a0": " "})
UNIT_RATIO = re.compile(r"(?<=\d)(\s*)(?![xyznkabc]/)([A-Za-z]+)/([A-Za-z]+)\b")  # 60 km/h -> 60 kmPERh (one unit word)
THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d*,)")


def normalise(text: str) -> str:
    """Plain ASCII arithmetic: LaTeX, unicode operators, currency signs and thousands separators removed."""
    text = STEP_LABEL.sub("", text, count=1)
    text = CODE.sub(" ; ", text)  # code is the code verifier's business, not arithmetic
    annotations = CALCULATOR.findall(text)  # GSM8K's <<48/2=24>>: checked on its own, after the sentence
    text = CALCULATOR.sub(" ", text) + "".join(f" ; {a}" for a in annotations)
    for _ in range(3):  # nested \frac and wrappers, innermost first
        text = LATEX_WRAPPERS.sub(r" \1 ", text)
        text = LATEX_FRAC.sub(r"((\1)/(\2))", text)
    for symbol, plain in LATEX_SYMBOLS.items():
        text = text.replace(symbol, plain)
    text = text.translate(UNICODE).replace("**", "^")
    text = re.sub(r"\\[a-zA-Z]+", " π ", text)  # any other LaTeX command: not plain arithmetic
    text = re.sub(r"[$€£¥]", " ", text)
    text = THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    return UNIT_RATIO.sub(r"\1\2PER\3", text)


# ---------------------------------------------------------------- tokens

TOKEN = re.compile(
    r"(?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:\s*%)?)"
    r"|(?P<op>[-+*/^])"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<eq>==?|≈|~=?)"
    r"|(?P<word>[A-Za-zπ]+(?:'[a-z]+)?)"
    r"|(?P<sep>\.(?!\d)|[,;:!?\n\[\]\"<>|&])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)"
)
OPERATOR_WORDS = {"times": "*", "plus": "+", "minus": "-", "multiplied": "*", "divided": "/", "over": "/"}
EQUALITY_WORDS = {"equals", "equal", "is", "are", "was", "were", "gives", "makes", "yields", "get", "gets"}
APPROX_WORDS = {"approximately", "about", "roughly", "around", "approx"}
SKIPPED_AFTER = {"multiplied": "by", "divided": "by", "equal": "to"}
STOP_WORDS = {
    "and", "so", "then", "which", "that", "the", "an", "to", "we", "he", "she", "it", "they", "but", "or",
    "therefore", "thus", "hence", "for", "in", "on", "at", "with", "from", "by", "this", "these", "if", "when",
    "since", "because", "now", "next", "first", "finally", "total", "left", "remaining", "step", "answer",
}
VARIABLE_LETTERS = set("xyznkabc")


@dataclass
class Token:
    kind: str  # num, op, lp, rp, eq, approx, of, var, break
    text: str
    start: int
    end: int
    value: Fraction | None = None
    percent: bool = False
    decimals: int = 0


def _number(text: str) -> tuple[Fraction, bool, int]:
    percent = text.endswith("%")
    digits = text.rstrip("% ").strip()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = Fraction(digits)
    return (value / 100 if percent else value), percent, decimals


def tokenize(text: str) -> list[Token]:
    """Arithmetic tokens; unit words after numbers are dropped, other words break expressions."""
    raw = [(m.lastgroup, m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]
    tokens: list[Token] = []
    skip_next: str | None = None
    for index, (kind, value, start, end) in enumerate(raw):
        if kind == "space":
            continue
        glued_before = index > 0 and raw[index - 1][0] != "space"
        after = raw[index + 1] if index + 1 < len(raw) else None
        nxt = next((r for r in raw[index + 1 :] if r[0] != "space"), None)
        if kind == "num":
            number, percent, decimals = _number(value)
            tokens.append(Token("num", value, start, end, number, percent, decimals))
        elif kind in ("op", "lp", "rp"):
            tokens.append(Token(kind, value, start, end))
        elif kind == "eq":
            tokens.append(Token("approx" if value.startswith(("≈", "~")) else "eq", value, start, end))
        elif kind in ("sep", "other"):
            tokens.append(Token("break", value, start, end))
        else:
            tokens.append(_word_token(value, start, end, tokens, glued_before, after, nxt, skip_next))
            skip_next = SKIPPED_AFTER.get(value.lower())
            if tokens[-1].kind == "skip":
                tokens.pop()
    return tokens


def _word_token(word: str, start: int, end: int, tokens: list[Token], glued_before: bool,
                after: tuple | None, nxt: tuple | None, skip_next: str | None) -> Token:
    lower = word.lower()
    previous = tokens[-1] if tokens else None
    glued_after = after is not None and after[0] != "space"
    if skip_next == lower:
        return Token("skip", word, start, end)
    if lower == "x" and previous is not None and previous.kind in ("num", "rp") and nxt is not None and nxt[0] in ("num", "lp"):
        return Token("op", "*", start, end)
    if lower in OPERATOR_WORDS:
        return Token("op", OPERATOR_WORDS[lower], start, end)
    if lower in ("percent", "pct") and previous is not None and previous.kind == "num" and not previous.percent:
        previous.value, previous.percent, previous.end = previous.value / 100, True, end
        return Token("skip", word, start, end)
    if lower in EQUALITY_WORDS:
        return Token("eq", word, start, end)
    if lower in APPROX_WORDS:
        if previous is not None and previous.kind == "eq":
            previous.kind = "approx"
            return Token("skip", word, start, end)
        return Token("approx", word, start, end)
    if lower == "of":
        return Token("of", word, start, end)
    if word == "π" or (nxt is not None and nxt[0] == "lp" and not glued_before and glued_after):
        return Token("var", word, start, end)  # pi or a function call: not plain arithmetic
    if glued_before and previous is not None and previous.kind == "num" and set(lower) <= VARIABLE_LETTERS:
        return Token("var", word, start, end)  # 2xy, 3ab
    if len(word) == 1 and (lower in VARIABLE_LETTERS or glued_before or glued_after):
        neighbour_is_math = (
            (glued_before and previous is not None and previous.kind in ("num", "op", "lp", "rp"))
            or (nxt is not None and nxt[0] in ("op", "eq", "rp", "lp", "num"))
            or (previous is not None and previous.kind in ("op", "lp", "eq", "num") and lower in VARIABLE_LETTERS)
        )
        if neighbour_is_math and lower not in ("a", "i"):
            return Token("var", word, start, end)
        if neighbour_is_math and nxt is not None and nxt[0] in ("op", "eq"):
            return Token("var", word, start, end)
    if lower not in STOP_WORDS and previous is not None and _after_number(tokens):
        return Token("skip", word, start, end)  # a unit: "12 km", "3 apples each"
    return Token("break", word, start, end)


def _after_number(tokens: list[Token]) -> bool:
    """True when the last kept token is a number or a closing parenthesis (units follow those)."""
    return bool(tokens) and tokens[-1].kind in ("num", "rp")


# ---------------------------------------------------------------- parsing and exact evaluation


class Unsupported(Exception):
    """Not plain arithmetic we can check exactly (huge powers, ambiguous percentages)."""


@dataclass
class Value:
    number: Fraction | None  # None: division by zero
    percent: bool = False
    literal: Token | None = None  # set when the expression is one bare number


class Parser:
    """Recursive descent over arithmetic tokens: + - * / ^, parentheses, unary minus, 'p% of x'."""

    def __init__(self, tokens: list[Token], position: int) -> None:
        self.tokens = tokens
        self.position = position
        self.operators = 0

    def peek(self, kind: str, text: str | None = None) -> bool:
        if self.position >= len(self.tokens):
            return False
        token = self.tokens[self.position]
        return token.kind == kind and (text is None or token.text == text)

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self) -> Value:
        left = self.term()
        while self.peek("op", "+") or self.peek("op", "-"):
            operator = self.take().text
            right = self.term()
            self.operators += 1
            if left.percent != right.percent:
                raise Unsupported("a percentage added to a plain number is ambiguous")
            left = Value(_apply(operator, left.number, right.number), left.percent and right.percent)
        return left

    def term(self) -> Value:
        left = self.power()
        while True:
            if self.peek("op", "*") or self.peek("op", "/"):
                operator = self.take().text
            elif self.peek("of") and (left.percent or self._is_fraction(left)):
                self.take()
                operator = "*"
            elif self.peek("lp"):
                operator = "*"  # 2(3 + 4)
            else:
                return left
            right = self.power()
            self.operators += 1
            left = Value(_apply(operator, left.number, right.number))

    def _is_fraction(self, value: Value) -> bool:
        return value.number is not None and value.literal is None and value.number.denominator != 1

    def power(self) -> Value:
        base = self.unary()
        if self.peek("op", "^"):
            self.take()
            exponent = self.power()
            self.operators += 1
            if exponent.number is None or base.number is None:
                return Value(None)
            if exponent.number.denominator != 1 or abs(exponent.number) > MAX_EXPONENT:
                raise Unsupported("only small whole-number powers are checked")
            if base.number == 0 and exponent.number < 0:
                return Value(None)
            if abs(base.number.numerator).bit_length() * abs(int(exponent.number)) > MAX_BITS:
                raise Unsupported("power too large to check")
            return Value(base.number ** int(exponent.number))
        return base

    def unary(self) -> Value:
        if self.peek("op", "-"):
            self.take()
            inner = self.unary()
            return Value(None if inner.number is None else -inner.number, inner.percent)
        if self.peek("op", "+"):
            self.take()
            return self.unary()
        return self.atom()

    def atom(self) -> Value:
        if self.peek("num"):
            token = self.take()
            return Value(token.value, token.percent, token)
        if self.peek("lp"):
            self.take()
            inner = self.expression()
            if not self.peek("rp"):
                raise SyntaxError("unclosed parenthesis")
            self.take()
            return Value(inner.number, inner.percent)
        raise SyntaxError("expected a number")


def _apply(operator: str, left: Fraction | None, right: Fraction | None) -> Fraction | None:
    if left is None or right is None:
        return None
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        return None
    return left / right


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


def _equal(left: Value, right: Value, approximate: bool) -> tuple[bool, str]:
    """Exact equality, or agreement to the precision a written decimal (or '≈') shows."""
    if left.number is None or right.number is None:
        return False, "division by zero"
    if left.number == right.number:
        return True, "exact"
    for computed, written in ((left, right), (right, left)):
        token = written.literal
        if token is None:
            continue
        shown = token.decimals + (2 if token.percent else 0)
        if token.percent and not computed.percent and computed.number == token.value * 100:
            return True, "percentage written as its number of percent"
        tolerance = Fraction(1, 2 * 10**shown)
        if approximate:
            tolerance = max(tolerance, abs(written.number) / 100)
        if (token.decimals > 0 or approximate) and abs(computed.number - written.number) <= tolerance:
            return True, f"rounded to {token.decimals} decimals" if not approximate else "approximately"
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
        position = 0
        while position < len(clause):
            if clause[position].kind not in ("num", "lp", "op"):
                position += 1
                continue
            end = _chain(normalised, clause, position, calculations, skipped)
            position = max(end, position + 1)
    return calculations, skipped


def _clauses(tokens: list[Token]) -> list[list[Token]]:
    clauses: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == "break" and token.text in ",;:!?\n.[]\"<>|&":
            clauses.append([])
        else:
            clauses[-1].append(token)
    return [c for c in clauses if c]


def _span(text: str, tokens: list[Token]) -> str:
    return " ".join(text[tokens[0].start : tokens[-1].end].split())


def _chain(text: str, clause: list[Token], start: int, out: list[Calculation], skipped: list[str]) -> int:
    """Parse `expr (= expr)+` from start; record its calculations; return where parsing stopped."""
    parts: list[tuple[Value, int, int, int]] = []  # value, first token, end token, operators
    relations: list[bool] = []  # approximate?
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
        parts.append((value, position, parser.position, parser.operators))
        position = parser.position
        if position < len(clause) and clause[position].kind in ("eq", "approx"):
            relations.append(clause[position].kind == "approx")
            position += 1
            continue
        break
    if len(parts) < 2 or sum(p[3] for p in parts) == 0:
        return parts[0][2] if parts else start + 1
    for (left, l_start, l_end, l_ops), (right, r_start, r_end, r_ops), approximate in zip(
        parts, parts[1:], relations, strict=False
    ):
        if l_ops == 0 and r_ops == 0:
            continue  # "12 = 12" restatements are not calculations
        written = _span(text, clause[l_start:r_end])
        holds, how = _equal(left, right, approximate)
        computed = left if l_ops else right
        detail = how if holds else f"{_span(text, clause[l_start:l_end] if l_ops else clause[r_start:r_end])} is {_format(computed.number)}"
        out.append(Calculation(written, holds, detail))
    return parts[-1][2]


# ---------------------------------------------------------------- final answer

WORDY = re.compile(r"[A-Za-z]{3,}")

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="math-verify")


def extract_answer(text: str) -> str | None:
    """The answer a step states ('Answer: 54', '\\boxed{54}', '#### 54'), or None (workbench.answer_extraction)."""
    return extract_final_answer(text)


def is_math_reference(reference: str | None) -> bool:
    """A reference answer math-verify can compare: a number or formula, not a sentence."""
    if not reference or not reference.strip():
        return False
    return not WORDY.search(re.sub(r"\\[a-zA-Z]+", "", reference)) and len(reference) < 200


def _answers_match(reference: str, answer: str) -> bool | None:
    from math_verify import parse, verify

    gold = parse(reference, parsing_timeout=None)
    if not gold:
        return None
    answer = answer.replace("π", r"\pi")
    for candidate in (f"${answer}$", answer):
        target = parse(candidate, parsing_timeout=None)
        if target and verify(gold, target, timeout_seconds=None):
            return True
    return False


def check_answer(reference: str, answer: str, time_limit_s: float = ANSWER_TIME_LIMIT_S) -> bool | None:
    """math-verify's verdict (None: could not parse), in a worker thread under a time limit."""
    future = _executor.submit(_answers_match, reference, answer[:500])
    try:
        return future.result(timeout=time_limit_s)
    except FutureTimeout:
        return None


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
        if false or answer_false:
            return StepScore(0.0, INCORRECT, "; ".join(notes), params={"calculations": len(calculations)})
        if true or answer_true:
            return StepScore(1.0, CORRECT, "; ".join(notes), params={"calculations": len(calculations)})
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
