"""Decontamination in the product: benchmark files registered (and refused), the scan job over the real store,
vectors from the embedding cache, the CLI's JSON, exports leaving matches out and the card listing them, and
Review showing a sample's match beside it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.ship_data import CLEAN_PII, add_sample
from workbench.cli import main
from workbench.core.embeddings import DEFAULT_MODEL
from workbench.core.jobs import runner
from workbench.export.engine import ExportError, ExportOptions, export, preview_card
from workbench.safety.benchmark_sets import (
    BenchmarkError,
    file_fields,
    register_benchmark,
    register_benchmark_file,
)
from workbench.safety.decontamination import Settings
from workbench.safety.job import submit_decontam_scan
from workbench.store import Store, task_text, text_hash

NATALIA = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?")
WENG = ("Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
        "How much did she earn?")
CONTAINS_NATALIA = f"Here is a practice problem for you. {NATALIA} Show your work and give the final answer."
SAME_TEMPLATE = ("Marco sold pencils to 30 of his classmates in March, and then he sold a third as many pencils in "
                 "April. How many pencils did Marco sell in total over the two months?")
GSM8K_JSONL = "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in ((NATALIA, "72"), (WENG, "10"))).encode()


def benchmark_tables(store: Store) -> tuple:
    return (store.safety.list_benchmarks(), store._scalar("SELECT count(*) FROM benchmark_items"))


def scan_now(store: Store, settings: Settings | None = None, similarity: bool = False) -> dict:
    job_id = submit_decontam_scan(store, settings, similarity=similarity)
    assert runner.run_job(store, store.jobs.claim_next_job(1)) == "done", store.jobs.get_job(job_id)["error"]
    return store.jobs.get_job(job_id)["result"]


# ---------------------------------------------------------------- registering benchmark files


def parquet_bytes(rows: list[dict]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


@pytest.mark.parametrize(("name", "data"), [
    ("gsm8k.jsonl", GSM8K_JSONL),
    ("gsm8k.csv", f'question,answer\n"{NATALIA}",72\n"{WENG}",10\n'.encode()),
    ("gsm8k.parquet", parquet_bytes([{"question": NATALIA, "answer": "72"}, {"question": WENG, "answer": "10"}])),
    ("gsm8k.json", json.dumps([{"question": NATALIA}, {"question": WENG}], indent=1).encode()),
])
def test_jsonl_csv_parquet_and_json_arrays_register_the_chosen_field(store, name, data):
    assert file_fields(data, name)[0] == "question"
    benchmark = register_benchmark(store, data, name, "question", "gsm8k")
    assert (benchmark.name, benchmark.n_items, benchmark.field, benchmark.file) == ("gsm8k", 2, "question", name)
    assert store.safety.benchmark_items(benchmark.id)["text"] == [NATALIA, WENG]


def test_the_name_defaults_to_the_file_stem(store, tmp_path):
    path = tmp_path / "gsm8k_test.jsonl"
    path.write_bytes(GSM8K_JSONL)
    assert register_benchmark_file(store, path, "question").name == "gsm8k_test"


@pytest.mark.parametrize(("name", "data", "field", "message"), [
    ("b.jsonl", GSM8K_JSONL, "problem", r"record 1 has no 'problem' field \(fields in this file: question, answer\)"),
    ("b.jsonl", b"", "question", "the file is empty"),
    ("b.jsonl", b"\n\n", "question", "the file is empty"),
    ("b.json", b"[]", "question", "holds no records"),
    ("b.parquet", parquet_bytes([{"question": "x"}])[:40], "question", "not a readable Parquet file"),
    ("b.jsonl", GSM8K_JSONL + b'{"question": broken\n', "question", "line 3: invalid JSON"),
    ("b.csv", f'question,answer\n"{NATALIA}",72\n,10\n'.encode(), "question", "record 2 has no 'question' field"),
])
def test_bad_benchmark_files_are_refused_with_the_reason_and_no_change(store, name, data, field, message):
    register_benchmark(store, b'{"question": "an earlier benchmark question here"}\n', "earlier.jsonl", "question")
    before = benchmark_tables(store)
    with pytest.raises(BenchmarkError, match=message) as refused:
        register_benchmark(store, data, name, field, "new")
    assert "nothing was registered" in str(refused.value)
    assert benchmark_tables(store) == before


def test_registering_twice_by_name_or_by_content_is_refused_with_no_change(store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    before = benchmark_tables(store)
    with pytest.raises(BenchmarkError, match="a benchmark named 'gsm8k' is registered already; nothing was added"):
        register_benchmark(store, b'{"question": "another question entirely, not the same"}\n', "other.jsonl", "question", "gsm8k")
    csv_copy = f'question\n"{NATALIA}"\n"{WENG}"\n'.encode()  # the same items in another container, another name
    with pytest.raises(BenchmarkError, match=r"the same items are registered already as 'gsm8k' \(from gsm8k.jsonl\)"):
        register_benchmark(store, csv_copy, "copy.csv", "question", "copy")
    assert benchmark_tables(store) == before


def test_a_missing_file_is_refused(store, tmp_path):
    with pytest.raises(BenchmarkError, match="cannot read .*nope.jsonl"):
        register_benchmark_file(store, tmp_path / "nope.jsonl", "question")


# ---------------------------------------------------------------- the scan job


def test_a_benchmark_question_inside_a_longer_sample_is_caught_and_a_merely_similar_one_left_alone(store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    copied = add_sample(store, CONTAINS_NATALIA, "72")
    similar = add_sample(store, SAME_TEMPLATE, "40")
    in_answer = add_sample(store, "Write a word problem about clips.", f"Sure: {WENG}")
    seed = store.seeds.insert_seeds([{"instruction": "Solve it.", "input": NATALIA, "reference_answer": "72"}])[0]
    result = scan_now(store)
    hits = {(h["item_type"], h["item_id"]): h for h in store.safety.contamination_hits()}
    assert set(hits) == {("sample", copied), ("sample", in_answer), ("seed", seed)}
    assert ("sample", similar) not in hits
    assert hits[("sample", copied)]["match"] == NATALIA and hits[("sample", copied)]["ngram_overlap"] == 1.0
    assert hits[("sample", in_answer)]["item_index"] == 1
    assert result["flagged"] == 3 and result["by_benchmark"] == {"gsm8k": 3}


def test_a_rescan_replaces_the_hits_and_the_ngram_size_is_a_setting(store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    half = " ".join(NATALIA.split()[:14])  # the first 14 words: 2 of the item's 18 13-grams
    sample = add_sample(store, f"{half} ... and so on.")
    scan_now(store)
    assert store.safety.contamination_hits() == []
    scan_now(store, Settings(ngram=8, min_overlap=0.2))  # 7 of its 23 8-grams
    assert [h["item_id"] for h in store.safety.contamination_hits()] == [sample]
    store.review.edit_sample(sample, {"instruction": "Something else entirely."}, "Ada")
    scan_now(store, Settings(ngram=8, min_overlap=0.2))
    assert store.safety.contamination_hits() == []


def put_vectors(store: Store, vectors: dict[str, list[float]]) -> None:
    """Vectors in the store's embedding cache for the default model, keyed by text as the product keys them."""
    rows = [(text_hash(text), (np.array(v) / np.linalg.norm(v)).astype(np.float32).tobytes()) for text, v in vectors.items()]
    store.embeddings.put_embeddings(DEFAULT_MODEL, 3, rows)


