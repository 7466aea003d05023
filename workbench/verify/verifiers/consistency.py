"""Self-consistency: a task's sampled paths vote with their final answers (Wang et al., 2022,
"Self-Consistency Improves Chain of Thought Reasoning in Language Models").

Answers are grouped by equivalence (`check_answer`: "$1,250" and "1250" are one answer), not by
string equality; where the checker cannot tell (text answers such as "The butler"), two answers
are the same when their normalised texts are equal. The plurality answer, when at least two paths
state it and no other answer ties with it, is the task's *pseudo-reference*: what the paths agree
on, not a checked truth, and labelled as such wherever it is shown.

The verifier scores only a path's final-answer step (every other step abstains):
- with a reference answer the task brings, against that reference (no vote);
- else, mode `share`: the share of the task's paths whose final answer agrees with this one
  (a path with no final answer agrees with nobody); mode `majority`: 1 when the path states the
  pseudo-reference, 0 when it states another answer, and no verdict when there is no majority.
A path that states no final answer gets the verdict "no final answer" (score 0).

Every final-answer verdict checks the outcome (`checks` = outcome). One against a pseudo-reference carries the
majority's margin in its params (`margin`: its lead over the runner-up answer as a share of all paths): the gate
counts it only where that margin reaches the user's setting (workbench.verify.reasoning).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from workbench.core.wording import plural
from workbench.verify.verifiers.arithmetic import check_answer, extract_answer, is_math_reference
from workbench.verify.verifiers.base import (
    CORRECT,
    INCORRECT,
    OUTCOME,
    StepScore,
    Task,
    VerifierError,
    unverifiable,
    verdict,
)

MODES = ("share", "majority")
DEFAULT_MODE = "majority"
MIN_AGREEING = 2  # a pseudo-reference needs at least this many paths stating it
REFERENCE = "reference"
PSEUDO_REFERENCE = "pseudo-reference"
MAX_REFERENCE_WORDS = 12
MAX_REFERENCE_CHARS = 120


def normalised_text(answer: str) -> str:
    """Case, surrounding punctuation, TeX dollar signs and inner whitespace removed: 'The Butler.' -> 'the butler'."""
    return " ".join(re.sub(r"[$*`\"']", "", answer).strip().strip(".!?;:,").split()).casefold()


def same_answer(reference: str, answer: str) -> bool:
    """True when `answer` states `reference`: math equivalence where the checker can tell, else equal normalised text."""
    verdict_ = check_answer(reference, answer)
    if verdict_ is not None:
        return verdict_
    return normalised_text(reference) == normalised_text(answer)


def comparable_reference(reference: str | None) -> bool:
    """A reference a stated final answer can be compared with: one short line (a number, a formula, a few words).

    Worked solutions, code and long prose are not: those tasks need another verifier (code, judge)."""
    text = (reference or "").strip()
    return bool(text) and "\n" not in text and len(text) <= MAX_REFERENCE_CHARS and len(text.split()) <= MAX_REFERENCE_WORDS


def reference_kind(reference: str | None) -> str:
    """How a stated final answer is compared with this reference: '' (no reference), 'ok' (as a number or
    formula), 'as text' (case and articles aside), or 'not a final answer' (a worked solution, code or long
    text: nothing is compared with it)."""
    text = (reference or "").strip()
    if not text:
        return ""
    if not comparable_reference(text):
        return "not a final answer"
    return "ok" if is_math_reference(text) else "as text"


def reference_problem(reference: str | None) -> str | None:
    """What a user should know about a task's reference answer before trusting the gate with it, or None."""
    text = (reference or "").strip()
    kind = reference_kind(text)
    if kind == "not a final answer":
        return (f"The reference answer ({text[:80]!r}{'…' if len(text) > 80 else ''}) is not a short final answer "
                "(a worked solution, code or long text): no stated final answer is compared with it. Self-consistency "
                "and rollouts use the paths' majority answer instead; put the final answer alone in the reference "
                "to have it checked.")
    if kind == "as text":
        return (f"The answer checker cannot read the reference answer {text!r} as a number or formula: final answers "
                "are compared with it as text (case and articles aside).")
    return None


