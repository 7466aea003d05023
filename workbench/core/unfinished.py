"""Whether a text stops mid-sentence: a generation cut off, or a turn that ends where it should go on.

Used by Magpie's filters and Evol-Instruct's elimination, where a base model often stops at a newline
or a stop string halfway through a sentence ("Use the following function:", "Write a poem about the").
"""

from __future__ import annotations

import re

# Words that never end a finished English sentence: a text that stops on one (with no closing punctuation)
# was cut mid-sentence. Prepositions are left out on purpose: questions end on them ("What is it made of").
DANGLING_WORDS = frozenset(
    "a an the and or but nor than because whether although unless whereas my your our their its whose very such".split()
)
CONTINUES = tuple(",:;-–—([{/&+=\\")
_OPENERS = {"(": ")", "[": "]", "{": "}"}


def unfinished_reason(text: str, english: bool = True) -> str | None:
    """Why a text stops mid-sentence, or None when it ends like a finished turn.

    Unfinished: an unclosed code fence or bracket, a last character that continues the sentence (a comma,
    colon, dash, opening bracket...), or, for English, a last word that cannot end a sentence ('the', 'and').
    """
    stripped = text.rstrip()
    if not stripped:
        return None
    if stripped.count("```") % 2:
        return "an unclosed code block"
    for opener, closer in _OPENERS.items():
        if stripped.count(opener) > stripped.count(closer):
            return f"an unclosed {opener!r}"
    if stripped.endswith(CONTINUES):
        return f"ends with {stripped[-1]!r}"
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?$", stripped)
    if english and words and words[-1].casefold() in DANGLING_WORDS and words[-1] != "A":  # "vitamin A" ends fine
        return f"ends with {words[-1]!r}"
    return None
