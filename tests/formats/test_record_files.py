"""One reader family for seeds, samples and benchmark sets (workbench.formats.record_files): the same suffixes, the
same size policy, the same line numbers and the same error base whichever import reads the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.seeds.test_seed_formats import parquet_bytes
from workbench.formats.record_files import (
    MAX_FILE_BYTES,
    MAX_STREAMED_BYTES,
    RecordFileError,
    check_size,
    size_limit,
    upload_types,
)
from workbench.formats.sample_import import SAMPLE_CONTAINERS, SampleImportError, import_samples
from workbench.seeds.engine import SeedImportError, import_seed_file, import_seeds
from workbench.store import Store

ROW = {"instruction": "Name a prime above 20.", "output": "23"}


def test_parquet_named_pq_and_jsonl_named_ndjson_are_read_by_seeds_and_samples_alike(store: Store):
    assert import_samples(store, parquet_bytes([ROW]), "train.pq").container == "parquet"
    assert import_seeds(store, parquet_bytes([ROW]), "train.pq").formats
    assert import_samples(store, json.dumps(ROW | {"output": "29"}).encode(), "more.ndjson").imported == 1
    assert import_seeds(store, json.dumps(ROW | {"instruction": "Another"}).encode(), "more.ndjson").ids


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("mixed.json", json.dumps([ROW, [1, 2]], indent=1).encode(),  # the second item starts on line 6
     "mixed.json, line 6: expected an object with fields, got list"),
    ("extra.csv", b"instruction,output\nq,a,surplus\n", "extra.csv, line 2: more values than header columns"),
], ids=["json-array", "csv"])
def test_a_bad_record_is_named_by_the_same_line_in_both_imports(store: Store, name: str, data: bytes, expected: str):
    with pytest.raises(SampleImportError) as samples:
        import_samples(store, data, name)
    with pytest.raises(SeedImportError) as seeds:
        import_seeds(store, data, name)
    assert expected in str(samples.value) and expected in str(seeds.value)


def test_lone_carriage_returns_end_lines_for_samples_as_for_seeds(store: Store):
    data = (json.dumps(ROW) + "\r" + json.dumps(ROW | {"output": "29"}) + "\r").encode()
    assert import_samples(store, data, "old_mac.jsonl").imported == 2
    with pytest.raises(SampleImportError, match=r"old_mac.jsonl, line 2: invalid JSON"):
        import_samples(store, b'{"instruction": "a", "output": "b"}\r{bad\r', "old_mac.jsonl")


def test_plain_text_is_a_seed_file_but_no_sample_file(store: Store):
    assert "txt" in upload_types() and "txt" not in upload_types(SAMPLE_CONTAINERS)
    assert {"pq", "ndjson", "tsv"} <= set(upload_types(SAMPLE_CONTAINERS)) & set(upload_types())
    assert import_seeds(store, b"One seed per line\n", "seeds.txt").ids
    with pytest.raises(SampleImportError, match=r"unknown file type; use \.csv, \.tsv, \.jsonl, \.ndjson, \.json, "
                                                r"\.parquet or \.pq"):
        import_samples(store, b"One seed per line\n", "seeds.txt")


def test_one_size_policy_a_file_read_whole_or_a_json_array_has_the_smaller_limit():
    assert size_limit("jsonl", streamed=False) == size_limit("json", streamed=True) == MAX_FILE_BYTES
    assert size_limit("jsonl", streamed=True) == size_limit("parquet", streamed=True) == MAX_STREAMED_BYTES
    too_big = MAX_FILE_BYTES + 1
    with pytest.raises(RecordFileError, match=r"the limit is 105 MB for a JSON array, which is read whole; save it as "
                                              r"JSONL to stream it"):
        check_size(too_big, "chats.json", "json", streamed=True)
    check_size(too_big, "chats.jsonl", "jsonl", streamed=True)  # streamed: within its limit
    with pytest.raises(RecordFileError, match=r"the limit is 4,295 MB for JSONL, which is streamed"):
        check_size(MAX_STREAMED_BYTES + 1, "chats.jsonl", "jsonl", streamed=True)


def test_every_import_error_is_a_record_file_error_and_a_sample_error_is_no_seed_error(store: Store):
    with pytest.raises(RecordFileError) as caught:
        import_samples(store, b"", "empty.jsonl")
    assert isinstance(caught.value, SampleImportError) and not isinstance(caught.value, SeedImportError)
    assert issubclass(SeedImportError, RecordFileError)


def test_a_folder_given_as_the_file_is_refused_with_the_reason(store: Store, tmp_path: Path):
    with pytest.raises(SeedImportError, match="cannot read the file: Is a directory"):
        import_seed_file(store, tmp_path)
    with pytest.raises(SampleImportError, match="cannot read the file: Is a directory"):
        import_samples(store, tmp_path, tmp_path.name)
