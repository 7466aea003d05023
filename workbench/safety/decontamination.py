"""Benchmark decontamination: which seeds and samples contain, or closely restate, a benchmark test item.

Two checks, as in the published recipes:

- **Word n-gram overlap** (GPT-3, Brown et al. 2020, appendix C; Llama 2, Touvron et al. 2023,
  section A.6): texts are lower-cased and split into words (runs of letters and digits); a
  benchmark item's n-grams (n = 13 by default) are looked up in every text. A text's
  `ngram_overlap` with an item is the share of the item's n-grams that occur in the text, in
  [0, 1]: 1.0 when the whole benchmark question sits inside a longer sample. An item shorter than
  n words is matched as one n-gram of its own length, down to `MIN_WORDS`; shorter items are
  checked by similarity only.
- **Embedding similarity**: the cosine of the text's vector and the item's (the store's
  sentence-transformers model, normalised vectors), which catches a restated item that shares
  no long word sequence (Yang et al. 2023, "Rethinking benchmark and contamination for language
  models with rephrased samples", use it to find candidates).

A text is flagged for an item when `ngram_overlap >= min_overlap` or `similarity >=
min_similarity`. The defaults (`DEFAULT_MIN_OVERLAP`, `DEFAULT_MIN_SIMILARITY`) flag a
benchmark question copied into a longer sample and a near-verbatim restatement, and leave alone a
question that only follows the same template with other names and numbers; GPT-3's stricter
rule (any shared 13-gram) is `min_overlap` just above 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_NGRAM = 13
DEFAULT_MIN_OVERLAP = 0.5
DEFAULT_MIN_SIMILARITY = 0.95
MIN_WORDS = 8
WORD = re.compile(r"[^\W_]+", re.UNICODE)
SIMILARITY_BLOCK = 4096


def words(text: str) -> list[str]:
    """Lower-cased words (runs of letters and digits) of a text; punctuation and spacing are ignored."""
    return WORD.findall(text.lower())


def _grams(tokens: Sequence[str], n: int) -> set[int]:
    """Hashes of the text's n-grams (Python's hash of the word tuple: valid within one process)."""
    return {hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class Settings:
    """How the scan matches: n-gram size (words), and the overlap and similarity that flag a text."""

    ngram: int = DEFAULT_NGRAM
    min_overlap: float = DEFAULT_MIN_OVERLAP
    min_similarity: float = DEFAULT_MIN_SIMILARITY

    def __post_init__(self) -> None:
        if not 1 <= int(self.ngram) <= 50:
            raise ValueError(f"the n-gram size must be between 1 and 50 words, not {self.ngram}")
        if not 0.0 < float(self.min_overlap) <= 1.0:
            raise ValueError(f"the n-gram overlap threshold must lie in (0, 1], not {self.min_overlap}")
        if not 0.0 < float(self.min_similarity) <= 1.0:
            raise ValueError(f"the similarity threshold must lie in (0, 1], not {self.min_similarity}")


class NgramIndex:
    """Every benchmark item's word n-grams, for looking up which items a text overlaps.

    `items` are the benchmark texts; item i has `sizes[i]` n-grams of `lengths[i]` words (n, or
    its own length when shorter than n); items under `MIN_WORDS` words get no n-grams.
    """

    def __init__(self, items: Sequence[str], n: int = DEFAULT_NGRAM) -> None:
        self.n = n
        self.postings: dict[int, dict[int, list[int]]] = {}  # gram length -> gram hash -> item indices
        self.sizes = np.zeros(len(items), dtype=np.int64)
        for index, text in enumerate(items):
            tokens = words(text)
            if len(tokens) < min(n, MIN_WORDS):
                continue
            length = min(n, len(tokens))
            grams = _grams(tokens, length)
            self.sizes[index] = len(grams)
            table = self.postings.setdefault(length, {})
            for gram in grams:
                table.setdefault(gram, []).append(index)

    def overlaps(self, text: str) -> dict[int, float]:
        """{item index: share of that item's n-grams found in `text`} for every item it overlaps."""
        tokens = words(text)
        hits: dict[int, int] = {}
        for length, table in self.postings.items():
            for gram in _grams(tokens, length):
                for index in table.get(gram, ()):
                    hits[index] = hits.get(index, 0) + 1
        return {index: count / int(self.sizes[index]) for index, count in hits.items()}


@dataclass
class Hit:
    """One text's strongest match in one benchmark: positions into the scanned texts and benchmark items."""

    text_index: int
    item_index: int
    ngram_overlap: float
    similarity: float | None


def scan(texts: Sequence[str], index: NgramIndex, settings: Settings,
         text_vectors: np.ndarray | None = None, item_vectors: np.ndarray | None = None) -> list[Hit]:
    """The flagged texts, each with its strongest match among the benchmark's items.

    `text_vectors` (len(texts), d) and `item_vectors` (items, d) are normalised embeddings; without
    them only n-grams are checked. Similarity is computed in blocks, so 100k texts against 10k
    items needs no more than a block's matrix in memory. A text's strongest match is the item
    with the highest n-gram overlap, or, when none reaches the threshold, the most similar item.
    """
    best_similarity: np.ndarray | None = None
    best_item: np.ndarray | None = None
    if text_vectors is not None and item_vectors is not None and len(item_vectors) and len(text_vectors):
        best_similarity = np.empty(len(texts), dtype=np.float32)
        best_item = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), SIMILARITY_BLOCK):
            block = text_vectors[start : start + SIMILARITY_BLOCK] @ item_vectors.T
            best_item[start : start + len(block)] = block.argmax(axis=1)
            best_similarity[start : start + len(block)] = block.max(axis=1)
    hits: list[Hit] = []
    for position, text in enumerate(texts):
        overlaps = index.overlaps(text)
        top = max(overlaps, key=overlaps.__getitem__) if overlaps else None
        overlap = overlaps[top] if top is not None else 0.0
        similar = float(best_similarity[position]) if best_similarity is not None else None
        if overlap >= settings.min_overlap:
            similarity = _similarity(text_vectors, item_vectors, position, top) if similar is not None else None
            hits.append(Hit(position, top, overlap, similarity))
        elif similar is not None and similar >= settings.min_similarity - 1e-6:
            item = int(best_item[position])
            hits.append(Hit(position, item, overlaps.get(item, 0.0), similar))
    return hits


def _similarity(text_vectors: np.ndarray, item_vectors: np.ndarray, position: int, item: int) -> float:
    return float(text_vectors[position] @ item_vectors[item])


def benchmark_texts(records: Iterable[dict], field: str, source: str) -> list[str]:
    """The chosen field of every record, as text. Raises ValueError naming the field, the fields the
    file has, and the first record without it, or when the file holds no record at all."""
    texts: list[str] = []
    seen_fields: list[str] = []
    for number, record in enumerate(records, start=1):
        if not seen_fields:
            seen_fields = list(record)
        value = record.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            fields = ", ".join(seen_fields) or "none"
            raise ValueError(f"{source}: record {number} has no '{field}' field (fields in this file: {fields})")
        texts.append(str(value).strip())
    if not texts:
        raise ValueError(f"{source}: the file holds no records")
    return texts
