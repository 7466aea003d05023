"""Import samples made elsewhere (or exported here) so that they can be audited, reviewed and exported.

Files (read by workbench.formats.record_files, the reader seeds and benchmark sets share): JSONL, a JSON array,
CSV/TSV or Parquet, holding rows of one layout of workbench.formats.sample_formats
(OpenAI messages, ShareGPT, Alpaca with input and history, TRL stepwise, PRM800K, ProcessBench, the preference
layouts of TRL, LLaMA-Factory and OpenAI, or our own export with lineage and metric columns). The layout is
detected from the first row and named; every row must share it.

Streamed: rows are read one at a time (Parquet by record batch; JSONL, CSV and Parquet up to 4 GiB, a JSON array,
read whole, up to 100 MiB) and inserted in batches of BATCH_SIZE
inside one transaction, so memory stays flat in the number of rows and a file with any bad row imports
nothing: every problem (up to MAX_PROBLEMS) names its line and field. A sample already in the store, or
repeated in the file (same system prompt, tools, turns, input and steps), is skipped and reported, never refused;
so is a well-formed row that holds nothing to learn (a pair whose chosen equals its rejected), by line.

What is stored: source 'import', the file's own `source` (or its lineage's) in metadata["origin"], the
conversation (workbench.core.conversation), the input, the steps as a reasoning path, step labels from the
file as step overrules (the labeller and time when the file gives them, else `import:<file>`; the gate
and the exports respect overrules), metric values in the metrics table, our export's lineage in
metadata["lineage"], the conversation's functions in metadata["tools"], a preference row's pair in
`preference_pairs` (its sample holds the prompt and the chosen reply; rows sharing both share the sample), and
where each sample came from in metadata["imported_from"]. A reply carrying a reasoning trace (R1-style `<think>`
tags or a `reasoning_content` field) is kept as it came, and its trace and answer become the sample's steps.
What a reader kept and reports (non-text content parts, unknown part types) is counted in `notes`.
"""

from __future__ import annotations

import hashlib
import io
import json
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from workbench.core.conversation import stored_turns
from workbench.core.wording import plural
from workbench.formats.reasoning_traces import trace_steps
from workbench.formats.record_files import CONTAINER_NAMES, Problem, RecordFileError, open_file, open_records
from workbench.formats.sample_formats import (
    FORMATS,
    RowError,
    SampleFormat,
    SampleRecord,
    SkipRow,
    detect,
    expected_layouts,
)
from workbench.store import Store, now
from workbench.verify.ratings import OVERRULE_RATINGS

BATCH_SIZE = 1000
MAX_PROBLEMS = 50
MAX_TEXT_CHARS = 100_000
MAX_LISTED_DUPLICATES = 20
SAMPLE_CONTAINERS = ("jsonl", "json", "csv", "parquet")  # of record_files.CONTAINERS: a sample is no plain line
RATING_LABELS = {rating: label for label, rating in OVERRULE_RATINGS.items()}  # +1 -> 'correct', as a step overrule


class SampleImportError(RecordFileError):
    """Everything wrong with one sample import, each problem naming the file, line and field; nothing was imported."""


