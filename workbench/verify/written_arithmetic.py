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
from functools import lru_cache

MAX_EXPONENT = 64
MAX_BITS = 4096
OPAQUE = " π "  # stands for anything that is not plain arithmetic; always read as a variable

# ---------------------------------------------------------------- normalisation

CALCULATOR = re.compile(r"<<([^<>]*)>>")
CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
LATEX_WRAPPERS = re.compile(r"\\(?:text|mathrm|textbf|mathbf|boxed|operatorname)\s*\{([^{}]*)\}")
LATEX_MIXED = re.compile(r"(?<![\d.])(\d+)\s*\\d?t?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
LATEX_FRAC = re.compile(r"\\d?t?frac\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
LATEX_SYMBOLS = {
    r"\times": "*", r"\cdot": "*", r"\div": "/", r"\approx": "≈", r"\%": "%", r"\$": "$", r"\left": "",
    r"\right": "", r"\,": "", r"\!": "", r"\(": " ", r"\)": " ", r"\[": " ", r"\]": " ", r"\pm": "±",
    r"\mp": "±", r"\pi": OPAQUE, r"\qquad": " ", r"\quad": " ", r"\;": " ", r"\:": " ", r"\displaystyle": " ",
    "&=": "=", "=&": "=", r"\\": "\n",
}
LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
CURRENCY = re.compile(r"[$€£¥]")
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
DIGIT_SPACE_DIGIT = re.compile(r"\d \d")  # what SPACED_THOUSANDS needs
SLASH_WORD = re.compile(r"/\s*[A-Za-z]")  # what a rate or a ratio of unit words needs
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
            if "frac" not in text and LATEX_WRAPPERS.search(text) is None:
                break
            text = LATEX_WRAPPERS.sub(r" \1 ", text)
            text = LATEX_FRAC.sub(_fraction, text)
    if "\\" in text or "&" in text:
        for symbol, plain in LATEX_SYMBOLS.items():
            text = text.replace(symbol, plain)
    text = text.translate(UNICODE).replace("**", "^")
    if "\\" in text:
        text = LATEX_COMMAND.sub(OPAQUE, text)  # any other LaTeX command: not plain arithmetic
    if ":" in text:
        text = TIME_OF_DAY.sub(OPAQUE, text)
    if "," in text:
        text = WHICH_IS.sub("", text)
        text = THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    if any(sign in text for sign in "$€£¥"):
        text = CURRENCY_MAGNITUDE.sub(lambda m: f"{m[1]} {SUFFIX_WORDS[m[2].lower()]}", text)
        text = CURRENCY.sub(" ", text)
    if DIGIT_SPACE_DIGIT.search(text):
        text = SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(" ", ""), text)
    if "/" in text and SLASH_WORD.search(text):
        text = WORD_RATIO.sub(r"\1PER\2", RATE.sub(r" PER\1", UNIT_RATIO.sub(r"\1\2PER\3", text)))
    return text


def _fraction(match: re.Match) -> str:
    """`\\frac{3}{4}` -> `(3/4)`; `\\frac{a + 1}{2}` -> `((a + 1)/(2))`: brackets only where a part needs them."""
    numerator, denominator = match[1].strip(), match[2].strip()
    if PLAIN_NUMBER.fullmatch(numerator) and PLAIN_NUMBER.fullmatch(denominator):
        return f"({numerator}/{denominator})"
    return f"(({numerator})/({denominator}))"


# ---------------------------------------------------------------- tokens

# one token, after the spaces before it (group "space" is set when there were some)
TOKEN = re.compile(
    r"(?P<space>[^\S\n]+)?(?:"
    r"(?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+(?![\w.]))?(?:\s*%)?)"
    r"|(?P<op>[-+*/^])"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<eq>==?|≈|~=?)"
    r"|(?P<word>[A-Za-zπ]+(?:'[a-z]+)?)"
    r"|(?P<sep>\.(?!\d)|[,;:!?\n\[\]\"<>|&±])"
    r"|(?P<other>\S))"
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
SPECIAL_WORDS = {*OPERATOR_WORDS, *EQUALITY_WORDS, *APPROX_WORDS, "of"}  # words that are more than a break


@dataclass(slots=True)
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


@lru_cache(maxsize=4096)
def _number_value(text: str) -> tuple[Fraction, bool, int]:
    """(exact value, written as a percentage, digits after the decimal point) of a number token's text."""
    percent = text.endswith("%")
    digits = text.rstrip("% ").strip()
    if digits.isdigit():  # the common case, without Fraction's string parsing
        value, decimals = Fraction(int(digits)), 0
    else:
        mantissa, _, exponent = digits.lower().partition("e")
        decimals = max(0, (len(mantissa.split(".")[1]) if "." in mantissa else 0) - int(exponent or 0))
        value = Fraction(digits)
    return (value / 100 if percent else value), percent, decimals


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Arithmetic tokens of `text[start:end]` (positions are the whole text's); unit words after numbers are
    dropped, other words break expressions."""
    # (kind, text, start, end, glued to the token before)
    raw = [(m.lastgroup, m[m.lastgroup], m.start(m.lastgroup), m.end(), m.start(1) < 0)
           for m in TOKEN.finditer(text, start, len(text) if end is None else end)]
    count = len(raw)
    tokens: list[Token] = []
    skip_next: str | None = None
    index = 0
    while index < count:
        kind, value, begin, finish, glued = raw[index]
        if kind == "num":
            mixed = _mixed_number(raw, index) if index + 3 < count and raw[index + 2][1] == "/" else None
            if mixed is not None:
                tokens.append(mixed)
                index += 4
                continue
            tokens.append(Token("num", value, begin, finish, *_number_value(value)))
        elif kind in ("op", "lp", "rp"):
            tokens.append(Token(kind, value, begin, finish))
        elif kind == "eq":
            tokens.append(Token("approx" if value.startswith(("≈", "~")) else "eq", value, begin, finish))
        elif kind in ("sep", "other"):
            tokens.append(Token("break", value, begin, finish))
        else:
            after = raw[index + 1] if index + 1 < count else None
            tokens.append(_word_token(value, begin, finish, tokens, glued and begin > 0, after, skip_next))
            skip_next = SKIPPED_AFTER.get(value.lower())
            if tokens[-1].kind == "skip":
                tokens.pop()
                if index + 2 < count and after[1] == "^" and after[4] and raw[index + 2][0] == "num" and raw[index + 2][4]:
                    index += 2  # a unit's power: 40 cm^2, 8 m³
        index += 1
    return tokens


def _mixed_number(raw: list[tuple], index: int) -> Token | None:
    """`4 1/2` read as one number, 9/2: a whole number, a space, then a proper fraction."""
    if index + 3 >= len(raw) or raw[index + 2][1] != "/":
        return None
    whole, numerator, slash, denominator = raw[index : index + 4]
    if (numerator[4] or not slash[4] or not denominator[4] or [numerator[0], denominator[0]] != ["num", "num"]
            or not all(w[1].isdigit() for w in (whole, numerator, denominator))):
        return None
    following = raw[index + 4] if index + 4 < len(raw) else None
    if following is not None and following[4] and following[0] in ("num", "op") and following[1] not in "+-*":
        return None  # 4 1/2^3, 4 1/20.5: not a mixed number
    if index > 0 and raw[index - 1][0] == "op" and raw[index - 1][1] in "/^":
        return None  # 6 / 2 1/2 is not 6 / (2 + 1/2)
    if not 0 < int(numerator[1]) < int(denominator[1]):
        return None
    value = int(whole[1]) + Fraction(int(numerator[1]), int(denominator[1]))
    return Token("num", f"{whole[1]} {numerator[1]}/{denominator[1]}", whole[2], denominator[3], value)


def _word_token(word: str, start: int, end: int, tokens: list[Token], glued_before: bool,
                nxt: tuple | None, skip_next: str | None) -> Token:
    lower = word.lower()
    previous = tokens[-1] if tokens else None
    if (len(word) > 1 and lower not in SPECIAL_WORDS and lower != skip_next
            and (previous is None or previous.kind not in ("num", "rp"))
            and (nxt is None or nxt[0] != "lp" or glued_before or not nxt[4])):
        return Token("break", word, start, end)  # the common case: a word of prose
    glued_after = nxt is not None and nxt[4]
    if skip_next == lower:
        return Token("skip", word, start, end)
    if previous is not None and previous.kind == "num" and not previous.percent and (
        (lower in MAGNITUDES and previous.unit is None)
        or (lower == "k" and glued_before and not (glued_after and nxt[0] in ("word", "num"))
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


@dataclass(slots=True)
class Value:
    number: Fraction | None  # None: division by zero
    percent: bool = False
    literal: Token | None = None  # set when the expression is one bare number


END = Token("end", "", -1, -1)  # what a parser reads past the last token


class Parser:
    """Recursive descent over arithmetic tokens: + - * / ^, parentheses, unary minus, 'p% of x'.

    `operators` counts the operations read; `leading` is the signed first number read (the running
    total in "12 + -30 = -18 - (-20) = 2").
    """

    def __init__(self, tokens: list[Token], position: int) -> None:
        self.tokens = tokens
        self.size = len(tokens)
        self.position = position
        self.operators = 0
        self.leading: Fraction | None = None
        self._sign = 1
        self._started = False

    def current(self) -> Token:
        """The token at the position, or END past the last one."""
        return self.tokens[self.position] if self.position < self.size else END

    def expression(self) -> Value:
        left = self.term()
        while (token := self.current()).kind == "op" and token.text in ("+", "-"):
            self.position += 1
            right = self.term()
            self.operators += 1
            if left.percent != right.percent:
                raise Unsupported("a percentage added to a plain number is ambiguous")
            left = Value(_apply(token.text, left.number, right.number), left.percent and right.percent)
        return left

    def term(self) -> Value:
        left = self.power()
        while True:
            token = self.current()
            if token.kind == "op" and token.text in ("*", "/"):
                self.position += 1
                operator = token.text
            elif token.kind == "of" and (left.percent or self._is_fraction(left)):
                before = self.position
                self.position += 1
                try:
                    right = self.power()
                except SyntaxError:  # "60% of the students": no number after "of"
                    self.position = before
                    return left
                self.operators += 1
                left = Value(_apply("*", left.number, right.number))
                continue
            elif token.kind == "lp" and self._opens_expression() and (left.literal is None or left.literal.unit is None):
                operator = "*"  # 2(3 + 4); not "2.67 (round up to 3)", a remark, nor "25 pens into (25/5)", a label away
            else:
                return left
            right = self.power()
            self.operators += 1
            left = Value(_apply(operator, left.number, right.number))

    def _opens_expression(self) -> bool:
        """The bracket at the position opens a number, a bracket or a sign, not words."""
        following = self.tokens[self.position + 1] if self.position + 1 < self.size else END
        return following.kind in ("num", "lp", "op", "var")

    def _is_fraction(self, value: Value) -> bool:
        return value.number is not None and value.literal is None and value.number.denominator != 1

    def power(self) -> Value:
        base = self.unary()
        token = self.current()
        if token.kind == "op" and token.text == "^":
            self.position += 1
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
        token = self.current()
        if token.kind == "op" and token.text == "-":
            self.position += 1
            self._sign = -self._sign if not self._started else self._sign
            inner = self.unary()
            return Value(None if inner.number is None else -inner.number, inner.percent)
        if token.kind == "op" and token.text == "+":
            self.position += 1
            return self.unary()
        return self.atom()

    def atom(self) -> Value:
        token = self.current()
        if token.kind == "num":
            self.position += 1
            if not self._started:
                self._started, self.leading = True, self._sign * token.value
            return Value(token.value, token.percent, token)
        if token.kind == "lp":
            self.position += 1
            self._started = True  # a bracket first: no running total to read
            inner = self.expression()
            if self.current().kind != "rp":
                raise SyntaxError("unclosed parenthesis")
            self.position += 1
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
