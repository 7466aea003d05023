"""A sample between a file and the store (`SampleRecord`), and the exceptions a format's reader or writer
raises (`RowError`, `Skip`, `SkipRow`); the formats themselves are in workbench.review.sample_formats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.core.conversation import FieldProblem, first_exchange, split_system


class RowError(Exception):
    """A row that cannot be read: every problem, each naming its field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems))
        self.problems = problems


class Skip(Exception):
    """A sample this format cannot hold; the message is the reason, counted in the export result."""


class SkipRow(Exception):
    """A well-formed row that holds no sample (a PRM800K labeller gave up before any step); the message is
    the reason, counted and reported by the import."""


@dataclass
class SampleRecord:
    """One sample between a file and the store.

    turns: the whole conversation, system first (see workbench.core.conversation). input: the seed's input
    (Alpaca's), kept apart from the first user turn. steps / ratings: the reasoning path and a -1/0/+1
    rating (or None) per step. labeller / labelled_at (epoch seconds): who rated the steps, when known.
    human_completions: step index -> the corrected step a labeller wrote for it (PRM800K's `human_completion`).
    reference_answer: the task's reference final answer, when the store knows one (PRM800K's ground truth).
    """

    turns: list[dict]
    input: str | None = None
    steps: list[str] = field(default_factory=list)
    ratings: list[int | None] = field(default_factory=list)
    source: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    metrics: dict | None = None
    lineage: dict | None = None
    labeller: str | None = None
    labelled_at: float | None = None
    human_completions: dict[int, str] = field(default_factory=dict)
    reference_answer: str | None = None

    @property
    def system(self) -> str | None:
        return split_system(self.turns)[0]

    @property
    def conversation(self) -> list[dict]:
        """The turns after the system prompt."""
        return split_system(self.turns)[1]

    @property
    def instruction(self) -> str:
        return first_exchange(self.turns)[0]

    @property
    def output(self) -> str | None:
        return first_exchange(self.turns)[1]

    def map_texts(self, change: Callable[[str], str]) -> SampleRecord:
        """A copy with `change` applied to every text: turns, input and steps."""
        turns = [{**t, "content": change(t["content"])} if isinstance(t.get("content"), str) else t for t in self.turns]
        return SampleRecord(**{**self.__dict__, "turns": turns, "input": change(self.input) if self.input else self.input,
                               "steps": [change(s) for s in self.steps],
                               "human_completions": {i: change(t) for i, t in self.human_completions.items()}})
