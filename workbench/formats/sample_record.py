"""A sample between a file and the store (`SampleRecord`, with its `PreferencePair` when the row is a preference
row), and the exceptions a format's reader or writer raises (`RowError`, `Skip`, `SkipRow`); the formats
themselves are listed in workbench.formats.sample_formats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.core.conversation import FieldProblem, first_exchange, split_system

PAIR_KINDS = ("response", "step", "unpaired")
TEXT_KEYS = ("content", "reasoning_content")  # the texts of a turn: its message and its reasoning trace


class RowError(Exception):
    """A row that cannot be read: every problem, each naming its field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems))
        self.problems = problems


class Skip(Exception):
    """A sample this format cannot hold; the message is the reason, counted in the export result."""


class SkipRow(Exception):
    """A well-formed row that holds no sample (a PRM800K labeller gave up before any step; a preference row whose
    chosen equals its rejected); the message is the reason, counted and reported per row by the import."""


@dataclass
class PreferencePair:
    """What a preference row adds to its sample: the rejected completion (assistant turns), whether the sample's
    own reply is the chosen one, and the pair's kind.

    The prompt is the sample's conversation before its reply and the chosen completion is that reply, so a
    reviewer's edit of the sample reaches the pair. kind: 'response' (a whole answer against another, DPO),
    'step' (Step-DPO, Lai et al. 2024: one step against another after the same correct steps, `prefix`) or
    'unpaired' (TRL KTO: one completion with a desirable / undesirable label; `chosen` False and `rejected`
    set for an undesirable one, `chosen` True and `rejected` None for a desirable one).
    """

    rejected: list[dict] | None
    chosen: bool = True
    kind: str = "response"
    prefix: list[str] = field(default_factory=list)  # Step-DPO: the correct steps both completions follow

    def __post_init__(self) -> None:
        if self.kind not in PAIR_KINDS:
            raise ValueError(f"a pair's kind is one of {', '.join(PAIR_KINDS)}, not {self.kind!r}")


@dataclass
class SampleRecord:
    """One sample between a file and the store.

    turns: the whole conversation, system first (see workbench.core.conversation). input: the seed's input
    (Alpaca's), kept apart from the first user turn. steps / ratings: the reasoning path and a -1/0/+1
    rating (or None) per step. labeller / labelled_at (epoch seconds): who rated the steps, when known.
    human_completions: step index -> the corrected step a labeller wrote for it (PRM800K's `human_completion`).
    reference_answer: the task's reference final answer, when the store knows one (PRM800K's ground truth).
    tools: the functions the conversation may call, in OpenAI's shape ([{"type": "function", "function": {...}}]).
    pair: set on a preference row (see PreferencePair). notes: what a reader kept or changed that the import
    reports (e.g. "content part image_url kept").
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
    tools: list | None = None
    pair: PreferencePair | None = None
    notes: list[str] = field(default_factory=list)

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

    @property
    def prompt_turns(self) -> list[dict]:
        """The conversation up to and including its last user turn (a preference row's prompt)."""
        last_user = max(i for i, t in enumerate(self.turns) if t.get("role") == "user")
        return self.turns[: last_user + 1]

    @property
    def reply_turns(self) -> list[dict]:
        """The turns after the last user turn (a preference row's chosen completion; [] for a prompt alone)."""
        return self.turns[len(self.prompt_turns) :]

    def map_texts(self, change: Callable[[str], str]) -> SampleRecord:
        """A copy with `change` applied to every text: turns, input, steps, human completions and a pair's
        rejected completion and prefix."""

        def turns_of(turns: list[dict]) -> list[dict]:
            return [{**t, **{k: change(t[k]) for k in TEXT_KEYS if isinstance(t.get(k), str)}} for t in turns]

        pair = self.pair
        if pair is not None:
            pair = PreferencePair(turns_of(pair.rejected) if pair.rejected else pair.rejected, pair.chosen, pair.kind,
                                  [change(s) for s in pair.prefix])
        return SampleRecord(**{**self.__dict__, "turns": turns_of(self.turns),
                               "input": change(self.input) if self.input else self.input,
                               "steps": [change(s) for s in self.steps], "pair": pair,
                               "human_completions": {i: change(t) for i, t in self.human_completions.items()}})
