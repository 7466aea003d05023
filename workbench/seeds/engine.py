"""Gold-seed import and editing: files in the field's formats become validated seeds, without loss.

`import_seeds` reads a file (workbench.formats.record_files: CSV, JSONL, JSON, TXT, Parquet), maps each record's
fields (workbench.seeds.formats: Self-Instruct, Alpaca, Dolly, GSM8K, MATH, plain), validates every seed,
and stores them in one transaction:

- Malformed records refuse the whole file (SeedImportError lists each problem with file and line), and the
  store is left exactly as it was.
- Duplicates never refuse a file. A seed's identity is its normalised instruction plus its input
  (`store.task_text`), so one instruction with two inputs is two seeds. Repeats inside the file and seeds
  already stored are skipped and reported by line; the rest is imported.
- A reference that is a worked solution is split: its final answer (GSM8K `#### 18`, `\\boxed{}`,
  `Answer: ...`) becomes `reference_answer`, the solution without GSM8K calculator annotations
  `reference_solution`.
- Every text is stored with LF line ends and no whitespace at either end.

Each seed records its origin: file, location, format, which record field filled which seed field, and the
record's other fields (`origin` in the store).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.wording import plural
from workbench.formats.record_files import (
    Location,
    Problem,
    RecordFileError,
    check_size,
    describe_locations,
    detect_container,
    normalise_newlines,
    open_file,
    read_records,
)
from workbench.seeds.answer_extraction import find_final_answer, split_reference, strip_calculator_annotations
from workbench.seeds.formats import FIELD_ALIASES, FieldFormat, ReadSeed, read_record
from workbench.store import Store, StoreError, task_text, text_hash

MAX_INSTRUCTION_CHARS = 20_000
MAX_FIELD_CHARS = 100_000
TEXT_FIELDS = ("instruction", "input", "reference_answer", "reference_solution", "domain", "notes", "tests")
TRUE_WORDS = {"1", "true", "yes", "y", "x", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "", "f"}
INDEX = re.compile(r"\[\d+\]")
REPORT_ORDER = ["instruction", "input", "reference_answer", "reference_solution", "domain", "tags"]
REPORT_NAMES = {"reference_answer": "reference", "reference_solution": "reference solution"}


class SeedImportError(RecordFileError):
    """Everything wrong with one seed import, each problem naming the file and line or field."""


# ---------------------------------------------------------------- one seed


def clean_text(value: str) -> str:
    """A stored text: LF line ends, no whitespace at either end."""
    return normalise_newlines(value).strip()


def parse_tags(value: object, where: str, problems: list[Problem]) -> list[str]:
    """Tags from a list, a JSON list or a comma- (or semicolon-) separated string."""
    if value is None:
        return []
    if isinstance(value, list):
        return [clean_text(str(v)) for v in value if str(v).strip()]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                return parse_tags(json.loads(stripped), where, problems)
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


def _text_field(value: object, where: str, name: str, problems: list[Problem]) -> str | None:
    """A seed text field: numbers read as text, everything else must be text within the length limit."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problems.append(Problem(f"{where}, field '{name}'", "must be text"))
        return None
    text = clean_text(value)
    limit = MAX_INSTRUCTION_CHARS if name == "instruction" else MAX_FIELD_CHARS
    if len(text) > limit:
        problems.append(Problem(f"{where}, field '{name}'", f"is {len(text):,} characters; the limit is {limit:,}"))
        return None
    return text or None


