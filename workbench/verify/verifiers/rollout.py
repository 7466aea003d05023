"""Monte-Carlo rollouts: a step is as good as the share of continuations from it that reach the answer.

Math-Shepherd (Wang et al., 2024, "Math-Shepherd: Verify and Reinforce LLMs Step-by-step without
Human Annotations"; distilabel's `MathShepherdCompleter`): for each step prefix of a path, the
teacher writes K continuations; a continuation *reaches* the target when its final answer equals
the task's reference answer, or, with no reference, the pseudo-reference the task's paths agree on
(self-consistency, see consistency.py). The step's score is the share that reach it (soft label,
`soft`), or a hard label: 1 when any continuation reaches it (`any`, Math-Shepherd's hard
estimation), or more than half (`most`). OmegaPRM (Luo et al., 2024) estimates the same Monte-Carlo
value and spends its budget by binary search for the first wrong step; here the budget is plain:
K, the most steps rolled out per path (spread evenly, always ending at the last step before the
answer) and the most tokens per continuation.

The step that states the final answer needs no rollout: the path's own answer is checked against
the target (that verdict checks the outcome; a rollout verdict judges its step). A base model
continues a few-shot prompt ending in the prefix; a chat model is asked to continue the solution
from where it stops (works on chat-only providers). Every rollout is kept in a ledger keyed on
(step, k) as soon as it is written, so a rerun samples only the missing ones.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from workbench.core.wording import plural
from workbench.verify.prompts import COMPLETION_STOP, chat_messages, completion_prompt
from workbench.verify.reasoning import split_steps
from workbench.verify.verifiers.base import (
    CORRECT,
    INCORRECT,
    OUTCOME,
    STEP,
    CallBudget,
    StepScore,
    Task,
    VerifierError,
    unverifiable,
    verdict,
)
from workbench.verify.verifiers.consistency import (
    PathContext,
    Target,
    no_target_reason,
    same_answer,
    single_path_context,
    stated_answer,
    task_target,
)

if TYPE_CHECKING:  # the teacher imports litellm (seconds): the CLI's parser reads this module's defaults
    from workbench.core.teacher import Teacher

LABELS = ("soft", "any", "most")
DEFAULT_LABEL = "soft"
DEFAULT_K = 4
DEFAULT_MAX_STEPS = 6
DEFAULT_MAX_TOKENS = 128
DEFAULT_TEMPERATURE = 0.8

CHAT_CONTINUE = (
    "{problem}\n\nHere is the beginning of a solution:\n\n{prefix}\n\nContinue this solution from where it stops. "
    "Do not repeat or change the steps above. Write the remaining steps as 'Step k: ...' and end with a last "
    "line 'Answer: <final answer>'."
)


@dataclass
class Rollout:
    """One continuation of a step prefix and the final answer it reaches (None: it states none)."""

    k: int
    text: str
    final_answer: str | None
    model: str | None = None
    params: dict = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


class RolloutLedger(Protocol):
    """Where rollouts are kept, keyed on (step key, k): the store in a job, memory in an evaluation."""

    def stored(self, key: Hashable) -> dict[int, Rollout]: ...

    def save(self, key: Hashable, rollout: Rollout) -> None: ...


class MemoryLedger:
    """Rollouts kept in memory for one run (evaluations, tests)."""

    def __init__(self) -> None:
        self.rollouts: dict[Hashable, dict[int, Rollout]] = {}

    def stored(self, key: Hashable) -> dict[int, Rollout]:
        return dict(self.rollouts.get(key, {}))

    def save(self, key: Hashable, rollout: Rollout) -> None:
        self.rollouts.setdefault(key, {})[rollout.k] = rollout


def rolled_steps(candidates: int, max_steps: int) -> list[int]:
    """Which of the step prefixes 0..candidates-1 are rolled out: all of them, or max_steps spread evenly
    ending at the last one (6 candidates, budget 3 -> [1, 3, 5])."""
    if max_steps <= 0 or candidates <= 0:
        return []
    if candidates <= max_steps:
        return list(range(candidates))
    return [math.ceil((j + 1) * candidates / max_steps) - 1 for j in range(max_steps)]


def label_value(reached: Sequence[bool], label: str) -> float:
    """The step's score from which rollouts reached the target: their share, or a hard 1/0 (any / more than half)."""
    if not reached:
        raise ValueError("no rollouts to label")
    if label == "soft":
        return sum(reached) / len(reached)
    if label == "any":
        return 1.0 if any(reached) else 0.0
    if label == "most":
        return 1.0 if sum(reached) * 2 > len(reached) else 0.0
    raise ValueError(f"the rollout label must be one of {', '.join(LABELS)}, not {label!r}")


def continuation_prompt(task: Task, prefix: Sequence[str]) -> str:
    """For base models: the few-shot prompt the path was sampled with with the prefix steps written out, ending at the next step's label."""
    written = "".join(f" {step.strip()}\nStep {number + 2}:" for number, step in enumerate(prefix))
    return completion_prompt(task) + written


def continuation_messages(task: Task, prefix: Sequence[str]) -> list[dict]:
    """For chat models (chat-only providers too): the path's chat prompt, asking to continue from where the prefix stops."""
    messages = chat_messages(task)
    written = "\n".join(f"Step {number + 1}: {step.strip()}" for number, step in enumerate(prefix))
    messages[-1] = {"role": "user", "content": CHAT_CONTINUE.format(problem=task.problem.strip(), prefix=written)}
    return messages


def rollout_seed(key: Hashable, k: int) -> int:
    """A reproducible sampling seed per (step, k)."""
    return zlib.crc32(f"{key!r}:{k}".encode())


