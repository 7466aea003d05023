"""Records from files, the one reader family of seeds, samples and benchmark sets: CSV/TSV, JSONL, JSON, plain text
and Parquet, each record with where it came from.

One suffix table (SUFFIXES), one container detection (`detect_container`: the suffix, else the first bytes), one
size policy (`size_limit`: a file read whole, and a JSON array always, up to MAX_FILE_BYTES; JSONL, CSV and Parquet
streamed up to MAX_STREAMED_BYTES) and one error (`RecordFileError`, the base of every import error). Bytes are
UTF-8 with or without a byte-order mark, or UTF-16 with one (a spreadsheet's "Unicode text", copied as UTF-8 a
chunk at a time); LF, CRLF and lone CR line ends all end a line.

`open_records` streams a file's records one at a time (Parquet by record batch), so a caller that streams keeps
memory flat; `read_records` reads them all for a caller that needs the whole file. A malformed record becomes a
`Problem` and reading goes on, so one import reports everything wrong with a file. Nothing here knows what a
record means.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

MAX_FILE_BYTES = 100 * 1024 * 1024  # read whole; Alpaca's 52k-task alpaca_data.json is 22 MB
MAX_STREAMED_BYTES = 4 * 1024**3  # JSONL, CSV and Parquet, streamed
MAX_REPORTED_PROBLEMS = 20
STREAM_BATCH_ROWS = 1000  # Parquet rows decoded at a time
CONTAINERS = ("csv", "jsonl", "json", "text", "parquet")
CONTAINER_NAMES = {"csv": "CSV", "jsonl": "JSONL", "json": "JSON array", "text": "TXT", "parquet": "Parquet"}
PARQUET_MAGIC = b"PAR1"
SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "text",
    ".parquet": "parquet", ".pq": "parquet",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
JSON_RECORD_LISTS = ("seeds", "samples", "data", "items", "rows", "examples")  # an object holding the records
HEAD_BYTES = 8192


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
class RecordFileError(Exception):
    """Everything wrong with one file, each problem naming the file and line or field; nothing was imported. The base
    of every import's error (seeds, samples, a natural dataset); a benchmark set rewords it."""

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


def _refuse(source: str, message: str, where: str | None = None) -> RecordFileError:
    return RecordFileError(source, [Problem(where or source, message)])


def size_limit(container: str, streamed: bool) -> int:
    """The most bytes a file may hold: MAX_STREAMED_BYTES where the caller streams a container that streams (JSONL,
    CSV, TXT, Parquet), MAX_FILE_BYTES where the file is read whole (a JSON array always is)."""
    return MAX_STREAMED_BYTES if streamed and container != "json" else MAX_FILE_BYTES


def check_size(size: int, source: str, container: str = "", streamed: bool = False) -> None:
    """Raises RecordFileError when `size` (bytes) is over size_limit; the message names the limit and why."""
    limit = size_limit(container, streamed)
    if size <= limit:
        return
    why = "" if not streamed else (f" for {CONTAINER_NAMES[container]}, which is streamed" if limit == MAX_STREAMED_BYTES
                                   else " for a JSON array, which is read whole; save it as JSONL to stream it")
    raise _refuse(source, f"file is {size / 1e6:,.1f} MB; the limit is {limit / 1e6:,.0f} MB{why}")


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR line ends as LF, and no byte-order mark at the start."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def detect_container(name: str, data: bytes | str) -> str:
    """The container of a file: by its suffix, else by its first bytes (Parquet magic, '[' JSON, '{' JSONL, else
    text)."""
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


def open_file(data: bytes | str | Path, name: str) -> tuple[IO[bytes], int]:
    """A binary handle on a file (a Path), uploaded bytes or pasted text, and its size in bytes; RecordFileError for
    a path that cannot be opened (missing, a folder, no permission)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        return io.BytesIO(data), len(data)
    try:
        handle = Path(data).open("rb")
    except FileNotFoundError as exc:
        raise _refuse(name, "no such file") from exc
    except OSError as exc:  # a folder, no permission
        raise _refuse(name, f"cannot read the file: {exc.strerror or exc}") from exc
    return handle, os.fstat(handle.fileno()).st_size


def as_utf8(handle: IO[bytes], name: str) -> IO[bytes]:
    """A UTF-16 file (it starts with its byte-order mark) copied as UTF-8 into a temporary file a chunk at a time,
    so that every reader below reads UTF-8 and memory stays flat; invalid UTF-16 refuses the file."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    copy = tempfile.TemporaryFile()
    try:
        while chunk := handle.read(1 << 20):
            copy.write(decoder.decode(chunk).encode("utf-8"))
        copy.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        copy.close()
        raise _refuse(name, f"not valid UTF-16 ({exc.reason}); save the file as UTF-8") from exc
    copy.seek(0)
    return copy


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"byte 0x{raw[exc.start]:02x} is not valid UTF-8; save the file as UTF-8"


