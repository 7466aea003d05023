"""Seed import: every good format, and every bad input gets a clear message and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main as cli
from workbench.formats.record_files import MAX_FILE_BYTES
from workbench.seeds.engine import (
    SeedImportError,
    describe_origin,
    import_seed_file,
    import_seeds,
    load_sample_seeds,
)
from workbench.store import Store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "seeds"


def instructions(store: Store) -> list[str]:
    return [s["instruction"] for s in store.seeds.list_seeds()]


def test_csv_with_every_field(store: Store):
    data = (
        b"instruction,reference_answer,domain,tags,notes,known_failure\n"
        b'"What is 15% of 80?",12,math,"percent, easy",check units,yes\n'
        b"Name a prime above 10,11,math,,,no\n"
    )
    import_seeds(store, data, "seeds.csv")
    first, second = store.seeds.list_seeds()
    assert first["instruction"] == "What is 15% of 80?" and first["reference_answer"] == "12"
    assert first["tags"] == ["percent", "easy"] and first["known_failure"] is True and first["notes"] == "check units"
    assert second["known_failure"] is False and second["tags"] == []


def test_jsonl_json_text_and_aliases(store: Store):
    import_seeds(store, b'{"prompt": "jsonl seed", "answer": 4, "tags": ["a"]}\n\n{"instruction": "second"}\n', "s.jsonl")
    import_seeds(store, json.dumps([{"question": "json seed"}, "bare string seed"]).encode(), "s.json")
    import_seeds(store, b"text seed one\n\ntext seed two\n", "s.txt")
    assert instructions(store) == [
        "jsonl seed", "second", "json seed", "bare string seed", "text seed one", "text seed two",
    ]
    assert store.seeds.list_seeds()[0]["reference_answer"] == "4"


def test_pasted_text_detects_json(store: Store):
    import_seeds(store, '[{"instruction": "pasted json"}]', "pasted text")
    import_seeds(store, "plain pasted line", "pasted text")
    assert instructions(store) == ["pasted json", "plain pasted line"]


BAD_INPUTS = [
    ("bad.csv", b'instruction,domain\n"unclosed quote,math\nnext,row\n', "bad.csv, line 2: malformed CSV"),
    ("nocol.csv", b"prompt_text,domain\nsomething,math\n", "no 'instruction' column"),
    ("extra.csv", b"instruction\na,b,c\n", "line 2: more values than header columns"),
    ("bad.jsonl", b'{"instruction": "ok"}\n{"instruction": broken}\n', "bad.jsonl, line 2: invalid JSON"),
    ("bad.json", b'[{"instruction": "ok"},', "bad.json, line 1: invalid JSON"),
    ("missing.jsonl", b'{"instruction": "ok"}\n{"question_text": "no field"}\n', "line 2: no 'instruction' field"),
    ("latin1.txt", "café seed\n".encode("latin-1"), "latin1.txt, line 1: byte 0xe9 is not valid UTF-8"),
    ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary file"),
    ("empty.csv", b"", "the file is empty"),
    ("blank.txt", b"  \n\n ", "the file is empty"),
    ("mixed.jsonl", b'{"instruction": "ok"}\n{"instruction": "ok"}\n{"instruction": 5.5e999}\n[1, 2]\n',
     "mixed.jsonl, line 4: expected an object with fields, got list"),
    ("instances.jsonl", b'{"instruction": "Sort these.", "instances": "3, 1, 2"}\n',
     "instances.jsonl, line 1: field 'instances' must be a list"),
    ("not_parquet.parquet", b"PAR1 this is not really parquet", "not a readable Parquet file"),
    ("huge_seed.jsonl", json.dumps({"instruction": "x" * 1_000_000}).encode(), "the limit is 20,000"),
    ("wrongtype.json", b'{"seeds": [{"instruction": ["a list"]}]}', "field 'instruction': must be text"),
    ("flag.csv", b"instruction,known_failure\nseed,maybe\n", "field 'known_failure'"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_names_the_problem_and_leaves_the_store_unchanged(store: Store, name, data, message):
    store.seeds.insert_seeds([{"instruction": "existing seed"}])
    with pytest.raises(SeedImportError) as raised:
        import_seeds(store, data, name)
    text = str(raised.value)
    assert message in text
    assert name in text and "nothing was imported" in text
    assert instructions(store) == ["existing seed"]


def test_every_problem_is_listed_on_its_own_line_with_file_and_line(store: Store):
    data = b'{"instruction": "fine"}\n{oops\n{"instruction": ""}\n{"prompt_text": "x", "instruction": ["a"]}\n'
    with pytest.raises(SeedImportError) as raised:
        import_seeds(store, data, "many.jsonl")
    lines = str(raised.value).splitlines()
    assert lines == [
        "Could not import many.jsonl: nothing was imported.",
        "many.jsonl, line 2: invalid JSON: Expecting property name enclosed in double quotes at column 2",
        "many.jsonl, line 3, field 'instruction': is empty",
        "many.jsonl, line 4, field 'instruction': must be text",
    ]
    assert store.overview.counts()["seeds"] == 0


def test_repeats_in_the_file_are_skipped_and_reported_by_line(store: Store):
    result = import_seeds(store, b"same seed\nother\nSame   seed\nthird\n  same SEED \nother\n", "dups.txt")
    assert instructions(store) == ["same seed", "other", "third"]
    assert [loc.short() for loc in result.repeats] == ["line 3", "line 5", "line 6"]
    assert "3 duplicates skipped (same instruction and input as an earlier seed in the file): lines 3, 5, 6." \
        in result.lines()


def test_seeds_already_stored_are_skipped_and_the_rest_imported(store: Store):
    store.seeds.insert_seeds([{"instruction": "Existing seed"}])
    result = import_seeds(store, b"brand new\nexisting   SEED\n", "new.txt")
    assert instructions(store) == ["Existing seed", "brand new"]
    assert result.imported == 1
    assert "1 seed already in the store skipped: line 2." in result.lines()
    again = import_seeds(store, b"brand new\nexisting   SEED\n", "new.txt")
    assert again.imported == 0 and "2 seeds already in the store skipped: lines 1, 2." in again.lines()


def test_a_120_mb_file_is_refused_without_reading_it(store: Store, tmp_path: Path):
    big = tmp_path / "big.jsonl"
    with big.open("wb") as handle:
        handle.truncate(120 * 1024 * 1024)
    assert big.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(SeedImportError, match=r"big.jsonl: file is 125.8 MB; the limit is 105 MB"):
        import_seed_file(store, big)
    assert store.overview.counts()["seeds"] == 0


def test_many_problems_are_summarised(store: Store):
    data = "\n".join("{bad" for _ in range(30)).encode()
    with pytest.raises(SeedImportError) as raised:
        import_seeds(store, data, "many.jsonl")
    assert "... and 10 more problems" in str(raised.value)


def test_sample_seeds_load_once(store: Store):
    loaded = load_sample_seeds(store)
    assert len(loaded) >= 90
    domains = set(store.seeds.seed_domains())
    assert {"math", "code", "logic", "science", "writing", "data_analysis"} <= domains
    math_seeds = store.seeds.list_seeds(domain="math")
    assert all(s["reference_answer"] for s in math_seeds)
    assert all(s["tests"] for s in store.seeds.list_seeds(domain="code"))
    assert load_sample_seeds(store) == []


def test_cli_import_and_list(db_path: Path, tmp_path: Path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text('{"instruction": "from the cli", "domain": "math"}\n'
                    '{"question": "What is 6 x 7?", "answer": "6 x 7 = <<6*7=42>>42\\n#### 42"}\n'
                    '{"instruction": "from the cli", "domain": "again"}\n')
    assert cli(["--db", str(db_path), "seeds", "import", str(good)]) == 0
    out = capsys.readouterr().out
    assert "Imported 2 seeds from good.jsonl (plain seed fields: 2 records; GSM8K (question, answer ending" in out
    assert "reference from answer (the '#### n' line) (1 seed)" in out
    assert "1 duplicate skipped (same instruction and input as an earlier seed in the file): line 3." in out
    assert cli(["--db", str(db_path), "seeds", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["instruction"], s["domain"], s["input"]) for s in listed] == [
        ("from the cli", "math", None), ("What is 6 x 7?", "math", None)]
    assert (listed[1]["reference_answer"], listed[1]["reference_solution"]) == ("42", "6 x 7 = 42\n#### 42")
    assert listed[1]["origin"]["format"] == "gsm8k" and listed[1]["origin"]["location"] == "line 2"


def test_cli_import_json_result(db_path: Path, capsys):
    path = FIXTURES / "alpaca_data.json"
    assert cli(["--db", str(db_path), "seeds", "import", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["imported"] == 4 and result["formats"] == {"Alpaca (instruction, input, output)": 5}
    assert result["duplicates_in_file"] == ["line 22"]
    assert "input from input (3 seeds)" in result["fields"]


def test_cli_bad_file_exits_non_zero_with_the_reason(db_path: Path, tmp_path: Path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "fine"}\n{oops\n')
    assert cli(["--db", str(db_path), "seeds", "import", str(bad)]) == 2
    assert "bad.jsonl, line 2: invalid JSON" in capsys.readouterr().err
    assert cli(["--db", str(db_path), "seeds", "import", str(tmp_path / "absent.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_each_seed_says_where_it_came_from(store: Store):
    import_seed_file(store, FIXTURES / "gsm8k_train.jsonl")
    store.seeds.insert_seeds([{"instruction": "Typed in by hand."}])
    first, typed = store.seeds.list_seeds(ids=[1, 5])
    assert describe_origin(first["origin"]) == (
        "Imported from gsm8k_train.jsonl, line 1 (gsm8k format): instruction from question; reference from answer "
        "(the '#### n' line); reference solution from answer (calculator annotations removed); domain set by the "
        "GSM8K format.")
    assert describe_origin(typed["origin"]) == "Entered here (not imported)."
