"""Step labelling as PRM800K's labellers worked (Lightman et al., 2023, "Let's Verify Step by Step").

A labeller takes one task at a time (a problem and one reasoning path), rates every step -1 / 0 / +1
(wrong / neutral / right) and, after the first -1, may write the corrected step (PRM800K's
`human_completion`). A submission with any step unrated is refused, with the steps named, and nothing
is saved. Labels are step overrules by the labeller (workbench.verify.reasoning): the latest one of a step
sets its effective score, so they move the gate and the exports exactly as overrules do.

The queue picks the tasks where a person helps most: low verifier confidence, verifier disagreement,
consensus disputes (steps where Monte-Carlo rollouts and the judge disagree, which consensus filtering
leaves to a person: Zhang et al. 2025), or at random. It mixes in gold paths (paths whose ratings are known, marked from a named labeller's
labels or an import) at a set rate, looking like any other task. A labeller's ratings of a gold path
are answers to check (`gold_answers`), never overrules: they do not move the gate, and each
labeller's accuracy on them is `gold_accuracy`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from workbench.core.wording import plural
from workbench.store import Store
from workbench.verify.ratings import OVERRULE_RATINGS
from workbench.verify.reasoning import (
    VerificationSettings,
    disagrees,
    disputed_steps,
    evaluate_task,
    load_task,
    low_confidence,
    refresh_task_metric,
    step_score,
    verification_settings,
)
from workbench.verify.verifiers.base import Task

RATING_LABELS = {rating: label for label, rating in OVERRULE_RATINGS.items()}  # -1 -> 'incorrect'
RATING_NAMES = {-1: "−1 wrong", 0: "0 neutral", 1: "+1 right"}
LOW_CONFIDENCE = "low confidence"
DISAGREEMENT = "disagreement"
CONSENSUS_DISPUTES = "consensus disputes"
RANDOM = "random"
QUEUE_ORDERS = {
    LOW_CONFIDENCE: "most unsure steps first (effective score between 0.25 and 0.75), then the path score nearest "
                    "the gate threshold",
    DISAGREEMENT: "most steps where the verifiers disagree (one says right, another wrong) first",
    CONSENSUS_DISPUTES: "most steps where Monte-Carlo rollouts and the judge disagree (one finds the step wrong at the "
                        "gate threshold, the other not) first: the labels consensus filtering leaves to a person",
    RANDOM: "in random order",
}
DEFAULT_GOLD_RATE = 0.1
DEFAULT_QUEUE_LENGTH = 50
SETTINGS_KEY = "labelling"
LABEL_REASON = "labelled step by step"


class LabellingError(ValueError):
    """A labelling action refused, with a message for the labeller; nothing was saved."""


# ---------------------------------------------------------------- settings


def gold_rate(store: Store) -> float:
    """The share of the labelling queue given to gold paths (0 to under 1)."""
    return float((store.settings.get_setting(SETTINGS_KEY) or {}).get("gold_rate", DEFAULT_GOLD_RATE))


def save_gold_rate(store: Store, rate: float) -> None:
    """Raises LabellingError outside [0, 1): a queue of gold alone checks labellers but labels nothing."""
    _check_rate(rate)
    store.settings.set_setting(SETTINGS_KEY, {**(store.settings.get_setting(SETTINGS_KEY) or {}), "gold_rate": float(rate)})


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise LabellingError(f"the gold rate is a share from 0 to under 1, not {rate}")


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueItem:
    """One task to label: a path of a seed or sample. Gold and ordinary items look the same."""

    path_id: int
    task_type: str
    task_id: int
    title: str


def uncertain_steps(path: dict) -> int:
    """Steps whose effective score lies in the low-confidence band (neutral steps included)."""
    return sum(low_confidence(step_score(s["scores"], s["overrule"])) for s in path["steps"])


def disagreeing_steps(path: dict) -> int:
    """Steps where one verifier calls the step right and another wrong."""
    return sum(disagrees(s["scores"]) for s in path["steps"])


def mix_gold(regular: list, gold: list, rate: float) -> list:
    """The regular items in order with gold items mixed in so that, at every point, the share of gold is
    floor(position * rate) (rate 0.25: every 4th item is gold). Ends with the regular items; a queue with
    no regular items is empty."""
    _check_rate(rate)
    mixed, regular_left, gold_left, golds = [], list(regular), list(gold), 0
    while regular_left:
        if gold_left and golds < math.floor((len(mixed) + 1) * rate + 1e-9):
            mixed.append(gold_left.pop(0))
            golds += 1
        else:
            mixed.append(regular_left.pop(0))
    return mixed


def labelling_queue(store: Store, labeller: str, order: str = LOW_CONFIDENCE, rate: float | None = None,
                    settings: VerificationSettings | None = None, seed: int | None = None,
                    limit: int | None = DEFAULT_QUEUE_LENGTH) -> list[QueueItem]:
    """The tasks for `labeller` to label, in order (QUEUE_ORDERS), with gold paths mixed in at `rate` (the saved
    gold rate when None).

    Each task offers its best-scored path that the labeller has not labelled in full and that is not gold. A
    gold path comes up for a labeller who never labelled nor answered any of its steps (so never for the
    labeller whose labels made it gold). `seed` fixes the random order and the choice of gold paths.
    """
    if order not in QUEUE_ORDERS:
        raise LabellingError(f"the queue order is one of {', '.join(QUEUE_ORDERS)}, not {order!r}")
    rate = gold_rate(store) if rate is None else rate
    _check_rate(rate)
    settings = settings or verification_settings(store)
    nested = store.verify.reasoning_paths_nested()
    titles = store.verify.reasoning_task_titles(nested)
    gold_ids = {g["path_id"] for g in store.labelling.gold_paths()}
    own = store.labelling.latest_step_labels(labeller)
    answered = store.labelling.gold_answer_ratings(labeller)
    rng = random.Random(seed)
    ranked: list[tuple[tuple, QueueItem]] = []
    golds: list[QueueItem] = []
    for (task_type, task_id), paths in nested.items():
        title = titles.get((task_type, task_id), "(deleted task)")
        verdict = evaluate_task(paths, settings)
        for path in paths:
            if path["id"] in gold_ids and path["steps"] and path["id"] not in own and path["id"] not in answered:
                golds.append(QueueItem(path["id"], task_type, task_id, title))
        open_paths = [p for p in paths if p["steps"] and p["id"] not in gold_ids
                      and len(own.get(p["id"], {})) < len(p["steps"])]
        if not open_paths:
            continue
        path = max(open_paths, key=lambda p: verdict.path_scores[p["id"]])  # the first among equals
        margin = abs(verdict.path_scores[path["id"]] - settings.threshold)
        keys = {
            LOW_CONFIDENCE: (-uncertain_steps(path), margin),
            DISAGREEMENT: (-disagreeing_steps(path), -uncertain_steps(path), margin),
            CONSENSUS_DISPUTES: (-disputed_steps(path, settings.threshold), -disagreeing_steps(path), margin),
            RANDOM: (),
        }[order]
        ranked.append(((*keys, task_type, task_id), QueueItem(path["id"], task_type, task_id, title)))
    ranked.sort(key=lambda pair: pair[0])
    regular = [item for _, item in ranked]
    if order == RANDOM:
        rng.shuffle(regular)
    rng.shuffle(golds)
    queue = mix_gold(regular, golds, rate)
    return queue if limit is None else queue[:limit]


# ---------------------------------------------------------------- one task


@dataclass
class LabellingTask:
    """What the labeller sees: the task (problem, input, reference) and the path's steps (id, idx, text)."""

    path_id: int
    task: Task | None
    steps: list[dict]
    model: str | None


