"""Field readers every sample layout shares (workbench.formats.sample_formats lists the layouts): text, steps,
ratings, conversations, our export's lineage and metrics objects, and the record a reader returns."""

from __future__ import annotations

import json

from workbench.core.conversation import FieldProblem, check_turns
from workbench.core.wording import plural
from workbench.formats.sample_record import RowError, SampleRecord

MAX_STEPS = 200
STEP_SEPARATOR = "\n"  # steps joined into the answer text of a sample read from a stepwise format
EXTRA_KEYS = ("lineage", "metrics")


def text_field(row: dict, key: str, problems: list[FieldProblem], required: bool = True) -> str | None:
    """row[key] as text (numbers read as text); a missing or empty required field, or a non-text value, is a problem."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(FieldProblem(key, "missing" if value is None else "empty"))
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(FieldProblem(key, "must be text"))
        return None
    return str(value)


def first_key(row: dict, keys: tuple[str, ...]) -> str:
    """The first of `keys` the row has (the first key when it has none, so the message names it)."""
    return next((k for k in keys if k in row), keys[0])


def steps_field(value: object, key: str, problems: list[FieldProblem]) -> list[str]:
    """A list of step texts (or {"text"} objects), at most MAX_STEPS."""
    if not isinstance(value, list):
        problems.append(FieldProblem(key, "must be a list of step texts"))
        return []
    if len(value) > MAX_STEPS:
        problems.append(FieldProblem(key, f"has {plural(len(value), 'step')}; the limit is {MAX_STEPS}"))
        return []
    steps = []
    for index, step in enumerate(value):
        text = step.get("text") if isinstance(step, dict) else step
        if not isinstance(text, str) or not text.strip():
            problems.append(FieldProblem(f"{key}[{index}]", "each step must be non-empty text"))
            continue
        steps.append(text)
    return steps


def ratings_field(value: object, key: str, count: int, count_key: str, problems: list[FieldProblem]) -> list[int | None]:
    """-1/0/+1 ratings (None: unrated), one per step (`count` of them, called `count_key` in the message)."""
    if not isinstance(value, list):
        problems.append(FieldProblem(key, "must be a list with one rating per step"))
        return []
    if len(value) != count:
        problems.append(FieldProblem(key, f"{plural(len(value), 'rating')} for {plural(count, count_key)}; give one per step"))
        return []
    bad = [i for i, r in enumerate(value) if r is not None and (isinstance(r, bool) or r not in (-1, 0, 1))]
    if bad:
        problems.append(FieldProblem(f"{key}[{bad[0]}]", f"{value[bad[0]]!r} is not a rating (-1, 0, 1 or null)"))
        return []
    return [None if r is None else int(r) for r in value]


def checked(turns: list[dict], key: str, problems: list[FieldProblem], role_key: str = "role",
            content_key: str = "content") -> list[dict]:
    """The turns, after adding every problem of their roles, order and contents."""
    problems += check_turns(turns, key, role_key, content_key)
    return turns


def extras(row: dict, problems: list[FieldProblem]) -> dict:
    """Our export's `lineage` and `metrics` objects on a row of any format."""
    found: dict = {}
    lineage, metrics = row.get("lineage"), row.get("metrics")
    if lineage is not None:
        if isinstance(lineage, dict):
            found["lineage"] = lineage
        else:
            problems.append(FieldProblem("lineage", "must be an object"))
    if metrics is not None:
        if isinstance(metrics, dict) and all(v is None or isinstance(v, int | float) for v in metrics.values()):
            found["metrics"] = {str(k): v for k, v in metrics.items()}
        else:
            problems.append(FieldProblem("metrics", "must be an object of numbers"))
    return found


def make_record(problems: list[FieldProblem], row: dict, **fields: object) -> SampleRecord:
    """The record a reader returns, with the row's lineage and metrics; raises RowError when anything is wrong."""
    found = extras(row, problems)
    if problems:
        raise RowError(problems)
    lineage = found.get("lineage")
    source = fields.pop("source", None) or (lineage or {}).get("origin") or (lineage or {}).get("source")
    return SampleRecord(**fields, source=source, lineage=lineage, metrics=found.get("metrics"))


def dumps(value: object) -> str:
    """JSON with sorted keys (our own structured values, so that a rewrite is byte-identical)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
