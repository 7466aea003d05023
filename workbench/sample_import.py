"""Import samples made elsewhere (JSONL) so that they can be audited, reviewed and exported here.

Each line: {"instruction", "output", optional "steps": [...], "source", "metadata", "tags"}. The given
source is kept in metadata["origin"]; the stored source is 'import'. Steps become the sample's
reasoning path. Like seed import, everything is validated first and inserted in one transaction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from workbench.record_files import MAX_FILE_BYTES, FileImportError, Problem, decode, read_jsonl
from workbench.seed_formats import FIELD_ALIASES
from workbench.seeds import MAX_FIELD_CHARS, MAX_INSTRUCTION_CHARS, parse_tags
from workbench.store import Store

OUTPUT_ALIASES = ("output", "response", "answer", "completion", "reference_answer", "solution")
MAX_STEPS = 200


class SampleImportError(FileImportError):
    """Everything wrong with one sample import, each problem naming the file and line."""


def _first(record: dict, names: tuple[str, ...]) -> object:
    return next((record[n] for n in names if n in record), None)


def _text(value: object, where: str, name: str, limit: int, problems: list[Problem], required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(where, f"no '{name}' field" if value is None else f"field '{name}' is empty"))
        return None
    if not isinstance(value, str):
        problems.append(Problem(f"{where}, field '{name}'", "must be text"))
        return None
    if len(value) > limit:
        problems.append(Problem(f"{where}, field '{name}'", f"is {len(value):,} characters; the limit is {limit:,}"))
        return None
    return value.strip()


def _steps(value: object, where: str, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem(f"{where}, field 'steps'", "must be a list of step texts"))
        return []
    if len(value) > MAX_STEPS:
        problems.append(Problem(f"{where}, field 'steps'", f"has {len(value)} steps; the limit is {MAX_STEPS}"))
        return []
    steps = []
    for index, step in enumerate(value):
        text = step.get("text") if isinstance(step, dict) else step
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem(f"{where}, step {index}", "each step must be non-empty text (or an object with 'text')"))
            continue
        steps.append(text.strip())
    return steps


def normalise_sample(raw: dict, where: str, problems: list[Problem]) -> dict | None:
    """One raw JSON object onto a sample row (source 'import'), recording every problem found."""
    lowered = {str(k).strip().lower(): v for k, v in raw.items()}
    before = len(problems)
    instruction = _text(
        _first(lowered, FIELD_ALIASES["instruction"]), where, "instruction", MAX_INSTRUCTION_CHARS, problems, True
    )
    output = _text(_first(lowered, OUTPUT_ALIASES), where, "output", MAX_FIELD_CHARS, problems, True)
    steps = _steps(lowered.get("steps"), where, problems)
    metadata = lowered.get("metadata") or {}
    if not isinstance(metadata, dict):
        problems.append(Problem(f"{where}, field 'metadata'", "must be a JSON object"))
    origin = lowered.get("source")
    if origin is not None and not isinstance(origin, str):
        problems.append(Problem(f"{where}, field 'source'", "must be text"))
    tags = parse_tags(lowered.get("tags"), where, problems)
    if len(problems) > before or instruction is None or output is None:
        return None
    digest = hashlib.sha256(f"{instruction}\x00{output}".encode()).hexdigest()
    return {
        "source": "import",
        "unit_key": f"import:{digest}",
        "instruction": instruction,
        "output": output,
        "steps": steps,
        "tags": tags,
        "metadata": {**metadata, **({"origin": origin} if origin else {})},
    }


def parse_samples(text: str, source: str) -> tuple[list[dict], list[str]]:
    """Validated samples and where each came from; raises SampleImportError listing every problem."""
    problems: list[Problem] = []
    samples, locations = [], []
    first_seen: dict[str, str] = {}
    for raw, where in read_jsonl(text, source, problems):
        sample = normalise_sample(raw, where, problems)
        if sample is None:
            continue
        if sample["unit_key"] in first_seen:
            problems.append(Problem(where, f"same instruction and output as {first_seen[sample['unit_key']]}"))
            continue
        first_seen[sample["unit_key"]] = where
        samples.append(sample)
        locations.append(where)
    if not samples and not problems:
        problems.append(Problem(source, "no samples found"))
    if problems:
        raise SampleImportError(source, problems)
    return samples, locations


def import_samples(store: Store, data: bytes | str, source: str) -> list[int]:
    """Validate and insert samples from JSONL, all or nothing. Raises SampleImportError naming each problem."""
    try:
        text = decode(data, source) if isinstance(data, bytes) else data
    except FileImportError as exc:
        raise SampleImportError(exc.source, exc.problems) from exc
    if not text.strip():
        raise SampleImportError(source, [Problem(source, "the file is empty")])
    samples, locations = parse_samples(text, source)
    existing = store.existing_unit_keys(s["unit_key"] for s in samples)
    duplicates = [
        Problem(where, "this sample (same instruction and output) is already in the store")
        for where, sample in zip(locations, samples, strict=True)
        if sample["unit_key"] in existing
    ]
    if duplicates:
        raise SampleImportError(source, duplicates)
    return store.insert_samples_with_steps(samples)


def import_sample_file(store: Store, path: str | Path) -> list[int]:
    path = Path(path)
    if not path.is_file():
        raise SampleImportError(str(path), [Problem(str(path), "no such file")])
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SampleImportError(
            path.name, [Problem(path.name, f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")]
        )
    return import_samples(store, path.read_bytes(), path.name)
