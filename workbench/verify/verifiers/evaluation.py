"""Evaluate verifiers on labelled solutions: ProcessBench's earliest-error metric, the gate's precision and
yield, and best-of-N selection.

ProcessBench format (Zheng et al., 2024), read as published (a JSON array) or as JSONL: `{id, problem, steps[],
label}` (ProcessBench adds `generator` and `final_answer_correct`), with `label` the index of the earliest wrong
step, or -1 when every step is right; an item may add `reference_answer` (the verifiers see it: the final answer
is checked against it and rollouts aim at it; without one, a single labelled path has nothing to vote with). Each
item is one path, scored by the verifiers and decided by the gate exactly as a task in the store
(workbench.verify.reasoning, under the given gate settings). The prediction is the earliest step the gate finds
wrong (-1 if none). The metric: accuracy on the erroneous items, accuracy on the correct ones, and F1 = their
harmonic mean; the gate's figures: how many items pass, how many of those are correct (label -1), precision =
passed_correct / passed (None when nothing passes) and yield = the share of the correct items that pass; and
`unverifiable_share`, the share of steps every verifier abstained on. A report file keeps, per item, the label,
the prediction, the gate's decision and each step's score, the verifier that decided it and every rationale.

Best-of-N format: `{id, problem, answer, completions: [text, ...], correct: [bool, ...]}`. Each verifier scores
every completion (with the task's other completions as the vote for self-consistency and rollouts), and the gate
picks the best one under each selection rule (a path score over steps, or the verifier-weighted vote), for each
verifier alone and for all of them together (`combined`, as a job combines them); the `answer` only scores the
pick (when `correct` is absent, a completion is correct when its stated final answer equals `answer`) and is never
shown to a verifier. Selection accuracy per verifier, against `majority` (the majority vote on final answers),
`random` (the expected accuracy of a random pick) and `oracle` (some completion is correct). Where several
completions (or answers) tie for best, the accuracy is the mean over the tied ones: what a pick at random among
them scores.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, replace
from pathlib import Path

from workbench.core.wording import plural
from workbench.verify.reasoning import (
    AGGREGATIONS,
    PASSED,
    UNVERIFIED,
    VerificationSettings,
    effective_score,
    evaluate_task,
    first_wrong_step,
    split_steps,
    step_decided_by,
)
from workbench.verify.verifiers.base import UNVERIFIABLE, StepScore, Task, Verifier
from workbench.verify.verifiers.consistency import PathContext, same_answer, stated_answer, vote

COMBINED = "combined"


class EvalDataError(Exception):
    """A labelled file that cannot be read, with the line (or item) at fault."""


def _read_items(path: str | Path) -> list[tuple[str, dict]]:
    """(where, object) for every item of a JSON array file or a JSONL file; raises EvalDataError naming the first
    bad line or item."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from exc
    if text.lstrip().startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path}: not a JSON array ({exc.msg} at line {exc.lineno})") from exc
        rows = [(f"item {number}", row) for number, row in enumerate(array, start=1)]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path} line {number}: not JSON ({exc.msg})") from exc
    for where, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("problem"), str):
            raise EvalDataError(f"{path} {where}: needs a 'problem' string")
    if not rows:
        raise EvalDataError(f"{path} holds no items")
    return rows


def read_processbench(path: str | Path) -> list[dict]:
    """Every item of a ProcessBench file (a JSON array as published, or JSONL); raises EvalDataError naming the
    first bad line or item."""
    items: list[dict] = []
    for where, item in _read_items(path):
        steps, label = item.get("steps"), item.get("label")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise EvalDataError(f"{path} {where}: 'steps' must be a non-empty list of strings")
        if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
            raise EvalDataError(f"{path} {where}: 'label' must be -1 or the index of a step (0..{len(steps) - 1})")
        items.append(item)
    return items


def processbench_f1(acc_err: float | None, acc_cor: float | None) -> float | None:
    """ProcessBench's F1: the harmonic mean of the accuracies on erroneous and on correct items; None where a
    class is empty."""
    if acc_err is None or acc_cor is None:
        return None
    return 0.0 if acc_err + acc_cor == 0 else 2 * acc_err * acc_cor / (acc_err + acc_cor)


def processbench_metrics(labels: list[int], predictions: list[int]) -> dict:
    """n, acc_err, acc_cor and f1 (harmonic mean of the two accuracies); None where a class is empty."""
    erroneous = [p == y for y, p in zip(labels, predictions, strict=True) if y != -1]
    correct = [p == -1 for y, p in zip(labels, predictions, strict=True) if y == -1]
    acc_err = sum(erroneous) / len(erroneous) if erroneous else None
    acc_cor = sum(correct) / len(correct) if correct else None
    f1 = processbench_f1(acc_err, acc_cor)
    return {"n": len(labels), "n_erroneous": len(erroneous), "n_correct": len(correct),
            "acc_err": acc_err, "acc_cor": acc_cor, "f1": f1}


