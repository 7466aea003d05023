"""Each format's reader and writer: the field's layouts read without loss, written the field's way, and bad rows
named by field. Import and export share these functions."""

from __future__ import annotations

import pytest

from workbench.core.model_text import blocks
from workbench.formats.sample_formats import (
    FORMATS,
    HAS_SYSTEM,
    HAS_TOOLS,
    MULTI_TURN,
    NO_REPLY,
    NO_STEPS,
    UNRATED,
    RowError,
    SampleRecord,
    Skip,
    detect,
)

SYSTEM = {"role": "system", "content": "You are a careful travel agent."}
TWO_TURNS = [
    SYSTEM,
    {"role": "user", "content": "Plan a day in Kyoto."},
    {"role": "assistant", "content": "Morning: Fushimi Inari. Afternoon: Gion."},
    {"role": "user", "content": "Make it cheaper."},
    {"role": "assistant", "content": "Skip the tea ceremony; walk instead of taxis."},
]
TOOL_CALL = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
    {"role": "assistant", "content": "It is 18 °C in Paris."},
]


def read(fmt: str, row: dict) -> SampleRecord:
    return FORMATS[fmt].read(row)


def problems(fmt: str, row: dict) -> list[str]:
    with pytest.raises(RowError) as caught:
        FORMATS[fmt].read(row)
    return [f"{p.field}: {p.message}" for p in caught.value.problems]


# ---------------------------------------------------------------- writers


def test_openai_writes_system_first_and_joins_the_input_into_the_first_user_turn():
    record = SampleRecord(turns=TWO_TURNS[:3], input="Budget: 5,000 yen.")
    assert FORMATS["openai"].write(record)["messages"] == [
        SYSTEM, {"role": "user", "content": "Plan a day in Kyoto.\n\nBudget: 5,000 yen."}, TWO_TURNS[2]]


def test_openai_keeps_tool_turns_as_they_are():
    assert FORMATS["openai"].write(SampleRecord(turns=TOOL_CALL))["messages"] == TOOL_CALL


def test_sharegpt_has_a_system_field_and_alternates_human_and_gpt():
    row, dropped = FORMATS["sharegpt"].write_row(SampleRecord(turns=[*TWO_TURNS, {"role": "user", "content": "Thanks!"}]))
    assert dropped
    assert row == {
        "conversations": [
            {"from": "human", "value": "Plan a day in Kyoto."}, {"from": "gpt", "value": "Morning: Fushimi Inari. Afternoon: Gion."},
            {"from": "human", "value": "Make it cheaper."}, {"from": "gpt", "value": "Skip the tea ceremony; walk instead of taxis."},
        ],
        "system": "You are a careful travel agent.",
    }


def test_sharegpt_writes_tool_calls_as_function_call_and_results_as_observation():
    row = FORMATS["sharegpt"].write(SampleRecord(turns=TOOL_CALL))
    assert [e["from"] for e in row["conversations"]] == ["human", "function_call", "observation", "gpt"]
    assert row["conversations"][1]["value"] == '{"name": "get_weather", "arguments": {"city": "Paris"}}'


def test_alpaca_carries_the_input_and_earlier_turns_as_history():
    assert FORMATS["alpaca"].write(SampleRecord(turns=TWO_TURNS[1:3], input="Budget: 5,000 yen.")) == {
        "instruction": "Plan a day in Kyoto.", "input": "Budget: 5,000 yen.", "output": "Morning: Fushimi Inari. Afternoon: Gion."}
    assert FORMATS["alpaca"].write(SampleRecord(turns=TWO_TURNS)) == {
        "instruction": "Make it cheaper.", "input": "", "output": "Skip the tea ceremony; walk instead of taxis.",
        "system": "You are a careful travel agent.",
        "history": [["Plan a day in Kyoto.", "Morning: Fushimi Inari. Afternoon: Gion."]],
    }


