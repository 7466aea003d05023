"""Verifier calibration against human step labels: how far people agree, how far each verifier agrees with
them, and the gate threshold at which a verifier finds the errors people found.

Human labels are step overrules (PRM800K's ratings: correct +1, neutral 0, incorrect -1); each labeller's
latest label of a step counts. Several labellers may label one step:

- Agreement between people, on the steps at least two of them labelled: Cohen's kappa (Cohen 1960, "A
  coefficient of agreement for nominal scales") when there are two labellers, Fleiss' kappa (Fleiss 1971,
  "Measuring nominal scale agreement among many raters") when there are more, over the three ratings. Where
  steps have different numbers of labellers, each step's agreement uses its own count (the usual extension;
  with one count for every step it is Fleiss' formula exactly). Cohen's kappa for every pair is given too.
- The human consensus of a step is the rating most of its labellers gave; a tie goes to the lowest tied
  rating (incorrect before neutral before correct): doubt about a step counts against it, as at a gate.

Each verifier against the consensus, at a gate threshold t (a step is flagged wrong when the verifier's
score is below t, which is what the gate does with the `min` aggregation):
- a confusion matrix (human rating x passes/flags) and Cohen's kappa of "flagged" against "people said
  incorrect", over the labelled steps the verifier gave a verdict on. An abstention (`unverifiable`)
  never flags a step: with other verifiers at the gate it decides nothing.
- ProcessBench F1 (Zheng et al. 2024; `workbench.verify.verifiers.evaluation.processbench_metrics`) over the
  labelled paths the verifier scored: the label is a path's earliest step people called incorrect (-1
  when none), known only where every step up to it (every step, for -1) has a consensus; the prediction
  is the earliest step the verifier flags.
- The suggested threshold is the one among the verifier's distinct scores (and 1.0) that maximises that
  F1 (ties: the highest, the strictest gate); with it, how many verified tasks would pass the gate, against how
  many pass at today's threshold (the gate decides each task again at that threshold, its other settings kept).

`combined` is the gate itself: each step's effective score from every verifier (the strictest verdict;
0.5 when all abstain), without the human labels, so its suggested threshold is the one to apply.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import replace
from itertools import combinations

from workbench.core.wording import plural
from workbench.store import Store
from workbench.verify.reasoning import (
    VerificationSettings,
    evaluate_task,
    save_verification_settings,
    step_score,
    verification_settings,
)
from workbench.verify.verifiers.base import UNVERIFIABLE
from workbench.verify.verifiers.evaluation import processbench_f1, processbench_metrics

RATINGS = {"incorrect": -1, "neutral": 0, "correct": 1}
RATING_NAMES = {rating: name for name, rating in RATINGS.items()}
CATEGORIES = (-1, 0, 1)
COMBINED = "combined"
MAX_THRESHOLD = 1.0
CONSENSUS_RULE = "majority of the labellers' latest ratings; a tie goes to the lowest tied rating"
THRESHOLD_RULE = ("the verifier's distinct score (or 1.0) that maximises ProcessBench F1 on the human labels "
                  "(a step scoring below it is flagged); ties go to the highest")


class CalibrationError(Exception):
    """A threshold that cannot be applied, with the reason."""


# ---------------------------------------------------------------- agreement statistics


def cohen_kappa(first: list[int], second: list[int]) -> float | None:
    """Cohen's kappa (Cohen 1960) of two raters' labels of the same items: (p_o - p_e) / (1 - p_e), with p_e from
    each rater's own label shares. None when there are no items or chance agreement is already total (both
    raters used one and the same label throughout). Computed with scikit-learn's `cohen_kappa_score`."""
    if not first:
        return None
    if len(set(first) | set(second)) == 1:
        return None
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(first, second))


