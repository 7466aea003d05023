"""Reasoning paths: prompts asking for numbered steps, step segmentation, path scores, best-of-N and the gate.

A task (a seed or a sample) gets N sampled paths. Each path is split into steps; verifiers score
every step; a step's effective score is a person's overrule when there is one, else the strictest
verdict among the verifiers that gave one (an `unverifiable` verdict abstains; with no verdict at
all the step stays neutral at 0.5). A path's score aggregates its steps (min, product, last or
mean); the best path is kept and the task passes the gate when that score reaches the threshold.
Every step names who decided its score (`decided_by`), and every gate decision says why in words
(`gate_reason`: the best path against the threshold and, when it fails, its weakest step).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from workbench.store import Store
from workbench.verify.verifiers.base import NEUTRAL_SCORE, UNVERIFIABLE, Task

DEFAULT_N = 8
MAX_N = 64
DEFAULT_TEMPERATURE = 0.8
AGGREGATIONS = ("min", "product", "last", "mean")
DEFAULT_AGGREGATION = "min"
DEFAULT_THRESHOLD = 1.0
SETTINGS_KEY = "verification"
OVERRULE_SCORES = {"correct": 1.0, "incorrect": 0.0, "neutral": NEUTRAL_SCORE}
LOW_CONFIDENCE = (0.25, 0.75)
COMPLETION_STOP = ["\nProblem:", "\n\n\n\n"]
TASK_TYPES = ("seed", "sample")
NOBODY = "nobody"
REASON_CHARS = 240


# ---------------------------------------------------------------- settings


@dataclass
class VerificationSettings:
    """How step scores become a path score, and what the best path must reach to pass the gate."""

    aggregation: str = DEFAULT_AGGREGATION
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, not {self.aggregation!r}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"the gate threshold must lie in [0, 1], not {self.threshold}")
        self.threshold = float(self.threshold)


def verification_settings(store: Store, overrides: dict | None = None) -> VerificationSettings:
    saved = store.get_setting(SETTINGS_KEY) or {}
    values = {**saved, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return VerificationSettings(**{k: values[k] for k in ("aggregation", "threshold") if k in values})


def save_verification_settings(store: Store, settings: VerificationSettings) -> None:
    store.set_setting(SETTINGS_KEY, asdict(settings))


# ---------------------------------------------------------------- tasks and prompts


def load_task(store: Store, task_type: str, task_id: int) -> Task:
    """The problem, input, reference answer and solution, and tests of a seed or sample (a sample inherits its
    seed's reference and tests only when it asks the seed's own question, input included)."""
    if task_type == "seed":
        seed = store.get_seed(task_id)
        if seed is None:
            raise LookupError(f"seed {task_id} does not exist")
        return Task(seed["instruction"], seed["reference_answer"], seed["tests"], seed["domain"], seed["input"],
                    seed["reference_solution"])
    if task_type == "sample":
        sample = store.get_sample(task_id)
        if sample is None:
            raise LookupError(f"sample {task_id} does not exist")
        seed = store.get_seed(sample["seed_id"]) if sample.get("seed_id") else None
        if seed is not None and seed["text_hash"] == sample["text_hash"]:
            return Task(sample["instruction"], seed["reference_answer"], seed["tests"], seed["domain"], sample["input"],
                        seed["reference_solution"])
        return Task(sample["instruction"], None, None, seed["domain"] if seed else None, sample["input"])
    raise ValueError(f"task type must be one of {', '.join(TASK_TYPES)}, not {task_type!r}")


def is_code_task(task: Task) -> bool:
    return bool(task.tests) or task.domain == "code"


FEW_SHOT_MATH = """Solve each problem step by step. Number the steps, show every calculation, and end with the final answer.

Problem: A box holds 12 pencils. Tom has 5 boxes and loses 7 pencils. How many pencils does he have left?
Solution:
Step 1: 5 boxes hold 5 * 12 = 60 pencils.
Step 2: After losing 7 pencils he has 60 - 7 = 53 pencils.
Answer: 53

Problem: A shirt costs $40 and is discounted by 15%. What is the sale price in dollars?
Solution:
Step 1: The discount is 15% of $40 = $6.
Step 2: The sale price is $40 - $6 = $34.
Answer: 34

"""

FEW_SHOT_CODE = """Solve each problem step by step. Number the steps and end with the complete Python code.

Problem: Write a Python function `double_all(xs: list[int]) -> list[int]` that returns every number doubled.
Solution:
Step 1: Go through the list once and multiply each number by 2.
Step 2: Collect the results in a new list, in order.
Step 3: The code:
```python
def double_all(xs: list[int]) -> list[int]:
    return [2 * x for x in xs]
```

