"""Benchmark test sets for decontamination: read a file (JSONL, CSV, Parquet, a JSON array) with the project's
record reader (workbench.formats.record_files), take the chosen text field of every record, and register it by name.

A file that cannot be read, holds no records, lacks the field in any record, or is registered already (the same
name, or the same items under another name) is refused with a message that says why; nothing is stored then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from workbench.formats.record_files import Problem, RecordFileError, read_records
from workbench.safety.decontamination import benchmark_texts
from workbench.store import Store, StoreError, text_hash

FIELD_SAMPLE_ROWS = 200  # records read to list a file's fields


class BenchmarkError(Exception):
    """A benchmark file refused, with the reason for the user; nothing was registered."""


@dataclass
class Benchmark:
    """A registered benchmark: its id, name, source file name, text field and item count."""

    id: int
    name: str
    file: str
    field: str
    n_items: int


def _records(data: bytes, source: str) -> list[dict]:
    problems: list[Problem] = []
    try:
        located = read_records(data, source, problems)
    except RecordFileError as exc:
        raise BenchmarkError("\n".join([f"Could not read {source}: nothing was registered.", *exc.shown_problems()])) from exc
    if problems:
        raise BenchmarkError(str(RecordFileError(source, problems)).replace("nothing was imported", "nothing was registered"))
    return [record for record, _ in located]


def file_fields(data: bytes, source: str) -> list[str]:
    """The fields of a file's first records, in order of first appearance (what the page offers to choose from).
    Raises BenchmarkError for a file that cannot be read or holds no records."""
    records = _records(data, source)
    if not records:
        raise BenchmarkError(f"{source}: the file holds no records; nothing was registered")
    return list(dict.fromkeys(key for record in records[:FIELD_SAMPLE_ROWS] for key in record))


def content_hash(texts: list[str]) -> str:
    """One hash of a benchmark's items in order (each whitespace- and case-normalised, as text_hash does)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text_hash(text).encode("ascii"))
    return digest.hexdigest()


def register_benchmark(store: Store, data: bytes, source: str, field: str, name: str | None = None) -> Benchmark:
    """Read `data` (the bytes of file `source`) and register its `field` as benchmark `name` (default: the file's
    stem). Raises BenchmarkError (nothing stored) for an unreadable or empty file, a record without the field, or
    a name or content registered already."""
    name = (name or Path(source).stem).strip()
    if not name:
        raise BenchmarkError("give the benchmark a name; nothing was registered")
    if not field.strip():
        raise BenchmarkError("choose the field that holds the benchmark's text; nothing was registered")
    try:
        texts = benchmark_texts(_records(data, source), field, source)
    except ValueError as exc:
        raise BenchmarkError(f"{exc}; nothing was registered") from exc
    try:
        benchmark_id = store.safety.add_benchmark(name, Path(source).name, field, texts, content_hash(texts))
    except StoreError as exc:
        raise BenchmarkError(str(exc)) from exc
    return Benchmark(benchmark_id, name, Path(source).name, field, len(texts))


def register_benchmark_file(store: Store, path: str | Path, field: str, name: str | None = None) -> Benchmark:
    """register_benchmark for a file on disk; a missing or unreadable path is a BenchmarkError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchmarkError(f"cannot read {path}: {exc.strerror or exc}; nothing was registered") from exc
    return register_benchmark(store, data, path.name, field, name)
