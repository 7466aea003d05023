"""What a task is checked against, in one place for the pages: its tests (a code task) or its reference answer.

A task with tests is checked by running them (the code verifier, `verifiers/code.py`): its tests are its
reference, and a reference answer beside them (often the canonical solution's code) is shown, never compared.
Without tests, a path's stated final answer is compared with the reference answer where that is a short final
answer (`consistency.reference_kind`); a reference that is not one is really unusable and gets a warning.
"""

from __future__ import annotations

from workbench.verify.verifiers.consistency import reference_kind, reference_problem

TESTS = "tests"


def has_tests(tests: str | None) -> bool:
    return bool((tests or "").strip())


def check_kind(reference_answer: str | None, tests: str | None) -> str:
    """How a task's paths are checked: 'tests' (its tests are run), else `consistency.reference_kind` of its reference
    answer ('' none, 'ok', 'as text', 'not a final answer')."""
    return TESTS if has_tests(tests) else reference_kind(reference_answer)


def check_warning(reference_answer: str | None, tests: str | None) -> str | None:
    """What a user should know before trusting the gate with this task's reference, or None: nothing for a task with
    tests (they are its reference), else `consistency.reference_problem` of its reference answer."""
    return None if has_tests(tests) else reference_problem(reference_answer)