def _references(
    texts: dict[str, str | None], sources: dict[str, str], extras: dict[str, object]
) -> dict[str, str | None]:
    """The final answer and worked solution from a seed's reference fields, with where each came from.

    An explicit reference_answer wins; a 'reference' text (answer/output/response) is split when it is a
    worked solution; the answer is otherwise read from the reference_solution. A reference text neither
    field takes is kept in `extras` under its field name."""
    answer, solution = texts.get("reference_answer"), texts.get("reference_solution")
    if solution:
        solution = strip_calculator_annotations(solution).strip()
    reference = texts.get("reference")
    if reference:
        split = split_reference(reference)
        used = False
        if split.solution and not solution:
            solution, used = split.solution, True
            sources["reference_solution"] = sources["reference"] + (
                " (calculator annotations removed)" if split.solution != reference else "")
        if not answer:
            answer, used = split.answer, True
            sources["reference_answer"] = sources["reference"] + (f" ({split.marker})" if split.marker else "")
        if not used:
            extras[sources["reference"].removeprefix("from ")] = reference
    if solution and not answer and (found := find_final_answer(solution)):
        answer = found.answer
        sources["reference_answer"] = sources["reference_solution"] + f" ({found.marker})"
    sources.pop("reference", None)
    return {"reference_answer": answer, "reference_solution": solution}


def normalise_seed(read: ReadSeed, fmt: FieldFormat, where: Location, problems: list[Problem]) -> dict | None:
    """Validate one read seed into store fields (with its origin), recording every problem found in it."""
    before = len(problems)
    values, sources = read.values, dict(read.sources)
    if "instruction" not in values:
        if "instruction" in read.blank:
            problems.append(Problem(f"{where}, field 'instruction'", "is empty"))
        else:
            aliases = ", ".join(FIELD_ALIASES["instruction"][1:])
            problems.append(Problem(str(where), f"no 'instruction' field (also accepted: {aliases})"))
        return None
    texts = {name: _text_field(values.get(name), str(where), name, problems)
             for name in (*TEXT_FIELDS, "reference")}
    if texts["instruction"] is None and len(problems) == before:
        problems.append(Problem(f"{where}, field 'instruction'", "is empty"))
    tags = parse_tags(values.get("tags"), str(where), problems) + list(values.get("format_tags") or [])
    known_failure = _parse_flag(values.get("known_failure"), str(where), problems)
    if len(problems) > before:
        return None
    seed = {name: texts[name] for name in TEXT_FIELDS}
    extras = dict(read.extras)
    seed.update(_references(texts, sources, extras))
    seed["tags"] = list(dict.fromkeys(tags))
    seed["known_failure"] = known_failure
    fields = {name: how for name, how in sources.items() if name != "format_tags"}
    if "format_tags" in sources:
        fields["tags"] = sources["format_tags"] + (f"; {fields['tags']}" if "tags" in fields else "")
    seed["origin"] = {"file": where.source, "location": where.short(), "format": fmt.key, "fields": fields,
                      **({"extra": extras} if extras else {})}
    return seed


def identity(seed: dict) -> str:
    """A seed's identity: the hash of its normalised instruction plus its input."""
    return text_hash(task_text(seed["instruction"], seed.get("input")))


# ---------------------------------------------------------------- a file of seeds


@dataclass
class ParsedSeeds:
    """The valid, distinct seeds of a file, where each is, the formats read, and the repeats skipped."""

    seeds: list[dict]
    locations: list[Location]
    formats: Counter = field(default_factory=Counter)
    repeats: list[tuple[Location, Location]] = field(default_factory=list)  # (repeat, first occurrence)


_POSITION = re.compile(r"\b(?:line|item|row) (\d+)")


def _in_file_order(problem: Problem) -> int:
    """A problem's line, item or row number (0 for a problem of the whole file), so problems list in file order."""
    match = _POSITION.search(str(problem.where))
    return int(match.group(1)) if match else 0