@dataclass
class ImportResult:
    """What one import did. `duplicates` lists where the first MAX_LISTED_DUPLICATES skipped rows were."""

    source: str
    format: str = ""
    format_label: str = ""
    container: str = "jsonl"
    imported: int = 0
    conversations: int = 0
    with_steps: int = 0
    labelled_steps: int = 0
    with_metrics: int = 0
    other_fields: Counter = field(default_factory=Counter)  # field -> samples that kept it in metadata["fields"]
    skipped_rows: Counter = field(default_factory=Counter)  # reason -> well-formed rows that hold no sample
    skipped_where: dict[str, list[str]] = field(default_factory=dict)  # reason -> where the first of those rows are
    pairs: int = 0  # preference pairs stored
    notes: Counter = field(default_factory=Counter)  # what readers kept and report -> rows
    skipped_duplicates: int = 0
    duplicates: list[str] = field(default_factory=list)
    sample_ids: array = field(default_factory=lambda: array("q"))

    def summary(self) -> str:
        parts = [f"{plural(self.imported, 'sample')} imported from {self.source} ({self.format_label}, "
                 f"{CONTAINER_NAMES[self.container]})"]
        details = [text for n, text in (
            (self.pairs, f"{plural(self.pairs, 'preference pair')}"),
            (self.conversations, f"{plural(self.conversations, 'conversation')} (system prompt or several turns)"),
            (self.with_steps, f"{self.with_steps:,} with reasoning steps"),
            (self.labelled_steps, f"{plural(self.labelled_steps, 'step')} labelled by people (kept as step labels)"),
            (self.with_metrics, f"{self.with_metrics:,} with metric values"),
        ) if n]
        text = parts[0] + (": " + ", ".join(details) if details else "") + "."
        if self.other_fields:
            text += " Other fields kept in each sample's metadata: " + ", ".join(
                f"{name} ({n:,})" for name, n in self.other_fields.most_common()) + "."
        for reason, n in self.skipped_rows.most_common():
            where = self.skipped_where.get(reason) or []
            more = f"; and {n - len(where):,} more" if n > len(where) else ""
            text += f" {plural(n, 'row')} skipped: {reason}" + (f" ({', '.join(where)}{more})" if where else "") + "."
        if self.notes:
            text += " Kept and reported: " + "; ".join(f"{note} ({plural(n, 'row')})" for note, n in self.notes.most_common()) + "."
        if self.skipped_duplicates:
            more = self.skipped_duplicates - len(self.duplicates)
            text += (f" {plural(self.skipped_duplicates, 'duplicate')} skipped: " + "; ".join(self.duplicates)
                     + (f"; and {more:,} more" if more > 0 else "") + ".")
        return text

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "sample_ids"} | {"summary": self.summary()}


# ---------------------------------------------------------------- reading rows from a file


def _cells(row: dict) -> dict:
    """A CSV row's filled cells by their stripped header, `tags` split at commas."""
    cells = {k.strip(): v for k, v in row.items() if k and v is not None and v.strip()}
    if isinstance(cells.get("tags"), str):
        cells["tags"] = [t.strip() for t in cells["tags"].split(",") if t.strip()]
    return cells


def read_rows(handle: IO[bytes], size: int, name: str, problems: list[Problem]) -> tuple[str, Iterator[tuple[dict, str]]]:
    """(container, rows with where each came from), streamed by workbench.formats.record_files (SAMPLE_CONTAINERS);
    problems of single rows go to `problems`. Raises RecordFileError for a file that cannot be read at all."""
    container, records = open_records(handle, size, name, problems, accept=SAMPLE_CONTAINERS)
    if container == "csv":
        return container, ((cells, str(where)) for row, where in records if (cells := _cells(row)))
    return container, ((row, str(where)) for row, where in records)


# ---------------------------------------------------------------- rows onto records


