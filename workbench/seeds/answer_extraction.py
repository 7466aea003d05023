"""Final answers inside worked solutions and reasoning paths, read by the markers this field uses.

- GSM8K (Cobbe et al., 2021): a closing `#### 42` line; calculator annotations `<<48/2=24>>` inside the
  text are for a calculator, not the reader (`strip_calculator_annotations`).
- MATH (Hendrycks et al., 2021): `\\boxed{...}` (or `\\fbox{...}`), braces nested to any depth.
- Prose: `Answer: ...`, `Final answer: ...`, `The (final) answer is ...`, and a line `A: ...`.

The answer a text states LAST wins. The answer is returned as written (units and currency kept: "$0.40"),
without a trailing full stop, bold markers or a wrapping `$...$`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CALCULATOR_ANNOTATION = re.compile(r"<<[^<>\n]*>>")
BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
HASHES = re.compile(r"####[ \t]*(?P<answer>[^\n]*)")
SAID = re.compile(
    r"\b(?:the\s+)?(?:final\s+)?answer\s*(?:is\b\s*:?|:|=)[ \t]*(?P<answer>[^\n]*)", re.IGNORECASE
)
SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")
A_LINE = re.compile(r"^[ \t]*A[ \t]*:[ \t]*(?P<answer>[^\n]*)", re.MULTILINE)
MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))

# How each marker is named in an import report.
MARKER_GSM8K = "the '#### n' line"
MARKER_BOXED = "\\boxed{...}"
MARKER_SAID = "the 'Answer: ...' / 'The answer is ...' statement"
MARKER_A_LINE = "the 'A: ...' line"
LAST_LINE_MARKERS = (MARKER_SAID, MARKER_A_LINE)


@dataclass(frozen=True)
class FinalAnswer:
    """A final answer found in a text: the answer, the marker that stated it, and where the statement is."""

    answer: str
    marker: str
    start: int
    end: int


def strip_calculator_annotations(text: str) -> str:
    """The text without GSM8K's `<<6*4=24>>` calculator annotations ("6*4=<<6*4=24>>24" -> "6*4=24")."""
    return CALCULATOR_ANNOTATION.sub("", text)


def _balanced(text: str, open_brace: int) -> int | None:
    """Index just past the brace closing the one at `open_brace` (escaped `\\{` `\\}` skipped), or None."""
    depth, index = 0, open_brace
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def clean_answer(answer: str) -> str:
    """An answer without surrounding space, bold markers, a trailing full stop or a wrapping `$...$`."""
    answer = answer.strip().strip("*").strip()
    answer = answer.rstrip(".").strip()
    for opening, closing in MATH_WRAPPERS:
        inner = answer[len(opening) : -len(closing)] if len(answer) > len(opening) + len(closing) else ""
        if answer.startswith(opening) and answer.endswith(closing) and opening not in inner:
            answer = inner.strip().rstrip(".").strip()
            break
    return answer


def final_answers(text: str) -> list[FinalAnswer]:
    """Every non-empty final-answer statement in a text, in order of where it starts."""
    found: list[FinalAnswer] = []
    for match in BOXED.finditer(text):
        end = _balanced(text, match.end() - 1)
        if end is not None:
            found.append(FinalAnswer(text[match.end() : end - 1], MARKER_BOXED, match.start(), end))
    for pattern, marker in ((HASHES, MARKER_GSM8K), (SAID, MARKER_SAID), (A_LINE, MARKER_A_LINE)):
        for match in pattern.finditer(text):
            answer = match.group("answer")
            if marker == MARKER_SAID:  # "The answer is 4. I hope it is correct." -> "4"
                answer = SENTENCE_END.split(answer, maxsplit=1)[0]
            found.append(FinalAnswer(answer, marker, match.start(), match.end()))
    cleaned = [FinalAnswer(clean_answer(f.answer), f.marker, f.start, f.end) for f in found]
    return sorted((f for f in cleaned if f.answer), key=lambda f: (f.start, -f.end))


def find_final_answer(text: str) -> FinalAnswer | None:
    """The statement of the answer a text gives last (a `\\boxed{}` inside 'The answer is ...' wins), or None."""
    answers = final_answers(text)
    return answers[-1] if answers else None


def extract_final_answer(text: str) -> str | None:
    """The answer a text states last ('Answer: 54', '\\boxed{\\frac{1}{2}}', '#### 54'), or None."""
    found = find_final_answer(text)
    return found.answer if found else None


@dataclass(frozen=True)
class SplitReference:
    """A reference text read as a final answer and, when it is a worked solution, that solution."""

    answer: str
    solution: str | None
    marker: str | None  # how the answer was read from the solution; None: the text is the answer itself


def split_reference(text: str) -> SplitReference:
    """Split a reference into its final answer and worked solution.

    A text that states its final answer ('#### 18', '\\boxed{}' anywhere; 'Answer: ...', 'The answer is ...',
    'A: ...' on its last line) is a worked solution: the solution is the text without calculator
    annotations, the answer what it states. A text that is nothing but that statement ('Answer: 42') gives the
    answer alone. Any other text is the final answer itself, as written.
    """
    solution = strip_calculator_annotations(text).strip()
    found = find_final_answer(solution)
    if found is None or (found.marker in LAST_LINE_MARKERS and solution[found.end :].strip()):
        return SplitReference(text.strip(), None, None)
    rest = (solution[: found.start] + solution[found.end :]).strip()
    return SplitReference(found.answer, solution if rest else None, found.marker)