@pytest.mark.parametrize(
    ("fmt", "record", "reason"),
    [
        ("alpaca", SampleRecord(turns=TOOL_CALL), HAS_TOOLS),
        ("alpaca", SampleRecord(turns=[{"role": "user", "content": "Unanswered?"}]), NO_REPLY),
        ("sharegpt", SampleRecord(turns=[{"role": "user", "content": "Unanswered?"}]), NO_REPLY),
        ("trl-stepwise", SampleRecord(turns=TWO_TURNS[1:], steps=["a"], ratings=[1]), MULTI_TURN),
        ("prm800k", SampleRecord(turns=TWO_TURNS[:3], steps=["a"], ratings=[1]), HAS_SYSTEM),
        ("prm800k", SampleRecord(turns=TWO_TURNS[1:3]), NO_STEPS),
        ("trl-stepwise", SampleRecord(turns=TWO_TURNS[1:3], steps=["a", "b"], ratings=[1, None]), UNRATED),
    ],
)
def test_what_a_format_cannot_hold_is_skipped_with_its_reason(fmt, record, reason):
    with pytest.raises(Skip, match=reason.split("(")[0].strip()):
        FORMATS[fmt].write_row(record)


def test_stepwise_writers_label_and_rate_each_step():
    record = SampleRecord(turns=[{"role": "user", "content": "2+3, doubled?"}, {"role": "assistant", "content": "10"}],
                          input="Show each step.", steps=["2 + 3 = 5", "5 * 2 = 11", "So 11."], ratings=[1, -1, 0])
    assert FORMATS["trl-stepwise"].write(record) == {
        "prompt": "2+3, doubled?\n\nShow each step.", "completions": ["2 + 3 = 5", "5 * 2 = 11", "So 11."],
        "labels": [True, False, True]}
    row = FORMATS["prm800k"].write(record)
    assert [s["completions"][0]["rating"] for s in row["label"]["steps"]] == [1, -1, 0]
    assert row["label"]["finish_reason"] == "found_error" and row["question"]["ground_truth_answer"] == "10"


# ---------------------------------------------------------------- readers


def test_reading_a_written_row_gives_the_record_back():
    for fmt, record in [
        ("openai", SampleRecord(turns=TWO_TURNS)), ("openai", SampleRecord(turns=TOOL_CALL)),
        ("sharegpt", SampleRecord(turns=TWO_TURNS)), ("alpaca", SampleRecord(turns=TWO_TURNS)),
        ("workbench", SampleRecord(turns=TOOL_CALL, input="ctx", steps=["s"], ratings=[None], source="magpie", tags=["t"])),
    ]:
        back = read(fmt, FORMATS[fmt].write(record))
        assert FORMATS[fmt].write(back) == FORMATS[fmt].write(record), fmt


def test_alpaca_reads_input_system_history_and_the_usual_field_names():
    record = read("alpaca", {"instruction": "Classify the sentiment.", "input": "I loved it!", "output": "positive"})
    assert (record.instruction, record.input, record.output) == ("Classify the sentiment.", "I loved it!", "positive")
    record = read("alpaca", {"instruction": "And this one?", "input": "Awful.", "output": "negative", "system": "Be terse.",
                             "history": [["Classify: great", "positive"]]})
    assert [t["role"] for t in record.turns] == ["system", "user", "assistant", "user", "assistant"]
    assert record.turns[3]["content"] == "And this one?\n\nAwful." and record.input is None  # the input goes with its turn
    record = read("alpaca", {"question": "Natalia sold 48 clips...", "answer": "#### 72"})
    assert (record.instruction, record.output) == ("Natalia sold 48 clips...", "#### 72")
    assert read("alpaca", {"prompt": "Name a prime.", "completion": "7"}).output == "7"


