"""Evaluate verifiers on a user's own labels: ProcessBench's earliest-error metric, and PRM best-of-N selection.

ProcessBench format (Zheng et al., 2024): `{id, problem, steps[], label}` with `label` the index of
the earliest wrong step, or -1 when every step is right; an item may add `reference_answer` (the
verifiers see it: the final answer is checked against it and rollouts aim at it; without one, a
single labelled path has nothing to vote with). The verifiers' combined step score is the
gate's (the strictest verdict wins, an abstention is neutral); the prediction is the first step
scored below 0.5 (-1 if none). The metric: accuracy on the erroneous items, accuracy on the correct
ones, and F1 = their harmonic mean. A report file keeps, per item, the label, the prediction and
each step's score, the verifier that decided it and every rationale.

Best-of-N format: `{id, problem, answer, completions: [text, ...], correct: [bool, ...]}`. Each
verifier scores every completion (path score = the gate's aggregation of its step scores, with the
task's other completions as the vote for self-consistency and rollouts) and picks its best-scored
one; the `answer` only scores the pick (when `correct` is absent, a completion is correct when its
stated final answer equals `answer`) and is never shown to a verifier. Selection accuracy per
verifier, against `majority` (the majority vote on final answers), `random` (the expected accuracy
of a random pick) and `oracle` (some completion is correct). Where several completions (or answers)
tie for best, the accuracy is the mean over the tied ones: what a pick at random among them scores.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from workbench.core.wording import plural
from workbench.verify.reasoning import DEFAULT_AGGREGATION, aggregate, decided_by, split_steps, step_score
from workbench.verify.verifiers.base import StepScore, Task, Verifier
from workbench.verify.verifiers.consistency import PathContext, same_answer, stated_answer, vote


class EvalDataError(Exception):
    """A labelled file that cannot be read, with the line at fault."""


def _read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; raises EvalDataError naming the first bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from exc
    rows: list[tuple[int, dict]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("problem"), str):
            raise EvalDataError(f"{path} line {number}: needs a 'problem' string")
        rows.append((number, row))
    if not rows:
        raise EvalDataError(f"{path} holds no items")
    return rows


def read_processbench(path: str | Path) -> list[dict]:
    """Every item of a ProcessBench JSONL file; raises EvalDataError naming the first bad line."""
    items: list[dict] = []
    for number, item in _read_jsonl(path):
        steps, label = item.get("steps"), item.get("label")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise EvalDataError(f"{path} line {number}: 'steps' must be a non-empty list of strings")
        if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
            raise EvalDataError(f"{path} line {number}: 'label' must be -1 or the index of a step (0..{len(steps) - 1})")
        items.append(item)
    return items


def predicted_error(scores: list[float]) -> int:
    """The earliest step scored below 0.5, or -1."""
    return next((i for i, score in enumerate(scores) if score < 0.5), -1)


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
    return {"score": score.score, "label": score.label, "rationale": score.rationale}


async def _item_report(verifiers: list[Verifier], item: dict) -> dict:
    task = Task(item["problem"], reference_answer=item.get("reference_answer"), tests=item.get("tests"),
                domain=item.get("domain"), reference_solution=item.get("reference_solution"))
    by_verifier = {v.name: await v.score_steps(task, item["steps"]) for v in verifiers}
    steps = []
    for index, text in enumerate(item["steps"]):
        verdicts = {name: _as_dict(scores[index]) for name, scores in by_verifier.items()}
        steps.append({"index": index, "text": text, "score": step_score(verdicts), "decided_by": decided_by(verdicts),
                      "verdicts": verdicts})
    predicted = predicted_error([s["score"] for s in steps])
    return {"id": item.get("id"), "label": item["label"], "predicted": predicted, "hit": predicted == item["label"],
            "steps": steps}


def evaluate(verifiers: list[Verifier], items: list[dict]) -> tuple[dict, list[dict]]:
    """ProcessBench's metric for the verifiers combined as the gate combines them, and one report per item."""

    async def run() -> list[dict]:
        return [await _item_report(verifiers, item) for item in items]

    reports = asyncio.run(run())
    metrics = processbench_metrics([r["label"] for r in reports], [r["predicted"] for r in reports])
    return {"verifier": ",".join(v.name for v in verifiers), **metrics}, reports


def write_report(reports: list[dict], path: str | Path) -> Path:
    """One JSON line per item: id, label, predicted, hit, and every step with its score and rationales."""
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
    for number, item in _read_jsonl(path):
        completions, correct = item.get("completions"), item.get("correct")
        if not isinstance(completions, list) or not completions or not all(isinstance(c, str) for c in completions):
            raise EvalDataError(f"{path} line {number}: 'completions' must be a non-empty list of strings")
        if correct is None:
            answer = item.get("answer")
            if not isinstance(answer, str | int | float) or isinstance(answer, bool) or not str(answer).strip():
                raise EvalDataError(f"{path} line {number}: give 'correct' (one flag per completion) or an 'answer'")
            correct = [_states(str(answer), completion) for completion in completions]
        elif not isinstance(correct, list) or len(correct) != len(completions) or not all(
                isinstance(c, bool) for c in correct):
            raise EvalDataError(f"{path} line {number}: 'correct' needs one true/false per completion "
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


def _accuracy_of_best(scores: list[float], correct: list[bool]) -> float:
    """Accuracy of the best-scored pick; a tie for best counts as a pick at random among the tied."""
    best = max(scores)
    return _mean([float(c) for s, c in zip(scores, correct, strict=True) if s >= best - 1e-12])


async def _path_scores(verifier: Verifier, task: Task, paths: list[list[str]], aggregation: str) -> list[float]:
    paths_vote = vote([stated_answer(p)[1] for p in paths])
    scores = []
    for index, steps in enumerate(paths):
        if hasattr(verifier, "score_in_context"):
            verdicts = await verifier.score_in_context(task, steps, PathContext(paths_vote, index))
        else:
            verdicts = await verifier.score_steps(task, steps)
        scores.append(aggregate([step_score({verifier.name: asdict(v)}) for v in verdicts], aggregation))
    return scores


def majority_accuracy(paths: list[list[str]], correct: list[bool]) -> float:
    """Accuracy of the majority vote on final answers (tied answers averaged; no answer at all: a random pick)."""
    clusters = vote([stated_answer(p)[1] for p in paths]).clusters
    if not clusters:
        return _mean([float(c) for c in correct])
    top = [c for c in clusters if len(c.members) == len(clusters[0].members)]
    return _mean([_mean([float(correct[i]) for i in c.members]) for c in top])


def best_of_n(verifiers: list[Verifier], items: list[dict], aggregation: str = DEFAULT_AGGREGATION) -> dict:
    """{"selection_accuracy": {<verifier>: ..., "majority", "random", "oracle"}, "n"}: mean accuracies over items."""

    async def run() -> dict[str, list[float]]:
        found: dict[str, list[float]] = {v.name: [] for v in verifiers} | {"majority": [], "random": [], "oracle": []}
        for item in items:
            task = Task(item["problem"])  # never the answer: it only scores the pick
            paths = [_steps(c) for c in item["completions"]]
            correct = item["correct"]
            for verifier in verifiers:
                scores = await _path_scores(verifier, task, paths, aggregation)
                found[verifier.name].append(_accuracy_of_best(scores, correct))
            found["majority"].append(majority_accuracy(paths, correct))
            found["random"].append(_mean([float(c) for c in correct]))
            found["oracle"].append(float(any(correct)))
        return found

    found = asyncio.run(run())
    return {"selection_accuracy": {name: _mean(values) for name, values in found.items()}, "n": len(items)}