CONCLUSION = re.compile(r"^\W*(?:therefore|thus|hence|so|finally|altogether|overall|in total|in all)\b", re.IGNORECASE)
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def concluded_answer(step: str) -> str | None:
    """The number a step's closing sentence concludes with, when that sentence opens with a conclusion word
    ('Therefore', 'Thus', 'So', 'In total'...) and states exactly one number ("Therefore, the rope is 20
    centimeters." -> '20'; "So she keeps 12 of the 15." -> None), written plainly (units dropped, as answers are
    compared); else None. Real model solutions often end so instead of with 'Answer: ...'."""
    from workbench.verify.answer_equivalence import read_numbers

    sentence = SENTENCE_BREAK.split(step.strip())[-1]
    numbers = read_numbers(sentence) if CONCLUSION.match(sentence) else None
    if numbers is None or len({(m.value, m.percent) for m in numbers.members}) != 1:
        return None
    value, percent = numbers.members[0].value, numbers.members[0].percent
    value = value * 100 if percent else value  # a percentage is held as its share: 25% is 1/4
    written = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return written + ("%" if percent else "")


def stated_answer(steps: Sequence[str]) -> tuple[int, str | None]:
    """(index of the step stating the path's final answer, that answer); (last index, None) when none does. The
    last step's concluding sentence counts when no step states its answer in a known form (`concluded_answer`)."""
    for index in range(len(steps) - 1, -1, -1):
        answer = extract_answer(steps[index])
        if answer:
            return index, answer
    return len(steps) - 1, concluded_answer(steps[-1]) if steps else None


@dataclass
class AnswerCluster:
    """Equivalent final answers: the form first stated, and the indices of the paths stating it."""

    answer: str
    members: list[int] = field(default_factory=list)


@dataclass
class Vote:
    """The final answers of a task's paths, grouped: clusters largest first (ties: first stated first)."""

    answers: list[str | None]
    clusters: list[AnswerCluster]

    @property
    def voters(self) -> int:
        """Every path counts, also one that states no answer (it agrees with nobody)."""
        return len(self.answers)

    @property
    def stated(self) -> int:
        return sum(a is not None for a in self.answers)

    @property
    def tied(self) -> bool:
        return len(self.clusters) > 1 and len(self.clusters[1].members) == len(self.clusters[0].members)

    @property
    def majority(self) -> AnswerCluster | None:
        """The plurality answer if at least MIN_AGREEING paths state it and no other answer ties with it."""
        if not self.clusters or self.tied or len(self.clusters[0].members) < MIN_AGREEING:
            return None
        return self.clusters[0]

    def cluster_of(self, index: int) -> AnswerCluster | None:
        return next((c for c in self.clusters if index in c.members), None)

    @property
    def margin(self) -> float:
        """The plurality answer's lead over the runner-up, as a share of all paths (0 with no answer or a tie)."""
        if not self.clusters or not self.voters:
            return 0.0
        runner_up = len(self.clusters[1].members) if len(self.clusters) > 1 else 0
        return (len(self.clusters[0].members) - runner_up) / self.voters

    def share(self, index: int) -> float:
        """Share of all paths whose final answer agrees with path `index` (0 when it states none)."""
        cluster = self.cluster_of(index)
        return len(cluster.members) / self.voters if cluster and self.voters else 0.0

    def no_majority_reason(self) -> str:
        if not self.stated:
            return f"none of the {plural(self.voters, 'path')} states a final answer"
        size = len(self.clusters[0].members)
        if size < MIN_AGREEING:
            return f"no two of the {plural(self.voters, 'path')} agree on a final answer"
        tied = [repr(c.answer) for c in self.clusters if len(c.members) == size]
        listed = f"{', '.join(tied[:-1])} and {tied[-1]}"
        return f"no majority: {listed} tie with {size} of {self.voters} paths each"


def vote(answers: Sequence[str | None]) -> Vote:
    """Group final answers (None: the path states none) into clusters of equivalent answers."""
    clusters: list[AnswerCluster] = []
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        home = next((c for c in clusters if same_answer(c.answer, answer)), None)
        if home is None:
            clusters.append(AnswerCluster(answer, [index]))
        else:
            home.members.append(index)
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return Vote(list(answers), clusters)


@dataclass
class Target:
    """What a path's final answer is checked against: the task's reference or the paths' pseudo-reference."""

    answer: str
    kind: str  # REFERENCE or PSEUDO_REFERENCE
    votes: int = 0
    voters: int = 0
    margin: float = 1.0  # a pseudo-reference's lead over the runner-up, as a share of all paths

    def describe(self) -> str:
        if self.kind == REFERENCE:
            return f"the reference answer {self.answer!r}"
        return (f"the pseudo-reference {self.answer!r} (majority of {self.votes}/{self.voters} paths, margin "
                f"{self.margin:.2f}, self-consistency)")

    def params(self) -> dict:
        """What a verdict against this target records of it: the answer, its kind and, for a pseudo-reference, the
        majority's margin (what the gate compares with its setting)."""
        found = {"target": self.answer, "target_kind": self.kind}
        return found | ({"margin": self.margin} if self.kind == PSEUDO_REFERENCE else {})


