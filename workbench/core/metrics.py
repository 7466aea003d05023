"""Measures of a text's information: token entropy, lexical diversity, novelty, uncertainty.

Lexical measures work on word tokens (lower-cased words and punctuation marks):
- lexical entropy: Shannon entropy (bits) of the token frequency distribution;
- distinct-n: unique n-grams / all n-grams;
- compression ratio: raw bytes / zlib-compressed bytes (higher = more repetitive).

Embedding measures take L2-normalised vectors (a dot product is the cosine similarity):
- novelty: 1 - the highest cosine similarity to a reference set (seeds, accepted samples);
- near-duplicate groups: connected groups of texts whose similarity is >= a threshold;
- answer clusters and label entropy (bits), from which workbench/analyse/uncertainty.py measures semantic disagreement.

Every entropy here, and every token entropy the Teacher returns, is in bits (Shannon, log base 2).

Entropy gain of an evolved instruction is its lexical entropy minus that of its parent (or seed).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter

import numpy as np

TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

# The unit of each stored metric that has one (the rest are shares, ratios or scores in [0, 1]): what pages print.
METRIC_UNITS = {
    **dict.fromkeys(("token_entropy_mean", "token_entropy_max", "query_entropy_mean", "answer_entropy_mean",
                     "lexical_entropy", "entropy_gain_parent", "entropy_gain_seed", "semantic_disagreement",
                     "uncertainty_token_entropy"), "bits"),
    **dict.fromkeys(("length_tokens", "length_gain_parent"), "word tokens"),
}


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
    """Mean and max per-token entropy (bits); None when the backend gave no distribution."""
    if not entropies:
        return {"token_entropy_mean": None, "token_entropy_max": None}
    return {"token_entropy_mean": sum(entropies) / len(entropies), "token_entropy_max": max(entropies)}


# ---------------------------------------------------------------- gains over a parent

def entropy_gain(value: float | None, reference: float | None) -> float | None:
    """How much entropy a text gained over its reference (None when either is unknown)."""
    if value is None or reference is None:
        return None
    return value - reference


# ---------------------------------------------------------------- embedding measures

BLOCK_ROWS = 2048  # rows of a similarity matrix computed at once: bounds memory at 100k items


def max_similarity(vectors: np.ndarray, reference: np.ndarray, exclude: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For each vector, the highest cosine similarity to a reference vector and that reference's index.

    `exclude[i]` (optional) is a reference index that row i may not match (itself); -1 for none.
    With an empty reference the similarity is NaN and the index -1.
    """
    best = np.full(len(vectors), np.nan, dtype=np.float32)
    where = np.full(len(vectors), -1, dtype=np.int64)
    if len(vectors) == 0 or len(reference) == 0:
        return best, where
    for start in range(0, len(vectors), BLOCK_ROWS):
        block = vectors[start : start + BLOCK_ROWS] @ reference.T
        if exclude is not None:
            rows = np.arange(len(block))
            own = exclude[start : start + len(block)]
            block[rows[own >= 0], own[own >= 0]] = -np.inf
        where[start : start + len(block)] = block.argmax(axis=1)
        best[start : start + len(block)] = block.max(axis=1)
    best[np.isneginf(best)] = np.nan  # a reference that held only the row itself
    where[np.isnan(best)] = -1
    return best, where


def novelty(vectors: np.ndarray, reference: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """1 - max cosine similarity to the reference set, per vector (NaN when the reference is empty)."""
    return 1.0 - max_similarity(vectors, reference, exclude)[0]


BF16_MARGIN = 0.01  # a bfloat16 dot product of unit vectors is within 2**-8 of the float32 one
BF16_FROM = 20_000  # rows from which the bfloat16 screen pays for importing torch (seconds) in a worker without it


def similar_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i < j, of normalised vectors whose cosine similarity is >= threshold (float32 exact).

    Only the upper triangle is computed, in blocks of rows. Where the CPU does bfloat16 in hardware
    (`workbench.core.embeddings.native_bf16`) and there are at least BF16_FROM rows, a bfloat16 product (AMX: about
    5x faster at 100k rows) screens for candidates within BF16_MARGIN of the threshold, and each candidate is
    checked in float32.
    """
    from workbench.core.embeddings import native_bf16

    screen = None
    if native_bf16() and len(vectors) >= BF16_FROM:
        import torch

        screen = torch.from_numpy(np.array(vectors, dtype=np.float32)).to(torch.bfloat16)  # a writable copy for torch
    rows, cols = [], []
    for start in range(0, len(vectors), BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(vectors))
        if screen is None:
            i, j = np.nonzero(vectors[start:stop] @ vectors[start:].T >= threshold)
        else:
            block = (screen[start:stop] @ screen[start:].T).float().numpy()
            i, j = np.nonzero(block >= threshold - BF16_MARGIN)
            exact = np.einsum("ij,ij->i", vectors[start + i], vectors[start + j]) >= threshold
            i, j = i[exact], j[exact]
        keep = i < j
        rows.append(i[keep] + start)
        cols.append(j[keep] + start)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def near_duplicate_groups(vectors: np.ndarray, threshold: float = 0.95) -> list[list[int]]:
    """Groups (lists of row indices, each of 2+ rows) linked by cosine similarity >= threshold.

    Linking is transitive: a~b and b~c puts a, b and c in one group. Largest groups first.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(vectors)
    if n == 0:
        return []
    rows, cols = similar_pairs(vectors, threshold)
    edges = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(edges, directed=False)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def cluster_labels(vectors: np.ndarray, threshold: float = 0.85) -> np.ndarray:
    """Cluster vectors (average linkage) so that texts of one cluster have mean cosine similarity >= threshold."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    return fcluster(tree, t=1.0 - threshold, criterion="distance")


def label_entropy(labels: np.ndarray | list) -> float:
    """Shannon entropy (bits) of the distribution of labels: 0 when all agree, log2 k when all differ."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    if len(counts) == 0:
        return 0.0
    probs = counts / counts.sum()
    return float(-(probs * np.log2(probs)).sum())


def percentile_ranks(values: dict[int, float]) -> dict[int, float]:
    """Each key's value as a rank in (0, 1] among all values (ties share their mean rank, as scipy's rankdata gives
    them, without its seconds of import)."""
    if not values:
        return {}
    keys = list(values)
    _, position, counts = np.unique(np.array([values[k] for k in keys], dtype=float), return_inverse=True,
                                    return_counts=True)
    last = np.cumsum(counts)  # 1-based rank of the last member of each group of equal values
    mean_rank = last - (counts - 1) / 2
    return {k: float(r) for k, r in zip(keys, mean_rank[position] / len(keys), strict=True)}
