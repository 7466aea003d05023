"""Counts in words for messages and pages: "1 sample", "2 samples", "1 query", "3 queries"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The count with its noun in the right number, the count with thousands separators.

    `plural_form` defaults to the singular + "s"; pass it for other nouns ("query", "queries").
    """
    noun = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {noun}"