def _as_dict(score: StepScore) -> dict:
    return {"score": score.score, "label": score.label, "checks": score.checks, "rationale": score.rationale,
            "params": score.params}


def as_path(steps: list[str], verdicts: dict[str, list[StepScore]], path_id: int = 0) -> dict:
    """One path in the shape store.verify.reasoning_paths_nested gives (steps with their verdicts, no overrules), from
    each verifier's verdicts: what the gate decides."""
    return {"id": path_id, "path_index": path_id, "final_answer": None, "steps": [
        {"id": index, "idx": index, "text": text, "overrule": None,
         "scores": {name: _as_dict(scores[index]) for name, scores in verdicts.items()}}
        for index, text in enumerate(steps)]}


async def _item_report(verifiers: list[Verifier], item: dict, settings: VerificationSettings) -> dict:
    task = Task(item["problem"], reference_answer=item.get("reference_answer"), tests=item.get("tests"),
                domain=item.get("domain"), reference_solution=item.get("reference_solution"))
    path = as_path(item["steps"], {v.name: await v.score_steps(task, item["steps"]) for v in verifiers})
    verdict = evaluate_task([path], settings)
    steps = [{"index": step["idx"], "text": step["text"], "score": effective_score(step, settings),
              "decided_by": step_decided_by(step, settings), "verdicts": step["scores"]} for step in path["steps"]]
    predicted = first_wrong_step(path, settings)
    return {"id": item.get("id"), "label": item["label"], "predicted": predicted, "hit": predicted == item["label"],
            "gate": verdict.status, "gate_reason": verdict.reason, "steps": steps}


def gate_figures(reports: list[dict]) -> dict:
    """The gate's figures over labelled items (each with its `label` and the gate's `gate` status): passed,
    passed_correct (label -1), precision = passed_correct / passed (None when nothing passed), yield = the share
    of correct items that pass (None without correct items), and how many are unverified and failed."""
    passed = [r for r in reports if r.get("gate") == PASSED]
    correct = sum(r["label"] == -1 for r in reports)
    passed_correct = sum(r["label"] == -1 for r in passed)
    return {"passed": len(passed), "passed_correct": passed_correct,
            "precision": passed_correct / len(passed) if passed else None,
            "yield": passed_correct / correct if correct else None,
            "unverified": sum(r.get("gate") == UNVERIFIED for r in reports),
            "failed": sum(r.get("gate") not in (PASSED, UNVERIFIED) for r in reports)}


def unverifiable_share(reports: list[dict]) -> float | None:
    """The share of all steps on which every verifier abstained (None with no steps)."""
    steps = [step for report in reports for step in report["steps"]]
    if not steps:
        return None
    return sum(all(v["label"] == UNVERIFIABLE for v in s["verdicts"].values()) for s in steps) / len(steps)


def evaluate(verifiers: list[Verifier], items: list[dict],
             settings: VerificationSettings | None = None) -> tuple[dict, list[dict]]:
    """ProcessBench's metric, the gate's figures and the unverifiable share for the verifiers decided by the gate
    (default settings when None), and one report per item."""
    settings = settings or VerificationSettings()

    async def run() -> list[dict]:
        return [await _item_report(verifiers, item, settings) for item in items]

    reports = asyncio.run(run())
    metrics = processbench_metrics([r["label"] for r in reports], [r["predicted"] for r in reports])
    return {"verifiers": [v.name for v in verifiers], "settings": asdict(settings), **metrics,
            "unverifiable_share": unverifiable_share(reports), "gate": gate_figures(reports)}, reports


