"""Model text cut into what it is: prose and fenced code blocks, so a page can show code as code (line
breaks kept) and text as text, never as HTML or collapsed Markdown.

Fences follow CommonMark: a line of three or more backticks or tildes (up to three spaces of indent)
with an optional info string opens a block; a line of the same character, at least as long, closes
it. A fence left open (a generation cut at its token limit) runs to the end of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")


@dataclass
class Block:
    kind: str  # 'text' or 'code'
    text: str
    language: str | None = None


def blocks(text: str) -> list[Block]:
    """The text as prose and code blocks, in order; blank edges of prose are trimmed and empty prose dropped."""
    found: list[Block] = []
    prose: list[str] = []
    code: list[str] | None = None
    opening = ""
    language: str | None = None

    def flush_prose() -> None:
        joined = "\n".join(prose).strip("\n")
        if joined.strip():
            found.append(Block("text", joined))
        prose.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        match = FENCE.match(line)
        if code is None and match:
            flush_prose()
            code, opening = [], match["fence"]
            language = (match["info"].split() or [None])[0]
        elif code is not None and match and not match["info"] and match["fence"][0] == opening[0] \
                and len(match["fence"]) >= len(opening):
            found.append(Block("code", "\n".join(code), language))
            code = None
        elif code is not None:
            code.append(line)
        else:
            prose.append(line)
    if code is not None:
        found.append(Block("code", "\n".join(code), language))
    flush_prose()
    return found


def cut_at_stops(text: str, stops: Iterable[str]) -> str:
    """The text up to the first stop string (backends that ignore `stop` run on into the next example, or the next
    turn); an empty stop string stops nothing."""
    positions = [text.find(stop) for stop in stops if stop and stop in text]
    return text[: min(positions)] if positions else text