def labelling_task(store: Store, path_id: int) -> LabellingTask:
    """The task and steps of one queued path. Raises LookupError when the path is gone; `task` is None when
    its seed or sample was deleted since."""
    path = store.verify.get_reasoning_path(path_id)
    if path is None:
        raise LookupError(f"path {path_id} no longer exists")
    try:
        task = load_task(store, path["task_type"], path["task_id"])
    except LookupError:
        task = None
    return LabellingTask(path_id, task, path["steps"], path["model"])


def own_ratings(store: Store, path_id: int, labeller: str) -> dict[int, int]:
    """step_id -> the labeller's latest rating of each step of this path (their own labels only, never
    another labeller's)."""
    labels = store.labelling.latest_step_labels(labeller, path_id).get(path_id, {})
    ratings = {step_id: OVERRULE_RATINGS[label] for step_id, label in labels.items()}
    ratings.update(store.labelling.gold_answer_ratings(labeller, path_id).get(path_id, {}))
    return ratings


def first_wrong_step(steps: list[dict], ratings: dict[int, int | None]) -> dict | None:
    """The first step rated -1: the one a human completion corrects."""
    return next((s for s in steps if ratings.get(s["id"]) == -1), None)


def _step_list(numbers: list[int]) -> str:
    words = [str(n) for n in numbers]
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{'Step' if len(words) == 1 else 'Steps'} {joined}"


@dataclass
class Submission:
    """What a submission saved: the number of step labels and whether a human completion went with them."""

    path_id: int
    labels: int
    human_completion: bool