def task_target(task: Task, paths_vote: Vote | None) -> Target | None:
    """The task's comparable reference answer, else the vote's majority as a pseudo-reference, else None."""
    if comparable_reference(task.reference_answer):
        return Target(str(task.reference_answer).strip(), REFERENCE)
    majority = paths_vote.majority if paths_vote is not None else None
    if majority is None:
        return None
    return Target(majority.answer, PSEUDO_REFERENCE, len(majority.members), paths_vote.voters, paths_vote.margin)


def no_target_reason(task: Task, paths_vote: Vote | None) -> str:
    """Why task_target found nothing to check against (for rationales)."""
    reference = (task.reference_answer or "").strip()
    parts = [f"the reference answer {reference[:60]!r} cannot be compared with a final answer" if reference
             else "no reference answer"]
    parts.append("no other paths to vote with" if paths_vote is None or paths_vote.voters < 2
                 else paths_vote.no_majority_reason())
    return "; ".join(parts)


@dataclass
class PathContext:
    """What a verifier may know beyond one path's steps: the vote of the task's paths, this path's place
    in it, and a key per step under which its rollouts are kept (step ids in the store)."""

    vote: Vote
    index: int
    step_keys: list[Hashable] | None = None


def single_path_context(steps: Sequence[str], step_keys: list[Hashable] | None = None) -> PathContext:
    """The context of a path scored alone (no other paths): a vote of one."""
    return PathContext(vote([stated_answer(steps)[1] if steps else None]), 0, step_keys)


class ConsistencyVerifier:
    """Scores a path's final answer by agreement with the task's other paths, or with its reference answer."""

    name = "consistency"

    def __init__(self, mode: str = DEFAULT_MODE) -> None:
        if mode not in MODES:
            raise VerifierError(f"self-consistency mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode

    async def score_in_context(self, task: Task, steps: Sequence[str], context: PathContext) -> list[StepScore]:
        if not steps:
            return []
        index, answer = stated_answer(steps)
        scores = [unverifiable("self-consistency scores only the final answer") for _ in steps]
        scores[index] = self._final(task, answer, context)
        return scores

    def _final(self, task: Task, answer: str | None, context: PathContext) -> StepScore:
        paths_vote = context.vote
        target = task_target(task, paths_vote)
        params = {"mode": self.mode, "voters": paths_vote.voters, "answer": answer}
        if target is not None:
            params.update(target.params())
        if answer is None:
            if target is None and not paths_vote.stated:
                return unverifiable(f"no final answer, and {no_target_reason(task, paths_vote)}", params=params)
            return StepScore(0.0, INCORRECT, "no final answer: the path never states one ('Answer: ...')", params=params,
                             checks=OUTCOME)
        if target is not None and target.kind == REFERENCE:
            matches = same_answer(target.answer, answer)
            return StepScore(1.0 if matches else 0.0, CORRECT if matches else INCORRECT,
                             f"final answer {answer!r} {'matches' if matches else 'does not match'} {target.describe()} "
                             "(checked against the reference; no vote)", params=params, checks=OUTCOME)
        if paths_vote.voters < 2:
            return unverifiable(f"final answer {answer!r}: {no_target_reason(task, paths_vote)}", params=params)
        agreeing = len(paths_vote.cluster_of(context.index).members)
        share = agreeing / paths_vote.voters
        params.update(agreeing=agreeing, share=share)
        said = f"{agreeing} of {paths_vote.voters} paths state the final answer {answer!r}"
        if self.mode == "share":
            where = f"; {target.describe()}" if target is not None else f"; {paths_vote.no_majority_reason()}"
            return verdict(share, f"{said} (share {share:.2f}){where}", params=params, checks=OUTCOME)
        if target is None:
            return unverifiable(f"{said}; {paths_vote.no_majority_reason()}", params=params)
        agrees = paths_vote.cluster_of(context.index) is paths_vote.majority
        return StepScore(1.0 if agrees else 0.0, CORRECT if agrees else INCORRECT,
                         f"{said}; it {'is' if agrees else 'is not'} {target.describe()}", params=params, checks=OUTCOME)

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        """One path alone: checked against the task's reference; with no reference there is nothing to vote with."""
        return await self.score_in_context(task, steps, single_path_context(steps))
