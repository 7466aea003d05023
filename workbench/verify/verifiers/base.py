"""The verifier interface: every verifier scores every step of a path in [0, 1] with a label and a rationale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

CORRECT = "correct"
INCORRECT = "incorrect"
UNVERIFIABLE = "unverifiable"
LABELS = (CORRECT, INCORRECT, UNVERIFIABLE)
NEUTRAL_SCORE = 0.5


@dataclass
class Task:
    """What a verifier may know about the task a path answers: the problem (a seed's or sample's instruction),
    its input (the context the instruction works on, Alpaca's `input`), the reference final answer and worked
    solution, code tests and the domain."""

    problem: str
    reference_answer: str | None = None
    tests: str | None = None
    domain: str | None = None
    input: str | None = None
    reference_solution: str | None = None

    @property
    def text(self) -> str:
        """The problem as every prompt shows it: the instruction, then its input (workbench.core.store.task_text)."""
        from workbench.store import task_text

        return task_text(self.problem.strip(), self.input)


@dataclass
class StepScore:
    """One verifier's verdict on one step. `unverifiable` verdicts carry the neutral score 0.5."""

    score: float
    label: str
    rationale: str
    model: str | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a step score must lie in [0, 1], got {self.score}")
        if self.label not in LABELS:
            raise ValueError(f"unknown step label {self.label!r}")


def unverifiable(rationale: str, **kwargs: object) -> StepScore:
    return StepScore(NEUTRAL_SCORE, UNVERIFIABLE, rationale, **kwargs)


def verdict(score: float, rationale: str, **kwargs: object) -> StepScore:
    """A scored verdict: labelled correct at 0.5 and above, incorrect below."""
    return StepScore(score, CORRECT if score >= 0.5 else INCORRECT, rationale, **kwargs)


class Verifier(Protocol):
    """Scores a whole path at once (a PRM reads all steps in one pass; a judge sees the steps before)."""

    name: str

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]: ...


class VerifierError(Exception):
    """A verifier that cannot run as configured (missing model path, unknown style...), with a message for the user."""
