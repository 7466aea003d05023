"""The LLM-judge verifier, in two modes; every verdict judges its step's logic (`checks` = step).

`step` (the default): asks a model, per step, whether the step is correct given the problem and the steps
before. Score = P(yes) / (P(yes) + P(no)) at the verdict token when the backend returns the alternatives'
logprobs; with only the chosen token's probability p, the rest of the mass counts as the other
answer (score p or 1 - p); with no logprobs at all, the parsed verdict (1 or 0). The judge's own
explanation is kept as the rationale. Base models get a few-shot completion prompt, chat models chat.

`critic`: ProcessBench's critic protocol (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in
Mathematical Reasoning"), one call per path. The model sees the solution split into paragraphs tagged and
indexed from 0, reviews them in order and answers with the index of the earliest wrong paragraph, or -1, in
`\\boxed{}`. The reply is parsed strictly (`parse_critic_reply`): no index, two different indices, something
other than an integer, or an index past the last paragraph is no verdict, with the reply kept in the rationale;
it is never read as a pass. Paragraphs before the earliest wrong one score 1, that one 0, later ones are not
judged. Costs: `judge_budget` estimates both modes before a job starts.
"""

from __future__ import annotations

import asyncio
import math
import re

from workbench.core.teacher import Generation, Teacher, TeacherConfig
from workbench.core.wording import plural
from workbench.verify.verifiers.base import (
    STEP,
    CallBudget,
    StepScore,
    Task,
    VerifierError,
    unverifiable,
    verdict,
)

MODES = ("step", "critic")
DEFAULT_MODE = "step"
DEFAULT_MAX_TOKENS = {"step": 64, "critic": 1024}
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


CRITIC_TASK = (
    "Below are a math problem and a solution to it. The solution is split into paragraphs; each is enclosed in "
    "tags carrying its index, counted from 0.\n\n[Problem]\n\n{problem}\n\n[Solution]\n\n{paragraphs}\n\n"
    "Check the paragraphs one after another. If a paragraph contains an error, the answer is the index of the "
    "first such paragraph; if no paragraph contains an error, the answer is -1. End your reply with the answer "
    "alone inside \\boxed{{}}, for example \\boxed{{-1}} or \\boxed{{2}}."
)
BOXED = re.compile(r"\\boxed\s*\{([^{}]*)\}")
INDEX = re.compile(r"[+-]?\d+")


def critic_prompt(task: Task, steps: list[str]) -> str:
    """The critic's request: the problem and the steps as paragraphs tagged <paragraph_i> ... </paragraph_i>, i from 0."""
    paragraphs = "\n\n".join(f"<paragraph_{i}>\n{step.strip()}\n</paragraph_{i}>" for i, step in enumerate(steps))
    return CRITIC_TASK.format(problem=task.text, paragraphs=paragraphs)


def parse_critic_reply(text: str, paragraphs: int) -> tuple[int | None, str]:
    """(the earliest wrong paragraph's index, or -1 for none; why) from a critic's reply, or (None, why) when the
    reply gives no verdict: no \\boxed{} index, two different indices, something other than an integer in it, or
    an index outside -1..paragraphs-1."""
    boxed = [m.group(1).strip() for m in BOXED.finditer(text or "")]
    if not boxed:
        return None, "no index in \\boxed{}"
    if bad := [b for b in boxed if not INDEX.fullmatch(b)]:
        return None, f"\\boxed{{{bad[0]}}} is not a paragraph index"
    indices = list(dict.fromkeys(int(b) for b in boxed))
    if len(indices) > 1:
        return None, f"two different indices ({', '.join(map(str, indices))})"
    index = indices[0]
    if not -1 <= index < paragraphs:
        return None, f"index {index} is outside -1..{paragraphs - 1} ({plural(paragraphs, 'paragraph')})"
    return index, "no paragraph is wrong" if index == -1 else f"paragraph {index} is the earliest wrong one"