def submit_labels(store: Store, path_id: int, labeller: str, ratings: dict[int, int | None],
                  human_completion: str | None = None, settings: VerificationSettings | None = None) -> Submission:
    """Save a labeller's ratings (step_id -> -1/0/+1) of every step of a path, and the corrected first wrong step.

    Ordinary paths: the ratings become step overrules by the labeller and the task's gate metrics are refreshed.
    Gold paths: they are stored as answers to check against the gold ratings and change nothing else.
    Raises LabellingError, saving nothing, when a step is unrated (the message names the steps, 1-based), a
    rating is not -1/0/+1, a rating names a step of another path, or a human completion comes without a -1.
    Raises LookupError when the path no longer exists.
    """
    labeller = labeller.strip()
    if not labeller:
        raise LabellingError("set your name on the Settings page before labelling: every label records its labeller")
    path = store.verify.get_reasoning_path(path_id)
    if path is None:
        raise LookupError(f"path {path_id} no longer exists")
    steps = path["steps"]
    if not steps:
        raise LabellingError(f"path {path_id} has no steps to label")
    step_ids = {s["id"] for s in steps}
    if foreign := sorted(set(ratings) - step_ids):
        raise LabellingError(f"{plural(len(foreign), 'rating')} name steps that are not in path {path_id}: "
                             f"{', '.join(map(str, foreign))}; nothing was saved")
    if bad := [s["idx"] + 1 for s in steps if ratings.get(s["id"]) not in (None, -1, 0, 1)]:
        raise LabellingError(f"{_step_list(bad)}: a rating is -1, 0 or +1; nothing was saved")
    if missing := [s["idx"] + 1 for s in steps if ratings.get(s["id"]) is None]:
        raise LabellingError(f"{_step_list(missing)} {'is' if len(missing) == 1 else 'are'} not rated: rate every "
                             "step before submitting. Nothing was saved.")
    text = (human_completion or "").strip()
    wrong = first_wrong_step(steps, ratings)
    if text and wrong is None:
        raise LabellingError("a corrected step replaces the first step rated −1, and no step is rated −1; "
                             "nothing was saved")
    completion = (wrong["id"], text) if text and wrong is not None else None
    chosen = {s["id"]: int(ratings[s["id"]]) for s in steps}
    if store.labelling.is_gold_path(path_id):
        store.labelling.add_gold_answers(path_id, labeller, chosen, completion)
    else:
        store.labelling.add_step_labels(labeller, {step_id: RATING_LABELS[r] for step_id, r in chosen.items()}, LABEL_REASON,
                              completion)
        refresh_task_metric(store, path["task_type"], path["task_id"], settings or verification_settings(store))
    return Submission(path_id, len(chosen), completion is not None)


# ---------------------------------------------------------------- gold paths and accuracy


def mark_gold(store: Store, path_id: int, marked_by: str, labeller: str | None = None) -> int:
    """Make a path gold with the labels of `labeller` (each step's latest label by anyone when None), e.g. a
    trusted labeller's or an imported PRM800K file's (`import:<file>`). Returns the number of gold steps.
    Raises LabellingError naming the steps without such a label, LookupError for an unknown path."""
    path = store.verify.get_reasoning_path(path_id)
    if path is None:
        raise LookupError(f"path {path_id} does not exist")
    if not path["steps"]:
        raise LabellingError(f"path {path_id} has no steps")
    labels = store.labelling.latest_step_labels(labeller, path_id).get(path_id, {})
    if missing := [s["idx"] + 1 for s in path["steps"] if s["id"] not in labels]:
        whose = f"by {labeller}" if labeller else "by anyone"
        raise LabellingError(f"{_step_list(missing)} of path {path_id} {'has' if len(missing) == 1 else 'have'} "
                             f"no label {whose}: gold needs every step labelled")
    store.labelling.mark_gold_path(path_id, {step_id: OVERRULE_RATINGS[label] for step_id, label in labels.items()},
                         labeller, marked_by)
    return len(labels)


@dataclass
class GoldMarking:
    """Paths made gold, and those skipped with the reason for each."""

    marked: list[int]
    skipped: dict[int, str]


def mark_gold_from_labeller(store: Store, labeller: str, marked_by: str) -> GoldMarking:
    """Make gold every path that `labeller` labelled; paths with steps they left unlabelled are skipped (each
    with its reason), and paths already gold keep their ratings."""
    already = {g["path_id"] for g in store.labelling.gold_paths()}
    result = GoldMarking([], {})
    for path_id in sorted(store.labelling.latest_step_labels(labeller)):
        if path_id in already:
            result.skipped[path_id] = "already gold"
            continue
        try:
            mark_gold(store, path_id, marked_by, labeller)
        except (LabellingError, LookupError) as exc:
            result.skipped[path_id] = str(exc)
        else:
            result.marked.append(path_id)
    return result


def gold_accuracy(store: Store) -> dict[str, dict]:
    """Each labeller's agreement with the gold ratings: {labeller: {"steps": int, "correct": int, "accuracy": float}}
    over the latest answer to each gold step they answered (a step counts correct when the rating equals the gold
    rating exactly). Labellers who answered no gold step are absent."""
    accuracy: dict[str, dict] = {}
    for check in store.labelling.gold_answer_checks():
        counts = accuracy.setdefault(check["labeller"], {"steps": 0, "correct": 0, "accuracy": 0.0})
        counts["steps"] += 1
        counts["correct"] += check["answer"] == check["gold"]
    for counts in accuracy.values():
        counts["accuracy"] = counts["correct"] / counts["steps"]
    return accuracy