def fleiss_kappa(table: list[list[int]]) -> float | None:
    """Fleiss' kappa (Fleiss 1971) from a table of items x categories, each cell the number of raters who put
    that item in that category; every item needs at least two raters.

    P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P-bar = mean P_i, p_j = share of all ratings in category j,
    P_e = sum_j p_j^2, kappa = (P-bar - P_e) / (1 - P_e). With the same n_i for every item this is Fleiss'
    formula; items with different numbers of raters use their own n_i. None when there are no items or
    P_e = 1 (every rating in one category). Raises ValueError for an item with fewer than two raters."""
    if not table:
        return None
    agreements = []
    for row in table:
        raters = sum(row)
        if raters < 2:
            raise ValueError(f"every item needs at least two raters, not {raters}")
        agreements.append((sum(n * n for n in row) - raters) / (raters * (raters - 1)))
    total = sum(sum(row) for row in table)
    shares = [sum(row[j] for row in table) / total for j in range(len(table[0]))]
    chance = sum(p * p for p in shares)
    if math.isclose(chance, 1.0):
        return None
    return (sum(agreements) / len(agreements) - chance) / (1 - chance)


def consensus(ratings: list[int]) -> int:
    """The rating most labellers gave; a tie goes to the lowest tied rating (-1 before 0 before +1)."""
    counts = Counter(ratings)
    most = max(counts.values())
    return min(rating for rating, n in counts.items() if n == most)


def agreement(labels: dict[int, dict[str, int]]) -> dict:
    """How far people agree, from {step_id: {labeller: rating}}: the kappa that fits the number of labellers
    (`method` cohen or fleiss), the steps it is computed on, and Cohen's kappa for every pair of labellers."""
    labellers = sorted({name for by in labels.values() for name in by})
    shared = {step: by for step, by in labels.items() if len(by) >= 2}
    pairs = []
    for a, b in combinations(labellers, 2):
        both = [by for by in labels.values() if a in by and b in by]
        pairs.append({"labellers": [a, b], "n_steps": len(both),
                      "observed_agreement": sum(by[a] == by[b] for by in both) / len(both) if both else None,
                      "kappa": cohen_kappa([by[a] for by in both], [by[b] for by in both])})
    result = {"n_labellers": len(labellers), "n_steps": len(shared), "method": None, "kappa": None, "pairs": pairs}
    if len(labellers) == 2:
        result.update(method="cohen", kappa=pairs[0]["kappa"])
    elif len(labellers) > 2:
        table = [[list(by.values()).count(c) for c in CATEGORIES] for by in shared.values()]
        result.update(method="fleiss", kappa=fleiss_kappa(table))
    result["note"] = _agreement_note(result)
    return result


def _agreement_note(result: dict) -> str:
    if result["n_labellers"] == 0:
        return "no step is labelled by a person yet: label steps on the Verifier page (Label steps)"
    if result["n_labellers"] < 2:
        return "one labeller: agreement between people needs a second labeller on the same steps"
    if result["n_steps"] == 0:
        return "no step was labelled by two people yet: agreement needs overlapping labels"
    if result["kappa"] is None:
        return "kappa is undefined here: every label given is the same rating"
    method = "Cohen's" if result["method"] == "cohen" else "Fleiss'"
    return f"{method} kappa {result['kappa']:.3f} on {plural(result['n_steps'], 'step')} labelled by two or more people"


# ---------------------------------------------------------------- verifiers against people


def human_earliest_error(ratings: list[int | None]) -> int | None:
    """The index of a path's first step people rated incorrect, -1 when every step has a rating and none is
    incorrect, None when it cannot be known (a step before the first error, or any step, is unlabelled)."""
    for index, rating in enumerate(ratings):
        if rating is None:
            return None
        if rating == -1:
            return index
    return -1


def predicted_error(scores: list[float | None], threshold: float) -> int:
    """The earliest step scored below the threshold (None: an abstention, never flagged), or -1."""
    return next((i for i, s in enumerate(scores) if s is not None and s < threshold - 1e-12), -1)