"""

CHAT_SYSTEM_MATH = (
    "Solve the problem step by step. Write each step on its own line as 'Step k: ...' and show every "
    "calculation. End with a last line 'Answer: <final answer>'."
)
CHAT_SYSTEM_CODE = (
    "Solve the problem step by step. Write each step on its own line as 'Step k: ...'. The last step "
    "gives the complete Python solution in one ```python code block."
)


def completion_prompt(task: Task) -> str:
    """A few-shot prompt a base model continues; it ends at 'Step 1:' so the model writes numbered steps."""
    shots = FEW_SHOT_CODE if is_code_task(task) else FEW_SHOT_MATH
    return f"{shots}Problem: {task.text}\nSolution:\nStep 1:"


def chat_messages(task: Task) -> list[dict]:
    """A system message asking for numbered steps, and the problem (with its input) as the user turn."""
    system = CHAT_SYSTEM_CODE if is_code_task(task) else CHAT_SYSTEM_MATH
    return [{"role": "system", "content": system}, {"role": "user", "content": task.text}]


# ---------------------------------------------------------------- step segmentation

FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
STEP_MARK = re.compile(r"^[ \t]*(?:[*#>]+[ \t]*)?step[ \t]*\d+[ \t]*(?:\*+)?[ \t]*[:.)\-]?[ \t]*(?:\*+[ \t]*)?",
                       re.IGNORECASE | re.MULTILINE)
NUMBERED = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]+", re.MULTILINE)
ANSWER_LINE = re.compile(r"^[ \t]*(?:[*#]+[ \t]*)?(?:the[ \t]+)?(?:final[ \t]+)?answer[ \t]*(?:is|:|=)",
                         re.IGNORECASE | re.MULTILINE)
LINE_END = re.compile(r"\r\n?")
BOLD_CLOSE = re.compile(r"^([^*\n]*)\*\*[ \t]*(?=\n|$)")  # the rest of a "**Step 1: Add**" header
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$(\"'\d])")


def split_steps(text: str) -> list[str]:
    """Steps of a path: 'Step k' markers, else numbered lines, else blank-line paragraphs, else sentences.

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


# ---------------------------------------------------------------- scores, best-of-N and the gate


def step_score(verdicts: dict[str, dict], overrule: dict | None = None) -> float:
    """A step's effective score: the overrule if any, else the lowest verdict of the verifiers that gave one."""
    if overrule is not None:
        return OVERRULE_SCORES[overrule["label"]]
    given = [v["score"] for v in verdicts.values() if v["label"] != UNVERIFIABLE]
    return min(given) if given else NEUTRAL_SCORE


def aggregate(scores: list[float], rule: str = DEFAULT_AGGREGATION) -> float:
    """A path score from its step scores; a path with no steps scores 0."""
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
    raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, not {rule!r}")


def best_of_n(path_scores: dict[int, float]) -> int | None:
    """The id of the best path (the first one, in the given order, among equals), or None when there are none."""
    if not path_scores:
        return None
    return max(path_scores, key=path_scores.__getitem__)


