"""LaTeX math inside a step's prose: where it is, and what in it is not plain arithmetic.

Real model solutions (ProcessBench, MATH) write their calculations in LaTeX inside prose: inline
`\\(...\\)` or `$...$`, display `\\[...\\]` or `$$...$$`. Inside math mode a bare letter is a variable
(math italic), never a unit: units and labels are written with `\\text{...}`. So before the prose reader
(workbench.verify.written_arithmetic) sees a step, `mark_math(text)`:

- ends every display block with a line break, so two displays never read as one calculation;
- marks as opaque (a variable, never checked as arithmetic) every bare letter run in math mode, and
  what has no plain arithmetic meaning: subscripted names (`a_6`, `S_{100}`, a base `7602_8`), matrices and
  arrays, repeating decimals (`0.\\overline{6}`), factorials (`4!`), derivatives (`f''(4)`), absolute values
  (`|x|`) and set or vector notation;
- keeps `\\text{...}` words as words (units and labels) and `\\times`, `\\frac`... for the prose reader.

Pandoc's rule tells a `$` of math from a dollar sign: an opening `$` has a non-space right after it, a
closing `$` a non-space right before it and no digit right after it ("$3.5 * 4000 = $14,000" is money).
"""

from __future__ import annotations

import re

from workbench.verify.written_arithmetic import OPAQUE

# \(...\), \[...\], $$...$$, $...$ (pandoc's rule for single dollars)
MATH = re.compile(
    r"\\\((?P<inline>.*?)\\\)"
    r"|\\\[(?P<display>.*?)\\\]"
    r"|\$\$(?P<ddollar>.*?)\$\$"
    r"|(?<![\\$])\$(?=[^\s$])(?P<dollar>[^$]*?[^\s\\$])\$(?!\d)",
    re.DOTALL,
)
DISPLAY_ENVIRONMENT = re.compile(r"\\begin\{(equation|align|gather|multline|eqnarray)\*?\}(.*?)\\end\{\1\*?\}",
                                 re.DOTALL)
ARRAY = re.compile(r"\\begin\{(?P<env>[pbvBV]?matrix|smallmatrix|array|cases)\}.*?\\end\{(?P=env)\}", re.DOTALL)
DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ\b|\\degree\b")
TEXT_WORDS = re.compile(r"\\(?:text|mathrm|textbf|textit|mbox|operatorname)\s*\{([^{}]*)\}")
SUBSCRIPTED = re.compile(r"(?:\\[A-Za-z]+|[A-Za-z0-9]+|\})\s*_\s*(?:\{[^{}]*\}|\\?[A-Za-z0-9])")
OVERLINE = re.compile(r"[\d.]*\\(?:overline|dot|bar|vec|hat|widehat|tilde|mathbf|mathbb|mathcal|bold|boldsymbol)\s*"
                      r"(?:\{(?:[^{}]|\{[^{}]*\})*\}|\\?[A-Za-z0-9])")
FACTORIAL = re.compile(r"(?:\d+|\)|\})\s*!")
PRIMED = re.compile(r"[A-Za-z]\s*(?:'|\\prime)+")
ABSOLUTE = re.compile(r"\\[lr]vert|\\[lr]Vert|\\\||\|")
# commands the prose reader turns into plain arithmetic or layout; every other command is opaque there anyway
PLAIN_COMMANDS = (
    "frac", "dfrac", "tfrac", "times", "cdot", "div", "left", "right", "approx", "pm", "mp", "quad", "qquad",
    "displaystyle", "boxed", "text", "mathrm", "textbf", "begin", "end", "sqrt", "pi",
)
OTHER_COMMAND = re.compile(r"\\(?!(?:" + "|".join(PLAIN_COMMANDS) + r")(?![A-Za-z]))[A-Za-z]+")
LETTER_RUN = re.compile(r"(?<![\\A-Za-z])[A-Za-z]+")  # not a command's name
PLACEHOLDER = "\x00{}\x00"
WORD_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def math_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, display) of every math segment's content in `text`; display blocks say so."""
    spans = []
    for match in MATH.finditer(text):
        name = match.lastgroup
        spans.append((match.start(name), match.end(name), name in ("display", "ddollar")))
    return spans


def mark_math(text: str) -> str:
    """The text with math segments made safe for the prose reader (see the module docstring)."""
    if "\\" not in text and "$" not in text:
        return text
    text = DISPLAY_ENVIRONMENT.sub(lambda m: "\\[" + m[2] + "\\]", text)
    pieces: list[str] = []
    last = 0
    for match in MATH.finditer(text):
        name = match.lastgroup
        pieces.append(text[last : match.start()])
        inner = _mark_segment(match.group(name))
        display = name in ("display", "ddollar")
        pieces.append(f"\n{inner}\n" if display else f" {inner} ")
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _mark_segment(math: str) -> str:
    words: list[str] = []

    def keep_words(match: re.Match | tuple[str, str]) -> str:
        words.append(match[1])
        return PLACEHOLDER.format(len(words) - 1)

    if "\\" in math:
        if "circ" in math or "degree" in math:
            math = DEGREES.sub(lambda m: keep_words(("", "degrees")), math)  # 60^\circ: a unit, like "60 degrees"
        math = TEXT_WORDS.sub(keep_words, math)
        if "\\begin" in math:
            math = ARRAY.sub(OPAQUE, math)
        math = OVERLINE.sub(OPAQUE, math)
    for pattern, cues in ((SUBSCRIPTED, ("_",)), (PRIMED, ("'", "\\prime")), (FACTORIAL, ("!",))):
        if any(cue in math for cue in cues):
            math = pattern.sub(OPAQUE, math)
    if "|" in math or "vert" in math:
        math = ABSOLUTE.sub(OPAQUE, math)
    math = LETTER_RUN.sub(OPAQUE, OTHER_COMMAND.sub(OPAQUE, math))
    return WORD_PLACEHOLDER.sub(lambda m: f" {words[int(m[1])]} ", math) if words else math