def _kappa_and_confusion(steps: list[tuple[int, float | None]], threshold: float) -> tuple[float | None, dict]:
    """(Cohen's kappa of flagged vs people's incorrect, confusion {human rating: {passes, flags}}) at a threshold."""
    confusion = {RATING_NAMES[c]: {"passes": 0, "flags": 0} for c in reversed(CATEGORIES)}
    human, flagged = [], []
    for rating, score in steps:
        flags = score is not None and score < threshold - 1e-12
        confusion[RATING_NAMES[rating]]["flags" if flags else "passes"] += 1
        human.append(int(rating == -1))
        flagged.append(int(flags))
    return cohen_kappa(human, flagged), confusion


def _f1(paths: list[tuple[int, list[float | None]]], threshold: float) -> dict:
    return processbench_metrics([label for label, _ in paths], [predicted_error(s, threshold) for _, s in paths])


def hit_interval(label: int, scores: list[float | None]) -> tuple[float, float] | None:
    """The thresholds t at which a path's predicted earliest error equals its label, as the interval (low, high]
    (None: no threshold does). The prediction at t is the first of the path's record lows (a score below every
    earlier one) that lies below t, so a correct path is hit for t <= its lowest score and an erroneous one,
    when its error step is a record low v_k, for v_k < t <= the record low before it."""
    lows: list[tuple[int, float]] = []
    for index, score in enumerate(scores):
        if score is not None and (not lows or score < lows[-1][1]):
            lows.append((index, score))
    if label == -1:
        return (-math.inf, lows[-1][1] if lows else math.inf)
    for k, (index, value) in enumerate(lows):
        if index == label:
            return (value, lows[k - 1][1] if k else math.inf)
    return None


def suggest_threshold(paths: list[tuple[int, list[float | None]]]) -> tuple[float | None, float | None]:
    """(threshold, F1) maximising ProcessBench F1 over (human earliest error, step scores) paths, searched over
    the distinct scores and 1.0 (a threshold flags the scores below it, so the next score up, or 1.0 above
    the highest, is what flags a score; ties: the highest threshold). (None, None) when F1 is undefined (no
    path with an error, or none without). One sweep over the sorted hit intervals: O((paths + scores) log paths)."""
    erroneous = [hit_interval(label, scores) for label, scores in paths if label != -1]
    correct = [hit_interval(label, scores) for label, scores in paths if label == -1]
    if not erroneous or not correct:
        return None, None
    err_lows = sorted(i[0] for i in erroneous if i)
    err_highs = sorted(i[1] for i in erroneous if i)
    cor_highs = sorted(i[1] for i in correct if i)
    best: tuple[float, float] | None = None
    for threshold in sorted({s for _, scores in paths for s in scores if s is not None} | {MAX_THRESHOLD}):
        err_hits = bisect_left(err_lows, threshold) - bisect_left(err_highs, threshold)  # low < t <= high
        cor_hits = len(cor_highs) - bisect_left(cor_highs, threshold)  # t <= high
        f1 = processbench_f1(err_hits / len(erroneous), cor_hits / len(correct))
        if best is None or f1 >= best[1] - 1e-12:
            best = (threshold, f1)
    return best


class GatePasses:
    """How many of the verified tasks (seeds, and samples no filter removed) the gate passes at a threshold, the
    other gate settings kept: `passes(threshold)`, None for no threshold; each threshold is decided once."""

    def __init__(self, store: Store, settings: VerificationSettings) -> None:
        wanted = set(store.verify.gate_decided_tasks())
        self.tasks = [paths for key, paths in store.verify.reasoning_paths_nested().items() if key in wanted]
        self.settings = settings
        self.counted: dict[float, int] = {}

    def passes(self, threshold: float | None) -> int | None:
        if threshold is None:
            return None
        if threshold not in self.counted:
            settings = replace(self.settings, threshold=threshold)
            self.counted[threshold] = sum(evaluate_task(paths, settings).passed for paths in self.tasks)
        return self.counted[threshold]