def critic_verdicts(reply: str, steps: int, **kwargs: object) -> list[StepScore]:
    """One verdict per step from a critic's reply (see the module docstring); the reply is kept in the rationale."""
    index, why = parse_critic_reply(reply, steps)
    quoted = repr(reply.strip()[-600:])
    if index is None:
        return [unverifiable(f"the critic gave no verdict ({why}); its reply: {quoted}", **kwargs) for _ in range(steps)]
    last_judged = steps - 1 if index == -1 else index
    verdicts = []
    for i in range(steps):
        if i > last_judged:
            verdicts.append(unverifiable(f"after the earliest wrong paragraph ({index}): the critic judges no further",
                                         **kwargs))
        elif i == index:
            verdicts.append(verdict(0.0, f"the critic: {why}; its reply: {quoted}", checks=STEP, **kwargs))
        else:
            verdicts.append(verdict(1.0, f"the critic: {why} (\\boxed{{{index}}})", checks=STEP, **kwargs))
    return verdicts


def judge_budget(mode: str, paths: int, steps_per_path: int, problem_chars: int, path_chars: int,
                 max_tokens: int | None = None) -> CallBudget:
    """The most the judge can spend on `paths` paths before any exists, assuming `steps_per_path` steps of a path of
    `path_chars` characters: `step` mode asks once per step (the prompt holds the problem, the steps before and the
    step: half a path on average, plus the few-shot examples), `critic` once per path (the problem and the whole
    path). Completion tokens are the upper bound max_tokens per call (DEFAULT_MAX_TOKENS of the mode when None)."""
    if mode not in MODES:
        raise VerifierError(f"the judge mode must be one of {', '.join(MODES)}, not {mode!r}")
    max_tokens = DEFAULT_MAX_TOKENS[mode] if max_tokens is None else max_tokens
    if mode == "critic":
        calls, prompt_chars = paths, len(CRITIC_TASK) + problem_chars + path_chars + 40 * steps_per_path
    else:
        calls, prompt_chars = paths * steps_per_path, len(FEW_SHOT) + problem_chars + path_chars // 2
    return CallBudget.of(calls, max_tokens, prompt_chars)


class JudgeVerifier:
    """Asks a litellm model about every step (mode `step`) or about a whole path (mode `critic`); concurrency is
    the teacher's. Raises VerifierError for an unknown mode."""

    name = "judge"

    def __init__(self, teacher: Teacher | None = None, config: TeacherConfig | None = None,
                 max_tokens: int | None = None, mode: str = DEFAULT_MODE) -> None:
        if mode not in MODES:
            raise VerifierError(f"the judge mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.teacher = teacher or Teacher(config or TeacherConfig())
        self.mode = mode
        self.max_tokens = DEFAULT_MAX_TOKENS[mode] if max_tokens is None else max_tokens

    async def critique(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One critic call for the whole path (ProcessBench's protocol); its usage is counted on the first step."""
        prompt = critic_prompt(task, steps)
        if self.teacher.config.uses_completion_prompts:
            generation = await self.teacher.acomplete(f"{prompt}\n\nReview:\n", temperature=0.0,
                                                      max_tokens=self.max_tokens, logprobs=False)
        else:
            generation = await self.teacher.achat([{"role": "user", "content": prompt}], temperature=0.0,
                                                  max_tokens=self.max_tokens, logprobs=False)
        verdicts = critic_verdicts(generation.text, len(steps), model=generation.model, params={"mode": "critic"})
        if verdicts:
            verdicts[0].params = {"mode": "critic", "prompt_tokens": generation.prompt_tokens,
                                  "completion_tokens": generation.completion_tokens, "cost": generation.cost}
        return verdicts

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
        return verdict(min(1.0, max(0.0, score)), rationale[:1000], model=generation.model, params=params, checks=STEP)

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        if not steps:
            return []
        if self.mode == "critic":
            return await self.critique(task, steps)
        return list(await asyncio.gather(*(self.judge_step(task, steps, i) for i in range(len(steps)))))
