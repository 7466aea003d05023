"""Seed field formats: which field of a record is the instruction, the input, the reference, and so on.

A record (one JSON object, CSV row or Parquet row) is read by the first format whose signature it has:

- Self-Instruct seed tasks (Wang et al., 2023; `seed_tasks.jsonl`): {"id", "name", "instruction",
  "instances": [{"input", "output"}], "is_classification"}. Each instance becomes ONE SEED: the task's
  instruction with that instance's input, and its output as the reference; a task with several instances
  gives several seeds (they differ by input), a task with none gives one seed without input. `name` and
  `is_classification` become tags ("classification").
- Dolly (databricks-dolly-15k): instruction, context -> input, response -> reference, category -> domain.
- Alpaca (Taori et al., 2023): instruction, input, output -> reference.
- MATH (Hendrycks et al., 2021): problem -> instruction, solution (with `\\boxed{}`) -> reference solution
  and answer, `answer` when given (MATH-500), level and type/subject -> tags, domain math.
- GSM8K (Cobbe et al., 2021): question -> instruction, answer ("...#### 18") -> reference, domain math.
- Plain: any record with an instruction under one of FIELD_ALIASES["instruction"] (CSV, JSONL, JSON, TXT).

A format's own fields come first; the plain names then fill any seed field still empty (so an Alpaca file
may carry a `domain` column). Fields no seed field takes are kept in the seed's origin, never dropped.
A "reference" field may hold a final answer or a worked solution ending in one; the import splits it
(workbench.seeds.answer_extraction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# seed field -> the field names that fill it in a plain record, first present wins. "reference" is a text
# that is a final answer or a worked solution ending in one; "reference_solution" is a worked solution.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "prompt", "question", "problem", "query", "task", "seed"),
    "input": ("input", "context"),
    "reference_answer": ("reference_answer", "final_answer", "gold_answer"),
    "reference_solution": ("reference_solution", "solution", "rationale"),
    "reference": ("reference", "answer", "output", "response", "completion", "target"),
    "domain": ("domain", "category", "topic", "subject"),
    "tags": ("tags", "tag", "labels"),
    "notes": ("notes", "note", "comment", "comments"),
    "known_failure": ("known_failure", "failure", "is_failure"),
    "tests": ("tests", "test", "unit_tests"),
}


def canonical_key(key: object) -> str:
    """A field name as compared: lower case, '-' and spaces as '_' ('Reference Answer' -> 'reference_answer')."""
    return str(key).strip().lower().replace("-", "_").replace(" ", "_")


@dataclass
class ReadSeed:
    """One seed as read from a record, before validation: raw values, where each came from, and the
    record's fields no seed field took."""

    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    extras: dict[str, object] = field(default_factory=dict)
    detail: str = ""
    blank: set[str] = field(default_factory=set)  # seed fields whose record field is present but empty

    def take(self, target: str, value: object, source: str, how: str = "from") -> None:
        """Fill a seed field unless it is filled already or the value is blank; `source` says where from."""
        if target in self.values:
            return
        if _blank(value):
            self.blank.add(target)
            return
        self.values[target] = value
        self.sources[target] = f"{how} {source}"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


@dataclass(frozen=True)
class FieldFormat:
    """A field format: its name, the fields that identify it, and which record field fills which seed field."""

    key: str
    name: str
    signature: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]
    domain: str | None = None
    tag_fields: tuple[str, ...] = ()
    matches: Callable[[dict], bool] | None = None

    def recognises(self, record: dict[str, object]) -> bool:
        """True when every signature field is present (and the format's own content check passes)."""
        return all(k in record for k in self.signature) and (self.matches is None or self.matches(record))