def parse_seeds(data: bytes | str, source: str, container: str | None = None) -> ParsedSeeds:
    """Read, map and validate every seed of a file; raises SeedImportError listing every problem found."""
    problems: list[Problem] = []
    container = container or detect_container(source, data)
    try:
        records = read_records(data, source, problems, container)
    except RecordFileError as exc:
        raise SeedImportError(exc.source, exc.problems) from exc
    parsed = ParsedSeeds([], [])
    first_seen: dict[str, Location] = {}
    recognised = False
    for raw, where in records:
        fmt, reads, problem = read_record(raw)
        if problem:
            problems.append(Problem(str(where), problem))
            recognised = True
            continue
        parsed.formats[fmt.name] += 1
        for read in reads:
            recognised = recognised or "instruction" in read.values or "instruction" in read.blank
            location = where.within(read.detail)
            seed = normalise_seed(read, fmt, location, problems)
            if seed is None:
                continue
            digest = identity(seed)
            if digest in first_seen:
                parsed.repeats.append((location, first_seen[digest]))
                continue
            first_seen[digest] = location
            parsed.seeds.append(seed)
            parsed.locations.append(location)
    if records and not recognised:
        found = sorted({str(k) for raw, _ in records for k in raw})
        csv_file = container == "csv"
        problems[:] = [Problem(f"{source}, line 1" if csv_file else source,
                               f"no 'instruction' {'column' if csv_file else 'field'} (found: {', '.join(found)}; "
                               f"accepted: {', '.join(FIELD_ALIASES['instruction'])})")]
    if not records and not problems:
        problems.append(Problem(source, "no seeds found"))
    if problems:
        raise SeedImportError(source, sorted(problems, key=_in_file_order))
    return parsed


@dataclass
class ImportResult:
    """What one import did: seeds stored, the formats and fields read, and every seed skipped and why."""

    source: str
    ids: list[int]
    formats: dict[str, int]
    fields: list[str]
    kept: list[str]
    repeats: list[Location]
    already_stored: list[Location]

    @property
    def imported(self) -> int:
        return len(self.ids)

    def lines(self) -> list[str]:
        """The result in sentences, for the CLI and the Seeds page."""
        formats = "; ".join(f"{name}: {plural(count, 'record')}" for name, count in self.formats.items())
        lines = [f"Imported {plural(self.imported, 'seed')} from {self.source} ({formats})."]
        if self.fields:
            lines.append("Read " + "; ".join(self.fields) + ".")
        if self.kept:
            lines.append(f"Kept in each seed's origin (no seed field for them): {', '.join(self.kept)}.")
        if self.repeats:
            lines.append(f"{plural(len(self.repeats), 'duplicate')} skipped (same instruction and input as an "
                         f"earlier seed in the file): {describe_locations(self.repeats)}.")
        if self.already_stored:
            lines.append(f"{plural(len(self.already_stored), 'seed')} already in the store skipped: "
                         f"{describe_locations(self.already_stored)}.")
        return lines

    def to_dict(self) -> dict:
        return {"source": self.source, "imported": self.imported, "ids": self.ids, "formats": self.formats,
                "fields": self.fields, "kept": self.kept,
                "duplicates_in_file": [loc.short() for loc in self.repeats],
                "already_in_store": [loc.short() for loc in self.already_stored], "summary": self.lines()}


def _field_report(seeds: list[dict]) -> tuple[list[str], list[str]]:
    """'input from instances[0].input (125 seeds) / from instances[1].input (4 seeds)' per seed field (the
    final answer named 'reference'), and the record fields kept in the seeds' origins."""
    sources: dict[str, Counter] = {}
    kept: Counter = Counter()
    for seed in seeds:
        for name, how in seed["origin"]["fields"].items():
            sources.setdefault(name, Counter())[how] += 1
        kept.update(INDEX.sub("[i]", key) for key in seed["origin"].get("extra", {}))
    names = sorted(sources, key=lambda n: REPORT_ORDER.index(n) if n in REPORT_ORDER else len(REPORT_ORDER))
    fields = []
    for name in names:
        counted = sources[name].most_common()
        shown = [how + ("" if count == len(seeds) else f" ({plural(count, 'seed')})") for how, count in counted[:4]]
        more = [f"from {len(counted) - 4} other fields"] if len(counted) > 4 else []
        fields.append(f"{REPORT_NAMES.get(name, name)} " + " / ".join(shown + more))
    return fields, list(kept)


