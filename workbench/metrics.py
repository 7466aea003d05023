"""Measures of a text's information: token entropy summaries and lexical diversity.

Lexical measures work on word tokens (lower-cased words and punctuation marks):
- lexical entropy: Shannon entropy (bits) of the token frequency distribution;
- distinct-n: unique n-grams / all n-grams;
- compression ratio: raw bytes / zlib-compressed bytes (higher = more repetitive).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter

TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def word_tokens(text: str) -> list[str]:
    return TOKEN.findall(text.casefold())


def lexical_entropy(text: str) -> float:
    """Shannon entropy in bits of the text's token distribution (0 for an empty text)."""
    counts = Counter(word_tokens(text))
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def distinct_n(text: str, n: int) -> float:
    """Share of unique n-grams among all n-grams (0 when the text has fewer than n tokens)."""
    tokens = word_tokens(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def compression_ratio(text: str) -> float:
    """Raw UTF-8 size over zlib-compressed size: about 1 for varied short text, high for repetition."""
    raw = text.encode("utf-8")
    if not raw:
        return 0.0
    return len(raw) / len(zlib.compress(raw, 9))


def lexical_metrics(text: str) -> dict[str, float]:
    return {
        "lexical_entropy": lexical_entropy(text),
        "distinct_1": distinct_n(text, 1),
        "distinct_2": distinct_n(text, 2),
        "compression_ratio": compression_ratio(text),
        "length_tokens": float(len(word_tokens(text))),
    }


def token_entropy_metrics(entropies: list[float] | None) -> dict[str, float | None]:
    """Mean and max per-token entropy (nats); None when the backend gave no distribution."""
    if not entropies:
        return {"token_entropy_mean": None, "token_entropy_max": None}
    return {"token_entropy_mean": sum(entropies) / len(entropies), "token_entropy_max": max(entropies)}