def rollout_budget(paths: int, k: int, max_steps: int, max_tokens: int, prompt_chars: int) -> CallBudget:
    """Upper bound before any path exists: every path rolls out max_steps prefixes, K times each, with prompts of
    about prompt_chars characters (the few-shot prompt, the problem and a full-length prefix)."""
    calls = paths * max_steps * k
    return CallBudget.of(calls, max_tokens, prompt_chars)


class RolloutVerifier:
    """Scores each step by Monte-Carlo rollouts from its prefix towards the reference or pseudo-reference."""

    name = "rollout"

    def __init__(self, teacher: Teacher, k: int = DEFAULT_K, max_steps: int = DEFAULT_MAX_STEPS,
                 max_tokens: int = DEFAULT_MAX_TOKENS, label: str = DEFAULT_LABEL,
                 temperature: float = DEFAULT_TEMPERATURE, skip_wrong_paths: bool = False,
                 ledger: RolloutLedger | None = None) -> None:
        if label not in LABELS:
            raise VerifierError(f"the rollout label must be one of {', '.join(LABELS)}, not {label!r}")
        if k < 1 or max_steps < 1 or max_tokens < 1:
            raise VerifierError("rollouts need K >= 1, at least 1 step per path and at least 1 token per rollout")
        self.teacher = teacher
        self.k = k
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.label = label
        self.temperature = temperature
        self.skip_wrong_paths = skip_wrong_paths
        self.ledger: RolloutLedger = ledger if ledger is not None else MemoryLedger()

    async def _sample(self, task: Task, prefix: Sequence[str], key: Hashable, k: int) -> Rollout:
        options = {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": rollout_seed(key, k)}
        if self.teacher.config.uses_completion_prompts:
            generation = await self.teacher.acomplete(continuation_prompt(task, prefix), stop=COMPLETION_STOP, **options)
            text = f"Step {len(prefix) + 1}:{generation.text}"
        else:
            generation = await self.teacher.achat(continuation_messages(task, prefix), **options)
            text = generation.text
        rollout = Rollout(k, text, stated_answer(split_steps(text))[1], generation.model, generation.params,
                          generation.prompt_tokens, generation.completion_tokens, generation.cost)
        self.ledger.save(key, rollout)  # kept at once: a killed run resumes from here
        return rollout

    async def rollouts(self, task: Task, prefix: Sequence[str], key: Hashable) -> list[Rollout]:
        """The K rollouts of one prefix: the stored ones, and the missing ones sampled now."""
        stored = self.ledger.stored(key)
        missing = [k for k in range(self.k) if k not in stored]
        made = await asyncio.gather(*(self._sample(task, prefix, key, k) for k in missing))
        found = {**stored, **{r.k: r for r in made}}
        return [found[k] for k in range(self.k)]

    def _step_verdict(self, rollouts: list[Rollout], target: Target) -> StepScore:
        reached = [r.final_answer is not None and same_answer(target.answer, r.final_answer) for r in rollouts]
        value = label_value(reached, self.label)
        answers = ", ".join(repr(r.final_answer) if r.final_answer else "no answer" for r in rollouts)
        how = {"soft": "soft label: the share", "any": "hard label: 1 if any reaches it",
               "most": "hard label: 1 if most reach it"}[self.label]
        rationale = (f"{sum(reached)} of {plural(len(rollouts), 'rollout')} from this step reach {target.describe()} "
                     f"({how}); their answers: {answers}")
        params = {"k": len(rollouts), "reached": reached, "answers": [r.final_answer for r in rollouts],
                  **target.params(), "label": self.label, "rollout_tokens": sum(r.completion_tokens for r in rollouts)}
        return verdict(value, rationale, model=rollouts[0].model, params=params, checks=STEP)

    async def score_in_context(self, task: Task, steps: Sequence[str], context: PathContext) -> list[StepScore]:
        if not steps:
            return []
        target = task_target(task, context.vote)
        if target is None:
            reason = f"nothing to roll out towards: {no_target_reason(task, context.vote)}"
            return [unverifiable(reason) for _ in steps]
        answer_index, answer = stated_answer(steps)
        keys = context.step_keys or [(task.problem, tuple(steps[: i + 1])) for i in range(len(steps))]
        params = {**target.params(), "label": self.label}
        scores: list[StepScore] = [unverifiable("after the final answer: nothing to roll out", params=params)
                                   for _ in steps]
        reaches = answer is not None and same_answer(target.answer, answer)
        if answer is None:
            own = f"no final answer: the path states none, so it cannot reach {target.describe()}"
        else:
            own = (f"the path's own final answer {answer!r} {'reaches' if reaches else 'misses'} {target.describe()} "
                   "(the path ends here: no rollout needed)")
        scores[answer_index] = StepScore(1.0 if reaches else 0.0, CORRECT if reaches else INCORRECT, own, params=params,
                                         checks=OUTCOME)
        candidates = answer_index if answer is not None else len(steps) - 1
        if self.skip_wrong_paths and not reaches:
            skipped = (f"not rolled out: the path's own final answer {answer!r} already misses {target.describe()}"
                       if answer is not None else "not rolled out: the path states no final answer")
            for index in range(candidates):
                scores[index] = unverifiable(skipped, params=params)
            return scores
        chosen = rolled_steps(candidates, self.max_steps)
        for index in set(range(candidates)) - set(chosen):
            scores[index] = unverifiable(f"not rolled out (budget: at most {plural(self.max_steps, 'step')} per path)",
                                         params=params)
        rolled = await asyncio.gather(*(self.rollouts(task, steps[: i + 1], keys[i]) for i in chosen))
        for index, rollouts in zip(chosen, rolled, strict=True):
            scores[index] = self._step_verdict(rollouts, target)
        return scores

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One path alone: rollouts towards the task's reference answer (with none, no verdict)."""
        return await self.score_in_context(task, steps, single_path_context(steps))