def write_report(reports: list[dict], path: str | Path) -> Path:
    """One JSON line per item: id, label, predicted, hit, the gate's status and reason, and every step with its score
    and verdicts."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reports), encoding="utf-8")
    return target


def read_report(lines: list[str]) -> list[dict]:
    """The items of a report written by write_report; raises EvalDataError naming the first bad line."""
    reports = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            report = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(report, dict) or not {"label", "predicted", "steps"} <= set(report):
            raise EvalDataError(f"line {number}: not a verify-eval report line (needs label, predicted, steps)")
        reports.append(report)
    if not reports:
        raise EvalDataError("the report holds no items")
    return reports


def miss_kind(report: dict) -> str | None:
    """None for a hit; else 'missed error', 'false alarm' or 'wrong step'."""
    label, predicted = report["label"], report["predicted"]
    if label == predicted:
        return None
    if predicted == -1:
        return "missed error"
    if label == -1:
        return "false alarm"
    return "wrong step"


# ---------------------------------------------------------------- best-of-N selection


def read_best_of_n(path: str | Path) -> list[dict]:
    """Items with their completions and a correct flag per completion (computed from `answer` when absent)."""
    items: list[dict] = []
    for where, item in _read_items(path):
        completions, correct = item.get("completions"), item.get("correct")
        if not isinstance(completions, list) or not completions or not all(isinstance(c, str) for c in completions):
            raise EvalDataError(f"{path} {where}: 'completions' must be a non-empty list of strings")
        if correct is None:
            answer = item.get("answer")
            if not isinstance(answer, str | int | float) or isinstance(answer, bool) or not str(answer).strip():
                raise EvalDataError(f"{path} {where}: give 'correct' (one flag per completion) or an 'answer'")
            correct = [_states(str(answer), completion) for completion in completions]
        elif not isinstance(correct, list) or len(correct) != len(completions) or not all(
                isinstance(c, bool) for c in correct):
            raise EvalDataError(f"{path} {where}: 'correct' needs one true/false per completion "
                                f"({plural(len(completions), 'completion')})")
        items.append({**item, "correct": correct})
    return items


def _steps(completion: str) -> list[str]:
    return split_steps(completion) or [completion.strip() or "(empty completion)"]


def _states(answer: str, completion: str) -> bool:
    stated = stated_answer(_steps(completion))[1]
    return stated is not None and same_answer(answer, stated)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


async def _verdicts(verifier: Verifier, task: Task, paths: list[list[str]]) -> list[list[StepScore]]:
    """The verifier's verdicts on every path, with the task's other paths as the vote (self-consistency, rollouts)."""
    paths_vote = vote([stated_answer(p)[1] for p in paths])
    if hasattr(verifier, "score_in_context"):
        return [await verifier.score_in_context(task, steps, PathContext(paths_vote, i)) for i, steps in enumerate(paths)]
    return [await verifier.score_steps(task, steps) for steps in paths]


def selection_accuracy(paths: list[dict], correct: list[bool], settings: VerificationSettings) -> float:
    """Accuracy of the gate's pick among the paths (path ids are their indices); a tie for best counts as a pick at
    random among the tied."""
    verdict = evaluate_task(paths, settings)
    return _mean([float(correct[i]) for i in verdict.tied_best])


def majority_accuracy(paths: list[list[str]], correct: list[bool]) -> float:
    """Accuracy of the majority vote on final answers (tied answers averaged; no answer at all: a random pick)."""
    clusters = vote([stated_answer(p)[1] for p in paths]).clusters
    if not clusters:
        return _mean([float(c) for c in correct])
    top = [c for c in clusters if len(c.members) == len(clusters[0].members)]
    return _mean([_mean([float(correct[i]) for i in c.members]) for c in top])


def best_of_n(verifiers: list[Verifier], items: list[dict], settings: VerificationSettings | None = None) -> dict:
    """Selection accuracy (mean over items) of the gate's pick under `settings` (defaults when None) for each
    verifier alone and, with several, `combined`; beside them `majority`, `random` and `oracle`. `by_rule` gives the
    same for every selection rule. Keys: selection_accuracy, by_rule, aggregation, verifiers, n."""
    settings = settings or VerificationSettings()
    selectors = {v.name: [v.name] for v in verifiers} | ({COMBINED: [v.name for v in verifiers]} if len(verifiers) > 1
                                                           else {})

    async def run() -> dict[str, dict[str, list[float]]]:
        found = {rule: {name: [] for name in selectors} for rule in AGGREGATIONS}
        baselines: dict[str, list[float]] = {"majority": [], "random": [], "oracle": []}
        for item in items:
            task = Task(item["problem"])  # never the answer: it only scores the pick
            paths = [_steps(c) for c in item["completions"]]
            correct = item["correct"]
            verdicts = {v.name: await _verdicts(v, task, paths) for v in verifiers}
            for name, chosen in selectors.items():
                nested = [as_path(steps, {n: verdicts[n][i] for n in chosen}, i) for i, steps in enumerate(paths)]
                for rule in AGGREGATIONS:
                    found[rule][name].append(selection_accuracy(nested, correct, replace(settings, aggregation=rule)))
            baselines["majority"].append(majority_accuracy(paths, correct))
            baselines["random"].append(_mean([float(c) for c in correct]))
            baselines["oracle"].append(float(any(correct)))
        return {rule: {**by_name, **baselines} for rule, by_name in found.items()}

    found = asyncio.run(run())
    by_rule = {rule: {name: _mean(values) for name, values in by_name.items()} for rule, by_name in found.items()}
    return {"selection_accuracy": by_rule[settings.aggregation], "by_rule": by_rule,
            "aggregation": settings.aggregation, "verifiers": [v.name for v in verifiers], "n": len(items)}
