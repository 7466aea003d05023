"""The 30/70 rule: mix synthetic samples with a natural (human) dataset at a chosen ratio.

The natural file is JSONL, CSV or Parquet with instruction/output columns (or chat `messages` /
ShareGPT `conversations`). The mix takes as many rows as the ratio allows from the scarcer side,
picks them at random and shuffles everything with a recorded seed, so an export can be reproduced.

The planner is the seed article's rectified-scaling heuristic, I = C * (D_nat + alpha * D_syn * E):
an illustration, not a fitted law. E (entropy factor) is the synthetic data's mean lexical entropy
over the natural data's, as measured here.
"""

from __future__ import annotations

import io
import random
from array import array
from dataclasses import dataclass
from pathlib import Path

from workbench.metrics import lexical_entropy
from workbench.record_files import MAX_FILE_BYTES, FileImportError, Problem, decode, read_csv, read_jsonl
from workbench.sample_import import normalise_sample

DEFAULT_SYNTHETIC_RATIO = 0.3
ENTROPY_SAMPLE_ROWS = 2000
USER_ROLES = {"user", "human"}
ASSISTANT_ROLES = {"assistant", "gpt", "model"}


class NaturalDataError(FileImportError):
    """A natural dataset file that cannot be used, each problem naming the file and line."""

    def __str__(self) -> str:
        return super().__str__().replace("nothing was imported", "the natural dataset was not loaded")


@dataclass
class NaturalData:
    name: str
    rows: list[dict]  # {"instruction", "output"}


@dataclass
class MixPlan:
    synthetic: int
    natural: int
    seed: int
    ratio: float
    order: array  # sample ids (> 0) and natural rows as -(index + 1), in output order

    @property
    def total(self) -> int:
        return self.synthetic + self.natural


def _from_chat(turns: list, where: str, problems: list[Problem]) -> dict | None:
    roles = [(str(t.get("role") or t.get("from") or "").lower(), t.get("content") or t.get("value")) for t in turns if isinstance(t, dict)]
    user = next((i for i, (role, _) in enumerate(roles) if role in USER_ROLES), None)
    answer = next((i for i, (role, _) in enumerate(roles) if role in ASSISTANT_ROLES and user is not None and i > user), None)
    if user is None or answer is None or not isinstance(roles[user][1], str) or not isinstance(roles[answer][1], str):
        problems.append(Problem(where, "the conversation needs a user turn followed by an assistant turn"))
        return None
    return {"instruction": roles[user][1].strip(), "output": roles[answer][1].strip()}


def natural_record(raw: dict, where: str, problems: list[Problem]) -> dict | None:
    for key in ("messages", "conversations"):
        if isinstance(raw.get(key), list):
            return _from_chat(raw[key], where, problems)
    sample = normalise_sample(raw, where, problems)
    return None if sample is None else {"instruction": sample["instruction"], "output": sample["output"]}


def _parquet_records(data: bytes, source: str, problems: list[Problem]) -> list[tuple[dict, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem(source, f"not a readable Parquet file: {exc}"))
        return []
    return [(row, f"{source}, row {index}") for index, row in enumerate(table.to_pylist())]


def load_natural(data: bytes, name: str) -> NaturalData:
    """Parse a natural dataset (JSONL, CSV or Parquet by file name); raises NaturalDataError with every problem."""
    suffix = Path(name).suffix.lower()
    problems: list[Problem] = []
    if suffix == ".parquet":
        if len(data) > MAX_FILE_BYTES * 10:
            raise NaturalDataError(name, [Problem(name, f"file is {len(data) / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES * 10 / 1e6:.0f} MB")])
        records = _parquet_records(data, name, problems)
    elif suffix in (".jsonl", ".ndjson", ".csv", ".tsv"):
        try:
            text = decode(data, name)
        except FileImportError as exc:
            raise NaturalDataError(exc.source, exc.problems) from exc
        parse = read_csv if suffix in (".csv", ".tsv") else read_jsonl
        records = parse(text, name, problems)
    else:
        raise NaturalDataError(name, [Problem(name, "use a .jsonl, .csv or .parquet file")])
    rows = [row for raw, where in records if (row := natural_record(raw, where, problems)) is not None]
    if not rows and not problems:
        problems.append(Problem(name, "no rows found"))
    if problems:
        raise NaturalDataError(name, problems)
    return NaturalData(name, rows)


def load_natural_file(path: str | Path) -> NaturalData:
    path = Path(path)
    if not path.is_file():
        raise NaturalDataError(str(path), [Problem(str(path), "no such file")])
    return load_natural(path.read_bytes(), path.name)


def mix_counts(synthetic_available: int, natural_available: int, ratio: float) -> tuple[int, int]:
    """The largest (synthetic, natural) counts with synthetic / total = ratio that both sides can supply."""
    if not 0 < ratio < 1:
        raise ValueError("the synthetic ratio must be between 0 and 1 (exclusive)")
    total = int(min(synthetic_available / ratio, natural_available / (1 - ratio)) + 1e-9)
    synthetic = min(synthetic_available, round(total * ratio))
    natural = min(natural_available, total - synthetic)
    return synthetic, natural


def plan_mix(synthetic_ids: list[int], natural_rows: int, ratio: float, seed: int) -> MixPlan:
    """Pick and shuffle rows for the mix, reproducibly from the seed."""
    synthetic, natural = mix_counts(len(synthetic_ids), natural_rows, ratio)
    rng = random.Random(seed)
    chosen = rng.sample(list(synthetic_ids), synthetic) + [-(i + 1) for i in rng.sample(range(natural_rows), natural)]
    rng.shuffle(chosen)
    return MixPlan(synthetic, natural, seed, ratio, array("q", chosen))


def mean_entropy(rows: list[dict]) -> float | None:
    """Mean lexical entropy (bits) of instruction + output over up to ENTROPY_SAMPLE_ROWS rows."""
    picked = rows[:ENTROPY_SAMPLE_ROWS]
    if not picked:
        return None
    return sum(lexical_entropy(f"{r['instruction']} {r.get('output') or ''}") for r in picked) / len(picked)


def entropy_factor(synthetic_entropy: float | None, natural_entropy: float | None) -> float:
    """E: synthetic over natural mean lexical entropy; 1.0 when either is unknown."""
    if not synthetic_entropy or not natural_entropy:
        return 1.0
    return synthetic_entropy / natural_entropy


def rectified_information(d_nat: float, d_syn: float, e: float, alpha: float = 0.5, c: float = 1.0) -> float:
    """The article's heuristic I = C * (D_nat + alpha * D_syn * E) (not a fitted scaling law)."""
    return c * (d_nat + alpha * d_syn * e)
