"""The verifier interface: every verifier scores every step of a path in [0, 1] with a label and a rationale."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

CORRECT = "correct"
INCORRECT = "incorrect"
UNVERIFIABLE = "unverifiable"
LABELS = (CORRECT, INCORRECT, UNVERIFIABLE)
NEUTRAL_SCORE = 0.5
# What a verdict vouches for (issue 23). OUTCOME: the path's final result against ground truth (a reference answer,
# tests, a self-consistency majority). STEP: the step's logic was judged (a judge, a critic, a PRM, rollouts, a person).
# EVIDENCE: something in the step holds (its arithmetic, say), which is not a verified step. Whatever it checked,
# an `incorrect` verdict is a found error.
OUTCOME, STEP, EVIDENCE = "outcome", "step", "evidence"
CHECKS = (OUTCOME, STEP, EVIDENCE)


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
    """One verifier's verdict on one step. `unverifiable` verdicts carry the neutral score 0.5. `checks` says what
    the verdict vouches for (one of CHECKS); the default, evidence, never claims more than that something holds."""

    score: float
    label: str
    rationale: str
    model: str | None = None
    params: dict = field(default_factory=dict)
    checks: str = EVIDENCE

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a step score must lie in [0, 1], got {self.score}")
        if self.label not in LABELS:
            raise ValueError(f"unknown step label {self.label!r}")
        if self.checks not in CHECKS:
            raise ValueError(f"a verdict checks one of {', '.join(CHECKS)}, not {self.checks!r}")


CHARS_PER_TOKEN = 4  # rule of thumb for estimates shown before a job starts


@dataclass
class CallBudget:
    """The most a model-calling verifier can spend on some paths, estimated before a job starts: calls, completion
    tokens (an upper bound: every call writes its maximum) and prompt tokens (estimated at CHARS_PER_TOKEN
    characters a token)."""

    calls: int
    completion_tokens: int
    prompt_tokens: int

    @classmethod
    def of(cls, calls: int, max_tokens: int, prompt_chars: int) -> CallBudget:
        """`calls` calls, each writing at most `max_tokens` tokens after a prompt of about `prompt_chars` characters."""
        return cls(calls, calls * max_tokens, calls * math.ceil(prompt_chars / CHARS_PER_TOKEN))


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