def verifier_report(steps: list[tuple[int, float | None]], paths: list[tuple[int, list[float | None]]],
                    abstained: int, current: float, gate: GatePasses) -> dict:
    """One verifier's numbers. steps: (consensus rating, score or None for an abstention) per labelled step it
    judged; paths: (human earliest error, its score per step) per labelled path it scored."""
    kappa, confusion = _kappa_and_confusion(steps, current)
    now = _f1(paths, current)
    suggested, f1_suggested = suggest_threshold(paths)
    at_suggested = _kappa_and_confusion(steps, suggested) if suggested is not None else (None, None)
    return {
        "n_steps": len(steps), "n_paths": len(paths), "abstained": abstained,
        "threshold": current, "kappa": kappa, "f1": now["f1"], "acc_err": now["acc_err"], "acc_cor": now["acc_cor"],
        "confusion": confusion,
        "suggested_threshold": suggested, "f1_suggested": f1_suggested, "kappa_suggested": at_suggested[0],
        "confusion_suggested": at_suggested[1],
        "passes_current": gate.passes(current), "passes_suggested": gate.passes(suggested),
        "n_paths_erroneous": now["n_erroneous"], "n_paths_correct": now["n_correct"],
    }


# ---------------------------------------------------------------- the report


def _labels_by_step(rows: list[dict]) -> dict[int, dict[str, int]]:
    labels: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        labels[row["step_id"]][row["labeller"]] = RATINGS[row["label"]]
    return dict(labels)


