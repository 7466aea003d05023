"""Sample import: every format and container, what is stored (conversations, inputs, steps, human step labels,
metrics, lineage), duplicates skipped and listed, bad files refused whole with line and field, the preview,
the import job, and the `samples import` / `samples list` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES
from tests.formats.test_sample_formats import PRM800K_ROW, TOOL_CALL, TWO_TURNS
from workbench.cli import main
from workbench.core.jobs import worker
from workbench.formats.job import save_upload, submit_import
from workbench.formats.sample_import import SampleImportError, import_samples, preview
from workbench.store import Store


def jsonl(*rows: object) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def refused(store: Store, data: bytes, name: str = "bad.jsonl") -> str:
    with pytest.raises(SampleImportError) as caught:
        import_samples(store, data, name)
    assert store.queue.count_samples(status=None) == 0, "a refused file imports nothing"
    return str(caught.value)


# ---------------------------------------------------------------- what is stored


def test_openai_conversations_are_stored_turn_by_turn(store: Store):
    result = import_samples(store, jsonl({"messages": TWO_TURNS}, {"messages": TOOL_CALL},
                                         {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}),
                            "chats.jsonl")
    assert (result.format, result.imported, result.conversations) == ("openai", 3, 2)
    first, tools, plain = store.samples.samples_by_ids(result.sample_ids)
    assert first["turns"] == TWO_TURNS and first["instruction"] == "Plan a day in Kyoto."
    assert first["output"] == "Morning: Fushimi Inari. Afternoon: Gion."
    assert tools["turns"] == TOOL_CALL and tools["output"] == "It is 18 °C in Paris."
    assert plain["turns"] is None and (plain["instruction"], plain["output"]) == ("Hi", "Hello")
    assert first["source"] == "import" and first["status"] == "pending"
    assert first["metadata"]["imported_from"] == {"file": "chats.jsonl", "format": "openai", "where": "line 1"}


def test_alpaca_input_and_history_are_kept(store: Store):
    result = import_samples(store, jsonl(
        {"instruction": "Classify the sentiment.", "input": "I loved it!", "output": "positive"},
        {"instruction": "And this one?", "input": "", "output": "negative", "history": [["Classify: great", "positive"]]},
    ), "alpaca.jsonl")
    single, multi = store.samples.samples_by_ids(result.sample_ids)
    assert (single["instruction"], single["input"], single["output"], single["turns"]) == (
        "Classify the sentiment.", "I loved it!", "positive", None)
    assert [t["content"] for t in multi["turns"]] == ["Classify: great", "positive", "And this one?", "negative"]


def test_fields_a_format_does_not_use_are_kept_not_dropped(store: Store):
    dolly = {"instruction": "When did Virgin Australia start operating?", "context": "Virgin Australia commenced services "
             "on 31 August 2000.", "response": "On 31 August 2000.", "category": "closed_qa"}
    second = {**dolly, "instruction": "Who founded it?", "response": "Richard Branson."}
    result = import_samples(store, jsonl(dolly, second), "dolly.jsonl")
    first = store.samples.get_sample(result.sample_ids[0])
    assert first["input"] == dolly["context"] and first["metadata"]["fields"] == {"category": "closed_qa"}
    assert result.other_fields == {"category": 2}
    assert "Other fields kept in each sample's metadata: category (2)." in result.summary()


def test_trl_prm800k_and_processbench_labels_become_human_step_labels_the_gate_respects(store: Store):
    trl = import_samples(store, jsonl({"prompt": "9 * 7?", "completions": ["9 * 7 = 63", "Answer: 64"], "labels": [True, False]}),
                         "trl.jsonl")
    (sample_id,) = trl.sample_ids
    steps = store.verify.best_paths([sample_id])[sample_id]["steps"]
    assert [(s["text"], s["overrule"]["label"], s["overrule"]["reviewer"]) for s in steps] == [
        ("9 * 7 = 63", "correct", "import:trl.jsonl"), ("Answer: 64", "incorrect", "import:trl.jsonl")]
    assert trl.labelled_steps == 2 and trl.with_steps == 1

    prm = import_samples(store, jsonl(PRM800K_ROW), "prm800k.jsonl")
    (prm_id,) = prm.sample_ids
    steps = store.verify.best_paths([prm_id])[prm_id]["steps"]
    assert [s["overrule"]["label"] for s in steps] == ["correct", "correct", "neutral"]
    assert {s["overrule"]["reviewer"] for s in steps} == {PRM800K_ROW["labeler"]}
    assert steps[0]["overrule"]["created_at"] == pytest.approx(1658076951.3, abs=86400)  # the labeller's own time

    gave_up = {**PRM800K_ROW, "label": {"steps": [{"completions": [], "human_completion": None, "chosen_completion": None}],
                                        "total_time": 5000, "finish_reason": "bad_problem"}}
    other = {**PRM800K_ROW, "question": {"problem": "How many seconds are in 2 minutes?", "ground_truth_answer": "120"}}
    more = import_samples(store, jsonl(gave_up, other), "prm800k-2.jsonl")
    assert (more.imported, more.skipped_rows) == (1, {"PRM800K row without steps (finish_reason 'bad_problem')": 1})
    assert "1 row skipped: PRM800K row without steps" in more.summary()

    bench = import_samples(store, (FIXTURES / "processbench_small.jsonl").read_bytes(), "processbench_small.jsonl")
    assert bench.format == "processbench" and bench.imported == 12
    first = store.verify.best_paths([bench.sample_ids[0]])[bench.sample_ids[0]]["steps"]  # label 1: step 0 right, 1 wrong, 2 unjudged
    assert [s["overrule"]["label"] if s["overrule"] else None for s in first] == ["correct", "incorrect", None]
    assert store.samples.get_sample(bench.sample_ids[0])["metadata"]["processbench"] == {"id": "slip-multiply"}


def test_our_own_export_with_lineage_and_metrics_keeps_both(store: Store):
    row = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
           "lineage": {"sample_id": 7, "source": "evol", "operators": ["deepen"], "origin": None},
           "metrics": {"lexical_entropy": 3.5, "novelty_seeds": 0.25}}
    (sample_id,) = import_samples(store, jsonl(row), "export.jsonl").sample_ids
    sample = store.samples.get_sample(sample_id)
    assert sample["metadata"]["origin"] == "evol" and sample["metadata"]["lineage"]["operators"] == ["deepen"]
    assert store.metrics.get_metrics("sample", sample_id) == {"lexical_entropy": 3.5, "novelty_seeds": 0.25}


def test_parquet_json_array_and_csv_files_are_read(store: Store, tmp_path: Path):
    table = pa.table({"messages": [[{"role": "user", "content": "From parquet"}, {"role": "assistant", "content": "ok"}]]})
    pq.write_table(table, tmp_path / "chat.parquet")
    assert import_samples(store, tmp_path / "chat.parquet", "chat.parquet").format == "openai"
    array = json.dumps([{"instruction": "From a JSON array", "input": "", "output": "ok"}]).encode()
    result = import_samples(store, array, "alpaca_data.json")
    assert (result.format, result.container) == ("alpaca", "json")
    csv = "\ufeffinstruction,output\r\nFrom a spreadsheet,ok\r\n".encode()
    assert import_samples(store, csv, "sheet.csv").imported == 1
    texts = sorted(s["instruction"] for s in store.samples.list_samples())
    assert texts == ["From a JSON array", "From a spreadsheet", "From parquet"]


# ---------------------------------------------------------------- duplicates are skipped, never refused


def test_duplicates_in_the_file_and_in_the_store_are_skipped_and_listed(store: Store):
    first = import_samples(store, jsonl({"instruction": "a", "output": "b"}), "one.jsonl")
    result = import_samples(store, jsonl({"instruction": "c", "output": "d"}, {"instruction": "a", "output": "b"},
                                         {"instruction": "c", "output": "d"}), "two.jsonl")
    assert (result.imported, result.skipped_duplicates) == (1, 2)
    assert result.duplicates == [f"line 2 (already in the store as sample {first.sample_ids[0]})",
                                 "line 3 (repeats an earlier row of this file)"]
    assert "2 duplicates skipped: line 2" in result.summary()
    assert store.queue.count_samples(status=None) == 2


# ---------------------------------------------------------------- bad input: named, and nothing imported


def test_a_file_mixing_formats_is_refused_at_the_row_that_differs(store: Store):
    message = refused(store, jsonl({"messages": [{"role": "user", "content": "q"}]},
                                   {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}))
    assert ("bad.jsonl, line 2: this row is ShareGPT (conversations), but the file is OpenAI chat (messages) "
            "(from bad.jsonl, line 1); one format per file") in message


def test_every_bad_row_is_named_with_its_line_and_field(store: Store):
    message = refused(store, jsonl(
        {"messages": [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "ok"}]},
        {"messages": [{"role": "assistant", "content": "first"}, {"role": "user", "content": "then"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "wizard", "content": "a"}]},
        "{not json",
        {"text": "no layout"},
    ))
    for expected in (
        "bad.jsonl, line 2, field 'messages[0].role': 'assistant' cannot open the conversation",
        "bad.jsonl, line 3, field 'messages[1].content': empty message",
        "bad.jsonl, line 4, field 'messages[1].role': unknown role 'wizard'",
        "bad.jsonl, line 5: invalid JSON",
        "bad.jsonl, line 6: no known sample layout (keys: 'text')",
    ):
        assert expected in message
    assert message.startswith("Could not import bad.jsonl: nothing was imported.")


def test_labels_that_do_not_match_the_steps_refuse_the_file(store: Store):
    message = refused(store, jsonl({"prompt": "p", "completions": ["a", "b"], "labels": [True, True]},
                                   {"prompt": "p2", "completions": ["a", "b", "c"], "labels": [True]}))
    assert "bad.jsonl, line 2, field 'labels': 1 label for 3 completions; give one per step" in message


def test_a_bad_row_after_many_good_batches_still_imports_nothing(store: Store):
    rows = [{"instruction": f"task {i}", "output": "x"} for i in range(2500)] + [{"instruction": "late", "output": ""}]
    assert "line 2501, field 'output': empty" in refused(store, jsonl(*rows))


def test_empty_binary_and_unknown_files_are_refused(store: Store, tmp_path: Path):
    assert "the file is empty" in refused(store, b"\n\n", "empty.jsonl")
    assert "binary file" in refused(store, b"\x00\x01\x02", "b.jsonl")
    assert "not a readable Parquet file" in refused(store, b"PAR1 garbage", "x.parquet")
    assert "unknown file type" in refused(store, b"hello", "notes")
    assert "no such file" in refused(store, tmp_path / "missing.jsonl", "missing.jsonl")


# ---------------------------------------------------------------- preview, the job, the CLI


def test_preview_shows_the_first_rows_and_the_format_before_anything_is_stored(store: Store):
    data = jsonl(*({"prompt": f"q{i}", "completions": ["s1", "s2"], "labels": [True, False]} for i in range(8)))
    seen = preview(data, "steps.jsonl")
    assert seen.format_label.startswith("TRL stepwise") and seen.container == "jsonl" and seen.problems == []
    assert len(seen.rows) == 5 and seen.rows[0] == {
        "where": "line 1", "system": "", "turns": 2, "instruction": "q0", "input": "", "output": "s1\ns2", "steps": 2,
        "labels": "+1 -1"}
    assert store.queue.count_samples(status=None) == 0
    bad = preview(jsonl({"messages": [{"role": "bot", "content": "x"}]}), "x.jsonl")
    assert bad.problems == ["x.jsonl, line 1, field 'messages[0].role': unknown role 'bot'"]


def test_the_import_job_imports_an_upload_and_reports_problems_as_a_list(store: Store, db_path: Path):
    upload = save_upload(store, jsonl({"instruction": "a", "output": "b"}), "up.jsonl")
    assert upload.parent == db_path.parent / "imports" and upload.exists()
    good = submit_import(store, upload, "up.jsonl")
    bad = submit_import(store, save_upload(store, jsonl({"instruction": "a"}), "bad.jsonl"), "bad.jsonl")
    worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    done, failed = store.jobs.get_job(good), store.jobs.get_job(bad)
    assert done["status"] == "done" and done["result"]["imported"] == 1
    assert done["result"]["summary"].startswith("1 sample imported from up.jsonl")
    assert failed["status"] == "failed" and failed["result"]["problems"] == ["bad.jsonl, line 1, field 'output': missing"]
    assert store.queue.count_samples(status=None) == 1
    assert not upload.exists()  # the upload's copy is deleted once imported


def test_cli_samples_import_and_list(store: Store, db_path: Path, tmp_path: Path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
                            "system": "Be kind."}))
    assert main(["--db", str(db_path), "samples", "import", str(good)]) == 0
    assert "1 sample imported from good.jsonl (ShareGPT (conversations), JSONL)" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl({"conversations": [{"from": "gpt", "value": "x"}]}))
    assert main(["--db", str(db_path), "samples", "import", str(bad)]) == 2
    assert "bad.jsonl, line 1, field 'conversations[0].from'" in capsys.readouterr().err
    import_samples(store, jsonl({"instruction": "other", "output": "x"}), "x.jsonl")
    store.review.set_sample_status([2], "approved", "Ada")
    assert main(["--db", str(db_path), "samples", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in listed] == [1, 2]
    assert listed[0]["turns"] == [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"},
                                  {"role": "assistant", "content": "hello"}]
    assert main(["--db", str(db_path), "samples", "list", "--status", "approved", "--source", "import", "--json"]) == 0
    assert [s["instruction"] for s in json.loads(capsys.readouterr().out)] == ["other"]
    assert main(["--db", str(db_path), "samples", "list", "--status", "rejected", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_with_crlf_imports_as_its_utf8_twin(store: Store, encoding: str):
    text = '{"instruction": "Name a prime above 10.", "output": "11"}\r\n{"instruction": "Café?", "output": "Oui."}\r\n'
    data = ("\ufeff" + text).encode(encoding) if encoding.endswith("be") else text.encode(encoding)  # each with its BOM
    result = import_samples(store, data, "alpaca-utf16.jsonl")
    assert (result.format, result.imported) == ("alpaca", 2)
    assert [s["instruction"] for s in store.samples.list_samples()] == ["Name a prime above 10.", "Café?"]
    csv_data = "instruction,output\r\nName a prime above 20.,23\r\n".encode("utf-16")
    assert import_samples(store, csv_data, "more.csv").imported == 1


def test_broken_utf16_is_refused_with_its_reason(store: Store):
    assert "not valid UTF-16" in refused(store, "\ufeff{}".encode("utf-16-le") + b"\x00\xd8", "broken.jsonl")
