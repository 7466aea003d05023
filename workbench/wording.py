"""Counts in words: "1 sample", "2 samples", "1,234 rows"."""

from __future__ import annotations


def quantity(n: int, noun: str, plural: str | None = None) -> str:
    """n with its noun in the right number (the plural is noun + "s" unless given)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