class _Records:
    """Rows onto records of one format: the first row's format holds for the whole file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.format: SampleFormat | None = None
        self.first_where = ""
        self.skipped: Counter = Counter()  # reason -> well-formed rows that hold no sample
        self.skipped_where: dict[str, list[str]] = {}  # reason -> where the first MAX_LISTED_DUPLICATES of them are

    def read(self, row: dict, where: str) -> SampleRecord | None:
        found = detect(row)
        if found is None:
            keys = ", ".join(map(repr, list(row)[:8])) or "none"
            self.problems.append(Problem(where, f"no known sample layout (keys: {keys}); expected {expected_layouts()}"))
            return None
        if self.format is None:
            self.format, self.first_where = found, where
        elif found.name != self.format.name:
            self.problems.append(Problem(where, f"this row is {found.label}, but the file is {self.format.label} "
                                                f"(from {self.first_where}); one format per file"))
            return None
        try:
            record = found.read(row)
        except RowError as exc:
            self.problems += [Problem(f"{where}, field '{p.field}'" if p.field else where, p.message) for p in exc.problems]
            return None
        except SkipRow as reason:
            self.skipped[str(reason)] += 1
            listed = self.skipped_where.setdefault(str(reason), [])
            if len(listed) < MAX_LISTED_DUPLICATES:
                listed.append(where.rsplit(", ", 1)[-1])
            return None
        if not record.steps:  # a reply with a reasoning trace: its trace and answer are the steps
            record.steps = trace_steps(record.turns)
            record.ratings = [None] * len(record.steps)
        if other := found.other_fields(row):
            record.metadata["fields"] = other  # e.g. Dolly's category, MATH's level: kept, not dropped
        too_long = next((i for i, t in enumerate(record.turns) if len(t.get("content") or "") > MAX_TEXT_CHARS), None)
        if too_long is not None:
            self.problems.append(Problem(f"{where}, turn {too_long + 1}", f"is {len(record.turns[too_long]['content']):,} "
                                                                       f"characters; the limit is {MAX_TEXT_CHARS:,}"))
            return None
        return record


class RecordReader:
    """Every record of a file, in order, with where it came from; after iterating: its `format`, `container`,
    and `skipped` (reason -> well-formed rows that hold no sample).

    Iterating raises SampleImportError (after reading the file, or at MAX_PROBLEMS) when anything is wrong;
    nothing is yielded after the first problem.
    """

    def __init__(self, data: bytes | str | Path, name: str) -> None:
        self.data, self.name = data, name
        self.problems: list[Problem] = []
        self.records = _Records(self.problems)
        self.container = ""

    @property
    def format(self) -> SampleFormat | None:
        return self.records.format

    @property
    def skipped(self) -> Counter:
        return self.records.skipped

    @property
    def skipped_where(self) -> dict[str, list[str]]:
        return self.records.skipped_where

    def __iter__(self) -> Iterator[tuple[SampleRecord, str]]:
        try:
            handle, size = open_file(self.data if isinstance(self.data, bytes) else Path(self.data), self.name)
            with handle:
                yield from self._read(handle, size)
        except RecordFileError as exc:
            raise SampleImportError(exc.source, exc.problems) from exc
        if self.format is None and not self.problems:
            self.problems.append(Problem(self.name, "no samples found"))
        if self.problems:
            raise SampleImportError(self.name, self.problems)

    def _read(self, handle: IO[bytes], size: int) -> Iterator[tuple[SampleRecord, str]]:
        self.container, rows = read_rows(handle, size, self.name, self.problems)
        for row, where in rows:
            record = self.records.read(row, where)
            if len(self.problems) >= MAX_PROBLEMS:
                return
            if record is not None and not self.problems:
                yield record, where


# ---------------------------------------------------------------- records into the store


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def unit_key(record: SampleRecord) -> str:
    """A sample's identity: everything that changes what it teaches: its whole conversation (system prompt and
    every turn), its tools, input and steps (not its labels, tags or metrics)."""
    identity = [record.turns, record.input, record.steps] + ([record.tools] if record.tools else [])
    return "import:" + _digest(identity)


def pair_row(record: SampleRecord, key: str) -> dict | None:
    """A preference row's pair as store_rows takes it (its identity: the sample's and the pair's own)."""
    pair = record.pair
    if pair is None:
        return None
    return {"kind": pair.kind, "chosen": pair.chosen, "rejected": pair.rejected, "lineage": record.lineage,
            "metadata": {"prefix": pair.prefix} if pair.prefix else {},
            "pair_key": "pair:" + _digest([key, pair.kind, pair.chosen, pair.rejected, pair.prefix])}


def stored_row(record: SampleRecord, name: str, fmt: SampleFormat, where: str) -> dict:
    """A record as store_rows takes it."""
    metadata = {**record.metadata, "imported_from": {"file": name, "format": fmt.name, "where": where.removeprefix(f"{name}, ")}}
    if record.source:
        metadata["origin"] = record.source
    if record.lineage:
        metadata["lineage"] = record.lineage
    if record.tools:
        metadata["tools"] = json.dumps(record.tools, ensure_ascii=False)  # a text: the store sorts JSON keys
    key = unit_key(record)
    return {
        "source": "import", "unit_key": key, "pair": pair_row(record, key), "instruction": record.instruction, "input": record.input,
        "output": record.output, "turns": stored_turns(record.turns), "tags": record.tags, "metadata": metadata,
        "steps": record.steps, "labels": [None if r is None else RATING_LABELS[r] for r in record.ratings],
        "metrics": record.metrics, "human_completions": record.human_completions,
        "labeller": record.labeller or f"import:{name}", "labelled_at": record.labelled_at,
        "label_reason": f"label from {name} ({fmt.label})",
    }