def describe_origin(origin: dict) -> str:
    """Where an imported seed came from, in a sentence: file, location, format and which field filled what."""
    if not origin:
        return "Entered here (not imported)."
    fields = origin.get("fields", {})
    names = sorted(fields, key=lambda n: REPORT_ORDER.index(n) if n in REPORT_ORDER else len(REPORT_ORDER))
    read = "; ".join(f"{REPORT_NAMES.get(name, name)} {fields[name]}" for name in names)
    return f"Imported from {origin.get('file')}, {origin.get('location')} ({origin.get('format')} format): {read}."


def import_seeds(store: Store, data: bytes | str, source: str, container: str | None = None) -> ImportResult:
    """Validate and store the seeds of a file: all or nothing for problems, duplicates skipped and reported.

    Raises SeedImportError naming each problem (file and line) when any record is malformed."""
    parsed = parse_seeds(data, source, container)
    try:
        ids, skipped = store.seeds.insert_new_seeds(parsed.seeds)
    except StoreError as exc:
        raise SeedImportError(source, [Problem(source, str(exc))]) from exc
    fields, kept = _field_report(parsed.seeds)
    return ImportResult(source, ids, dict(parsed.formats), fields, kept,
                        [repeat for repeat, _ in parsed.repeats], [parsed.locations[i] for i in skipped])


def import_seed_file(store: Store, path: str | Path) -> ImportResult:
    """import_seeds for a file on disk, refused before it is read when it is missing, unreadable or too big."""
    path = Path(path)
    try:
        handle, size = open_file(path, str(path))
        with handle:
            check_size(size, path.name)
            data = handle.read()
    except RecordFileError as exc:
        raise SeedImportError(exc.source, exc.problems) from exc
    return import_seeds(store, data, path.name)


# ---------------------------------------------------------------- editing


def seed_edit(current: dict, changes: dict) -> dict:
    """The changes to store for an edit of one seed: texts cleaned (LF, no outer whitespace, empty = none),
    calculator annotations removed from a worked solution, and the solution's final answer read into
    reference_answer when that is empty or was read from the previous solution. Raises ValueError for an
    empty instruction."""
    edit = dict(changes)
    for name in TEXT_FIELDS:
        if name in edit:
            edit[name] = clean_text(str(edit[name])) or None if edit[name] is not None else None
    if "instruction" in edit and not edit["instruction"]:
        raise ValueError(f"seed {current.get('id')}: the instruction cannot be empty")
    if edit.get("reference_solution"):
        edit["reference_solution"] = strip_calculator_annotations(edit["reference_solution"]).strip()
    merged = {**current, **edit}
    found = find_final_answer(merged.get("reference_solution") or "")
    if found:
        answer = merged.get("reference_answer")
        previous = find_final_answer(current.get("reference_solution") or "")
        derived = "reference_answer" not in edit and previous is not None and answer == previous.answer
        if (not answer or derived) and answer != found.answer:
            edit["reference_answer"] = found.answer
    return edit


def edit_seeds(store: Store, changes: dict[int, dict]) -> None:
    """Apply edits of several seeds in one transaction (seed_edit rules); raises StoreError or ValueError."""
    current = {seed["id"]: seed for seed in store.seeds.list_seeds(ids=changes)}
    missing = [seed_id for seed_id in changes if seed_id not in current]
    if missing:
        raise StoreError(f"no seed {', '.join(map(str, missing))}")
    store.seeds.update_seeds({seed_id: seed_edit(current[seed_id], change) for seed_id, change in changes.items()})


# ---------------------------------------------------------------- the sample seeds


def sample_seeds_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "sample_seeds"


def load_sample_seeds(store: Store) -> list[int]:
    """Load every shipped sample seed file in one transaction (the one-click start on an empty store);
    seeds already stored are skipped."""
    parsed: list[dict] = []
    for path in sorted(sample_seeds_dir().glob("*.jsonl")):
        parsed += parse_seeds(path.read_bytes(), path.name).seeds
    return store.seeds.insert_new_seeds(parsed)[0]
