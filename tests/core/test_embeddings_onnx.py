"""Embeddings through ONNX Runtime: the model exported at install time gives the vectors torch float32 gives on
held-out real texts (public seed files and GSM8K solutions, never the sample seeds the export checked itself on),
and torch takes over, saying why, wherever the export is missing or broken."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.core import embeddings
from workbench.core.jobs import queue, worker
from workbench.core.onnx_encoder import MANIFEST, export_dir
from workbench.core.onnx_export import MIN_COSINE, export, neighbours_kept
from workbench.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def held_out_texts() -> list[str]:
    """Real texts the export never saw: every string field of the public seed files (Alpaca, Dolly, GSM8K, MATH,
    Self-Instruct, a spreadsheet), and real GSM8K solutions."""
    from workbench.formats.record_files import read_records

    texts: list[str] = []
    for path in sorted((FIXTURES / "seeds").iterdir()):
        for record, _ in read_records(path.read_bytes(), path.name, problems=[]):
            texts += [v for v in record.values() if isinstance(v, str) and len(v.split()) >= 3]
    for line in (FIXTURES / "gsm8k_style_solutions.jsonl").read_text().splitlines():
        texts.append(json.loads(line)["solution"])
    return list(dict.fromkeys(texts))


@pytest.fixture
def fresh_backend():
    """The backend choice is made once per process: forget it before and after."""
    embeddings.backend.cache_clear()
    embeddings._onnx_encoder.cache_clear()
    yield
    embeddings.backend.cache_clear()
    embeddings._onnx_encoder.cache_clear()


def test_the_onnx_model_keeps_every_vector_and_every_neighbourhood_of_torch_float32(monkeypatch, fresh_backend):
    if not (export_dir() / MANIFEST).exists():
        pytest.skip("the ONNX export is not installed here (make install runs `python -m workbench.core.onnx_export`)")
    monkeypatch.setenv("WORKBENCH_EMBED_FP32", "1")  # the reference is torch in float32, on any CPU
    texts = held_out_texts()
    assert len(texts) > 120  # instructions, inputs, answers and worked solutions
    assert embeddings.backend().kind == "onnx"
    fast = embeddings.encode(texts)
    exact = embeddings.encode_torch(texts, batch_size=32)
    assert fast.shape == exact.shape == (len(texts), 384)
    assert np.linalg.norm(fast, axis=1) == pytest.approx(np.ones(len(texts)), abs=1e-4)
    assert (fast * exact).sum(axis=1).min() >= MIN_COSINE
    kept = neighbours_kept(exact, fast)
    assert kept.min() >= 0.9, f"{int((kept < 0.9).sum())} texts lost more than one of their 10 nearest neighbours"


def test_texts_come_back_in_order_whatever_their_length(fresh_backend):
    if not (export_dir() / MANIFEST).exists():
        pytest.skip("the ONNX export is not installed here")
    texts = ["short", "a much longer sentence about the weather in the mountains in spring " * 20, "mid length text"]
    together = embeddings.encode(texts)
    alone = np.vstack([embeddings.encode([text]) for text in texts])
    assert (together * alone).sum(axis=1).min() > 0.9999  # sorting by length never mixes the rows up


def test_torch_takes_over_and_says_why(monkeypatch, tmp_path, fresh_backend):
    monkeypatch.setenv(embeddings.BACKEND_ENV, "torch")
    assert embeddings.backend().kind == "torch" and "WORKBENCH_EMBED_BACKEND=torch" in embeddings.backend().note
    monkeypatch.delenv(embeddings.BACKEND_ENV)
    embeddings.backend.cache_clear()
    monkeypatch.setattr("workbench.core.onnx_encoder.export_dir", lambda model_dir=None: tmp_path / "none")
    assert embeddings.backend().kind == "torch" and "not installed (run `make install`" in embeddings.backend().note
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text('{"variant": "float32"}')
    (broken / "model.onnx").write_bytes(b"not a model")
    monkeypatch.setattr("workbench.core.onnx_encoder.export_dir", lambda model_dir=None: broken)
    embeddings.backend.cache_clear()
    assert embeddings.backend().kind == "torch" and "did not load" in embeddings.backend().note
    vectors = embeddings.encode(["a question about tides"])  # and it still embeds
    assert vectors.shape == (1, 384)
    assert embeddings.backend("some/other-model").kind == "torch"


def test_a_failed_export_reports_why_and_never_raises(tmp_path):
    report = export(model_dir=tmp_path / "no-model", target=tmp_path / "out")
    assert report.variant is None and "ONNX export failed" in report.reason and "torch" in report.reason
    assert not (tmp_path / "out").exists()


def test_the_embed_job_notes_which_backend_embedded(store: Store):
    store.seeds.insert_seeds([{"instruction": "How do tides work?"}, {"instruction": "Why is the sky blue?"},
                        {"instruction": "Sort a list in Python."}])
    job_id = queue.submit(store, "analyse.embed", {"concurrency": 1})
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    job = store.jobs.get_job(job_id)
    assert job["status"] == "done" and job["note"] == embeddings.backend().note
    assert job["note"].startswith("embeddings: ")