def labeller_counts(rows: list[dict]) -> list[dict]:
    """[{name, steps}] for every labeller, most steps first."""
    counts = Counter(row["labeller"] for row in rows)
    return [{"name": name, "steps": n} for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def calibrate(store: Store) -> dict:
    """The whole calibration report: labellers, agreement, each verifier (and the gate `combined`) against the
    human consensus, and the gate settings. With no human labels, `labellers` is empty and nothing else is set."""
    settings = verification_settings(store)
    rows = store.labelling.human_step_labels()
    labels = _labels_by_step(rows)
    report = {"labellers": labeller_counts(rows), "agreement": agreement(labels), "verifiers": {}, COMBINED: None,
              "threshold": settings.threshold, "aggregation": settings.aggregation,
              "n_labelled_steps": len(labels), "consensus_rule": CONSENSUS_RULE, "threshold_rule": THRESHOLD_RULE}
    if not labels:
        return report
    agreed = {step: consensus(list(by.values())) for step, by in labels.items()}
    report["tied_steps"] = sum(1 for by in labels.values() if _tied(list(by.values())))
    path_steps: dict[int, list[int]] = defaultdict(list)
    verdicts: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in store.labelling.labelled_path_verdicts():
        if not path_steps[row["path_id"]] or path_steps[row["path_id"]][-1] != row["step_id"]:
            path_steps[row["path_id"]].append(row["step_id"])
        if row["verifier"] is not None:
            verdicts[row["step_id"]][row["verifier"]] = {"score": row["score"], "label": row["label"]}
    errors = {path: human_earliest_error([agreed.get(step) for step in steps]) for path, steps in path_steps.items()}
    report["n_paths"] = len(path_steps)
    report["n_paths_undetermined"] = sum(1 for e in errors.values() if e is None)
    gate = GatePasses(store, settings)
    report["tasks_verified"] = len(gate.tasks)
    report["passes_current"] = gate.passes(settings.threshold)
    names = sorted({name for by in verdicts.values() for name in by})

    def score_of(step: int, name: str) -> float | None:
        verdict = verdicts[step].get(name)
        return None if verdict is None or verdict["label"] == UNVERIFIABLE else verdict["score"]

    for name in names:
        judged = [step for step in agreed if name in verdicts.get(step, {})]
        scored_paths = [(errors[path], [score_of(step, name) for step in steps]) for path, steps in path_steps.items()
                        if errors[path] is not None and any(name in verdicts.get(step, {}) for step in steps)]
        report["verifiers"][name] = verifier_report(
            [(agreed[step], score_of(step, name)) for step in judged], scored_paths,
            sum(1 for step in judged if score_of(step, name) is None), settings.threshold, gate)
    if names:
        judged = [step for step in agreed if verdicts.get(step)]
        scored_paths = [(errors[path], [step_score(verdicts.get(step, {})) for step in steps])
                        for path, steps in path_steps.items()
                        if errors[path] is not None and any(verdicts.get(step) for step in steps)]
        report[COMBINED] = verifier_report([(agreed[step], step_score(verdicts[step])) for step in judged],
                                           scored_paths, 0, settings.threshold, gate)
    return report


def _tied(ratings: list[int]) -> bool:
    counts = Counter(ratings).most_common()
    return len(counts) > 1 and counts[0][1] == counts[1][1]


def human_label_summary(store: Store, sample_ids: list[int]) -> dict:
    """What a dataset card says about people's step labels on these samples' reasoning paths: {"steps": steps
    labelled by people, "labellers": [{name, steps}], "agreement": agreement(...)}."""
    rows = store.labelling.human_step_labels(sample_ids)
    labels = _labels_by_step(rows)
    return {"steps": len(labels), "labellers": labeller_counts(rows), "agreement": agreement(labels)}


def apply_threshold(store: Store, threshold: float) -> VerificationSettings:
    """Save `threshold` as the gate threshold (the other gate settings are kept) and decide every task again under
    it. Raises CalibrationError outside [0, 1]."""
    try:
        settings = replace(verification_settings(store), threshold=threshold)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from exc
    save_verification_settings(store, settings)
    return settings


# ---------------------------------------------------------------- words (CLI and page)


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for people: '—' when undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def summary_lines(report: dict) -> list[str]:
    """The report as plain text lines (the CLI's output without --json)."""
    if not report["labellers"]:
        return [NO_LABELS]
    lines = ["labellers: " + ", ".join(f"{row['name']} ({plural(row['steps'], 'step')})" for row in report["labellers"])]
    shared = report["agreement"]
    lines.append(f"agreement between people: {shared['note']}")
    for pair in shared["pairs"] if shared["n_labellers"] > 2 else []:
        lines.append(f"  {pair['labellers'][0]} / {pair['labellers'][1]}: Cohen's kappa {fmt(pair['kappa'])} "
                     f"on {plural(pair['n_steps'], 'shared step')}")
    lines.append(f"human consensus: {report['consensus_rule']} ({plural(report.get('tied_steps', 0), 'tied step')})")
    lines.append(f"gate: threshold {report['threshold']:g} ({report['aggregation']}); {report.get('passes_current') or 0:,} "
                 f"of {plural(report.get('tasks_verified', 0), 'verified task')} pass")
    rows = list(report["verifiers"].items()) + ([(f"{COMBINED} (the gate)", report[COMBINED])] if report[COMBINED] else [])
    if not rows:
        lines.append("no verifier has scored the labelled steps yet")
    for name, row in rows:
        would = "—" if row["passes_suggested"] is None else f"{row['passes_suggested']:,}"
        lines.append(
            f"{name}: {plural(row['n_steps'], 'step')}, {plural(row['n_paths'], 'path')}; at {row['threshold']:g}: "
            f"kappa {fmt(row['kappa'])}, F1 {fmt(row['f1'])}, {row['passes_current']:,} tasks pass; suggested "
            f"threshold {fmt(row['suggested_threshold'])}: F1 {fmt(row['f1_suggested'])}, {would} tasks would pass")
    if report.get("n_paths_undetermined"):
        lines.append(f"{report['n_paths_undetermined']} labelled paths left out of F1: a step before their first "
                     "error (or any step, with no error) has no human label")
    return lines


NO_LABELS = ("No step has a human label yet: label steps on the Verifier page (or import PRM800K / ProcessBench "
             "files with their ratings), then calibrate.")
