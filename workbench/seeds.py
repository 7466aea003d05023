"""Gold-seed import: parse CSV, JSONL, JSON arrays and plain text into validated seed records.

Parsing never touches the store; `import_seeds` validates everything first and then inserts
all seeds in one transaction, so a bad file leaves the store exactly as it was.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from workbench.store import Store, StoreError, text_hash

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_INSTRUCTION_CHARS = 20_000
MAX_FIELD_CHARS = 100_000
MAX_REPORTED_PROBLEMS = 20
FORMATS = ("csv", "jsonl", "json", "text")

FIELD_ALIASES = {
    "instruction": ("instruction", "prompt", "question", "task", "seed"),
    "reference_answer": ("reference_answer", "reference", "answer", "solution", "output", "response"),
    "domain": ("domain", "category", "topic"),
    "tags": ("tags", "tag", "labels"),
    "notes": ("notes", "note", "comment", "comments"),
    "known_failure": ("known_failure", "known failure", "failure", "is_failure"),
    "tests": ("tests", "test", "unit_tests"),
}
TRUE_WORDS = {"1", "true", "yes", "y", "x", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "", "f"}


@dataclass
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class SeedImportError(Exception):
    """Everything wrong with one import, each problem naming the file and line or field."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        shown = [str(p) for p in self.problems[:MAX_REPORTED_PROBLEMS]]
        more = len(self.problems) - len(shown)
        tail = [f"... and {more} more problems"] if more > 0 else []
        header = f"Could not import {self.source}: nothing was imported."
        return "\n".join([header, *shown, *tail])


@dataclass
class ParsedSeeds:
    seeds: list[dict]
    locations: list[str]


