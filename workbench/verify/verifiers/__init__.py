"""Step verifiers by name: every one scores every step of a path in [0, 1] with a label and a rationale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.verify.verifiers.base import Task, Verifier, VerifierError

# The offline verifiers a new store uses by default: the Verifier page's choice, the reason job's and the CLI's
# default, and what `verify-eval` runs without --verifier. Adding an offline verifier to the defaults is adding
# its name here. The code verifier runs the model's code, so it stays a choice the user makes.
DEFAULT_VERIFIERS = ("arithmetic", "alignment", "grounding", "consistency")


def _arithmetic(**options: Any) -> Verifier:
    from workbench.verify.verifiers.arithmetic import ArithmeticVerifier

    return ArithmeticVerifier(**options)


def _judge(**options: Any) -> Verifier:
    from workbench.verify.verifiers.judge import JudgeVerifier

    return JudgeVerifier(**options)


def _prm(**options: Any) -> Verifier:
    from workbench.verify.verifiers.prm import PRMVerifier

    return PRMVerifier(**options)


def _code(**options: Any) -> Verifier:
    from workbench.verify.verifiers.code import CodeVerifier

    return CodeVerifier(**options)


def _consistency(**options: Any) -> Verifier:
    from workbench.verify.verifiers.consistency import ConsistencyVerifier

    return ConsistencyVerifier(**options)


def _rollout(**options: Any) -> Verifier:
    from workbench.verify.verifiers.rollout import RolloutVerifier

    return RolloutVerifier(**options)


def _grounding(**options: Any) -> Verifier:
    from workbench.verify.verifiers.grounding import GroundingVerifier

    return GroundingVerifier(**options)


def _alignment(**options: Any) -> Verifier:
    from workbench.verify.verifiers.alignment import AlignmentVerifier

    return AlignmentVerifier(**options)


REGISTRY: dict[str, Callable[..., Verifier]] = {
    "arithmetic": _arithmetic,
    "alignment": _alignment,
    "grounding": _grounding,
    "consistency": _consistency,
    "rollout": _rollout,
    "judge": _judge,
    "prm": _prm,
    "code": _code,
}
# Verifiers that call the teacher and so need one: get_verifier(name, teacher=Teacher(...)).
NEEDS_TEACHER = ("rollout", "judge")

DESCRIPTIONS = {
    "arithmetic": "re-computes every written calculation exactly and checks the final answer (offline, no model)",
    "alignment": "flags the first step whose results a worked reference solution's quantities cannot reach, when "
                 "the final answer disagrees (a heuristic; agreement is evidence, never a pass; offline, no model)",
    "grounding": "doubts a step that leaves a quantity of the problem unused, restates a quantity or relation of the "
                 "problem otherwise, or corrects itself: a doubted path is unverified, never failed, and weighs less in "
                 "the vote (a heuristic; offline, no model)",
    "judge": "asks an LLM per step (P(yes) / (P(yes) + P(no)) from logprobs when available), or once per path as a "
             "critic naming the earliest wrong step (ProcessBench's protocol)",
    "prm": "a neural process reward model from a local path (Qwen2.5-Math-PRM or Math-Shepherd style)",
    "code": "runs the extracted Python against the task's tests in a separate process, isolated with bubblewrap "
            "where it is installed",
    "consistency": "the paths' final answers vote (self-consistency); the reference answer when the task has one "
                   "(offline, no model)",
    "rollout": "K continuations from each step towards the reference or the paths' majority answer "
               "(Math-Shepherd Monte-Carlo; calls the teacher)",
}


def parse_names(spec: str | list[str]) -> list[str]:
    """'arithmetic,judge' -> ['arithmetic', 'judge']; unknown names raise VerifierError."""
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n and n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise VerifierError(f"unknown verifier {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    if not names:
        raise VerifierError("choose at least one verifier")
    return list(dict.fromkeys(names))


def get_verifier(name: str, **options: Any) -> Verifier:
    """Build the named verifier with its options (see each module for what it takes)."""
    if name not in REGISTRY:
        raise VerifierError(f"unknown verifier {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name](**options)


__all__ = ["DEFAULT_VERIFIERS", "DESCRIPTIONS", "NEEDS_TEACHER", "REGISTRY", "Task", "Verifier", "VerifierError",
           "get_verifier", "parse_names"]