def _text_of(record: dict, key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


SELF_INSTRUCT = FieldFormat(
    "self-instruct", "Self-Instruct seed tasks (instruction, instances[].input/output)",
    ("instruction", "instances"), {"instruction": ("instruction",)}, tag_fields=("name", "is_classification"),
)
DOLLY = FieldFormat(
    "dolly", "Dolly (instruction, context, response, category)", ("instruction", "context", "response"),
    {"instruction": ("instruction",), "input": ("context",), "reference": ("response",), "domain": ("category",)},
)
ALPACA = FieldFormat(
    "alpaca", "Alpaca (instruction, input, output)", ("instruction", "output"),
    {"instruction": ("instruction",), "input": ("input",), "reference": ("output",)},
    matches=lambda record: "input" in record,
)
MATH = FieldFormat(
    "math", "MATH (problem, solution with \\boxed{}, level, type)", ("problem", "solution"),
    {"instruction": ("problem",), "reference_solution": ("solution",), "reference_answer": ("answer",)},
    domain="math", tag_fields=("type", "subject", "level"),
    matches=lambda record: "\\boxed" in _text_of(record, "solution") or "level" in record,
)
GSM8K = FieldFormat(
    "gsm8k", "GSM8K (question, answer ending '#### n')", ("question", "answer"),
    {"instruction": ("question",), "reference": ("answer",)}, domain="math",
    matches=lambda record: "####" in _text_of(record, "answer"),
)
PLAIN = FieldFormat("plain", "plain seed fields", (), {})
FORMATS: tuple[FieldFormat, ...] = (SELF_INSTRUCT, DOLLY, ALPACA, MATH, GSM8K, PLAIN)


def detect_format(record: dict[str, object]) -> FieldFormat:
    """The first format whose signature the record (keys already canonical) has; plain otherwise."""
    return next(fmt for fmt in FORMATS if fmt.recognises(record))


def _tag(name: str, value: object) -> str | None:
    """A field value as a tag: a true flag by its name ('is_classification' -> 'classification'), a MATH
    level number as 'Level 5', text as itself; None for false, blank or structured values."""
    if isinstance(value, bool):
        return name.removeprefix("is_") if value else None
    if name == "level" and isinstance(value, int):
        return f"Level {value}"
    if isinstance(value, str | int | float):
        return str(value).strip() or None
    return None


def _fill(seed: ReadSeed, record: dict[str, object], names: dict[str, str], fmt: FieldFormat) -> set[str]:
    """Fill the seed from the format's fields, its domain and tag fields, then the plain aliases; returns the
    record keys used."""
    used: set[str] = set()

    def fill(mapping: dict[str, tuple[str, ...]]) -> None:
        for target, keys in mapping.items():
            for key in keys:
                if key in record and key not in used and target not in seed.values:
                    used.add(key)
                    seed.take(target, record[key], names[key])

    fill(fmt.fields)
    if fmt.domain:
        seed.take("domain", fmt.domain, f"{fmt.name.split(' (')[0]} format", how="set by the")
    tag_keys = [k for k in fmt.tag_fields if k in record and _tag(k, record[k]) is not None]
    used.update(k for k in fmt.tag_fields if k in record and isinstance(record[k], bool))  # false: no tag
    if tag_keys:
        used.update(tag_keys)
        seed.values["format_tags"] = [_tag(k, record[k]) for k in tag_keys]
        seed.sources["format_tags"] = "from " + ", ".join(names[k] for k in tag_keys)
    fill(FIELD_ALIASES)
    return used


def _instances(value: object) -> list[dict] | None:
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    return None


def read_record(raw: dict) -> tuple[FieldFormat, list[ReadSeed], str | None]:
    """The format of one raw record, the seeds it holds, and a problem with its structure (or None)."""
    names = {}
    record: dict[str, object] = {}
    clashing: dict[str, object] = {}  # a second spelling of a field name ('Instruction' beside 'instruction')
    for key, value in raw.items():
        canonical = canonical_key(key)
        if canonical not in record:
            record[canonical] = value
            names[canonical] = str(key)
        elif not _blank(value):
            clashing[str(key)] = value
    fmt = detect_format(record)
    base = ReadSeed()
    used = _fill(base, record, names, fmt)
    seeds = [base]
    if fmt is SELF_INSTRUCT:
        instances = _instances(record["instances"])
        if instances is None:
            return fmt, [], "field 'instances' must be a list of objects with 'input' and 'output'"
        used.add("instances")
        if instances:
            seeds = [_instance_seed(base, instance, index, len(instances)) for index, instance in enumerate(instances)]
    extras = {names[k]: v for k, v in record.items() if k not in used and not _blank(v)} | clashing
    for seed in seeds:
        seed.extras.update(extras)
    return fmt, seeds, None


def _instance_seed(base: ReadSeed, instance: dict, index: int, count: int) -> ReadSeed:
    """The seed of one Self-Instruct instance: the task's fields plus this instance's input and output."""
    seed = ReadSeed(dict(base.values), dict(base.sources), detail=f"instance {index + 1}" if count > 1 else "",
                    blank=set(base.blank))
    fields = {canonical_key(k): (k, v) for k, v in instance.items()}
    for target, key in (("input", "input"), ("reference", "output")):
        if key in fields:
            original, value = fields.pop(key)
            seed.take(target, value, f"instances[{index}].{original}")
    seed.extras.update({f"instances[{index}].{k}": v for k, v in fields.values() if not _blank(v)})
    return seed