Rows = Iterator[tuple[object, Location]]


def _lines(handle: IO[bytes], source: str, problems: list[Problem]) -> Iterator[tuple[str, int]]:
    """Every line as text with its 1-based number (LF, CRLF and lone CR end a line); a line that is not UTF-8 is a
    problem and is left out."""
    number = 0
    for raw in handle:
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        for piece in raw.split(b"\r") if b"\r" in raw else (raw,):
            number += 1
            try:
                yield piece.decode("utf-8-sig" if number == 1 else "utf-8"), number
            except UnicodeDecodeError as exc:
                problems.append(Problem(f"{source}, line {number}", _not_utf8(piece, exc)))


def _jsonl_values(lines: Iterator[tuple[str, int]], source: str, problems: list[Problem]) -> Rows:
    for line, number in lines:
        if not line.strip():
            continue
        where = Location(source, "line", number)
        try:
            yield json.loads(line), where
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(where), f"invalid JSON: {exc.msg} at column {exc.colno}"))


def _jsonl_rows(handle: IO[bytes], source: str, problems: list[Problem]) -> Rows:
    """One record per non-blank line."""
    return _jsonl_values(_lines(handle, source, problems), source, problems)


def _text_rows(handle: IO[bytes], source: str, problems: list[Problem]) -> Rows:
    """One record {"instruction": line} per non-blank line."""
    for line, number in _lines(handle, source, problems):
        if line.strip():
            yield {"instruction": line}, Location(source, "line", number)


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


def _json_rows(handle: IO[bytes], source: str, problems: list[Problem]) -> Rows:
    """A JSON array of records (each located by its line, or by item number when items share lines), an object
    holding one under a JSON_RECORD_LISTS key (located by item), or a single record; one object per line (JSONL
    named .json) is read as JSONL. Read whole."""
    data = handle.read()
    try:
        text = normalise_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(f"{source}, line {line}", _not_utf8(data, exc)))
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line: JSONL named .json
            yield from _jsonl_values(((line, n) for n, line in enumerate(text.split("\n"), 1)), source, problems)
            return
        problems.append(Problem(f"{source}, line {exc.lineno}", f"invalid JSON: {exc.msg} at column {exc.colno}"))
        return
    located = _array_items(text) if isinstance(value, list) else None
    if located is not None and len({line for _, line in located}) < len(located):
        located = None  # items share lines (a one-line array): number them instead
    if located is None:
        if isinstance(value, dict):
            value = next((value[k] for k in JSON_RECORD_LISTS if isinstance(value.get(k), list)), [value])
        if not isinstance(value, list):
            problems.append(Problem(source, "expected a JSON array of records"))
            return
        located = [(item, None) for item in value]
    for index, (item, line) in enumerate(located, start=1):
        yield item, Location(source, "line", line) if line is not None else Location(source, "item", index)


