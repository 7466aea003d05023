"""Export: every format's exact layout, PII blocking and redaction, atomic writes, path and overwrite refusal,
recording, lineage and metric columns, calculator annotations, the 30/70 mix, the planner, one dataset card per
export, and the export job (scan, then write) that the page and the CLI share."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import ROOT
from tests.ship_data import CLEAN_PII, PLANTED, add_chain, add_gate_path, add_sample, add_scored_path
from workbench.cli import main
from workbench.core.jobs import runner
from workbench.core.settings import set_reviewer_name
from workbench.export import dataset_card
from workbench.export import engine as export_module
from workbench.export.engine import FORMATS, PREFERENCE, ExportError, ExportOptions, export, preview_card
from workbench.export.job import submit_export
from workbench.formats.sample_formats import SampleRecord
from workbench.review import mix
from workbench.store import Store

A_INSTRUCTION = "Add 2 and 3, then double the result."
A_OUTPUT = "10"
B_INSTRUCTION = "Name a prime number."
B_OUTPUT = "7"


@pytest.fixture
def shipped(store: Store) -> dict:
    """Two approved samples (A evolved with a scored path and an overrule; B from Magpie, no path), one pending, one rejected."""
    set_reviewer_name(store, "Ada")
    seed_id, leaf = add_chain(store)
    a = add_sample(store, A_INSTRUCTION, A_OUTPUT, status="pending", seed_id=seed_id, node_id=leaf,
                   model="openai/gpt-4o-mini", params={"temperature": 0.7})
    _, steps = add_scored_path(store, a, ["2 + 3 = 5", "5 * 2 = 10"], [0.9, 0.2])
    store.verify.add_step_overrule(steps[1], "neutral", "rounding is fine", "Ada")
    store.metrics.set_metrics("sample", a, {"lexical_entropy": 3.0, "novelty_seeds": 0.4})
    b = add_sample(store, B_INSTRUCTION, B_OUTPUT, source="magpie", status="pending")
    store.review.set_sample_status([a, b], "approved", "Ada")
    pending = add_sample(store, "Pending task.", "p", status="pending")
    rejected = add_sample(store, "Rejected task.", "r", status="rejected")
    return {"a": a, "b": b, "pending": pending, "rejected": rejected, "steps": steps, "seed_id": seed_id, "leaf": leaf}


def run(store: Store, fmt: str, name: str | None = None, **options) -> export_module.ExportResult:
    root = Path(store.path).parent / "exports"
    return export(store, ExportOptions(fmt=fmt, **options), name or f"out.{fmt}", root)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- formats


def test_openai_layout(store, shipped):
    result = run(store, "openai")
    assert lines(result.path) == [
        {"messages": [{"role": "user", "content": A_INSTRUCTION}, {"role": "assistant", "content": A_OUTPUT}]},
        {"messages": [{"role": "user", "content": B_INSTRUCTION}, {"role": "assistant", "content": B_OUTPUT}]},
    ]
    assert (result.written, result.synthetic, result.natural) == (2, 2, 0)


def test_openai_keeps_multi_turn_conversations(store):
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
             {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    add_sample(store, "hi", "hello", turns=turns)
    assert lines(run(store, "openai").path) == [{"messages": turns}]


def test_sharegpt_layout(store, shipped):
    assert lines(run(store, "sharegpt").path)[0] == {
        "conversations": [{"from": "human", "value": A_INSTRUCTION}, {"from": "gpt", "value": A_OUTPUT}]
    }


def test_alpaca_layout(store, shipped):
    assert lines(run(store, "alpaca").path) == [
        {"instruction": A_INSTRUCTION, "input": "", "output": A_OUTPUT},
        {"instruction": B_INSTRUCTION, "input": "", "output": B_OUTPUT},
    ]


def test_trl_stepwise_layout_takes_only_fully_rated_paths(store, shipped):
    result = run(store, "trl-stepwise")
    # step 2 scored 0.2 (-1) but a human overruled it to neutral (0): not wrong, so True
    assert lines(result.path) == [{"prompt": A_INSTRUCTION, "completions": ["2 + 3 = 5", "5 * 2 = 10"], "labels": [True, True]}]
    assert result.skipped == {"no reasoning steps": 1}
    assert "1 skipped: no reasoning steps" in result.summary()


def test_prm800k_layout_with_the_latest_overrule_winning(store, shipped):
    expected_steps = [
        {"completions": [{"text": "2 + 3 = 5", "rating": 1, "flagged": False}], "human_completion": None, "chosen_completion": 0},
        {"completions": [{"text": "5 * 2 = 10", "rating": 0, "flagged": False}], "human_completion": None, "chosen_completion": 0},
    ]
    assert lines(run(store, "prm800k").path) == [
        {"question": {"problem": A_INSTRUCTION, "ground_truth_answer": A_OUTPUT},
         "label": {"steps": expected_steps, "finish_reason": "solution"}}
    ]
    store.verify.add_step_overrule(shipped["steps"][1], "incorrect", "second look", "Grace")
    (row,) = lines(run(store, "prm800k", "again.jsonl").path)
    assert [s["completions"][0]["rating"] for s in row["label"]["steps"]] == [1, -1]
    assert row["label"]["finish_reason"] == "found_error"


def test_verifier_score_alone_gives_minus_one_below_the_threshold(store):
    sample_id = add_sample(store, "task")
    add_scored_path(store, sample_id, ["good", "bad"], [0.8, 0.3])
    (row,) = lines(run(store, "trl-stepwise").path)
    assert row["labels"] == [True, False]
    (row,) = lines(run(store, "trl-stepwise", "low.jsonl", step_threshold=0.2).path)
    assert row["labels"] == [True, True]


def test_parquet_layout_lineage_and_metric_columns_written_in_batches(store, shipped):
    result = run(store, "parquet", lineage=True, metrics=True, batch_size=1)
    file = pq.ParquetFile(result.path)
    assert file.num_row_groups == 2
    rows = file.read().to_pylist()
    assert list(rows[0])[:8] == ["source", "instruction", "input", "output", "messages", "tags", "steps", "step_ratings"]
    a, b = rows
    assert (a["source"], a["instruction"], a["output"]) == ("evol", A_INSTRUCTION, A_OUTPUT)
    assert a["messages"] == [{"role": "user", "content": A_INSTRUCTION, "extra": None},
                             {"role": "assistant", "content": A_OUTPUT, "extra": None}]
    assert a["lineage_sample_id"] == shipped["a"] and a["lineage_source"] == "evol"
    assert a["steps"] == ["2 + 3 = 5", "5 * 2 = 10"] and a["step_ratings"] == [1, 0]
    assert a["lineage_seed_id"] == shipped["seed_id"] and a["lineage_node_id"] == shipped["leaf"]
    assert a["lineage_operators"] == ["add_constraints", "deepen"] and a["lineage_depth"] == 2
    assert a["lineage_reviewer"] == "Ada" and a["lineage_decision"] == "approved"
    # its path did not pass the gate, so its own answer ships, and the lineage names no path or verifier as its checker
    assert (a["lineage_verified"], a["lineage_path_id"], a["lineage_verifiers"]) == (False, None, [])
    assert a["lineage_unverified_reason"].startswith("no reasoning path passed the gate")
    assert a["lineage_teacher_model"] == "openai/gpt-4o-mini"
    assert json.loads(a["lineage_teacher_params"]) == {"temperature": 0.7}
    assert (a["metric_lexical_entropy"], a["metric_novelty_seeds"]) == (3.0, 0.4)
    assert b["steps"] == [] and b["metric_lexical_entropy"] is None and b["lineage_operators"] == []


def test_plain_parquet_has_no_lineage_or_metric_columns(store, shipped):
    names = pq.read_schema(run(store, "parquet").path).names
    assert names == ["source", "instruction", "input", "output", "messages", "tags", "steps", "step_ratings", "tools"]


def test_jsonl_lineage_and_metrics_are_extra_keys(store, shipped):
    first = lines(run(store, "alpaca", lineage=True, metrics=True).path)[0]
    assert set(first) == {"instruction", "input", "output", "lineage", "metrics"}
    assert first["lineage"]["operators"] == ["add_constraints", "deepen"]
    assert first["lineage"]["path_id"] is None and first["lineage"]["reviewer"] == "Ada"
    assert first["lineage"]["verified"] is False and first["lineage"]["answer"] == "original"
    assert first["metrics"] == {"lexical_entropy": 3.0, "novelty_seeds": 0.4}


def test_status_all_takes_every_status(store, shipped):
    rows = lines(run(store, "alpaca", status=None).path)
    assert [r["instruction"] for r in rows] == [A_INSTRUCTION, B_INSTRUCTION, "Pending task.", "Rejected task."]


def test_each_export_is_recorded_with_its_samples(store, shipped):
    result = run(store, "openai", lineage=True)
    (recorded,) = store.export.list_exports()
    assert recorded["id"] == result.export_id and recorded["format"] == "openai"
    assert recorded["path"] == str(result.path) and recorded["n_samples"] == 2
    assert recorded["options"]["lineage"] is True and recorded["options"]["pii"] == "block"
    assert store.export.export_item_ids(result.export_id) == [shipped["a"], shipped["b"]]
    assert store.overview.counts()["exports"] == 1


# ---------------------------------------------------------------- PII


@pytest.fixture
def planted(store: Store) -> dict[str, int]:
    """One clean sample and, per planted kind, a sample carrying the value in its instruction, answer and steps."""
    from workbench.safety.pii import scan_samples

    clean = add_sample(store, "Add 2 and 3.", "5", pii=None)
    add_scored_path(store, clean, ["2 + 3 = 5"], [0.9])
    ids = {"clean": clean}
    for entity, (_, sentence) in PLANTED.items():
        ids[entity] = add_sample(store, f"Rewrite this: {sentence}", f"Rewritten: {sentence}", pii=None)
        add_scored_path(store, ids[entity], ["Read it.", sentence], [0.9, 0.9])
        add_gate_path(store, ids[entity], ["Read it.", f"Answer: {sentence}"], path_index=1)  # passes: a pair each
    scan_samples(store, list(ids.values()))
    return ids


def file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False)
    return path.read_text()


@pytest.mark.parametrize("fmt", FORMATS)
def test_with_redaction_no_planted_value_survives(store, planted, fmt):
    assert store.samples.pii_counts() == {"unscanned": 0, "clean": 1, "flagged": len(PLANTED)}
    result = run(store, fmt, pii="redact", lineage=True)
    text = file_text(result.path)
    if fmt in PREFERENCE:
        assert result.synthetic == len(PLANTED) and result.redacted == result.written
    else:
        assert result.written == len(PLANTED) + 1 and result.redacted == len(PLANTED)
    for value, _ in PLANTED.values():
        assert value not in text
    assert "<EMAIL>" in text and "<PERSON>" in text and "<API_KEY>" in text


@pytest.mark.parametrize("fmt", ["openai", "parquet"])
def test_blocking_leaves_flagged_samples_out(store, planted, fmt):
    result = run(store, fmt)
    assert (result.written, result.blocked) == (1, len(PLANTED))
    assert "Add 2 and 3." in file_text(result.path)
    assert store.export.export_item_ids(result.export_id) == [planted["clean"]]


def test_unscanned_samples_refuse_the_export(store):
    add_sample(store, "never scanned", pii=None)
    with pytest.raises(ExportError, match="1 sample not scanned for PII"):
        run(store, "openai")
    assert not (Path(store.path).parent / "exports" / "out.openai").exists()


# ---------------------------------------------------------------- paths, overwrite, atomic writes


def test_paths_outside_the_export_folder_are_refused(store, shipped, tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    for bad in ("../outside.jsonl", str(tmp_path / "outside.jsonl"), "escape/outside.jsonl", ".", "sub/../../x.jsonl"):
        with pytest.raises(ExportError, match="outside the export folder"):
            export(store, ExportOptions(fmt="openai"), bad, root)
    assert not (tmp_path / "outside.jsonl").exists()
    assert store.export.list_exports() == []
    result = export(store, ExportOptions(fmt="openai"), "nested/dir/ok.jsonl", root)
    assert result.path == (root / "nested" / "dir" / "ok.jsonl").resolve() and result.path.exists()


def test_an_existing_file_is_kept_unless_overwrite_is_confirmed(store, shipped):
    first = run(store, "openai")
    first.path.write_text("keep me")
    with pytest.raises(ExportError, match="already exists; confirm overwriting"):
        run(store, "openai")
    assert first.path.read_text() == "keep me"
    run(store, "openai", overwrite=True)
    assert len(lines(first.path)) == 2


def test_each_export_has_its_own_card_and_never_overwrites_another_exports_card(store, shipped):
    first = run(store, "openai", "approved.jsonl", card=True)
    second = run(store, "alpaca", "approved-alpaca.jsonl", card=True)
    assert (first.card_path.name, second.card_path.name) == ("approved.README.md", "approved-alpaca.README.md")
    assert "approved.jsonl" in first.card_path.read_text() and "approved-alpaca.jsonl" in second.card_path.read_text()
    card_before = first.card_path.read_text()
    with pytest.raises(ExportError, match="approved.README.md is the dataset card of approved.jsonl"):
        run(store, "parquet", "approved.parquet", card=True, overwrite=True)
    assert first.card_path.read_text() == card_before and not (first.path.parent / "approved.parquet").exists()
    with pytest.raises(ExportError, match="approved.jsonl already exists"):
        run(store, "openai", "approved.jsonl", card=True)
    again = run(store, "sharegpt", "approved.jsonl", card=True, overwrite=True)  # its own file and card: replaced
    assert "ShareGPT" in again.card_path.read_text()


@pytest.mark.parametrize("fmt", ["openai", "parquet"])
def test_a_failure_mid_export_leaves_the_old_file_and_no_partial_file(store, shipped, monkeypatch, fmt):
    old = run(store, fmt)
    before = old.path.read_bytes()
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    writer = export_module.WRITERS[fmt]
    original = writer.write
    monkeypatch.setitem(export_module.WRITERS, fmt, dataclasses.replace(writer, write=failing))
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(store, fmt, overwrite=True, batch_size=1)
    assert old.path.read_bytes() == before
    assert sorted(p.name for p in old.path.parent.iterdir()) == [old.path.name]
    assert len(store.export.list_exports()) == 1


def test_a_killed_export_process_leaves_no_file_at_the_target(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from workbench.export import engine as ex
        from workbench.store import Store
        store = Store({str(tmp_path / 'w.db')!r})
        ids = store.samples.insert_samples([{{"source": "evol", "instruction": f"task {{i}}", "output": "x", "status": "approved"}}
                                            for i in range(300)])
        store.samples.set_sample_pii({{i: {CLEAN_PII!r} for i in ids}})
        import dataclasses
        written = []
        writer = ex.WRITERS["openai"]
        def dying(record):
            written.append(1)
            if len(written) == 150:
                os.kill(os.getpid(), signal.SIGKILL)
            return writer.write(record)
        ex.WRITERS["openai"] = dataclasses.replace(writer, write=dying)
        ex.export(store, ex.ExportOptions(fmt="openai", batch_size=10), "big.jsonl", {str(tmp_path / 'exports')!r})
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == -9, completed.stderr
    exports = tmp_path / "exports"
    assert not (exports / "big.jsonl").exists()
    leftovers = list(exports.iterdir())
    assert leftovers and all(p.name.startswith(".big.jsonl.") and p.name.endswith(".part") for p in leftovers)


def test_nothing_to_export_writes_no_file(store, shipped):
    store.review.set_sample_status([shipped["a"]], "rejected", "Ada")
    with pytest.raises(ExportError, match="nothing to export: 1 approved sample, and 1 skipped: no reasoning steps"):
        run(store, "prm800k")
    assert not (Path(store.path).parent / "exports" / "out.prm800k").exists()


def test_unknown_format_is_refused(store, shipped):
    with pytest.raises(ExportError, match="unknown format 'csv'"):
        run(store, "csv")


# ---------------------------------------------------------------- the 30/70 mix and the planner


def natural_data(n: int) -> mix.NaturalData:
    return mix.NaturalData("human.jsonl", [
        SampleRecord(turns=[{"role": "user", "content": f"human question {i}"}, {"role": "assistant", "content": f"human answer {i}"}])
        for i in range(n)])


def test_mix_counts_follow_the_ratio_and_the_scarcer_side():
    assert mix.mix_counts(10, 100, 0.3) == (10, 23)
    assert mix.mix_counts(100, 10, 0.3) == (4, 10)
    assert mix.mix_counts(300, 700, 0.3) == (300, 700)
    with pytest.raises(ValueError):
        mix.mix_counts(10, 10, 1.0)


def test_mixed_export_has_the_ratio_and_is_reproducible_from_its_seed(store):
    for i in range(30):
        add_sample(store, f"synthetic task {i}", f"synthetic answer {i}")
    options = {"natural": natural_data(200), "synthetic_ratio": 0.3, "seed": 7, "lineage": True}
    result = run(store, "openai", "mix1.jsonl", **options)
    rows = lines(result.path)
    natural_rows = [r for r in rows if r["lineage"]["source"] == "natural"]
    assert (result.synthetic, result.natural, result.written, result.seed) == (30, 70, 100, 7)
    assert len(natural_rows) == 70 and len(rows) == 100
    assert len({r["lineage"]["row"] for r in natural_rows}) == 70
    assert rows[:10] != sorted(rows[:10], key=lambda r: r["lineage"].get("sample_id") or 0)  # shuffled
    again = run(store, "openai", "mix2.jsonl", **options)
    assert again.path.read_bytes() == result.path.read_bytes()
    other = run(store, "openai", "mix3.jsonl", **{**options, "seed": 8})
    assert other.path.read_bytes() != result.path.read_bytes()
    recorded = store.export.list_exports()[-1]
    assert recorded["options"]["seed"] == 7 and recorded["options"]["natural_file"] == "human.jsonl"
    assert recorded["options"]["natural"] == 70 and recorded["n_samples"] == 30


def test_stepwise_formats_cannot_take_natural_rows(store, shipped):
    with pytest.raises(ExportError, match="cannot be mixed"):
        run(store, "trl-stepwise", natural=natural_data(5))


def pairs(natural: mix.NaturalData) -> list[tuple[str, str | None]]:
    return [(r.instruction, r.output) for r in natural.rows]


def test_natural_files_load_from_jsonl_chat_json_csv_and_parquet(tmp_path):
    import pyarrow as pa

    assert pairs(mix.load_natural(b'{"instruction": "q1", "output": "a1"}\n{"question": "q2", "answer": "a2"}\n', "n.jsonl")) == [
        ("q1", "a1"), ("q2", "a2")]
    chat = b'{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]}\n'
    (row,) = mix.load_natural(chat, "chat.jsonl").rows
    assert (row.system, row.instruction, row.output) == ("s", "q2", "a2")  # the whole conversation is kept
    assert pairs(mix.load_natural(b'[{"conversations": [{"from": "human", "value": "q3"}, {"from": "gpt", "value": "a3"}]}]',
                                  "n.json")) == [("q3", "a3")]
    assert pairs(mix.load_natural(b"question,answer\nq1,a1\nq2,a2\n", "n.csv")) == [("q1", "a1"), ("q2", "a2")]
    parquet = tmp_path / "n.parquet"
    pq.write_table(pa.table({"prompt": ["q1"], "response": ["a1"]}), parquet)
    assert pairs(mix.load_natural_file(parquet)) == [("q1", "a1")]


def test_bad_natural_files_name_the_line():
    with pytest.raises(mix.NaturalDataError) as caught:
        mix.load_natural(b'{"instruction": "q1", "output": "a1"}\n{"instruction": "q2"}\n{"messages": [{"role": "user", "content": "x"}]}\n', "n.jsonl")
    text = str(caught.value)
    assert "natural dataset was not loaded" in text
    assert "n.jsonl, line 2, field 'output': missing" in text and "n.jsonl, line 3: this row is OpenAI chat" in text
    with pytest.raises(mix.NaturalDataError, match="not a readable Parquet file"):
        mix.load_natural(b"not parquet", "n.parquet")
    with pytest.raises(mix.NaturalDataError, match="unknown file type"):
        mix.load_natural(b"x", "n.xlsx")


def test_planner_is_the_articles_formula_with_measured_entropy():
    assert mix.rectified_information(d_nat=700, d_syn=300, e=0.5, alpha=0.4, c=2.0) == 2.0 * (700 + 0.4 * 300 * 0.5)
    assert mix.entropy_factor(4.0, 5.0) == 0.8
    assert mix.entropy_factor(None, 5.0) == 1.0
    rows = [SampleRecord(turns=[{"role": "user", "content": "a b"}, {"role": "assistant", "content": "c d"}])]
    assert mix.mean_entropy(rows) == 2.0  # four distinct tokens: log2(4) bits
    assert mix.mean_entropy([]) is None


# ---------------------------------------------------------------- dataset card


def card_parts(text: str) -> tuple[dict, str]:
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_dataset_card_header_and_body(store, shipped):
    result = run(store, "openai", card=True, license="apache-2.0")
    header, body = card_parts(result.card_path.read_text())
    assert result.card_path.read_text() == result.card
    assert header["license"] == "apache-2.0" and header["language"] == ["en"]
    assert header["size_categories"] == ["n<1K"]
    assert header["task_categories"] == ["text-generation", "question-answering"]
    assert set(header["annotations_creators"]) == {"machine-generated", "expert-generated"}
    assert {"synthetic", "evol-instruct", "magpie"} <= set(header["tags"])
    assert header["configs"] == [{"config_name": "default", "data_files": "out.openai"}]
    assert "2 rows in OpenAI chat JSONL" in body
    assert "`openai/gpt-4o-mini`" in body and '"temperature": 0.7' in body
    assert "deepen (1)" in body and "`test-prm`" in body
    assert "| lexical_entropy | 1 | 3 | 3 | 3 |" in body
    assert "flagged samples were left out (0)" in body
    assert "scanned with presidio for EMAIL_ADDRESS, PHONE_NUMBER" in body and "LOCATION" not in body


def test_card_without_reviews_and_with_a_mix(store):
    for i in range(12):
        add_sample(store, f"task {i}", model="local/gemma-3-270m")
    result = run(store, "parquet", natural=natural_data(28), synthetic_ratio=0.3, seed=3)
    header, body = card_parts(result.card)
    assert header["annotations_creators"] == ["machine-generated"]
    assert "found" in header["language_creators"]
    assert "30% synthetic (12) and 28 natural rows, shuffled with seed 3" in body
    assert header["size_categories"] == ["n<1K"]
    assert [dataset_card.size_category(n) for n in (999, 1000, 50_000, 100_000)] == [
        "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M"]


def test_the_card_counts_people_apart_from_automatic_decisions_and_names_every_teacher_and_the_student(store: Store):
    by_person = add_sample(store, "Checked by a person.", status="pending", model="openai/gpt-4o-mini")
    by_gate = add_sample(store, "Approved by the gate.", status="pending", model="local/gemma-3-270m")
    store.review.set_sample_status([by_person], "approved", "Ada")
    store.review.set_sample_status([by_gate], "approved", "demo (automatic, by the gate)", "passed the gate", automatic=True)
    store.verify.add_reasoning_path({"task_type": "sample", "task_id": by_person, "path_index": 0, "text": "Answer: 4",
                              "model": "hosted_vllm/qwen-7b"}, ["Answer: 4"])
    store.samples.set_sample_pii({by_person: CLEAN_PII})
    header, body = card_parts(run(store, "openai", card=True).card)
    assert "- Human review: 1 sample decided by people (Ada (1)); 1 sample decided automatically, not by a person " \
           "(demo (automatic, by the gate) (1)), and not confirmed by one." in body
    assert set(header["annotations_creators"]) == {"machine-generated", "expert-generated"}  # Ada decided
    assert "- Teacher `openai/gpt-4o-mini` wrote 1 sample (their text)." in body
    assert "- Teacher `hosted_vllm/qwen-7b` wrote the reasoning paths of 1 sample." in body
    assert "- Teacher `local/gemma-3-270m` wrote 1 sample (their text)." in body
    assert "The student (`local/gemma-3-270m`, the model this data is for) was not probed" in body
    # the bundled demo model wrote some of it: demonstration data, in the front matter and the text
    assert {"demonstration-data", "not-for-training"} <= set(header["tags"])
    assert header["pretty_name"].endswith("(demonstration data, not for training)")
    assert "**Demonstration data, not training data.** Text in this dataset was written by the bundled demo model " \
           "`local/gemma-3-270m`" in body


def test_a_card_of_automatic_decisions_alone_names_no_expert_and_no_demo_without_the_bundled_model(store: Store):
    gated = add_sample(store, "Approved by the gate.", status="pending", model="openai/gpt-4o-mini")
    store.review.set_sample_status([gated], "approved", "demo (automatic, by the gate)", automatic=True)
    add_sample(store, "Imported as approved.", source="import")  # no recorded decision
    header, body = card_parts(run(store, "openai", card=True).card)
    assert header["annotations_creators"] == ["machine-generated"]
    assert "- Human review: 0 samples decided by people; 1 sample decided automatically, not by a person " \
           "(demo (automatic, by the gate) (1)), and not confirmed by one; 1 sample with no recorded decision." in body
    assert "demonstration-data" not in header["tags"] and "Demonstration data" not in body
    store.review.set_sample_status([gated], "approved", "Ada")  # a person confirms the automatic approval
    header, body = card_parts(run(store, "openai", card=True, overwrite=True).card)
    assert "expert-generated" in header["annotations_creators"] and "1 sample decided by people (Ada (1))" in body


def test_card_preview_matches_the_written_card_for_the_same_options(store, shipped):
    options = ExportOptions(fmt="alpaca", license="mit")
    preview = preview_card(store, options, "out.alpaca")
    written = run(store, "alpaca", license="mit").card
    verified = [line for line in written.splitlines() if line.startswith("- Verified:")]  # counted as the rows are written
    assert verified and preview.splitlines() == [line for line in written.splitlines() if line not in verified]


# ---------------------------------------------------------------- CLI


def test_cli_export_with_mix_and_refusals(store, shipped, db_path, tmp_path, capsys):
    natural = tmp_path / "human.jsonl"
    natural.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(10)))
    base = ["--db", str(db_path), "export", "--export-dir", str(tmp_path / "exports")]
    assert main([*base, "--format", "sharegpt", "--out", "mixed.jsonl", "--mix-natural", str(natural),
                 "--synthetic-ratio", "0.5", "--seed", "1", "--card"]) == 0
    out = capsys.readouterr().out
    assert "Wrote 4 rows" in out and "2 synthetic + 2 natural (seed 1)" in out and "Dataset card: mixed.README.md" in out
    assert len(lines(tmp_path / "exports" / "mixed.jsonl")) == 4 and (tmp_path / "exports" / "mixed.README.md").exists()
    assert main([*base, "--format", "openai", "--out", str(tmp_path / "elsewhere.jsonl")]) == 2
    assert "outside the export folder" in capsys.readouterr().err
    assert main([*base, "--format", "sharegpt", "--out", "mixed.jsonl"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*base, "--format", "sharegpt", "--out", "mixed.jsonl", "--overwrite", "--status", "all"]) == 0
    assert len(lines(tmp_path / "exports" / "mixed.jsonl")) == 4


def test_cli_export_scans_unscanned_samples_first(store, db_path, tmp_path, capsys):
    add_sample(store, PLANTED["EMAIL_ADDRESS"][1], "ok", pii=None)
    add_sample(store, "Add 2 and 3.", "5", pii=None)
    base = ["--db", str(db_path), "export", "--export-dir", str(tmp_path / "exports"), "--format", "alpaca"]
    assert main([*base, "--out", "blocked.jsonl"]) == 0
    assert "scanning 2 samples for PII" in capsys.readouterr().err
    assert [r["instruction"] for r in lines(tmp_path / "exports" / "blocked.jsonl")] == ["Add 2 and 3."]
    assert main([*base, "--out", "redacted.jsonl", "--redact-pii"]) == 0
    assert lines(tmp_path / "exports" / "redacted.jsonl")[0]["instruction"] == "Send the report to <EMAIL> before Friday."


def test_cli_export_refuses_with_the_reason_when_nothing_can_be_written(store, db_path, tmp_path, capsys):
    add_sample(store, "No steps here.", "ok")
    base = ["--db", str(db_path), "export", "--export-dir", str(tmp_path / "exports")]
    assert main([*base, "--format", "prm800k", "--out", "steps.jsonl"]) == 2
    assert "export refused: nothing to export: 1 approved sample, and 1 skipped: no reasoning steps" in capsys.readouterr().err
    assert not (tmp_path / "exports" / "steps.jsonl").exists()


# ---------------------------------------------------------------- GSM8K calculator annotations


def test_calculator_annotations_are_stripped_from_every_text_when_asked(store):
    sample_id = add_sample(store, "Natalia sold 48/2 = <<48/2=24>>24 clips in May?", "She sold 48+24 = <<48+24=72>>72 clips.")
    add_scored_path(store, sample_id, ["In May: 48/2 = <<48/2=24>>24.", "Total: 48+24 = <<48+24=72>>72."], [0.9, 0.9])
    kept = lines(run(store, "trl-stepwise", "kept.jsonl").path)[0]
    assert "<<48/2=24>>" in kept["completions"][0]
    for fmt in ("openai", "alpaca", "trl-stepwise", "prm800k", "parquet"):
        text = file_text(run(store, fmt, f"stripped.{fmt}", strip_calculator=True).path)
        assert "<<" not in text and ">>" not in text, fmt
    row = lines(run(store, "trl-stepwise", "again.jsonl", strip_calculator=True).path)[0]
    assert row["completions"] == ["In May: 48/2 = 24.", "Total: 48+24 = 72."]
    assert export_module.strip_calculator_annotations("cout << x; y >> z") == "cout << x; y >> z"  # C++ is not an annotation


# ---------------------------------------------------------------- the export job: scan what was never scanned, then write


def test_the_export_job_scans_unscanned_samples_with_progress_then_writes(store, db_path, tmp_path):
    add_sample(store, PLANTED["EMAIL_ADDRESS"][1], "ok", pii=None)
    for i in range(60):
        add_sample(store, f"Add {i} and {i + 1}.", str(2 * i + 1), pii=None)
    add_sample(store, "A pending task, not exported.", "x", status="pending", pii=None)
    job_id = submit_export(store, ExportOptions(fmt="alpaca", card=True), "scanned.jsonl", tmp_path / "exports")
    assert runner.run_job(store, store.jobs.claim_next_job(1)) == "done"
    job = store.jobs.get_job(job_id)
    assert (job["total_units"], job["done_units"]) == (2, 2)  # 61 approved samples in chunks of 50
    assert store.samples.pii_counts("approved") == {"unscanned": 0, "clean": 60, "flagged": 1}
    assert store.samples.pii_counts("pending")["unscanned"] == 1  # what the export does not take is left alone
    assert job["result"]["written"] == 60 and job["result"]["blocked"] == 1
    assert job["result"]["summary"].startswith("Wrote 60 rows")
    assert len(lines(tmp_path / "exports" / "scanned.jsonl")) == 60
    assert (tmp_path / "exports" / "scanned.README.md").exists()


def test_an_export_job_that_cannot_write_fails_with_the_reason(store, tmp_path):
    add_sample(store, "No steps.", "ok")
    job_id = submit_export(store, ExportOptions(fmt="trl-stepwise"), "steps.jsonl", tmp_path / "exports")
    assert runner.run_job(store, store.jobs.claim_next_job(1)) == "failed"
    job = store.jobs.get_job(job_id)
    assert job["result"] == {"error": "nothing to export: 1 approved sample, and 1 skipped: no reasoning steps"}
    with pytest.raises(ExportError, match="outside the export folder"):
        submit_export(store, ExportOptions(fmt="openai"), "../x.jsonl", tmp_path / "exports")
    assert len(store.jobs.list_jobs()) == 1  # a refused target queues nothing
