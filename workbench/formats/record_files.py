"""Records from files: CSV/TSV, JSONL, JSON, plain text and Parquet, each record with where it came from.

Bytes are checked and decoded once: UTF-8 with or without a byte-order mark, UTF-16 with one (a
spreadsheet's "Unicode text"); CRLF and CR line ends are read as LF. Each reader returns (record,
location) pairs and appends a `Problem` per malformed record instead of stopping at the first, so one
import reports everything wrong with a file. Nothing here knows what a record means.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 100 * 1024 * 1024  # Alpaca's 52k-task alpaca_data.json is 22 MB
MAX_REPORTED_PROBLEMS = 20
CONTAINERS = ("csv", "jsonl", "json", "text", "parquet")
PARQUET_MAGIC = b"PAR1"
SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "text",
    ".parquet": "parquet", ".pq": "parquet",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Location:
    """Where a record is: the file, the unit ('line', 'item', 'row') and its 1-based number, and a detail
    inside the record ('instance 2')."""

    source: str
    unit: str
    number: int
    detail: str = ""

    def within(self, detail: str) -> Location:
        return Location(self.source, self.unit, self.number, detail)

    def short(self) -> str:
        """'line 12' or 'line 12, instance 2' (without the file)."""
        return f"{self.unit} {self.number}" + (f", {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return f"{self.source}, {self.short()}"


def describe_locations(locations: list[Location]) -> str:
    """'lines 12, 40, 41' for plain locations of one unit; each location in full otherwise."""
    units = {loc.unit for loc in locations}
    if len(units) == 1 and not any(loc.detail for loc in locations):
        return f"{units.pop()}s {', '.join(str(loc.number) for loc in locations)}" if len(locations) > 1 \
            else locations[0].short()
    return "; ".join(loc.short() for loc in locations)


@dataclass
class Problem:
    """One thing wrong with an import: where (file and line, or a Location) and what."""

    where: str | Location
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class FileImportError(Exception):
    """Everything wrong with one import, each problem naming the file and line or field; nothing was stored."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join([self.header, *self.shown_problems()])

    @property
    def header(self) -> str:
        return f"Could not import {self.source}: nothing was imported."

    def shown_problems(self) -> list[str]:
        """Each problem on its own line, the first MAX_REPORTED_PROBLEMS of them, then how many more."""
        shown = [str(p) for p in self.problems[:MAX_REPORTED_PROBLEMS]]
        more = len(self.problems) - len(shown)
        return shown + ([f"... and {more} more problems"] if more > 0 else [])


def _refuse(source: str, message: str, where: str | None = None) -> FileImportError:
    return FileImportError(source, [Problem(where or source, message)])