def test_sharegpt_reads_a_system_turn_or_field_and_openai_style_keys():
    record = read("sharegpt", {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                                                 {"from": "gpt", "value": "Hello"}]})
    assert record.system == "Be brief." and record.output == "Hello"
    record = read("sharegpt", {"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})
    assert record.instruction == "Hi"


def test_trl_stepwise_labels_become_step_ratings():
    record = read("trl-stepwise", {"prompt": "What is 9 * 7?", "completions": ["9 * 7 = 63", "Answer: 63"], "labels": [True, True]})
    assert (record.steps, record.ratings, record.output) == (["9 * 7 = 63", "Answer: 63"], [1, 1], "9 * 7 = 63\nAnswer: 63")


PRM800K_ROW = {
    "labeler": "340d89bc-f5b7-45e9-b272-909ba68ee363",
    "timestamp": "2022-07-17T16:56:51.325545",
    "generation": 9,
    "is_quality_control_question": False,
    "is_initial_screening_question": False,
    "question": {"problem": "How many seconds are in 7.8 minutes?", "ground_truth_answer": "468",
                 "ground_truth_solution": "There are $7.8 \\times 60 = \\boxed{468}$ seconds."},
    "label": {
        "steps": [
            {"completions": [{"text": "There are 60 seconds in a minute.", "rating": 1, "flagged": False},
                             {"text": "A minute has 100 seconds.", "rating": -1, "flagged": False}],
             "human_completion": None, "chosen_completion": 0},
            {"completions": [{"text": "So 7.8 * 60 = 458 seconds.", "rating": -1, "flagged": False}],
             "human_completion": {"text": "So 7.8 * 60 = 468 seconds.", "rating": None, "source": "human",
                                  "flagged": False, "corrected_rating": None},
             "chosen_completion": None},
            {"completions": [{"text": "# Answer\n\n468", "rating": 0, "flagged": False}], "human_completion": None,
             "chosen_completion": 0},
        ],
        "total_time": 183000,
        "finish_reason": "solution",
    },
}


def test_prm800k_rows_read_the_chosen_or_human_step_and_keep_the_rest():
    record = read("prm800k", PRM800K_ROW)
    assert record.steps == ["There are 60 seconds in a minute.", "So 7.8 * 60 = 468 seconds.", "# Answer\n\n468"]
    assert record.ratings == [1, 1, 0]  # the human's replacement step counts as right
    assert (record.instruction, record.output) == ("How many seconds are in 7.8 minutes?", "468")
    assert record.labeller == "340d89bc-f5b7-45e9-b272-909ba68ee363" and record.labelled_at > 1.6e9
    kept = record.metadata["prm800k"]
    assert kept["alternatives"]["0"] == [{"text": "A minute has 100 seconds.", "rating": -1, "flagged": False}]
    assert kept["alternatives"]["1"][0]["text"] == "So 7.8 * 60 = 458 seconds."
    assert kept["finish_reason"] == "solution" and kept["generation"] == 9
    assert kept["question.ground_truth_solution"].startswith("There are")


def test_processbench_label_marks_the_steps_before_the_error_right_and_leaves_later_ones_unjudged():
    row = {"id": "gsm8k-12", "generator": "Qwen2-7B-Instruct", "problem": "p", "steps": ["a", "b", "c", "d"], "label": 1,
           "final_answer_correct": False}
    record = read("processbench", row)
    assert record.ratings == [1, -1, None, None]
    assert record.metadata == {"processbench": {"id": "gsm8k-12", "generator": "Qwen2-7B-Instruct", "final_answer_correct": False}}
    assert read("processbench", {**row, "label": -1}).ratings == [1, 1, 1, 1]


def test_detection_names_each_layout():
    rows = {
        "openai": {"messages": []}, "sharegpt": {"conversations": []}, "alpaca": {"instruction": "i", "output": "o"},
        "trl-stepwise": {"prompt": "p", "completions": [], "labels": []}, "prm800k": PRM800K_ROW,
        "processbench": {"problem": "p", "steps": [], "label": -1},
        "workbench": {"instruction": "i", "output": "o", "messages": [], "step_ratings": []},
    }
    assert {fmt: detect(row).name for fmt, row in rows.items()} == {fmt: fmt for fmt in rows}
    assert detect({"text": "just text"}) is None
    assert detect({"question": "What is 2+2?", "answer": "4"}).name == "alpaca"  # GSM8K-style rows


# ---------------------------------------------------------------- bad rows, each named by field


def test_roles_out_of_order_empty_messages_and_unknown_roles_are_named_by_field():
    assert problems("openai", {"messages": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "?"}]}) == [
        "messages[0].role: 'assistant' cannot open the conversation; expected 'user'"]
    assert problems("openai", {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}) == [
        "messages[1].role: 'user' cannot follow 'user'; expected 'assistant'"]
    assert problems("openai", {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                            {"role": "system", "content": "late"}]}) == [
        "messages[2].role: a system message can only open the conversation"]
    assert problems("openai", {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}]}) == [
        "messages[1].content: empty message"]
    assert problems("openai", {"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}) == [
        "messages[1].role: unknown role 'bot'"]
    assert problems("sharegpt", {"conversations": [{"from": "human", "value": "a"}, {"from": "robot", "value": "b"}]})[0].startswith(
        "conversations[1].from: unknown role 'robot'")
    assert problems("sharegpt", {"system": "s", "conversations": [{"from": "gpt", "value": "a"}]}) == [
        "conversations[0].from: 'assistant' cannot open the conversation; expected 'user'"]
    assert problems("openai", {"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]}) == [
        "messages[1].role: 'tool' cannot follow 'user'; expected 'assistant'"]


def test_labels_whose_count_differs_from_the_steps_are_refused():
    assert problems("trl-stepwise", {"prompt": "p", "completions": ["a", "b", "c"], "labels": [True, False]}) == [
        "labels: 2 labels for 3 completions; give one per step"]
    assert problems("trl-stepwise", {"prompt": "p", "completions": ["a"], "labels": ["yes"]}) == ["labels[0]: 'yes' is not true or false"]
    assert problems("workbench", {"instruction": "i", "steps": ["a", "b"], "step_ratings": [1]}) == [
        "step_ratings: 1 rating for 2 steps; give one per step"]
    assert problems("processbench", {"problem": "p", "steps": ["a", "b"], "label": 2}) == [
        "label: 2 is not -1 (no wrong step) or a step index (0..1)"]


def test_alpaca_and_prm800k_name_missing_and_malformed_fields():
    assert problems("alpaca", {"instruction": "Do it.", "output": ""}) == ["output: empty"]
    assert problems("alpaca", {"instruction": "i", "output": "o", "history": [["only one"]]}) == [
        "history[0]: must be a pair [instruction, response] of non-empty texts"]
    bad = {**PRM800K_ROW, "label": {"steps": [{"completions": [{"text": "x", "rating": 5}], "chosen_completion": 0}]}}
    assert problems("prm800k", bad) == ["label.steps[0].completions.rating: 5 is not -1, 0, 1 or null"]


# ---------------------------------------------------------------- model text on the Review page


def test_model_text_splits_prose_and_fenced_code_keeping_line_breaks():
    text = "Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds.\n~~~\nraw\n  indented\n~~~"
    assert [(b.kind, b.text, b.language) for b in blocks(text)] == [
        ("text", "Here is the function:", None), ("code", "def add(a, b):\n    return a + b", "python"),
        ("text", "It adds.", None), ("code", "raw\n  indented", None)]
    assert [(b.kind, b.text) for b in blocks("Cut off:\n```js\nlet x = 1;\nlet y")] == [
        ("text", "Cut off:"), ("code", "let x = 1;\nlet y")]
    (prose,) = blocks("<b>not html</b>\n* not a list")
    assert (prose.kind, prose.text) == ("text", "<b>not html</b>\n* not a list")
