"""One attempt of a model at a task, and its verdict.

An attempt is asked exactly as the reasoning stage asks for a path (`workbench.verify.reasoning`): a base model (the
bundled Gemma) continues a few-shot completion prompt that ends at "Step 1:", a chat model gets the numbered-steps
system message and the task. Its final answer is the one the path states last ("Answer: 54", "\\boxed{54}").

The verdict checks the attempt against what verifies the task:
- `reference`: the final answer against the reference answer with the project's answer checker
  (`workbench.verify.answer_equivalence.check_answer`: True, False, or None when it cannot tell);
- `majority`: the same, against the task's verified majority answer (self-consistency's pseudo-reference of
  reasoning paths that passed the gate);
- `tests`: the attempt's last Python block run against the task's tests by the code verifier
  (`workbench.verify.verifiers.code.run_tests`, sandboxed).
Only a verdict of True passes: an answer the checker cannot confirm is not counted as correct (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.teacher import Generation, Teacher
from workbench.verify.answer_equivalence import check_answer
from workbench.verify.prompts import COMPLETION_STOP, chat_messages, completion_prompt
from workbench.verify.reasoning import (
    final_answer,
    split_steps,
)
from workbench.verify.verifiers.base import Task

AGAINST = ("reference", "majority", "tests")
QUOTED_CHARS = 80


def attempt_index(task_type: str, task_id: int, attempt: int) -> str:
    """The response cache's sample index of one attempt: the probe and the uncertainty job name the same sample
    alike, so a rerun (or the uncertainty job after a probe, with the same settings) reuses it at no cost."""
    return f"attempt:{task_type}:{task_id}:{attempt}"


@dataclass
class Attempt:
    """What the model wrote (for a base model, with the "Step 1:" the prompt ended on), the final answer it states
    (None: none), and the generation (usage, token entropies in bits)."""

    text: str
    final_answer: str | None
    generation: Generation

    @property
    def token_entropy_bits(self) -> float | None:
        """Mean per-token entropy in bits (the Teacher's unit); None where the provider gave none."""
        return self.generation.mean_entropy


async def sample_attempt(model: Teacher, task: Task, *, temperature: float, max_tokens: int,
                         sample_index: str) -> Attempt:
    """One sampled attempt of `model` at `task` (a reasoning-path prompt; see the module doc). Raises TeacherError."""
    if model.config.uses_completion_prompts:
        generation = await model.acomplete(completion_prompt(task), temperature=temperature, max_tokens=max_tokens,
                                           stop=COMPLETION_STOP, sample_index=sample_index)
        text = "Step 1:" + generation.text
    else:
        generation = await model.achat(chat_messages(task), temperature=temperature, max_tokens=max_tokens,
                                       sample_index=sample_index)
        text = generation.text
    steps = split_steps(text)
    return Attempt(text, final_answer(steps) if steps else None, generation)


@dataclass(frozen=True)
class Verdict:
    """correct: True (verified right), False (wrong), None (the checker could not tell: not counted as correct);
    reason: the verdict in words."""

    correct: bool | None
    reason: str


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…")


def check_answer_attempt(reference: str, answer: str | None, against: str = "reference") -> Verdict:
    """An attempt's final answer against the reference (or the verified majority answer)."""
    what = "the reference answer" if against == "reference" else "the verified majority answer"
    if answer is None:
        return Verdict(False, f"states no final answer; {what} is {_quote(reference)}")
    verdict = check_answer(reference, answer)
    if verdict is True:
        return Verdict(True, f"states {_quote(answer)}, which is {what}")
    if verdict is False:
        return Verdict(False, f"states {_quote(answer)}; {what} is {_quote(reference)}")
    return Verdict(None, f"states {_quote(answer)}, which the answer checker cannot compare with {what} "
                         f"{_quote(reference)} (not counted as correct)")


def check_code_attempt(tests: str, text: str) -> Verdict:
    """An attempt's last Python block run against the task's tests in the code verifier's sandbox (blocking: call it
    in a thread)."""
    from workbench.verify.verifiers.code import extract_code, run_tests

    code = extract_code(text)
    if code is None:
        return Verdict(False, "writes no Python code to test")
    result = run_tests(code, tests)
    return Verdict(result.passed, "all tests passed" if result.passed else f"tests failed: {result.rationale[:500]}")
