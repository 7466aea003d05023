"""Reading arithmetic as people write it: normalisation, tokens and exact rational evaluation.

Shared by the arithmetic verifier (which re-computes every written calculation) and by final-answer
equivalence (which reads an answer's number). What it reads, in prose, LaTeX and GSM8K solutions:

- numbers: `1,250` and `250 000` (commas, spaces or thin spaces between groups of three digits),
  decimals `.5`, percentages (`15%`, `15 percent`, hundredths), mixed numbers (`4 1/2`,
  `4\\frac{1}{2}`), magnitudes (`3.8 million`, `40k`, `$1.2M`: the written precision scales too);
- operators: `+ - * / ^`, `x`/`×`/`\\times`/`\\cdot`, words (`times`, `plus`, `divided by`...),
  `p% of n`, `1/3 of n`, implicit products `2(3 + 4)`, LaTeX `\\frac`;
- labels: a word after a number is a unit or a label (`12 red`, `$400/month`, `60 km/h`) and is
  skipped; currency signs are dropped;
- what it refuses to read as plain arithmetic (marked `var`): variables, functions, LaTeX commands
  with no plain meaning, times of day (`8:30`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_EXPONENT = 64
MAX_BITS = 4096
OPAQUE = " π "  # stands for anything that is not plain arithmetic; always read as a variable

# ---------------------------------------------------------------- normalisation

CALCULATOR = re.compile(r"<<([^<>]*)>>")
CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
LATEX_WRAPPERS = re.compile(r"\\(?:text|mathrm|textbf|mathbf|boxed|operatorname)\s*\{([^{}]*)\}")
LATEX_MIXED = re.compile(r"(?<![\d.])(\d+)\s*\\d?t?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
LATEX_FRAC = re.compile(r"\\d?t?frac\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
LATEX_SYMBOLS = {
    r"\times": "*", r"\cdot": "*", r"\div": "/", r"\approx": "≈", r"\%": "%", r"\$": "$", r"\left": "",
    r"\right": "", r"\,": "", r"\!": "", r"\(": " ", r"\)": " ", r"\[": " ", r"\]": " ", r"\pm": "±",
    r"\mp": "±", r"\pi": OPAQUE, r"\qquad": " ", r"\quad": " ", r"\;": " ", r"\:": " ", r"\displaystyle": " ",
    "&=": "=", "=&": "=", r"\\": "\n",
}
LATEX_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{[a-z]+\*?\}")  # \begin{align*}: a line break
MARKDOWN_BOLD = re.compile(r"(?<![\w)])\*\*|\*\*(?![\w(])")  # **46** is bold; 2**3 is a power
UNICODE = str.maketrans({"×": "*", "✕": "*", "⋅": "*", "·": "*", "∙": "*", "÷": "/", "−": "-", "–": "-",
                         "—": ";", "²": "^2", "³": "^3", "{": "(", "}": ")", "≃": "≈", "\u00a0": " ",
                         "\u2009": " ", "\u202f": " ", "\u2007": " "})
TIME_OF_DAY = re.compile(r"(?<![\d.:])\d{1,2}:\d{2}(?![\d:])")
# $1.2M, $40k, $3 bn: a currency amount with a magnitude suffix
CURRENCY_MAGNITUDE = re.compile(r"([$€£¥]\s*\d+(?:\.\d+)?)\s*(k|K|M|mn|m|B|bn|b)\b")
SUFFIX_WORDS = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion"}
# 60 km/h -> 60 kmPERh, one unit word
UNIT_RATIO = re.compile(r"(?<=\d)(\s*)(?![xyznkabc]/)([A-Za-z]+)/([A-Za-z]+)\b")
# $400/month -> 400 PERmonth: a rate written with a slash is a unit, not a division
RATE = re.compile(r"(?<=\d)\s*/\s*(?![xyznkabc]\b)([A-Za-z]+)\b")
# 216 hash browns/potato: a rate between two words is one unit word, not a division
WORD_RATIO = re.compile(r"\b([A-Za-z]{2,})\s?/\s?([A-Za-z]{2,})\b")
# "20% of $50, which is $10": the relative clause states the value, like "is"
WHICH_IS = re.compile(r",\s*(?:which|that)(?=\s+(?:is|are|was|were|gives|makes|equals)\b)", re.IGNORECASE)
THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d*,)")
SPACED_THOUSANDS = re.compile(r"(?<![\d.,/])\d{1,3}(?: \d{3})+(?![\d/]|[.,]\d)")


def normalise(text: str) -> str:
    """Plain ASCII arithmetic: LaTeX, unicode operators, currency signs and thousands separators removed.

    GSM8K calculator annotations (`<<48/2=24>>`) are moved out of the sentence to its end, so that
    they are read once each and never as part of the visible claim; code blocks are blanked.
    """
    if "```" in text:
        text = CODE.sub(" ; ", text)  # code is the code verifier's business, not arithmetic
    if "<<" in text:
        annotations = CALCULATOR.findall(text)
        text = CALCULATOR.sub(" ", text) + "".join(f" ; {a}" for a in annotations)
    if "**" in text:
        text = MARKDOWN_BOLD.sub(" ", text)
    if "\\" in text:
        text = LATEX_MIXED.sub(lambda m: f"{m[1]} {m[2]}/{m[3]}" if int(m[2]) < int(m[3]) else m[0],
                               LATEX_ENVIRONMENT.sub("\n", text))
        for _ in range(3):  # nested \frac and wrappers, innermost first
            text = LATEX_WRAPPERS.sub(r" \1 ", text)
            text = LATEX_FRAC.sub(r"((\1)/(\2))", text)
    if "\\" in text or "&" in text:
        for symbol, plain in LATEX_SYMBOLS.items():
            text = text.replace(symbol, plain)
    text = text.translate(UNICODE).replace("**", "^")
    if "\\" in text:
        text = re.sub(r"\\[a-zA-Z]+", OPAQUE, text)  # any other LaTeX command: not plain arithmetic
    if ":" in text:
        text = TIME_OF_DAY.sub(OPAQUE, text)
    if "," in text:
        text = WHICH_IS.sub("", text)
        text = THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    if any(sign in text for sign in "$€£¥"):
        text = CURRENCY_MAGNITUDE.sub(lambda m: f"{m[1]} {SUFFIX_WORDS[m[2].lower()]}", text)
        text = re.sub(r"[$€£¥]", " ", text)
    text = SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(" ", ""), text)
    if "/" in text:
        text = WORD_RATIO.sub(r"\1PER\2", RATE.sub(r" PER\1", UNIT_RATIO.sub(r"\1\2PER\3", text)))
    return text


# ---------------------------------------------------------------- tokens

TOKEN = re.compile(
    r"(?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+(?![\w.]))?(?:\s*%)?)"
    r"|(?P<op>[-+*/^])"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<eq>==?|≈|~=?)"
    r"|(?P<word>[A-Za-zπ]+(?:'[a-z]+)?)"
    r"|(?P<sep>\.(?!\d)|[,;:!?\n\[\]\"<>|&±])"
    r"|(?P<space>[^\S\n]+)"
    r"|(?P<other>.)"
)
OPERATOR_WORDS = {"times": "*", "plus": "+", "minus": "-", "multiplied": "*", "divided": "/", "over": "/"}
EQUALITY_WORDS = {"equals", "equal", "is", "are", "was", "were", "gives", "makes", "yields", "get", "gets"}
APPROX_WORDS = {"approximately", "about", "roughly", "around", "approx"}
MAGNITUDES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
SKIPPED_AFTER = {"multiplied": "by", "divided": "by", "equal": "to"}
STOP_WORDS = {
    "and", "so", "then", "which", "that", "the", "an", "to", "we", "he", "she", "it", "they", "but", "or",
    "therefore", "thus", "hence", "for", "in", "on", "at", "with", "from", "by", "this", "these", "if", "when",
    "since", "because", "now", "next", "first", "finally", "step", "answer",
}
VARIABLE_LETTERS = set("xyznkabc")


@dataclass
class Token:
    """One arithmetic token. For numbers: the exact value, and the precision the digits show."""

    kind: str  # num, op, lp, rp, eq, approx, of, var, break
    text: str
    start: int
    end: int
    value: Fraction | None = None
    percent: bool = False
    decimals: int = 0  # digits written after the decimal point
    scale: int = 1  # a magnitude written after it: 1000 for "40k", 10**6 for "3.8 million"
    unit: str | None = None  # the first word written after the number ("12 red" -> "red")

    @property
    def precision(self) -> Fraction:
        """The value of one unit in the last written digit: 0.1 million for "3.8 million", 0.0001 for "1.25%"."""
        return Fraction(self.scale, 10**self.decimals * (100 if self.percent else 1))

    @property
    def labelled(self) -> bool:
        """True when a unit or label word follows the number ("4 tickets", "2 weeks")."""
        return self.unit is not None


def _number(text: str) -> Token:
    percent = text.endswith("%")
    digits = text.rstrip("% ").strip()
    if digits.isdigit():  # the common case, without Fraction's string parsing
        value, decimals = Fraction(int(digits)), 0
    else:
        mantissa, _, exponent = digits.lower().partition("e")
        decimals = max(0, (len(mantissa.split(".")[1]) if "." in mantissa else 0) - int(exponent or 0))
        value = Fraction(digits)
    return Token("num", text, 0, 0, value / 100 if percent else value, percent, decimals)


def tokenize(text: str) -> list[Token]:
    """Arithmetic tokens; unit words after numbers are dropped, other words break expressions."""
    raw = [(m.lastgroup, m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]
    tokens: list[Token] = []
    skip_next: str | None = None
    index = 0
    while index < len(raw):
        kind, value, start, end = raw[index]
        if kind == "space":
            index += 1
            continue
        glued_before = index > 0 and raw[index - 1][0] != "space"
        after = raw[index + 1] if index + 1 < len(raw) else None
        nxt = raw[index + 2] if after is not None and after[0] == "space" and index + 2 < len(raw) else after
        if kind == "num":
            mixed = _mixed_number(raw, index)
            if mixed is not None:
                tokens.append(mixed)
                index += 5
                continue
            token = _number(value)
            token.start, token.end = start, end
            tokens.append(token)
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
                if raw[index + 1 : index + 3] and [r[0] for r in raw[index + 1 : index + 3]] == ["op", "num"] \
                        and raw[index + 1][1] == "^":
                    index += 2  # a unit's power: 40 cm^2, 8 m³
        index += 1
    return tokens


def _mixed_number(raw: list[tuple], index: int) -> Token | None:
    """`4 1/2` read as one number, 9/2: a whole number, a space, then a proper fraction."""
    if index + 4 >= len(raw) or raw[index + 1][0] != "space" or raw[index + 3][1] != "/":
        return None
    window = raw[index : index + 6]
    if len(window) < 5 or [w[0] for w in window[:5]] != ["num", "space", "num", "op", "num"]:
        return None
    whole, space, numerator, slash, denominator = window[:5]
    if "\n" in space[1] or slash[1] != "/" or not all(w[1].isdigit() for w in (whole, numerator, denominator)):
        return None
    if len(window) == 6 and window[5][0] in ("num", "op") and window[5][1] not in "+-*":
        return None  # 4 1/2^3, 4 1/20.5: not a mixed number
    before = next((r for r in reversed(raw[:index]) if r[0] != "space"), None)
    if before is not None and before[0] == "op" and before[1] in "/^":
        return None  # 6 / 2 1/2 is not 6 / (2 + 1/2)
    if not 0 < int(numerator[1]) < int(denominator[1]):
        return None
    value = int(whole[1]) + Fraction(int(numerator[1]), int(denominator[1]))
    return Token("num", f"{whole[1]} {numerator[1]}/{denominator[1]}", whole[2], denominator[3], value)


def _word_token(word: str, start: int, end: int, tokens: list[Token], glued_before: bool,
                after: tuple | None, nxt: tuple | None, skip_next: str | None) -> Token:
    lower = word.lower()
    previous = tokens[-1] if tokens else None
    glued_after = after is not None and after[0] != "space"
    if skip_next == lower:
        return Token("skip", word, start, end)
    if previous is not None and previous.kind == "num" and not previous.percent and (
        (lower in MAGNITUDES and previous.unit is None)
        or (lower == "k" and glued_before and not (glued_after and after[0] in ("word", "num"))
            and (previous.value >= 10 or previous.decimals))
    ):
        scale = MAGNITUDES.get(lower, 1000)  # 3.8 million, 40k: the written precision scales too
        previous.value, previous.scale, previous.end = previous.value * scale, previous.scale * scale, end
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
    if lower not in STOP_WORDS and previous is not None and previous.kind in ("num", "rp"):
        previous.unit = previous.unit or lower
        return Token("skip", word, start, end)  # a unit or a label: "12 km", "3 apples each", "12 red"
    return Token("break", word, start, end)


# ---------------------------------------------------------------- parsing and exact evaluation


class Unsupported(Exception):
    """Not plain arithmetic we can check exactly (huge powers, ambiguous percentages)."""


@dataclass
class Value:
    number: Fraction | None  # None: division by zero
    percent: bool = False
    literal: Token | None = None  # set when the expression is one bare number


class Parser:
    """Recursive descent over arithmetic tokens: + - * / ^, parentheses, unary minus, 'p% of x'.

    `operators` counts the operations read; `leading` is the signed first number read (the running
    total in "12 + -30 = -18 - (-20) = 2").
    """

    def __init__(self, tokens: list[Token], position: int) -> None:
        self.tokens = tokens
        self.position = position
        self.operators = 0
        self.leading: Fraction | None = None
        self._sign = 1
        self._started = False

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
                before = self.position
                self.take()
                try:
                    right = self.power()
                except SyntaxError:  # "60% of the students": no number after "of"
                    self.position = before
                    return left
                self.operators += 1
                left = Value(_apply("*", left.number, right.number))
                continue
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
            self._sign = -self._sign if not self._started else self._sign
            inner = self.unary()
            return Value(None if inner.number is None else -inner.number, inner.percent)
        if self.peek("op", "+"):
            self.take()
            return self.unary()
        return self.atom()

    def atom(self) -> Value:
        if self.peek("num"):
            token = self.take()
            if not self._started:
                self._started, self.leading = True, self._sign * token.value
            return Value(token.value, token.percent, token)
        if self.peek("lp"):
            self.take()
            self._started = True  # a bracket first: no running total to read
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
