"""Seed files in the field's formats are detected and read without loss, and say which field filled what."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.seeds.engine import SeedImportError, import_seed_file, import_seeds
from workbench.store import Store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "seeds"


def by_instruction(store: Store) -> dict[str, list[dict]]:
    seeds: dict[str, list[dict]] = {}
    for seed in store.seeds.list_seeds():
        seeds.setdefault(seed["instruction"], []).append(seed)
    return seeds


def test_self_instruct_tasks_give_one_seed_per_instance_with_input_and_reference(store: Store):
    result = import_seed_file(store, FIXTURES / "self_instruct_seed_tasks.jsonl")
    seeds = by_instruction(store)
    assert result.imported == 8 and len(seeds) == 6
    [pairs] = seeds["What is the relation between the given pairs?"]
    assert pairs["input"] == "Night : Day :: Right : Left"
    assert pairs["reference_answer"] == "The relation between the given pairs is that they are opposites."
    assert pairs["tags"] == ["antonym_relation"]
    assert pairs["origin"]["extra"] == {"id": "seed_task_1"}
    # two instances: two seeds, same instruction, each with its own input and output
    stereotype = seeds["Describe a situation in which the given stereotype can harm you."]
    assert [s["input"] for s in stereotype] == ['"All Asians are smart!"', '"Girls are bad at math."']
    assert stereotype[1]["reference_answer"].startswith("A student who hears this")
    assert [s["origin"]["location"] for s in stereotype] == ["line 4, instance 1", "line 4, instance 2"]
    assert seeds["Classify the sentiment of the sentence into positive, negative or mixed."][0]["tags"] == [
        "sentiment_classification", "classification"]
    # an empty input is no input; a task without instances is its instruction alone
    [breakfast] = seeds[next(k for k in seeds if k.startswith("Is there anything I can eat"))]
    assert breakfast["input"] is None and breakfast["reference_answer"].startswith("Yes, you can have")
    [haiku] = seeds["Write a haiku about the first snow of the year."]
    assert (haiku["input"], haiku["reference_answer"]) == (None, None)
    assert result.fields[:3] == [
        "instruction from instruction", "input from instances[0].input (4 seeds) / from instances[1].input (2 seeds)",
        "reference from instances[0].output (5 seeds) / from instances[1].output (2 seeds)"]
    assert "Kept in each seed's origin (no seed field for them): id." in result.lines()


def test_single_instance_tasks_report_the_field_paths_exactly(store: Store):
    data = b"\n".join(json.dumps(
        {"id": f"seed_task_{i}", "name": f"task_{i}", "instruction": f"Rewrite the given sentence, version {i}.",
         "instances": [{"input": f"Sentence {i}.", "output": f"Rewritten {i}."}], "is_classification": False}
    ).encode() for i in range(3))
    result = import_seeds(store, data, "seed_tasks.jsonl")
    assert result.fields[:3] == ["instruction from instruction", "input from instances[0].input",
                                 "reference from instances[0].output"]
    assert "Read instruction from instruction; input from instances[0].input; reference from instances[0].output;" \
        in " ".join(result.lines())


def test_alpaca_json_keeps_inputs_and_two_inputs_make_two_seeds(store: Store):
    result = import_seed_file(store, FIXTURES / "alpaca_data.json")
    seeds = by_instruction(store)
    assert [s["input"] for s in seeds["Identify the odd one out."]] == ["Twitter, Instagram, Telegram",
                                                                        "Apple, Banana, Carrot"]
    assert [s["reference_answer"] for s in seeds["Identify the odd one out."]] == ["Telegram", "Carrot"]
    assert seeds["Give three tips for staying healthy."][0]["input"] is None
    assert seeds["Give three tips for staying healthy."][0]["reference_answer"].startswith("1. Eat a balanced diet")
    assert result.formats == {"Alpaca (instruction, input, output)": 5}
    assert [loc.short() for loc in result.repeats] == ["line 22"]  # the JSON array item's line


def test_dolly_context_is_the_input_and_category_the_domain(store: Store):
    result = import_seed_file(store, FIXTURES / "dolly.jsonl")
    seeds = by_instruction(store)
    [virgin] = seeds["When did Virgin Australia start operating?"]
    assert virgin["input"].startswith("Virgin Australia, the trading name")
    assert virgin["domain"] == "closed_qa" and virgin["reference_answer"].startswith("Virgin Australia commenced")
    assert seeds["Which is a species of fish? Tope or Rope"][0]["input"] is None
    assert "input from context (1 seed)" in result.fields and "domain from category" in result.fields


def test_gsm8k_answer_becomes_final_answer_and_solution_without_annotations(store: Store):
    result = import_seed_file(store, FIXTURES / "gsm8k_train.jsonl")
    seeds = store.seeds.list_seeds()
    assert [s["reference_answer"] for s in seeds] == ["72", "10", "5", "624"]
    assert seeds[0]["reference_solution"] == (
        "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n#### 72")
    assert all("<<" not in s["reference_solution"] for s in seeds)
    assert {s["domain"] for s in seeds} == {"math"}
    assert result.fields == [
        "instruction from question", "reference from answer (the '#### n' line)",
        "reference solution from answer (calculator annotations removed)", "domain set by the GSM8K format"]


def test_math_boxed_answers_with_nested_braces_and_tags(store: Store):
    import_seed_file(store, FIXTURES / "math_problems.jsonl")
    import_seed_file(store, FIXTURES / "math500.jsonl")
    seeds = store.seeds.list_seeds()
    assert [s["reference_answer"] for s in seeds] == ["\\frac{1}{2}", "\\frac{\\sqrt{3}}{2}", "2", "27"]
    assert seeds[0]["reference_solution"].endswith("= \\boxed{\\frac{1}{2}}$.")
    assert seeds[0]["tags"] == ["Algebra", "Level 2"] and seeds[0]["domain"] == "math"
    assert seeds[3]["tags"] == ["Number Theory", "Level 3"]  # MATH-500: subject, numeric level
    assert seeds[3]["origin"]["fields"]["reference_answer"] == "from answer"
    assert seeds[3]["origin"]["extra"] == {"unique_id": "test/number_theory/515.json"}


def test_spreadsheet_csv_with_bom_crlf_and_a_repeat_with_a_trailing_space(store: Store):
    result = import_seed_file(store, FIXTURES / "spreadsheet.csv")
    seeds = store.seeds.list_seeds()
    assert [s["instruction"] for s in seeds] == [
        "What is 15% of 80?", "Name the capital of Australia.", "Write a limerick about a cat\nwho learns to code."]
    assert [loc.short() for loc in result.repeats] == ["line 6"]
    stored = [v for s in seeds for v in s.values() if isinstance(v, str)]
    assert not any(v.endswith("\r") or "\r" in v or v != v.strip() or "\ufeff" in v for v in stored)
    assert seeds[0]["tags"] == ["percent", "easy"]


def test_utf16_spreadsheet_text_is_read(store: Store):
    data = "instruction\treference_answer\r\nWhat is 2 + 2?\t4\r\n".encode("utf-16")
    import_seeds(store, data, "export.tsv")
    assert [(s["instruction"], s["reference_answer"]) for s in store.seeds.list_seeds()] == [("What is 2 + 2?", "4")]


def test_json_strings_with_crlf_are_stored_with_lf(store: Store):
    import_seeds(store, json.dumps([{"instruction": "  Summarise:\r\n", "input": "line one\r\nline two\r"}]), "x.json")
    [seed] = store.seeds.list_seeds()
    assert (seed["instruction"], seed["input"]) == ("Summarise:", "line one\nline two")


def parquet_bytes(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def test_parquet_gsm8k_and_self_instruct_rows(store: Store):
    gsm8k = parquet_bytes([{"question": "Tom has 3 bags of 4 apples. How many apples?",
                            "answer": "3 bags x 4 = <<3*4=12>>12 apples.\n#### 12"}])
    import_seeds(store, gsm8k, "train-00000-of-00001.parquet")
    tasks = parquet_bytes([{"id": "t1", "name": "odd_one", "instruction": "Find the odd one out.",
                            "instances": [{"input": "cat, dog, car", "output": "car"},
                                          {"input": "red, blue, seven", "output": "seven"}],
                            "is_classification": True}])
    result = import_seeds(store, tasks, "seed_tasks.parquet")
    seeds = store.seeds.list_seeds()
    assert (seeds[0]["reference_answer"], seeds[0]["reference_solution"]) == ("12", "3 bags x 4 = 12 apples.\n#### 12")
    assert [(s["input"], s["reference_answer"]) for s in seeds[1:]] == [("cat, dog, car", "car"), ("red, blue, seven", "seven")]
    assert seeds[1]["origin"]["location"] == "row 1, instance 1"
    assert result.formats == {"Self-Instruct seed tasks (instruction, instances[].input/output)": 1}


def test_parquet_detected_without_a_suffix_and_refused_when_pasted(store: Store):
    import_seeds(store, parquet_bytes([{"prompt": "From bytes alone."}]), "upload")
    assert store.seeds.list_seeds()[0]["instruction"] == "From bytes alone."
    with pytest.raises(SeedImportError, match="Parquet is a binary format"):
        import_seeds(store, "PAR1...", "pasted.parquet")


def test_plain_question_answer_files_are_not_taken_for_gsm8k(store: Store):
    import_seeds(store, b'{"question": "Capital of France?", "answer": "Paris"}\n', "trivia.jsonl")
    [seed] = store.seeds.list_seeds()
    assert (seed["reference_answer"], seed["reference_solution"], seed["domain"]) == ("Paris", None, None)
    assert seed["origin"]["format"] == "plain"


@pytest.mark.parametrize(
    ("reference", "answer", "solution"),
    [
        ("The answer is 42.", "42", None),
        ("First add 2 and 3 to get 5.\nThen double it: 10.\nAnswer: 10", "10", "First add 2 and 3 to get 5.\nThen double it: 10.\nAnswer: 10"),
        ("Q: who?\nA: Ada Lovelace", "Ada Lovelace", "Q: who?\nA: Ada Lovelace"),
        ("The answer is complicated.\nIt depends on the context you give.", "The answer is complicated.\nIt depends on the context you give.", None),
        ("So $x = \\boxed{\\frac{1}{2}}$ and we are done.", "\\frac{1}{2}", "So $x = \\boxed{\\frac{1}{2}}$ and we are done."),
    ],
)
def test_reference_fields_are_split_into_answer_and_solution(store: Store, reference, answer, solution):
    import_seeds(store, json.dumps({"instruction": "A task.", "output": reference}), "one.json")
    [seed] = store.seeds.list_seeds()
    assert (seed["reference_answer"], seed["reference_solution"]) == (answer, solution)


def test_explicit_answer_and_solution_columns_win(store: Store):
    import_seeds(store, json.dumps({"instruction": "Half of 9?", "reference_answer": "4.5",
                                    "reference_solution": "9 / 2 = <<9/2=4.5>>4.5\n#### 4.5"}), "one.json")
    [seed] = store.seeds.list_seeds()
    assert (seed["reference_answer"], seed["reference_solution"]) == ("4.5", "9 / 2 = 4.5\n#### 4.5")


def test_no_instruction_anywhere_names_the_fields_found(store: Store):
    with pytest.raises(SeedImportError) as raised:
        import_seeds(store, b'{"text": "a"}\n{"text": "b"}\n', "wrong.jsonl")
    assert str(raised.value).splitlines()[1] == (
        "wrong.jsonl: no 'instruction' field (found: text; accepted: instruction, prompt, question, problem, "
        "query, task, seed)")


def test_a_reference_text_no_field_takes_is_kept_in_the_origin(store: Store):
    import_seeds(store, json.dumps({"instruction": "Apples in 3 bags of 4?", "reference_answer": "12",
                                    "output": "Twelve apples in all."}), "one.json")
    [seed] = store.seeds.list_seeds()
    assert seed["reference_answer"] == "12" and seed["origin"]["extra"] == {"output": "Twelve apples in all."}


def test_a_second_spelling_of_a_field_is_kept_not_dropped(store: Store):
    import_seeds(store, b"Instruction,instruction,Domain\nFirst spelling,second spelling,math\n", "two.csv")
    [seed] = store.seeds.list_seeds()
    assert seed["instruction"] == "First spelling" and seed["origin"]["extra"] == {"instruction": "second spelling"}


def test_problems_are_listed_in_file_order(store):
    data = '{"instruction": "ok one"}\n{"output": "no instruction"}\nnot json\n{"instruction": ""}\n'
    with pytest.raises(SeedImportError) as refused:
        import_seeds(store, data, "bad.jsonl")
    assert [str(p.where)[:17] for p in refused.value.problems] == ["bad.jsonl, line 2", "bad.jsonl, line 3",
                                                                   "bad.jsonl, line 4"]
    assert store.overview.counts()["seeds"] == 0