def test_similarity_uses_the_cached_vectors_and_flags_a_restatement_at_the_threshold(store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    restated = add_sample(store, "Clips: 48 sold in April to friends, half that in May; the total over both months?")
    unrelated = add_sample(store, "Write a haiku about autumn.")
    put_vectors(store, {
        NATALIA: [1, 0, 0], WENG: [0, 1, 0],
        "Clips: 48 sold in April to friends, half that in May; the total over both months?": [0.99, 0.141, 0],
        "Write a haiku about autumn.": [0.8, 0.6, 0],
    })
    job_id = submit_decontam_scan(store, Settings(min_similarity=0.95), similarity=True)
    job = store.jobs.claim_next_job(1)
    assert runner.HANDLERS["decontam_scan"].units(runner.JobContext(store, job)) == ["scan:1"]  # nothing left to embed
    assert runner.run_job(store, job) == "done"
    hits = store.safety.contamination_hits()
    assert [(h["item_id"], h["item_index"]) for h in hits] == [(restated, 0)]
    assert hits[0]["similarity"] == pytest.approx(0.99, abs=1e-3) and hits[0]["ngram_overlap"] == 0.0
    assert unrelated not in {h["item_id"] for h in hits}
    assert store.jobs.get_job(job_id)["result"]["without_vector"] == 0


def test_texts_without_a_cached_vector_are_embedded_first(store, monkeypatch):
    import workbench.core.embeddings as embeddings

    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    sample = add_sample(store, "Count the clips.", "x", input="There are 48 clips.")
    embedded: list[list[str]] = []

    def fake_encode(texts, model, batch_size):  # the model is not the point here: which texts get embedded is
        embedded.append(list(texts))
        return np.tile(np.array([[0.0, 0.0, 1.0]], dtype=np.float32), (len(texts), 1))

    monkeypatch.setattr(embeddings, "encode", fake_encode)
    submit_decontam_scan(store, similarity=True)
    job = store.jobs.claim_next_job(1)
    units = runner.HANDLERS["decontam_scan"].units(runner.JobContext(store, job))
    assert units == [f"embed:sample:{sample}-{sample}", "embed:benchmark_item:1-2", "scan:1"]
    assert runner.run_job(store, job) == "done"
    assert sorted(t for batch in embedded for t in batch) == sorted([task_text("Count the clips.", "There are 48 clips."),
                                                                     NATALIA, WENG])
    assert store.embeddings.embedding_count(DEFAULT_MODEL) == 3


def test_a_scan_without_benchmarks_is_refused(store):
    with pytest.raises(ValueError, match="no benchmark is registered"):
        submit_decontam_scan(store)


# ---------------------------------------------------------------- the command line


def test_cli_add_list_and_scan_json_shape(db_path, tmp_path, capsys):
    store = Store(db_path)
    copied = add_sample(store, CONTAINS_NATALIA)
    add_sample(store, SAME_TEMPLATE)
    store.close()
    path = tmp_path / "gsm8k.jsonl"
    path.write_bytes(GSM8K_JSONL)
    assert main(["--db", str(db_path), "decontam", "add", str(path), "--field", "question", "--name", "GSM8K"]) == 0
    assert "registered benchmark 'GSM8K': 2 items" in capsys.readouterr().out
    assert main(["--db", str(db_path), "decontam", "add", str(path), "--field", "question", "--name", "again"]) == 2
    assert "registered already as 'GSM8K'" in capsys.readouterr().err
    assert main(["--db", str(db_path), "decontam", "scan", "--json", "--no-similarity"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"flagged": 1, "by_benchmark": {"GSM8K": 1}, "items": [
        {"type": "sample", "id": copied, "benchmark": "GSM8K", "match": NATALIA, "ngram_overlap": 1.0, "similarity": None}]}
    assert main(["--db", str(db_path), "decontam", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["n_items"], b["field"], b["flagged"]) for b in listed] == [("GSM8K", 2, "question", 1)]


def test_cli_refuses_bad_thresholds_and_a_missing_field(db_path, tmp_path, capsys):
    path = tmp_path / "gsm8k.jsonl"
    path.write_bytes(GSM8K_JSONL)
    assert main(["--db", str(db_path), "decontam", "add", str(path), "--field", "problem"]) == 2
    assert "has no 'problem' field" in capsys.readouterr().err
    assert main(["--db", str(db_path), "decontam", "add", str(path), "--field", "question"]) == 0
    assert main(["--db", str(db_path), "decontam", "scan", "--min-overlap", "2"]) == 2
    assert "overlap threshold must lie in (0, 1]" in capsys.readouterr().err


# ---------------------------------------------------------------- export and the dataset card


@pytest.fixture
def contaminated(store: Store) -> dict:
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    copied = add_sample(store, CONTAINS_NATALIA, "72")
    clean = add_sample(store, SAME_TEMPLATE, "40")
    scan_now(store)
    return {"copied": copied, "clean": clean}


def export_to(store: Store, name: str, **options):
    return export(store, ExportOptions(fmt="alpaca", card=True, **options), name, Path(store.path).parent / "exports")


def test_export_leaves_matches_out_by_default_and_the_card_lists_them(store, contaminated):
    result = export_to(store, "out.jsonl")
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert [r["instruction"] for r in rows] == [SAME_TEMPLATE]
    assert result.contaminated == 1 and "1 sample left out as matching a benchmark item" in result.summary()
    card = result.card_path.read_text()
    assert "## Benchmark decontamination" in card
    assert "gsm8k (2 items, field `question` of `gsm8k.jsonl`)" in card
    assert "13-gram word overlap >= 0.5" in card and "1 flagged sample was left out of this export" in card
    assert f"| {contaminated['copied']} | gsm8k | 1 | 1.00 |" in card and "Natalia sold clips" in card
    assert store.export.list_exports()[0]["options"]["contaminated"] == 1


def test_an_option_lets_matches_through_and_the_card_still_lists_them(store, contaminated):
    result = export_to(store, "all.jsonl", contaminated="allow")
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert len(rows) == 2 and result.contaminated == 0
    card = result.card_path.read_text()
    assert "let through on request: 1 of the exported samples match a benchmark item" in card
    assert f"| {contaminated['copied']} | gsm8k | 1 |" in card


def test_the_card_preview_says_the_same(store, contaminated):
    card = preview_card(store, ExportOptions(fmt="alpaca"), "x.jsonl")
    assert "1 flagged sample was left out" in card and "1 synthetic sample" in card


def test_no_benchmark_means_no_decontamination_section(store):
    add_sample(store, SAME_TEMPLATE)
    assert "decontamination" not in export_to(store, "plain.jsonl").card_path.read_text().lower()


def test_cli_export_allow_contaminated(db_path, store, contaminated, capsys):
    assert main(["--db", str(db_path), "export", "--format", "alpaca", "--out", "cli.jsonl"]) == 0
    assert "1 sample left out as matching a benchmark item" in capsys.readouterr().out
    assert main(["--db", str(db_path), "export", "--format", "alpaca", "--out", "cli2.jsonl", "--allow-contaminated"]) == 0
    assert "benchmark" not in capsys.readouterr().out


# ---------------------------------------------------------------- pages


def app_at(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(page)
    return at


def test_review_shows_the_match_beside_the_sample(store, contaminated):
    store.review.set_sample_status([contaminated["copied"], contaminated["clean"]], "pending", "Ada")
    at = app_at("views/review.py").run()
    assert not at.exception
    assert at.subheader[0].value.startswith(f"Sample {contaminated['copied']}")
    assert any("Matches **gsm8k** item 1: word n-gram overlap 100%" in e.value for e in at.error)
    assert NATALIA in [t.value for t in at.text]
    at = next(b for b in at.button if b.label == "Skip").click().run()
    assert at.subheader[0].value.startswith(f"Sample {contaminated['clean']}")
    assert not any("Matches **gsm8k**" in e.value for e in at.error)


def test_decontamination_page_lists_benchmarks_and_matches(store, contaminated):
    at = app_at("views/decontamination.py").run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    assert frames[0][["name", "items", "flagged"]].values.tolist() == [["gsm8k", 2, 1]]
    assert frames[1][["type", "id", "benchmark item"]].values.tolist() == [["sample", contaminated["copied"], NATALIA]]
    assert at.number_input[0].value == 13


def test_decontamination_page_queues_a_scan_with_the_chosen_settings(store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    at = app_at("views/decontamination.py").run()
    assert any("Not scanned yet" in i.value for i in at.info)
    at.number_input[0].set_value(8)
    at.checkbox[0].uncheck()
    at = next(b for b in at.button if b.label == "Save and scan").click().run()
    assert not at.exception
    job = store.jobs.list_jobs(kind="decontam_scan")[0]
    assert job["params"]["settings"]["ngram"] == 8 and job["params"]["similarity"] is False
    assert store.settings.get_setting("decontamination")["ngram"] == 8


def test_empty_decontamination_page_says_how_to_start(db_path):
    at = app_at("views/decontamination.py").run()
    assert not at.exception
    assert any("No benchmark registered yet" in i.value for i in at.info)


def test_an_export_before_any_scan_of_a_registered_benchmark_is_refused(store: Store):
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    add_sample(store, CONTAINS_NATALIA, "72")
    with pytest.raises(ExportError, match="1 sample to export was not checked against the registered benchmarks"):
        export_to(store, "early.jsonl")
    assert export_to(store, "early.jsonl", contaminated="allow").written == 1  # let through on request


def test_the_card_names_samples_made_or_edited_after_the_last_scan(store, contaminated):
    store.review.edit_sample(contaminated["clean"], {"instruction": "An edited task after the scan."}, "Ada")
    store.samples.set_sample_pii({contaminated["clean"]: CLEAN_PII})  # an edit forgets the PII scan
    add_sample(store, "A sample made after the scan.")
    with pytest.raises(ExportError, match="2 samples to export were not checked against the registered benchmarks"):
        export_to(store, "late.jsonl")  # blocking matches cannot block what was never checked: refused, nothing written
    assert not (Path(store.path).parent / "exports" / "late.jsonl").exists()
    card = export_to(store, "late.jsonl", contaminated="allow").card_path.read_text()
    assert "2 exported samples were created or edited after the last scan and were not checked" in card
    at = app_at("views/decontamination.py").run()
    assert any("2 samples were created or edited after the last scan" in w.value for w in at.warning)


def test_when_embedding_fails_the_scan_still_checks_ngrams_and_says_what_had_no_vector(store, monkeypatch):
    import workbench.core.embeddings as embeddings

    def broken_encode(texts, model, batch_size):
        raise RuntimeError("no model here")

    monkeypatch.setattr(embeddings, "encode", broken_encode)
    register_benchmark(store, GSM8K_JSONL, "gsm8k.jsonl", "question", "gsm8k")
    copied = add_sample(store, CONTAINS_NATALIA)
    add_sample(store, SAME_TEMPLATE)
    job_id = submit_decontam_scan(store, similarity=True)
    runner.run_job(store, store.jobs.claim_next_job(1))
    job = store.jobs.get_job(job_id)
    assert job["failed_units"] == 2 and "no model here" in store.jobs.unit_errors(job_id)[0]["error"]
    assert [(h["item_id"], h["similarity"]) for h in store.safety.contamination_hits()] == [(copied, None)]
    assert job["result"]["without_vector"] == 2
