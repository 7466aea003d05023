"""The LLM-judge verifier: asks a model, per step, whether the step is correct given the problem and the steps before.

Score = P(yes) / (P(yes) + P(no)) at the verdict token when the backend returns the alternatives'
logprobs; with only the chosen token's probability p, the rest of the mass counts as the other
answer (score p or 1 - p); with no logprobs at all, the parsed verdict (1 or 0). The judge's own
explanation is kept as the rationale. Base models get a few-shot completion prompt, chat models chat.
"""

from __future__ import annotations

import asyncio
import math
import re

from workbench.core.teacher import Generation, Teacher, TeacherConfig
from workbench.verify.verifiers.base import StepScore, Task, unverifiable, verdict

YES, NO = "yes", "no"
VERDICT = re.compile(r"^\W*(yes|no|correct|incorrect)\b", re.IGNORECASE)  # the verdict opens the reply
MAX_CONTEXT_CHARS = 6000

FEW_SHOT = """Decide whether the last step of each solution is correct. Answer yes or no, then give the reason.

Problem: Anna buys 6 packs of 7 stickers and gives away 1 sticker. How many stickers does she keep?
Previous steps: (none)
Step: She buys 6 * 7 = 42 stickers.
Correct (yes/no): yes
Reason: 6 times 7 is 42.

Problem: Anna buys 6 packs of 7 stickers and gives away 1 sticker. How many stickers does she keep?
Previous steps:
1. She buys 6 * 7 = 42 stickers.
Step: She keeps 42 + 1 = 43 stickers.
Correct (yes/no): no
Reason: giving a sticker away subtracts it: 42 - 1 = 41.

"""

CHAT_SYSTEM = (
    "You check one step of a step-by-step solution. Judge only the given step, using the problem and the "
    "steps before it. Reply with 'yes' or 'no' on the first line, then one sentence explaining why."
)


def _previous(steps: list[str], index: int) -> str:
    if index == 0:
        return "(none)"
    listed = "\n".join(f"{i + 1}. {s.strip()}" for i, s in enumerate(steps[:index]))
    return "\n" + listed[-MAX_CONTEXT_CHARS:]


def completion_prompt(task: Task, steps: list[str], index: int) -> str:
    return (
        f"{FEW_SHOT}Problem: {task.text}\nPrevious steps: {_previous(steps, index)}\n"
        f"Step: {steps[index].strip()}\nCorrect (yes/no):"
    )


def chat_messages(task: Task, steps: list[str], index: int) -> list[dict]:
    user = (
        f"Problem:\n{task.text}\n\nPrevious steps: {_previous(steps, index)}\n\n"
        f"Step to check:\n{steps[index].strip()}\n\nIs this step correct? Answer yes or no, then why."
    )
    return [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": user}]


def _word(token: str) -> str | None:
    word = token.strip().strip(".:,!*\"'").lower()
    return {"yes": YES, "correct": YES, "no": NO, "incorrect": NO}.get(word)


def score_generation(generation: Generation) -> tuple[float | None, str, str]:
    """(score, source, rationale) from a judge's output; score None when it gave no yes/no verdict."""
    text = generation.text.strip()
    match = VERDICT.search(text)
    rationale = re.sub(r"^\W*(yes|no|correct|incorrect)\b\W*(reason:)?\s*", "", text, flags=re.IGNORECASE).strip()
    rationale = re.sub(r"^reason:\s*", "", rationale, flags=re.IGNORECASE) or text
    tokens = generation.tokens or []
    first_word = next((i for i, t in enumerate(tokens) if re.search(r"\w", t)), None)
    position = first_word if first_word is not None and _word(tokens[first_word]) else None
    if position is not None and generation.top_logprobs and position < len(generation.top_logprobs):
        mass = {YES: 0.0, NO: 0.0}
        for alternative, logprob in generation.top_logprobs[position].items():
            side = _word(alternative or "")
            if side and logprob is not None:
                mass[side] += math.exp(logprob)
        if mass[YES] + mass[NO] > 0:
            return mass[YES] / (mass[YES] + mass[NO]), "P(yes)/(P(yes)+P(no)) from top logprobs", rationale
    if position is not None and generation.token_logprobs and position < len(generation.token_logprobs):
        p = math.exp(generation.token_logprobs[position])
        score = p if _word(tokens[position]) == YES else 1.0 - p
        return score, "chosen-token probability (the rest counted as the other answer)", rationale
    if match is not None:
        return (1.0 if _word(match.group(1)) == YES else 0.0), "parsed verdict (no logprobs)", rationale
    return None, "no verdict", rationale


class JudgeVerifier:
    """Asks a litellm model about every step; concurrency is the teacher's."""

    name = "judge"

    def __init__(self, teacher: Teacher | None = None, config: TeacherConfig | None = None, max_tokens: int = 64) -> None:
        self.teacher = teacher or Teacher(config or TeacherConfig())
        self.max_tokens = max_tokens

    async def judge_step(self, task: Task, steps: list[str], index: int) -> StepScore:
        if self.teacher.config.uses_completion_prompts:
            generation = await self.teacher.acomplete(
                completion_prompt(task, steps, index), temperature=0.0, max_tokens=self.max_tokens,
                stop=["\n\n", "\nProblem:"], logprobs=True,
            )
        else:
            generation = await self.teacher.achat(
                chat_messages(task, steps, index), temperature=0.0, max_tokens=self.max_tokens, logprobs=True,
                top_logprobs=5,
            )
        score, source, rationale = score_generation(generation)
        params = {
            "score_source": source,
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens,
            "cost": generation.cost,
        }
        if score is None:
            return unverifiable(f"the judge gave no yes/no verdict: {generation.text.strip()[:300]!r}",
                                model=generation.model, params=params)
        return verdict(min(1.0, max(0.0, score)), rationale[:1000], model=generation.model, params=params)

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return list(await asyncio.gather(*(self.judge_step(task, steps, i) for i in range(len(steps)))))
