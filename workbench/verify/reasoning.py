"""Reasoning paths: step segmentation, path scores, best-of-N and the gate.

A task (a seed or a sample) gets N sampled paths. Each path is split into steps; verifiers score every step,
and every verdict says what it vouches for (`checks`: the outcome, the step's logic, or evidence such as
arithmetic that holds; see workbench.verify.verifiers.base). A step's effective score is a person's overrule when
there is one, else the strictest verdict among those that count (an `unverifiable` verdict abstains; with no
verdict at all the step stays neutral at 0.5). What counts is set by the gate settings:

- a verdict measured against a pseudo-reference (the paths' own majority answer) counts only where that majority
  leads the runner-up by the margin (`margin`, a share of all paths);
- under the step rule `consensus` (Zhang et al. 2025, "The Lessons of Developing Process Reward Models in
  Mathematical Reasoning"), Monte-Carlo rollouts and the judge count on a step only where they agree (both at or
  above the threshold, or both under it); where they disagree, neither counts, and the step is a dispute to send
  to human labelling (`disputed_steps`).

The gate decides each path (`path_gate`): it FAILS when a counted verdict on some step is under the threshold
(a step found wrong; a person's "incorrect" overrule too) or when it states no final answer; it PASSES when its
outcome is verified (an outcome verdict that holds: the reference answer, the tests, a self-consistency majority
at the margin, or a person's "correct" on the answer step), no step was found wrong and no step is in dispute;
otherwise it is UNVERIFIED: rollouts and the judge disagree on a step, a check doubts a step of a path whose outcome
holds (a verdict whose params carry a `doubt`: workbench.verify.verifiers.grounding), only a majority under the
margin checked its outcome, or nothing did.
Arithmetic that holds is evidence: it never passes a path by itself.

Paths are ranked passed before unverified before failed and, within a status, by the selection rule: a path
score that aggregates its steps (min, product, last or mean), or the verifier-weighted vote (`vote`,
workbench.verify.weighted_vote). The task's status is its best path's, with the reason in words (`gate_reason`)
and as a kind and a decider (`GateFailure`) that group alike tasks.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from workbench.store import Store
from workbench.verify.verifiers.base import CORRECT, NEUTRAL_SCORE, OUTCOME, UNVERIFIABLE, Task

DEFAULT_N = 8
MAX_N = 64
DEFAULT_TEMPERATURE = 0.8
PATH_AGGREGATIONS = ("min", "product", "last", "mean")
VOTE = "vote"
AGGREGATIONS = (*PATH_AGGREGATIONS, VOTE)
DEFAULT_AGGREGATION = "min"
DEFAULT_THRESHOLD = 1.0
DEFAULT_MARGIN = 0.5
STRICTEST, CONSENSUS = "strictest", "consensus"
STEP_RULES = (STRICTEST, CONSENSUS)
CONSENSUS_VERIFIERS = ("rollout", "judge")
SETTINGS_KEY = "verification"
OVERRULE_SCORES = {"correct": 1.0, "incorrect": 0.0, "neutral": NEUTRAL_SCORE}
# a loose end's factor in the verifier-weighted vote (workbench.verify.grounding.loose_ends): a tie-break among paths
# no check tells apart, light beside a doubt's 0.5 (on the GPT-3 solutions, 0.8 and 0.9 select alike)
HINT_WEIGHT = 0.9
LOW_CONFIDENCE = (0.25, 0.75)
TASK_TYPES = ("seed", "sample")
NOBODY = "nobody"
REASON_CHARS = 240
PASSED, UNVERIFIED, FAILED = "passed", "unverified", "failed"
STATUSES = (PASSED, UNVERIFIED, FAILED)
PSEUDO_REFERENCE = "pseudo-reference"  # consistency.PSEUDO_REFERENCE, the target kind a verdict's params name


# ---------------------------------------------------------------- settings


@dataclass
class VerificationSettings:
    """The gate's rule: how paths are ranked (`aggregation`: a path score over steps, or the verifier-weighted
    vote), the score under which a counted verdict finds a step wrong (`threshold`), the lead a self-consistency
    majority needs over the runner-up, as a share of all paths, to verify an outcome (`margin`), and which
    verdicts count on a step (`step_rule`: the strictest of all, or rollouts and the judge only in consensus)."""

    aggregation: str = DEFAULT_AGGREGATION
    threshold: float = DEFAULT_THRESHOLD
    margin: float = DEFAULT_MARGIN
    step_rule: str = STRICTEST

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, not {self.aggregation!r}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"the gate threshold must lie in [0, 1], not {self.threshold}")
        if not 0.0 <= float(self.margin) <= 1.0:
            raise ValueError(f"the self-consistency margin must lie in [0, 1], not {self.margin}")
        if self.step_rule not in STEP_RULES:
            raise ValueError(f"the step rule must be one of {', '.join(STEP_RULES)}, not {self.step_rule!r}")
        self.threshold = float(self.threshold)
        self.margin = float(self.margin)


SETTING_NAMES = ("aggregation", "threshold", "margin", "step_rule")


def verification_settings(store: Store, overrides: dict | None = None) -> VerificationSettings:
    """The saved gate settings (the defaults where none are saved), with the non-None overrides applied."""
    saved = store.settings.get_setting(SETTINGS_KEY) or {}
    values = {**saved, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return VerificationSettings(**{k: values[k] for k in SETTING_NAMES if k in values})


def save_verification_settings(store: Store, settings: VerificationSettings) -> int:
    """Save the gate settings and decide every task again under them; returns how many tasks were decided."""
    store.settings.set_setting(SETTINGS_KEY, asdict(settings))
    return refresh_all_tasks(store, settings)


# ---------------------------------------------------------------- tasks and prompts


def load_task(store: Store, task_type: str, task_id: int) -> Task:
    """The problem, input, reference answer and solution, and tests of a seed or sample (a sample inherits its
    seed's reference and tests only when it asks the seed's own question, input included)."""
    if task_type == "seed":
        seed = store.seeds.get_seed(task_id)
        if seed is None:
            raise LookupError(f"seed {task_id} does not exist")
        return Task(seed["instruction"], seed["reference_answer"], seed["tests"], seed["domain"], seed["input"],
                    seed["reference_solution"])
    if task_type == "sample":
        sample = store.samples.get_sample(task_id)
        if sample is None:
            raise LookupError(f"sample {task_id} does not exist")
        seed = store.seeds.get_seed(sample["seed_id"]) if sample.get("seed_id") else None
        if seed is not None and seed["text_hash"] == sample["text_hash"]:
            return Task(sample["instruction"], seed["reference_answer"], seed["tests"], seed["domain"], sample["input"],
                        seed["reference_solution"])
        return Task(sample["instruction"], None, None, seed["domain"] if seed else None, sample["input"])
    raise ValueError(f"task type must be one of {', '.join(TASK_TYPES)}, not {task_type!r}")


# ---------------------------------------------------------------- step segmentation

FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
STEP_MARK = re.compile(r"^[ \t]*(?:[*#>]+[ \t]*)?step[ \t]*\d+[ \t]*(?:\*+)?[ \t]*[:.)\-]?[ \t]*(?:\*+[ \t]*)?",
                       re.IGNORECASE | re.MULTILINE)
NUMBERED = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]+", re.MULTILINE)
ANSWER_LINE = re.compile(r"^[ \t]*(?:[*#]+[ \t]*)?(?:the[ \t]+)?(?:final[ \t]+)?answer[ \t]*(?:is|:|=)",
                         re.IGNORECASE | re.MULTILINE)
LINE_END = re.compile(r"\r\n?")
BOLD_CLOSE = re.compile(r"^([^*\n]*)\*\*[ \t]*(?=\n|$)")  # the rest of a "**Step 1: Add**" header
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$(\"'\d])|[ \t]*\n\s*(?=[A-Z])")  # or a line that opens a sentence


def split_steps(text: str) -> list[str]:
    """Steps of a path: 'Step k' markers, else numbered lines, else blank-line paragraphs, else sentences (and lines
    that open one: GSM8K's one calculation a line, "A: 18" last).

    Code fences are never split, labels ('Step 2:', '3.', '**Step 1: Add**') are removed, and a closing
    'Answer: ...' line becomes its own step. Windows (\r\n) and old Mac (\r) line ends read as \n.
    """
    fences: list[str] = []

    def protect(match: re.Match) -> str:
        fences.append(match.group(0))
        return f"\x00{len(fences) - 1}\x00"

    protected = FENCE.sub(protect, LINE_END.sub("\n", text).strip())
    for marker in (STEP_MARK, NUMBERED):
        starts = [m.start() for m in marker.finditer(protected)]
        if len(starts) >= (1 if marker is STEP_MARK else 2):
            starts += [m.start() for m in ANSWER_LINE.finditer(protected) if m.start() > starts[0]]
            pieces = _cut(protected, sorted({0, *starts}))
            pieces = [BOLD_CLOSE.sub(r"\1", marker.sub("", piece, count=1), count=1) for piece in pieces]
            break
    else:
        pieces = _cut(protected, sorted({0, *(m.start() for m in ANSWER_LINE.finditer(protected))}))
        paragraphs = [p for piece in pieces for p in re.split(r"\n[ \t]*\n", piece)]
        if len([p for p in paragraphs if p.strip()]) >= 2:
            pieces = paragraphs
        else:
            pieces = [s for piece in pieces for s in SENTENCE_END.split(piece)]
    restored = [re.sub(r"\x00(\d+)\x00", lambda m: fences[int(m.group(1))], p).strip() for p in pieces]
    return [p for p in restored if p]


def _cut(text: str, starts: list[int]) -> list[str]:
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def final_answer(steps: list[str]) -> str | None:
    """The answer the path states last ('Answer: 54', '\\boxed{54}', '#### 54'), or None."""
    from workbench.verify.verifiers.consistency import stated_answer

    return stated_answer(steps)[1]


# ---------------------------------------------------------------- step scores


def step_score(verdicts: dict[str, dict], overrule: dict | None = None) -> float:
    """A step's effective score: the overrule if any, else the lowest verdict of the verifiers that gave one."""
    if overrule is not None:
        return OVERRULE_SCORES[overrule["label"]]
    given = [v["score"] for v in verdicts.values() if v["label"] != UNVERIFIABLE]
    return min(given) if given else NEUTRAL_SCORE


def decided_by(verdicts: dict[str, dict], overrule: dict | None = None) -> str:
    """Who set a step's effective score: 'overrule (ada)', the verifier with the strictest verdict
    ('arithmetic'; 'arithmetic, rollout' when they tie), or 'nobody' when every verifier abstained."""
    if overrule is not None:
        return f"overrule ({overrule.get('reviewer') or 'a person'})"
    given = {name: v["score"] for name, v in verdicts.items() if v["label"] != UNVERIFIABLE}
    if not given:
        return NOBODY
    lowest = min(given.values())
    return ", ".join(sorted(name for name, score in given.items() if score == lowest))


def step_decided_by(step: dict, settings: VerificationSettings) -> str:
    """Who decided a step, as the gate counts its verdicts (`counted_verdicts`; see `decided_by`): the one attribution
    pages, CLI output and exported lineage give a step."""
    return decided_by(counted_verdicts(step["scores"], settings), step["overrule"])


def path_name(path: dict) -> str:
    """A path as every page, command and exported lineage names it: 'path 2 · job 7' (its number among the paths its
    reasoning job sampled for the task, and that job), or 'path 2' for a path no job sampled (an imported one)."""
    number = f"path {path['path_index'] + 1}"
    return f"{number} · job {path['job_id']}" if path.get("job_id") is not None else number


def disagrees(verdicts: dict[str, dict]) -> bool:
    """True when one verifier calls the step correct and another incorrect."""
    given = [v["score"] for v in verdicts.values() if v["label"] != UNVERIFIABLE]
    return bool(given) and min(given) < 0.5 <= max(given)


def consensus_dispute(verdicts: dict[str, dict], threshold: float) -> bool:
    """True when Monte-Carlo rollouts and the judge both judged the step and one finds it wrong (under the
    threshold) while the other does not: a step consensus filtering leaves to a person."""
    pair = [verdicts.get(name) for name in CONSENSUS_VERIFIERS]
    if any(v is None or v["label"] == UNVERIFIABLE for v in pair):
        return False
    return len({v["score"] < threshold - 1e-9 for v in pair}) == 2


def disputed_steps(path: dict, threshold: float) -> int:
    """Steps of a path (with no overrule) on which rollouts and the judge disagree (`consensus_dispute`)."""
    return sum(s["overrule"] is None and consensus_dispute(s["scores"], threshold) for s in path["steps"])


def _set_aside(verdict: dict, why: str, note: str) -> dict:
    return {**verdict, "label": UNVERIFIABLE, "score": NEUTRAL_SCORE, "set_aside": why,
            "rationale": f"not counted: {note} ({verdict.get('rationale') or 'no rationale'})"}


def counted_verdicts(verdicts: dict[str, dict], settings: VerificationSettings) -> dict[str, dict]:
    """A step's verdicts as the gate counts them: one measured against a pseudo-reference whose margin is under
    `settings.margin` is set aside, and under the consensus step rule so are rollouts and the judge where they
    disagree. A verdict set aside becomes an abstention whose `set_aside` says why ('margin' or 'disputed')."""
    counted = {}
    for name, verdict in verdicts.items():
        params = verdict.get("params") or {}
        margin = params.get("margin")
        if (verdict["label"] != UNVERIFIABLE and params.get("target_kind") == PSEUDO_REFERENCE and margin is not None
                and margin < settings.margin - 1e-9):
            verdict = _set_aside(verdict, "margin", f"the paths' majority leads by {margin:.2f} of the paths, under "
                                                    f"the margin {settings.margin:.2f}")
        counted[name] = verdict
    if settings.step_rule == CONSENSUS and consensus_dispute(counted, settings.threshold):
        for name in CONSENSUS_VERIFIERS:
            counted[name] = _set_aside(counted[name], "disputed", "rollouts and the judge disagree on this step "
                                                                  "(consensus filtering)")
    return counted


def effective_score(step: dict, settings: VerificationSettings) -> float:
    """The step's score as the gate sees it: its overrule, else the strictest counted verdict, else neutral 0.5."""
    return step_score(counted_verdicts(step["scores"], settings), step["overrule"])


def judged_score(step: dict, settings: VerificationSettings) -> float | None:
    """The step's effective score when someone judged it (a counted verdict, or a correct/incorrect overrule), else
    None: what a verifier-weighted vote multiplies. A step a check doubts (and no person judged) scores at most the
    neutral 0.5, a coin flip, and each of its loose ends (params `hint`) multiplies it by HINT_WEIGHT."""
    overrule = step["overrule"]
    if overrule is not None:
        return None if overrule["label"] == "neutral" else OVERRULE_SCORES[overrule["label"]]
    counted = counted_verdicts(step["scores"], settings)
    score = None if decided_by(counted) == NOBODY else step_score(counted)
    if doubted_by(counted):
        score = min(NEUTRAL_SCORE, 1.0 if score is None else score)
    hints = sum(len((v.get("params") or {}).get("hint") or ()) for v in counted.values())
    return (1.0 if score is None else score) * HINT_WEIGHT ** hints if hints else score


def aggregate(scores: list[float], rule: str = DEFAULT_AGGREGATION) -> float:
    """A path score from its step scores (min, product, last or mean); a path with no steps scores 0. Raises
    ValueError for another rule (the vote ranks paths against each other: see evaluate_task)."""
    if not scores:
        return 0.0
    if rule == "min":
        return min(scores)
    if rule == "product":
        return math.prod(scores)
    if rule == "last":
        return scores[-1]
    if rule == "mean":
        return sum(scores) / len(scores)
    raise ValueError(f"a path score aggregates by one of {', '.join(PATH_AGGREGATIONS)}, not {rule!r}")


def low_confidence(score: float) -> bool:
    """Nobody is sure: the effective score lies in the middle band (neutral steps included)."""
    return LOW_CONFIDENCE[0] <= score <= LOW_CONFIDENCE[1]


# ---------------------------------------------------------------- the gate on one path

# Why a task is not passed, from its best path (the step `gate_reason` names), as short labels.
GATE_FAILURES = {
    "wrong": "a step judged wrong",
    "below": "a step scored under the threshold",
    "overruled": "a step a person overruled as wrong",
    "no_answer": "no final answer",
    "no_steps": "no path with steps to check",
    "unchecked": "nothing checked the final answer (no reference answer, tests or self-consistency majority)",
    "weak_majority": "the paths' majority answer leads by less than the margin",
    "disputed": "rollouts and the judge disagree on a step (consensus filtering)",
    "doubted": "a check doubts a step although the final answer holds (a heuristic)",
}
UNVERIFIED_KINDS = ("unchecked", "weak_majority", "disputed", "doubted")


@dataclass(frozen=True)
class GateFailure:
    """Why a task is not passed, in two parts that group alike tasks: `kind` (a key of GATE_FAILURES; its `status`
    is unverified for UNVERIFIED_KINDS, else failed) and who decided it (`decided_by` as `decided_by()` says it:
    'rollout', 'overrule (ana)', 'nobody'; empty where nobody did)."""

    kind: str
    decided_by: str = ""

    @property
    def status(self) -> str:
        return UNVERIFIED if self.kind in UNVERIFIED_KINDS else FAILED

    @property
    def label(self) -> str:
        """'a step judged wrong, decided by consistency'; 'no path with steps to check'."""
        label = GATE_FAILURES[self.kind]
        return f"{label}, decided by {self.decided_by}" if self.decided_by and self.decided_by != NOBODY else label


@dataclass(frozen=True)
class PathGate:
    """The gate's decision on one path: its status, the kind of reason ('' when passed), the step the reason is
    about (the weakest wrong step, the answer step...) and who decided it (for a pass: who verified the outcome)."""

    status: str
    kind: str = ""
    step: dict | None = None
    decided_by: str = ""


def _about_missing_answer(verdict: dict) -> bool:
    """A verdict that only says the path states no final answer (its params name the answer, and it is None)."""
    params = verdict.get("params") or {}
    return "answer" in params and params["answer"] is None


def doubted_by(verdicts: dict[str, dict]) -> str:
    """Who doubts a step among its (counted) verdicts: the names of the verifiers whose params carry a `doubt`
    ('grounding'), '' when none does."""
    return ", ".join(sorted(name for name, v in verdicts.items() if (v.get("params") or {}).get("doubt")))


def _answer_index(path: dict) -> tuple[int, str | None]:
    from workbench.verify.verifiers.consistency import stated_answer

    index, answer = stated_answer([s["text"] for s in path["steps"]])
    return index, answer or path.get("final_answer")


@dataclass
class _Findings:
    """What the verdicts on a path's steps found, under the gate settings."""

    answer_index: int
    answer: str | None
    wrong: list[tuple[float, dict, str]] = field(default_factory=list)  # (score, step, kind), in step order
    outcome: set[str] = field(default_factory=set)  # who verified the outcome
    missing: bool = False  # a verifier says the path states no final answer
    weak: set[str] = field(default_factory=set)  # outcome verdicts set aside: majority under the margin
    disputed: list[dict] = field(default_factory=list)
    doubted: list[tuple[dict, str]] = field(default_factory=list)  # (step, who doubts it): a check's doubt


def _findings(path: dict, settings: VerificationSettings) -> _Findings:
    steps = path["steps"]
    found = _Findings(*_answer_index(path))
    for step in steps:
        overrule = step["overrule"]
        if overrule is not None:
            if overrule["label"] == "incorrect":
                found.wrong.append((0.0, step, "overruled"))
            elif overrule["label"] == "correct" and step["idx"] == steps[found.answer_index]["idx"]:
                found.outcome.add(decided_by({}, overrule))
            continue
        counted = counted_verdicts(step["scores"], settings)
        given = {name: v for name, v in counted.items() if v["label"] != UNVERIFIABLE}
        found.weak |= {name for name, v in counted.items() if v.get("set_aside") == "margin"}
        if any(v.get("set_aside") == "disputed" for v in counted.values()):
            found.disputed.append(step)
        if doubters := doubted_by(counted):
            found.doubted.append((step, doubters))
        found.missing |= any(_about_missing_answer(v) for v in given.values())
        flagged = [v["score"] for v in given.values() if v["score"] < settings.threshold - 1e-9
                   and not (found.answer is None and _about_missing_answer(v))]
        if flagged:
            found.wrong.append((min(flagged), step, "wrong" if min(flagged) < 0.5 else "below"))
        found.outcome |= {name for name, v in given.items() if v.get("checks") == OUTCOME
                          and v["label"] == CORRECT and v["score"] >= settings.threshold - 1e-9}
    return found


def first_wrong_step(path: dict, settings: VerificationSettings) -> int:
    """The index of the earliest step the gate finds wrong (a counted verdict under the threshold, or a person's
    'incorrect'), or -1: ProcessBench's prediction of the earliest error."""
    wrong = _findings(path, settings).wrong if path["steps"] else []
    return min((step["idx"] for _, step, _ in wrong), default=-1)


def path_gate(path: dict, settings: VerificationSettings) -> PathGate:
    """Decide one path (steps as store.verify.reasoning_paths_nested nests them): failed, passed or unverified (see the
    module docstring for the rule, and GATE_FAILURES for the kinds)."""
    steps = path["steps"]
    if not steps:
        return PathGate(FAILED, "no_steps")
    found = _findings(path, settings)
    answer_step = steps[found.answer_index]
    if found.wrong:
        _, step, kind = min(found.wrong, key=lambda wrong: wrong[0])  # the weakest; the first of equals
        return PathGate(FAILED, kind, step, step_decided_by(step, settings))
    if found.answer is None and (found.missing or not found.outcome):  # what passes tests needs no stated answer
        return PathGate(FAILED, "no_answer", answer_step, "")
    if found.disputed:
        return PathGate(UNVERIFIED, "disputed", found.disputed[0], ", ".join(CONSENSUS_VERIFIERS))
    if found.outcome and found.doubted:
        return PathGate(UNVERIFIED, "doubted", *found.doubted[0])
    if found.outcome:
        return PathGate(PASSED, "", answer_step, ", ".join(sorted(found.outcome)))
    if found.weak:
        return PathGate(UNVERIFIED, "weak_majority", answer_step, ", ".join(sorted(found.weak)))
    return PathGate(UNVERIFIED, "unchecked", answer_step, NOBODY)


# ---------------------------------------------------------------- best-of-N and the task's verdict

STATUS_RANK = {FAILED: 0, UNVERIFIED: 1, PASSED: 2}


def path_ranks(path_scores: dict[int, float], statuses: dict[int, str] | None = None,
               tiebreak: dict[int, tuple[float, ...]] | None = None) -> dict[int, tuple]:
    """Each path's rank key: its status (passed before unverified before failed, when `statuses` are given), then
    its score, then its tiebreak (higher first, compared in order)."""
    return {i: (STATUS_RANK[statuses[i]] if statuses else 0, score, (tiebreak or {}).get(i, ()))
            for i, score in path_scores.items()}


def best_of_n(path_scores: dict[int, float], statuses: dict[int, str] | None = None,
              tiebreak: dict[int, tuple[float, ...]] | None = None) -> int | None:
    """The id of the best path by `path_ranks`; the first one, in the given order, among equals. None when there are
    no paths."""
    ranks = path_ranks(path_scores, statuses, tiebreak)
    return max(ranks, key=ranks.__getitem__) if ranks else None


@dataclass
class TaskVerdict:
    """The gate's decision on one task: each path's score under the selection rule, its best path and that path's
    status (passed, unverified or failed: `status`; `passed` is status == passed), why in words (`reason`) and, when
    not passed, as a `GateFailure`; the settings it was decided under; how many steps rollouts and the judge
    disagree on (`disputes`); and the paths that rank equal with the best (`tied_best`, the best among them)."""

    path_scores: dict[int, float]
    best_path_id: int | None
    best_score: float | None
    passed: bool
    aggregation: str
    threshold: float
    reason: str = ""
    failure: GateFailure | None = None
    status: str = FAILED
    margin: float = DEFAULT_MARGIN
    step_rule: str = STRICTEST
    path_status: dict[int, str] = field(default_factory=dict)
    disputes: int = 0
    tied_best: list[int] = field(default_factory=list)

    @property
    def settings(self) -> VerificationSettings:
        return VerificationSettings(self.aggregation, self.threshold, self.margin, self.step_rule)


def _short(text: str | None, limit: int = REASON_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def step_explanation(step: dict, settings: VerificationSettings | None = None) -> str:
    """One step's effective score in words: its score, who decided it and why (verdicts counted under `settings`
    when given)."""
    verdicts = counted_verdicts(step["scores"], settings) if settings else step["scores"]
    score = step_score(verdicts, step["overrule"])
    who = decided_by(verdicts, step["overrule"])
    if step["overrule"] is not None:
        why = step["overrule"].get("reason")
    elif who == NOBODY:
        abstained = "; ".join(f"{name}: {_short(v.get('rationale'), REASON_CHARS // 2)}"
                              for name, v in sorted(verdicts.items()) if v.get("rationale"))
        return f"step {step['idx'] + 1} is unverified: no verifier could check it" + (
            f" ({abstained})" if abstained else "")
    else:
        why = verdicts[who.split(", ")[0]].get("rationale")
    return f"step {step['idx'] + 1} scores {score:.2f}, decided by {who}: {_short(why)}"


def _best_path(paths: list[dict], verdict: TaskVerdict) -> dict | None:
    return next((p for p in paths if p["id"] == verdict.best_path_id), None)


def selection_rule(settings: VerificationSettings) -> str:
    """What a path score is under the settings, in words: 'min over steps', 'share of the verifier-weighted vote'."""
    return "share of the verifier-weighted vote" if settings.aggregation == VOTE else f"{settings.aggregation} over steps"


def gate_reason(paths: list[dict], verdict: TaskVerdict) -> str:
    """Why the task passes, is unverified or fails, in words: its best path's status and what decided it (who
    verified the outcome; the weakest step found wrong; or why nothing verified the outcome), with the rationale."""
    best = _best_path(paths, verdict)
    if best is None:
        return "no reasoning paths"
    if not best["steps"]:
        return f"the best path ({path_name(best)}) has no steps"
    settings = verdict.settings
    gate = path_gate(best, settings)
    head = f"best path ({path_name(best)}, score {verdict.best_score:.2f}: {selection_rule(settings)})"
    step = gate.step
    if gate.status == PASSED:
        ruling = counted_verdicts(step["scores"], settings)
        why = "; ".join(f"{name}: {_short(ruling[name].get('rationale'), REASON_CHARS // 2)}"
                        for name in gate.decided_by.split(", ") if name in ruling)
        return (f"{head} passes: its outcome is verified by {gate.decided_by}" + (f" ({why})" if why else "")
                + " and no verifier found a step wrong")
    if gate.kind in ("wrong", "below", "overruled"):
        return f"{head} fails at the threshold {verdict.threshold:g}: {step_explanation(step, settings)}"
    if gate.kind == "no_answer":
        return f"{head} fails: it states no final answer (step {step['idx'] + 1} is its last)"
    if gate.kind == "disputed":
        return f"{head} is unverified: {GATE_FAILURES['disputed']}: step {step['idx'] + 1}; label it by hand"
    if gate.kind == "doubted":
        why = "; ".join(_short(step["scores"][name].get("rationale"), REASON_CHARS) for name in gate.decided_by.split(", "))
        return f"{head} is unverified: its final answer holds, but {gate.decided_by} doubts step {step['idx'] + 1}: {why}"
    if gate.kind == "weak_majority":
        ruling = counted_verdicts(step["scores"], settings)
        set_aside = next((v for v in ruling.values() if v.get("set_aside") == "margin"), {})
        return f"{head} is unverified: {_short(set_aside.get('rationale'), REASON_CHARS * 2)}"
    return (f"{head} is unverified: {GATE_FAILURES['unchecked']}; no step was found wrong: "
            f"{step_explanation(step, settings)}")


def gate_failure(paths: list[dict], verdict: TaskVerdict) -> GateFailure | None:
    """The failure `gate_reason` describes, as a kind and a decider (None when the task passes)."""
    if verdict.passed:
        return None
    best = _best_path(paths, verdict)
    if best is None:
        return GateFailure("no_steps")
    gate = path_gate(best, verdict.settings)
    return GateFailure(gate.kind, gate.decided_by)


def evaluate_task(paths: list[dict], settings: VerificationSettings) -> TaskVerdict:
    """Decide every path (as nested by store.verify.reasoning_paths_nested), rank them, and give the task its best path's
    status, reason and failure."""
    from workbench.verify.weighted_vote import vote_shares, vote_tiebreak

    statuses = {path["id"]: path_gate(path, settings).status for path in paths}
    tiebreak = None
    if settings.aggregation == VOTE:
        tiebreak = {path["id"]: vote_tiebreak([judged_score(s, settings) for s in path["steps"]]) if path["steps"]
                    else (0.0, 0) for path in paths}
        shares = vote_shares([_answer_index(p)[1] if p["steps"] else None for p in paths], [w for w, _ in tiebreak.values()])
        path_scores = {path["id"]: share for path, share in zip(paths, shares, strict=True)}
    else:
        path_scores = {path["id"]: aggregate([effective_score(s, settings) for s in path["steps"]], settings.aggregation)
                       for path in paths}
    ranks = path_ranks(path_scores, statuses, tiebreak)
    best = best_of_n(path_scores, statuses, tiebreak)
    status = statuses[best] if best is not None else FAILED
    verdict = TaskVerdict(path_scores, best, path_scores[best] if best is not None else None, status == PASSED,
                          settings.aggregation, settings.threshold, status=status, margin=settings.margin,
                          step_rule=settings.step_rule, path_status=statuses,
                          disputes=sum(disputed_steps(path, settings.threshold) for path in paths),
                          tied_best=[i for i in ranks if best is not None and ranks[i] == ranks[best]])
    verdict.reason = gate_reason(paths, verdict)
    verdict.failure = gate_failure(paths, verdict)
    return verdict


# ---------------------------------------------------------------- stored decisions


def _stored(task_type: str, task_id: int, verdict: TaskVerdict) -> dict:
    failure = verdict.failure or GateFailure("")
    return {"task_type": task_type, "task_id": task_id, "status": verdict.status, "kind": failure.kind,
            "decided_by": failure.decided_by, "reason": verdict.reason, "best_path_id": verdict.best_path_id,
            "disputes": verdict.disputes}


def _write_decisions(store: Store, decided: list[tuple[str, int, TaskVerdict]], settings: VerificationSettings) -> None:
    with store.transaction():
        store.verify.set_gate_verdicts([_stored(task_type, task_id, verdict) for task_type, task_id, verdict in decided])
        for task_type, task_id, verdict in decided:
            store.metrics.set_metrics(task_type, task_id, {"best_path_score": verdict.best_score},
                              note=f"gate {verdict.status}: {verdict.reason}")
        store.metrics.set_metrics_bulk("path", [(path_id, {"path_score": score}) for _, _, verdict in decided
                                        for path_id, score in verdict.path_scores.items()], note=selection_rule(settings))


def refresh_task_metric(store: Store, task_type: str, task_id: int, settings: VerificationSettings) -> TaskVerdict:
    """Decide one task from the store (overrules included) and store the decision: its gate verdict (status, kind,
    decider, reason), its best_path_score metric (the note says the status and why) and each path's path_score."""
    paths = store.verify.reasoning_paths_nested(task_type, task_id).get((task_type, task_id), [])
    verdict = evaluate_task(paths, settings)
    _write_decisions(store, [(task_type, task_id, verdict)], settings)
    return verdict


def refresh_all_tasks(store: Store, settings: VerificationSettings) -> int:
    """Decide every task with paths again under `settings` and store each decision; returns how many."""
    decided = [(task_type, task_id, evaluate_task(paths, settings))
               for (task_type, task_id), paths in store.verify.reasoning_paths_nested().items()]
    if decided:
        _write_decisions(store, decided, settings)
    return len(decided)


def overrule_step(store: Store, step_id: int, label: str, reason: str, reviewer: str,
                  settings: VerificationSettings) -> TaskVerdict:
    """Record a person's label for a step (who, when, why) and re-evaluate its task."""
    if label not in OVERRULE_SCORES:
        raise ValueError(f"an overrule is one of {', '.join(OVERRULE_SCORES)}, not {label!r}")
    if not reason.strip():
        raise ValueError("give a reason for the overrule")
    task = store.verify.step_task(step_id)
    if task is None:
        raise LookupError(f"step {step_id} does not exist")
    store.verify.add_step_overrule(step_id, label, reason.strip(), reviewer)
    return refresh_task_metric(store, task[0], task[1], settings)