def passes_gate(best_score: float | None, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return best_score is not None and best_score >= threshold - 1e-9


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


def disagrees(verdicts: dict[str, dict]) -> bool:
    """True when one verifier calls the step correct and another incorrect."""
    given = [v["score"] for v in verdicts.values() if v["label"] != UNVERIFIABLE]
    return bool(given) and min(given) < 0.5 <= max(given)


def low_confidence(score: float) -> bool:
    """Nobody is sure: the effective score lies in the middle band (neutral steps included)."""
    return LOW_CONFIDENCE[0] <= score <= LOW_CONFIDENCE[1]


# Why a task is gated out, from its best path's weakest step (the step `gate_reason` names), as short labels.
GATE_FAILURES = {
    "wrong": "a step judged wrong",
    "below": "a step scored under the threshold",
    "unchecked": "a step no verifier could check (it scores neutral)",
    "overruled": "a step a person overruled",
    "no_steps": "no path with steps to check",
}


@dataclass(frozen=True)
class GateFailure:
    """Why a task is gated out, in two parts that group alike tasks: `kind` (a key of GATE_FAILURES) and who set
    the weakest step's score (`decided_by` as `decided_by()` says it: 'rollout', 'overrule (ana)', 'nobody';
    empty for no_steps)."""

    kind: str
    decided_by: str = ""

    @property
    def label(self) -> str:
        """'a step judged wrong, decided by consistency'; 'no path with steps to check'."""
        label = GATE_FAILURES[self.kind]
        return f"{label}, decided by {self.decided_by}" if self.kind in ("wrong", "below", "overruled") else label


@dataclass
class TaskVerdict:
    """Path scores of one task, its best path, the gate decision and, in words, why (`reason`); a gated-out
    task also says why as a `GateFailure` (None when it passes)."""

    path_scores: dict[int, float]
    best_path_id: int | None
    best_score: float | None
    passed: bool
    aggregation: str
    threshold: float
    reason: str = ""
    failure: GateFailure | None = None


def _short(text: str | None, limit: int = REASON_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def step_explanation(step: dict) -> str:
    """One step's effective score in words: its score, who decided it and why."""
    score = step_score(step["scores"], step["overrule"])
    who = decided_by(step["scores"], step["overrule"])
    if step["overrule"] is not None:
        why = step["overrule"].get("reason")
    elif who == NOBODY:
        abstained = "; ".join(f"{name}: {_short(v.get('rationale'), REASON_CHARS // 2)}"
                              for name, v in sorted(step["scores"].items()) if v.get("rationale"))
        return f"step {step['idx'] + 1} is unverified: no verifier could check it" + (
            f" ({abstained})" if abstained else "")
    else:
        why = step["scores"][who.split(", ")[0]].get("rationale")
    return f"step {step['idx'] + 1} scores {score:.2f}, decided by {who}: {_short(why)}"


def _best_path(paths: list[dict], verdict: TaskVerdict) -> dict | None:
    return next((p for p in paths if p["id"] == verdict.best_path_id), None)


def weakest_step(path: dict) -> dict:
    """The step with the lowest effective score (the first of equals): the one that holds a path back."""
    return min(path["steps"], key=lambda s: step_score(s["scores"], s["overrule"]))


def gate_reason(paths: list[dict], verdict: TaskVerdict) -> str:
    """Why the task passes or is gated out: its best path against the threshold and, when it fails, that
    path's weakest step (the first of equals) with the verifier that decided it and its rationale."""
    best = _best_path(paths, verdict)
    if best is None:
        return "no reasoning paths"
    if not best["steps"]:
        return f"the best path (path {best['path_index'] + 1}) has no steps"
    relation = "reaches" if verdict.passed else "is below"
    head = (f"best path (path {best['path_index'] + 1}) scores {verdict.best_score:.2f} ({verdict.aggregation} "
            f"over steps), which {relation} the threshold {verdict.threshold:g}")
    if verdict.passed:
        return head
    return f"{head}: {step_explanation(weakest_step(best))}"


def gate_failure(paths: list[dict], verdict: TaskVerdict) -> GateFailure | None:
    """The failure `gate_reason` describes, as a kind and a decider (None when the task passes)."""
    if verdict.passed:
        return None
    best = _best_path(paths, verdict)
    if best is None or not best["steps"]:
        return GateFailure("no_steps")
    step = weakest_step(best)
    who = decided_by(step["scores"], step["overrule"])
    if step["overrule"] is not None:
        return GateFailure("overruled", who)
    if who == NOBODY:
        return GateFailure("unchecked", who)
    return GateFailure("wrong" if step_score(step["scores"], None) < 0.5 else "below", who)


def evaluate_task(paths: list[dict], settings: VerificationSettings) -> TaskVerdict:
    """Score every path (as nested by Store.reasoning_paths_nested), pick the best and apply the gate."""
    path_scores = {
        path["id"]: aggregate([step_score(s["scores"], s["overrule"]) for s in path["steps"]], settings.aggregation)
        for path in paths
    }
    best = best_of_n(path_scores)
    best_score = path_scores[best] if best is not None else None
    verdict = TaskVerdict(path_scores, best, best_score, passes_gate(best_score, settings.threshold),
                          settings.aggregation, settings.threshold)
    verdict.reason = gate_reason(paths, verdict)
    verdict.failure = gate_failure(paths, verdict)
    return verdict


def refresh_task_metric(store: Store, task_type: str, task_id: int, settings: VerificationSettings) -> TaskVerdict:
    """Re-evaluate one task from the store (overrules included); write its best_path_score metric (the note says
    why it passes or not) and each path's path_score."""
    paths = store.reasoning_paths_nested(task_type, task_id).get((task_type, task_id), [])
    verdict = evaluate_task(paths, settings)
    note = f"gate {'passed' if verdict.passed else 'failed'}: {verdict.reason}"
    store.set_metrics(task_type, task_id, {"best_path_score": verdict.best_score}, note=note)
    store.set_metrics_bulk("path", [(path_id, {"path_score": score}) for path_id, score in verdict.path_scores.items()],
                           note=f"{settings.aggregation} over steps")
    return verdict


def overrule_step(store: Store, step_id: int, label: str, reason: str, reviewer: str,
                  settings: VerificationSettings) -> TaskVerdict:
    """Record a person's label for a step (who, when, why) and re-evaluate its task."""
    if label not in OVERRULE_SCORES:
        raise ValueError(f"an overrule is one of {', '.join(OVERRULE_SCORES)}, not {label!r}")
    if not reason.strip():
        raise ValueError("give a reason for the overrule")
    task = store.step_task(step_id)
    if task is None:
        raise LookupError(f"step {step_id} does not exist")
    store.add_step_overrule(step_id, label, reason.strip(), reviewer)
    return refresh_task_metric(store, task[0], task[1], settings)