def store_rows(store: Store, rows: list[dict]) -> list[tuple[int | None, bool]]:
    """Insert imported samples in the caller's transaction (or one of its own). Per row: (the sample it landed in,
    whether that sample is new); (None, False) for a duplicate.

    Each row is a sample dict (stored_row) plus `steps` (stored as its reasoning path), `labels` (an overrule label or
    None per step, stored as step overrules by `labeller` at `labelled_at` with `label_reason`), `metrics`,
    `human_completions` (step index -> a labeller's corrected step, stored by `labeller`) and, for a preference row,
    `pair` ({kind, chosen, rejected, lineage, metadata, pair_key}): a row whose sample is stored already adds its pair
    to that sample, and is a duplicate only when the pair is stored too."""
    timestamp = now()
    landed: list[tuple[int | None, bool]] = []
    with store.transaction():
        for sample in rows:
            sample_id, new = store.samples.insert_imported(sample, timestamp)
            if sample.get("pair"):
                added = store.export.add_pair(sample_id, sample["pair"], timestamp)
                landed.append((sample_id if added else None, new))
            else:
                landed.append((sample_id if new else None, new))
            if not new:
                continue
            if sample["steps"]:
                store.verify.import_path(sample_id, sample, timestamp)
            if sample.get("metrics"):
                store.metrics.set_metrics("sample", sample_id, sample["metrics"], note=sample["label_reason"])
    return landed

def import_samples(store: Store, data: bytes | str | Path, name: str) -> ImportResult:
    """Import a file (a path, or the bytes of an upload named `name`), all or nothing.

    Raises SampleImportError naming every problem (file, line, field); duplicates, and rows that hold no
    sample, are skipped and listed."""
    reader = RecordReader(data, name)
    result = ImportResult(name)
    first_new = store.samples.max_sample_id() + 1
    with store.transaction():
        batch: list[tuple[dict, str, list[str]]] = []
        for record, where in reader:
            batch.append((stored_row(record, name, reader.format, where), where, record.notes))
            if len(batch) >= BATCH_SIZE:
                _insert(store, batch, result, first_new)
                batch = []
        if batch:
            _insert(store, batch, result, first_new)
    result.format, result.format_label, result.container = reader.format.name, reader.format.label, reader.container
    result.skipped_rows, result.skipped_where = reader.skipped, reader.skipped_where
    return result


def _insert(store: Store, batch: list[tuple[dict, str, list[str]]], result: ImportResult, first_new: int) -> None:
    landed = store_rows(store, [row for row, _, _ in batch])
    for (row, where, notes), (sample_id, new) in zip(batch, landed, strict=True):
        if sample_id is None:
            result.skipped_duplicates += 1
            if len(result.duplicates) < MAX_LISTED_DUPLICATES:
                existing = store.samples.sample_id_for_unit(row["unit_key"])
                why = "repeats an earlier row of this file" if existing >= first_new else f"already in the store as sample {existing}"
                result.duplicates.append(f"{where.removeprefix(f'{result.source}, ')} ({why})")
            continue
        result.pairs += row["pair"] is not None
        result.notes.update(set(notes))
        if not new:
            continue  # a pair added to a sample an earlier row of the file brought
        result.imported += 1
        result.sample_ids.append(sample_id)
        result.conversations += row["turns"] is not None
        result.with_steps += bool(row["steps"])
        result.labelled_steps += sum(label is not None for label in row["labels"])
        result.with_metrics += bool(row["metrics"])
        result.other_fields.update(row["metadata"].get("fields", {}).keys())


# ---------------------------------------------------------------- preview and the import job


@dataclass
class Preview:
    """The first rows of a file as they would be stored, before anything is: for the Review page."""

    format_label: str | None
    container: str | None
    rows: list[dict]
    problems: list[str]


def preview(data: bytes, name: str, n: int = 5) -> Preview:
    """Read the first n rows of an upload: its format, each row's conversation, steps and labels, and any problem."""
    problems: list[Problem] = []
    try:
        container, rows = read_rows(io.BytesIO(data), len(data), name, problems)
    except RecordFileError as exc:
        return Preview(None, None, [], [str(p) for p in exc.problems])
    records = _Records(problems)
    shown = []
    for _, (row, where) in zip(range(n), rows, strict=False):
        record = records.read(row, where)
        if record is None:
            continue
        shown.append({
            "where": where.removeprefix(f"{name}, "), "system": record.system or "", "turns": len(record.conversation),
            "instruction": record.instruction, "input": record.input or "", "output": record.output or "",
            "steps": len(record.steps), "labels": " ".join("·" if r is None else f"{r:+d}" for r in record.ratings),
        })
    label = records.format.label if records.format else None
    return Preview(label, container, shown, [str(p) for p in problems])


def formats_read() -> list[str]:
    """Labels of every layout import reads, for help texts: the chat and stepwise ones, the preference ones, ours."""
    return [f.label for f in sorted(FORMATS.values(), key=lambda f: (f.name == "workbench", f.preference))]
