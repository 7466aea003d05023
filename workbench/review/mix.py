"""The 30/70 rule: mix synthetic samples with a natural (human) dataset at a chosen ratio.

The natural file is any file sample import reads (JSONL, a JSON array, CSV or Parquet; Alpaca-style
instruction/output columns, chat `messages`, ShareGPT `conversations`...): its rows keep their whole
conversation. The mix takes as many rows as the ratio allows from the scarcer side, picks them at random
and shuffles everything with a recorded seed, so an export can be reproduced.

The planner is the seed article's rectified-scaling heuristic, I = C * (D_nat + alpha * D_syn * E):
an illustration, not a fitted law. E (entropy factor) is the synthetic data's mean lexical entropy
over the natural data's, as measured here.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass
from pathlib import Path

from workbench.core.metrics import lexical_entropy
from workbench.formats.sample_formats import SampleRecord
from workbench.formats.sample_import import RecordReader, SampleImportError

DEFAULT_SYNTHETIC_RATIO = 0.3
ENTROPY_SAMPLE_ROWS = 2000


class NaturalDataError(SampleImportError):
    """A natural dataset file that cannot be used, each problem naming the file and line."""

    def __str__(self) -> str:
        return super().__str__().replace("nothing was imported", "the natural dataset was not loaded")


@dataclass
class NaturalData:
    name: str
    rows: list[SampleRecord]


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


def load_natural(data: bytes | str | Path, name: str) -> NaturalData:
    """Read a natural dataset (bytes of an upload named `name`, or a path); raises NaturalDataError with every problem."""
    try:
        rows = [record for record, _ in RecordReader(data, name)]
    except SampleImportError as exc:
        raise NaturalDataError(exc.source, exc.problems) from exc
    return NaturalData(name, rows)


def load_natural_file(path: str | Path, name: str | None = None) -> NaturalData:
    return load_natural(Path(path), name or Path(path).name)


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


def mean_entropy(rows: list[SampleRecord]) -> float | None:
    """Mean lexical entropy (bits) of instruction + output over up to ENTROPY_SAMPLE_ROWS rows."""
    picked = rows[:ENTROPY_SAMPLE_ROWS]
    if not picked:
        return None
    return sum(lexical_entropy(f"{r.instruction} {r.output or ''}") for r in picked) / len(picked)


def entropy_factor(synthetic_entropy: float | None, natural_entropy: float | None) -> float:
    """E: synthetic over natural mean lexical entropy; 1.0 when either is unknown."""
    if not synthetic_entropy or not natural_entropy:
        return 1.0
    return synthetic_entropy / natural_entropy


def rectified_information(d_nat: float, d_syn: float, e: float, alpha: float = 0.5, c: float = 1.0) -> float:
    """The article's heuristic I = C * (D_nat + alpha * D_syn * E) (not a fitted scaling law)."""
    return c * (d_nat + alpha * d_syn * e)
