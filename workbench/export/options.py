"""What an export is asked to do (`ExportOptions`), shared by the export, its items and its card."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from workbench.export.verified_answer import DEFAULT_ANSWER
from workbench.formats.reasoning_traces import DEFAULT_TAGS
from workbench.review.mix import DEFAULT_SYNTHETIC_RATIO, NaturalData

BATCH_SIZE = 1000


@dataclass
class ExportOptions:
    """An export's options. answer: what a sample's assistant message is ('verified': the path that passed the gate,
    else its own answer marked unverified; 'original': its own answer, verified only when it is such a path; see
    workbench.export.verified_answer). trace: None (no trace written apart), 'r1' (`<think>` tags in the message,
    `trace_tags`) or 'separate' (`reasoning_content`). pairing: the preference pairing settings as a dict
    (workbench.export.preference_pairs.PairingSettings; None: the saved ones)."""

    fmt: str
    status: str | None = "approved"  # None: every sample, whatever its status
    lineage: bool = False
    metrics: bool = False
    pii: str = "block"  # 'block' leaves flagged samples out; 'redact' replaces each hit with <TYPE>
    natural: NaturalData | None = None
    synthetic_ratio: float = DEFAULT_SYNTHETIC_RATIO
    seed: int = 0
    overwrite: bool = False
    card: bool = False
    license: str = "other"
    step_threshold: float = 0.5
    strip_calculator: bool = False  # remove GSM8K `<<a*b=c>>` annotations from every exported text
    contaminated: str = "block"  # 'block' leaves out samples matching a benchmark item (decontamination); 'allow' keeps them
    batch_size: int = BATCH_SIZE
    answer: str = DEFAULT_ANSWER
    trace: str | None = None
    trace_tags: tuple[str, str] = DEFAULT_TAGS
    pairing: dict | None = None
    unverified: str = "keep"  # 'keep' ships unverified answers marked so in the lineage; 'leave_out' skips them

    def __post_init__(self) -> None:
        self.trace_tags = tuple(self.trace_tags)

    def recorded(self) -> dict:
        """The options as stored with the export (the natural rows themselves are not stored)."""
        options = {k: v for k, v in asdict(self).items() if k != "natural"}
        options["trace_tags"] = list(self.trace_tags)
        options["natural_file"] = self.natural.name if self.natural else None
        return options
