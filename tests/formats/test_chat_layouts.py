"""The chat layouts lose nothing that public training files hold: OpenAI content given as a list of parts, tool calls
valid for OpenAI fine-tuning (ids, tool_call_id, the tools list, arguments byte for byte), a sample's identity that
includes its tools, and reasoning traces in either style read back into steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ship_data import CLEAN_PII
from workbench.export.engine import ExportError, ExportOptions, export
from workbench.formats.sample_formats import FORMATS, RowError, SampleRecord, Skip
from workbench.formats.sample_import import import_samples
from workbench.store import Store

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
SHAREGPT_TOOL_ROW = {
    "conversations": [
        {"from": "human", "value": "Weather in Paris?"},
        {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"unit": "c","city": "Paris"}}'},
        {"from": "observation", "value": '{"temp_c": 18}'},
        {"from": "gpt", "value": "It is 18 °C in Paris."},
    ],
    "tools": json.dumps([TOOLS[0]["function"]]),
}


def import_rows(store: Store, rows: list[dict], name: str = "rows.jsonl"):
    result = import_samples(store, "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode(), name)
    store.samples.set_sample_pii(dict.fromkeys(result.sample_ids, CLEAN_PII))
    store.review.set_sample_status(list(result.sample_ids), "approved", "Ada")
    return result


def exported(store: Store, fmt: str, **options) -> list[dict]:
    result = export(store, ExportOptions(fmt=fmt, overwrite=True, **options), f"out-{fmt}.jsonl", Path(store.path).parent / "x")
    return [json.loads(line) for line in result.path.read_text().splitlines()]


def test_openai_content_parts_are_read_as_text_and_kept_with_what_they_carry(store):
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    odd = {"type": "hologram", "data": "…"}
    row = {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is in the picture?"}, image, odd]},
                        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]}
    result = import_rows(store, [row])
    (sample,) = store.samples.list_samples()
    assert (sample["instruction"], sample["output"]) == ("What is in the picture?", "A cat.")
    assert result.notes == {"content part 'image_url' kept with its turn": 1,
                            "unknown content part type 'hologram' kept with its turn as it came": 1}
    assert "unknown content part type 'hologram'" in result.summary()
    assert exported(store, "openai") == [row]  # written back as it came
    with pytest.raises(ExportError, match="1 skipped: non-text content parts such as images"):
        exported(store, "sharegpt")


def test_a_content_part_without_a_type_is_refused_by_field():
    row = {"messages": [{"role": "user", "content": [{"text": "hi"}]}, {"role": "assistant", "content": "hello"}]}
    with pytest.raises(RowError, match=r"messages\[0\].content\[0\]: a content part must be an object with a 'type'"):
        FORMATS["openai"].read(row)


def test_sharegpt_tool_calls_export_valid_for_openai_fine_tuning(store):
    import_rows(store, [SHAREGPT_TOOL_ROW])
    (row,) = exported(store, "openai")
    call, result = row["messages"][1], row["messages"][2]
    assert call["tool_calls"][0]["id"] == result["tool_call_id"] == "call_1_0"
    assert call["tool_calls"][0]["function"]["arguments"] == '{"unit": "c","city": "Paris"}'  # byte for byte
    assert row["tools"] == TOOLS
    assert exported(store, "openai") == [row]  # the same ids every time


def test_sharegpt_round_trips_its_function_call_and_tools_exactly(store):
    import_rows(store, [SHAREGPT_TOOL_ROW])
    (row,) = exported(store, "sharegpt")
    assert row == SHAREGPT_TOOL_ROW


def test_a_conversation_repeated_with_other_tools_is_not_a_duplicate(store):
    other = {**SHAREGPT_TOOL_ROW, "tools": json.dumps([{"name": "get_time", "parameters": {}}])}
    result = import_rows(store, [SHAREGPT_TOOL_ROW, other, SHAREGPT_TOOL_ROW])
    assert (result.imported, result.skipped_duplicates) == (2, 1)


def test_a_system_prompt_makes_a_conversation_another_sample(store):
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    with_system = {"messages": [{"role": "system", "content": "Be terse."}, *plain["messages"]]}
    assert import_rows(store, [plain, with_system]).imported == 2


def test_alpaca_leaves_out_a_sample_with_functions_and_says_why():
    record = SampleRecord(turns=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], tools=TOOLS)
    with pytest.raises(Skip, match=r"tool turns or functions \(this format has no place for them\)"):
        FORMATS["alpaca"].write(record)


def test_reasoning_traces_in_either_style_are_read_back_into_steps(store):
    r1 = {"messages": [{"role": "user", "content": "2 + 3 * 4?"},
                       {"role": "assistant", "content": "<think>\nFirst 3 * 4 = 12.\nThen 2 + 12 = 14.\n</think>\n\nAnswer: 14"}]}
    apart = {"messages": [{"role": "user", "content": "5 * 6?"},
                          {"role": "assistant", "content": "Answer: 30", "reasoning_content": "5 * 6 = 30."}]}
    import_rows(store, [r1, apart])
    steps = {p["task_id"]: [s["text"] for s in p["steps"]] for ps in store.verify.reasoning_paths_nested().values() for p in ps}
    first, second = (s["id"] for s in store.samples.list_samples())
    assert steps == {first: ["First 3 * 4 = 12.", "Then 2 + 12 = 14.", "Answer: 14"], second: ["5 * 6 = 30.", "Answer: 30"]}
    assert exported(store, "openai") == [r1, apart]  # kept as they came
    r1_rows = exported(store, "openai", trace="r1")
    assert r1_rows[1]["messages"][1] == {"role": "assistant", "content": "<think>\n5 * 6 = 30.\n</think>\n\nAnswer: 30"}
    separate = exported(store, "openai", trace="separate")
    assert separate[0]["messages"][1] == {"role": "assistant", "content": "Answer: 14",
                                          "reasoning_content": "First 3 * 4 = 12.\nThen 2 + 12 = 14."}
    (sharegpt, _) = exported(store, "sharegpt")
    assert sharegpt["conversations"][1]["value"].startswith("<think>\nFirst 3 * 4 = 12.")