def _csv_rows(handle: IO[bytes], source: str, problems: list[Problem]) -> Rows:
    """One record per row, keyed by the header (a cell the row leaves out is None); the delimiter (, ; tab) is
    sniffed. Blank rows are skipped."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline=None)  # CRLF and CR in a cell read as LF
    try:
        head = text.read(4096)
        dialect = csv.Sniffer().sniff(head, delimiters=",;\t") if head else csv.excel
    except csv.Error:
        dialect = csv.excel
    except UnicodeDecodeError:
        problems.append(Problem(source, "not valid UTF-8; save the file as UTF-8"))
        return
    text.seek(0)
    reader = csv.DictReader(text, dialect=dialect, strict=True)
    header = True
    while True:
        line = reader.line_num + 1
        try:
            row = reader.fieldnames if header else next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            problems.append(Problem(f"{source}, line {line}", "not valid UTF-8; save the file as UTF-8"))
            return
        except csv.Error as exc:
            problems.append(Problem(f"{source}, line {line}", f"malformed CSV{' header' if header else ''}: {exc}"))
            return
        if header:
            header = False
            continue
        if None in row:
            problems.append(Problem(f"{source}, line {line}", "more values than header columns"))
            continue
        if any(map(str.strip, filter(None, row.values()))):
            yield row, Location(source, "line", line)


def _parquet_rows(handle: IO[bytes], source: str, problems: list[Problem]) -> Rows:
    """One record per row (how Hugging Face datasets are stored), STREAM_BATCH_ROWS rows decoded at a time; nested
    lists and structs stay lists and dicts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle)
        number = 0
        for batch in parquet.iter_batches(batch_size=STREAM_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield row, Location(source, "row", number)
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(Problem(source, f"not a readable Parquet file: {exc}"))


READERS = {"csv": _csv_rows, "jsonl": _jsonl_rows, "json": _json_rows, "text": _text_rows, "parquet": _parquet_rows}


def _records(rows: Rows, problems: list[Problem], bare_strings: bool) -> Iterator[tuple[dict, Location]]:
    """Rows that are objects; a bare JSON string is {"instruction": string} where `bare_strings`, anything else a
    problem."""
    for value, where in rows:
        if bare_strings and isinstance(value, str):
            value = {"instruction": value}
        if isinstance(value, dict):
            yield value, where
        else:
            problems.append(Problem(str(where), f"expected an object with fields, got {type(value).__name__}"))


def upload_types(accept: tuple[str, ...] = CONTAINERS) -> list[str]:
    """The suffixes (without the dot) of the containers in `accept`, in SUFFIXES order, for a file picker:
    ['csv', 'tsv', 'jsonl', ...]."""
    return [suffix[1:] for suffix, container in SUFFIXES.items() if container in accept]


def _accepted(accept: tuple[str, ...]) -> str:
    names = ["." + suffix for suffix in upload_types(accept)]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def open_records(handle: IO[bytes], size: int, source: str, problems: list[Problem], *, container: str | None = None,
                 accept: tuple[str, ...] = CONTAINERS, streamed: bool = True, bare_strings: bool = False,
                 pasted: bool = False) -> tuple[str, Iterator[tuple[dict, Location]]]:
    """(container, every record of a binary file handle of `size` bytes, one at a time, with its Location).

    The container is `container` or the detected one and must be one of `accept`; `streamed` picks the size limit
    (size_limit); `bare_strings` reads a bare JSON string as {"instruction": string}; `pasted` says the bytes were
    typed text (no Parquet). Raises RecordFileError for a file that cannot be read at all (unknown container,
    binary, not UTF-16 after its mark, too big, empty); a malformed record becomes a Problem and reading goes on.
    """
    head = handle.read(HEAD_BYTES)
    handle.seek(0)
    if head.startswith(UTF16_BOMS):
        handle = as_utf8(handle, source)
        head = handle.read(HEAD_BYTES)
        handle.seek(0)
    given = container
    container = container or detect_container(source, head)
    if container not in accept:
        raise _refuse(source, f"unknown format {given!r}; use one of {', '.join(accept)}" if given
                      else f"unknown file type; use {_accepted(accept)}")
    if container == "parquet" and pasted:
        raise _refuse(source, "Parquet is a binary format: upload the file itself")
    check_size(size, source, container, streamed)
    if container != "parquet" and b"\x00" in head:
        names = [CONTAINER_NAMES[c].removesuffix(" array") for c in accept]
        raise _refuse(source, f"this looks like a binary file, not text ({', '.join(names[:-1])} or {names[-1]})")
    if size == 0 or (container != "parquet" and not head.removeprefix(b"\xef\xbb\xbf").strip()):
        raise _refuse(source, "the file is empty")
    return container, _records(READERS[container](handle, source, problems), problems, bare_strings)


Records = list[tuple[dict, Location]]


def read_records(data: bytes | str, source: str, problems: list[Problem], container: str | None = None) -> Records:
    """Every record of a file's bytes or of pasted text, read whole (up to MAX_FILE_BYTES), in the given container
    or the detected one; a bare JSON string is {"instruction": string}.

    Raises RecordFileError for a file that cannot be read at all (binary, not UTF-8, too big, empty, unknown
    container); a malformed record becomes a Problem and reading goes on.
    """
    handle, size = open_file(data, source)
    _, records = open_records(handle, size, source, problems, container=container, streamed=False,
                              bare_strings=True, pasted=isinstance(data, str))
    return list(records)