def check_size(size: int, source: str) -> None:
    if size > MAX_FILE_BYTES:
        raise _refuse(source, f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR line ends as LF, and no byte-order mark at the start."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def detect_container(name: str, data: bytes | str) -> str:
    """The container of a file: by its suffix, else by its first bytes (Parquet magic, '[' JSON, '{' JSONL)."""
    by_suffix = SUFFIXES.get(Path(name).suffix.lower())
    if by_suffix:
        return by_suffix
    if isinstance(data, bytes) and data.startswith(PARQUET_MAGIC):
        return "parquet"
    head = (data[:4096].decode("utf-8", "ignore") if isinstance(data, bytes) else data[:4096]).lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl"
    return "text"


def decode(data: bytes, source: str) -> str:
    """Bytes to text with LF line ends; binary, non-UTF-8, oversized and empty files are refused with a clear
    message (FileImportError)."""
    check_size(len(data), source)
    encoding = "utf-16" if data.startswith(UTF16_BOMS) else "utf-8-sig"
    if encoding == "utf-8-sig" and b"\x00" in data[:8192]:
        raise _refuse(source, "this looks like a binary file, not text (CSV, JSONL, JSON, TXT or Parquet)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _refuse(source, f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file as UTF-8",
                      f"{source}, line {line}") from exc
    text = normalise_newlines(text)
    if not text.strip():
        raise _refuse(source, "the file is empty")
    return text


Records = list[tuple[dict, Location]]


def read_csv(text: str, source: str, problems: list[Problem]) -> Records:
    """One record per row, keyed by the header; the delimiter (, ; tab) is sniffed. Blank rows are skipped."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect, strict=True)
    try:
        reader.fieldnames  # noqa: B018 - reads the header row
    except csv.Error as exc:
        problems.append(Problem(f"{source}, line 1", f"malformed CSV header: {exc}"))
        return []
    records: Records = []
    while True:
        start_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            problems.append(Problem(f"{source}, line {start_line}", f"malformed CSV: {exc}"))
            return records
        if None in row:
            problems.append(Problem(f"{source}, line {start_line}", "more values than header columns"))
            continue
        if all(v is None or not str(v).strip() for v in row.values()):
            continue
        records.append((row, Location(source, "line", start_line)))


def _record(value: object, where: Location, problems: list[Problem]) -> dict | None:
    if isinstance(value, str):
        return {"instruction": value}
    if not isinstance(value, dict):
        problems.append(Problem(str(where), f"expected an object with fields, got {type(value).__name__}"))
        return None
    return value


def read_jsonl(text: str, source: str, problems: list[Problem]) -> Records:
    """One record per non-blank line; a bare JSON string is read as {"instruction": string}."""
    records: Records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = Location(source, "line", number)
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(where), f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        record = _record(value, where, problems)
        if record is not None:
            records.append((record, where))
    return records


def _array_items(text: str) -> list[tuple[object, int]] | None:
    """The items of a top-level JSON array with the line each starts on, or None when the text is no array."""
    decoder = json.JSONDecoder()
    index = len(text) - len(text.lstrip())
    if not text.startswith("[", index):
        return None
    index += 1
    items: list[tuple[object, int]] = []
    line, counted = 1, 0
    while True:
        while index < len(text) and text[index] in " \t\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return items
        value, end = decoder.raw_decode(text, index)
        line += text.count("\n", counted, index)
        counted = index
        items.append((value, line))
        index = end


def read_json(text: str, source: str, problems: list[Problem]) -> Records:
    """A JSON array of records (each located by its line, or by item number when items share lines), an object
    holding one under 'seeds', 'data', 'items', 'rows' or 'examples' (located by item), or a single record."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(f"{source}, line {exc.lineno}", f"invalid JSON: {exc.msg} at column {exc.colno}"))
        return []
    located = _array_items(text) if isinstance(value, list) else None
    if located is not None and len({line for _, line in located}) < len(located):
        located = None  # items share lines (a one-line array): number them instead
    if located is None:
        if isinstance(value, dict):
            inner = next((value[k] for k in ("seeds", "data", "items", "rows", "examples")
                          if isinstance(value.get(k), list)), None)
            value = inner if inner is not None else [value]
        if not isinstance(value, list):
            problems.append(Problem(source, "expected a JSON array of records"))
            return []
        located = [(item, None) for item in value]
    records: Records = []
    for index, (item, line) in enumerate(located, start=1):
        where = Location(source, "line", line) if line is not None else Location(source, "item", index)
        record = _record(item, where, problems)
        if record is not None:
            records.append((record, where))
    return records


def read_text(text: str, source: str, problems: list[Problem]) -> Records:
    """One record {"instruction": line} per non-blank line."""
    return [({"instruction": line}, Location(source, "line", number))
            for number, line in enumerate(text.split("\n"), start=1) if line.strip()]


def read_parquet(data: bytes, source: str, problems: list[Problem]) -> Records:
    """One record per row (how Hugging Face datasets are stored); nested lists and structs stay lists and dicts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(io.BytesIO(data)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(Problem(source, f"not a readable Parquet file: {exc}"))
        return []
    return [(row, Location(source, "row", number)) for number, row in enumerate(rows, start=1)]


TEXT_READERS = {"csv": read_csv, "jsonl": read_jsonl, "json": read_json, "text": read_text}


def read_records(data: bytes | str, source: str, problems: list[Problem], container: str | None = None) -> Records:
    """Records of a file or pasted text, in the given container or the detected one.

    Raises FileImportError for a file that cannot be read at all (binary, not UTF-8, too big, empty,
    unknown container); a malformed record becomes a Problem and reading goes on.
    """
    container = container or detect_container(source, data)
    if container not in CONTAINERS:
        raise _refuse(source, f"unknown format {container!r}; use one of {', '.join(CONTAINERS)}")
    if container == "parquet":
        if isinstance(data, str):
            raise _refuse(source, "Parquet is a binary format: upload the file itself")
        check_size(len(data), source)
        return read_parquet(data, source, problems)
    text = decode(data, source) if isinstance(data, bytes) else normalise_newlines(data)
    if not text.strip():
        raise _refuse(source, "the file is empty")
    return TEXT_READERS[container](text, source, problems)