def detect_format(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    by_suffix = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "text"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "text"


def decode(data: bytes, source: str) -> str:
    """Bytes to text, refusing binary files, non-UTF-8 bytes and oversized files with a clear message."""
    if len(data) > MAX_FILE_BYTES:
        raise SeedImportError(
            source, [Problem(source, f"file is {len(data) / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")]
        )
    if b"\x00" in data[:8192]:
        raise SeedImportError(source, [Problem(source, "this looks like a binary file, not text (CSV, JSONL, JSON or TXT)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SeedImportError(
            source, [Problem(f"{source}, line {line}", f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file as UTF-8")]
        ) from exc
    if not text.strip():
        raise SeedImportError(source, [Problem(source, "the file is empty")])
    return text


def _canonical_key(key: str) -> str | None:
    lowered = str(key).strip().lower().replace("-", "_")
    for canonical, aliases in FIELD_ALIASES.items():
        if lowered in aliases or lowered.replace("_", " ") in aliases:
            return canonical
    return None


def _parse_tags(value: object, where: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                return _parse_tags(json.loads(stripped), where, problems)
            except json.JSONDecodeError:
                pass
        separator = ";" if ";" in stripped else ","
        return [t.strip() for t in stripped.split(separator) if t.strip()]
    problems.append(Problem(f"{where}, field 'tags'", "expected a list or a comma-separated string"))
    return []


def _parse_flag(value: object, where: str, problems: list[Problem]) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    problems.append(Problem(f"{where}, field 'known_failure'", f"expected yes/no or true/false, got {value!r}"))
    return False


def normalise_record(raw: dict, where: str, problems: list[Problem]) -> dict | None:
    """Map one raw record onto the seed fields, recording every problem found in it."""
    record: dict = {}
    for key, value in raw.items():
        canonical = _canonical_key(key)
        if canonical and canonical not in record:
            record[canonical] = value
    instruction = record.get("instruction")
    if instruction is None:
        problems.append(Problem(where, "no 'instruction' field (also accepted: prompt, question, task)"))
        return None
    if not isinstance(instruction, str):
        problems.append(Problem(f"{where}, field 'instruction'", "must be text"))
        return None
    instruction = instruction.strip()
    if not instruction:
        problems.append(Problem(f"{where}, field 'instruction'", "is empty"))
        return None
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        problems.append(
            Problem(f"{where}, field 'instruction'", f"is {len(instruction):,} characters; the limit is {MAX_INSTRUCTION_CHARS:,}")
        )
        return None
    seed = {"instruction": instruction}
    for name in ("reference_answer", "domain", "notes", "tests"):
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            seed[name] = None
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            problems.append(Problem(f"{where}, field '{name}'", "must be text"))
            continue
        if len(value) > MAX_FIELD_CHARS:
            problems.append(Problem(f"{where}, field '{name}'", f"is {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,}"))
            continue
        seed[name] = value.strip()
    seed["tags"] = _parse_tags(record.get("tags"), where, problems)
    seed["known_failure"] = _parse_flag(record.get("known_failure"), where, problems)
    return seed


def _parse_csv(text: str, source: str, problems: list[Problem]) -> list[tuple[dict, str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        problems.append(Problem(f"{source}, line 1", f"malformed CSV header: {exc}"))
        return []
    if not any(_canonical_key(h) == "instruction" for h in header if h):
        problems.append(
            Problem(f"{source}, line 1", f"no 'instruction' column (found: {', '.join(h for h in header if h) or 'none'})")
        )
        return []
    records = []
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
        records.append((row, f"{source}, line {start_line}"))


def _parse_jsonl(text: str, source: str, problems: list[Problem]) -> list[tuple[dict, str]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(where, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if isinstance(value, str):
            value = {"instruction": value}
        if not isinstance(value, dict):
            problems.append(Problem(where, "each line must be a JSON object with an 'instruction' field"))
            continue
        records.append((value, where))
    return records


def _parse_json(text: str, source: str, problems: list[Problem]) -> list[tuple[dict, str]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(f"{source}, line {exc.lineno}", f"invalid JSON: {exc.msg} at column {exc.colno}"))
        return []
    if isinstance(value, dict):
        for key in ("seeds", "data", "items"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
        else:
            value = [value]
    if not isinstance(value, list):
        problems.append(Problem(source, "expected a JSON array of seed objects"))
        return []
    records = []
    for index, item in enumerate(value):
        where = f"{source}, item {index}"
        if isinstance(item, str):
            item = {"instruction": item}
        if not isinstance(item, dict):
            problems.append(Problem(where, "each item must be an object with an 'instruction' field"))
            continue
        records.append((item, where))
    return records


def _parse_text(text: str, source: str, problems: list[Problem]) -> list[tuple[dict, str]]:
    return [
        ({"instruction": line}, f"{source}, line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


PARSERS = {"csv": _parse_csv, "jsonl": _parse_jsonl, "json": _parse_json, "text": _parse_text}


def parse_seeds(text: str, source: str, fmt: str | None = None) -> ParsedSeeds:
    """Parse and validate seeds from text; raises SeedImportError listing every problem found."""
    fmt = fmt or detect_format(source, text)
    if fmt not in PARSERS:
        raise SeedImportError(source, [Problem(source, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")])
    if not text.strip():
        raise SeedImportError(source, [Problem(source, "the file is empty")])
    problems: list[Problem] = []
    seeds, locations = [], []
    first_seen: dict[str, str] = {}
    for raw, where in PARSERS[fmt](text, source, problems):
        seed = normalise_record(raw, where, problems)
        if seed is None:
            continue
        digest = text_hash(seed["instruction"])
        if digest in first_seen:
            problems.append(Problem(where, f"duplicate of the seed at {first_seen[digest]}"))
            continue
        first_seen[digest] = where
        seeds.append(seed)
        locations.append(where)
    if not seeds and not problems:
        problems.append(Problem(source, "no seeds found"))
    if problems:
        raise SeedImportError(source, problems)
    return ParsedSeeds(seeds, locations)


def import_seeds(store: Store, data: bytes | str, source: str, fmt: str | None = None) -> list[int]:
    """Validate and insert seeds, all or nothing. Raises SeedImportError naming each problem."""
    text = decode(data, source) if isinstance(data, bytes) else data
    parsed = parse_seeds(text, source, fmt)
    hashes = [text_hash(s["instruction"]) for s in parsed.seeds]
    existing = store.existing_seed_hashes(hashes)
    duplicates = [
        Problem(where, "duplicates a seed already in the store")
        for where, digest in zip(parsed.locations, hashes, strict=True)
        if digest in existing
    ]
    if duplicates:
        raise SeedImportError(source, duplicates)
    try:
        return store.insert_seeds(parsed.seeds)
    except StoreError as exc:
        raise SeedImportError(source, [Problem(source, str(exc))]) from exc


def import_seed_file(store: Store, path: str | Path) -> list[int]:
    path = Path(path)
    if not path.is_file():
        raise SeedImportError(str(path), [Problem(str(path), "no such file")])
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SeedImportError(
            path.name, [Problem(path.name, f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")]
        )
    return import_seeds(store, path.read_bytes(), path.name)


def sample_seeds_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_seeds"


def load_sample_seeds(store: Store) -> list[int]:
    """Load every shipped sample seed file in one transaction (the one-click start on an empty store)."""
    parsed: list[dict] = []
    for path in sorted(sample_seeds_dir().glob("*.jsonl")):
        parsed += parse_seeds(decode(path.read_bytes(), path.name), path.name).seeds
    existing = store.existing_seed_hashes(text_hash(s["instruction"]) for s in parsed)
    fresh = [s for s in parsed if text_hash(s["instruction"]) not in existing]
    return store.insert_seeds(fresh)
