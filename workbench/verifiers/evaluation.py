"""Evaluate a verifier against ProcessBench-format labels: `{id, problem, steps[], label}`.

`label` is the index of the earliest wrong step, or -1 when every step is right. A verifier's
prediction is the first step it scores below 0.5 (-1 if none). ProcessBench's metric: accuracy on
the erroneous samples, accuracy on the correct ones, and F1 = their harmonic mean.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from workbench.verifiers.base import Task, Verifier


class EvalDataError(Exception):
    """A labelled file that cannot be read, with the line at fault."""


def read_processbench(path: str | Path) -> list[dict]:
    """Every item of a ProcessBench JSONL file; raises EvalDataError naming the first bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalDataError(f"cannot read {path}: {exc}") from exc
    items: list[dict] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path} line {number}: not JSON ({exc.msg})") from exc
        steps, label = item.get("steps") if isinstance(item, dict) else None, item.get("label") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("problem"), str):
            raise EvalDataError(f"{path} line {number}: needs a 'problem' string")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise EvalDataError(f"{path} line {number}: 'steps' must be a non-empty list of strings")
        if not isinstance(label, int) or not -1 <= label < len(steps):
            raise EvalDataError(f"{path} line {number}: 'label' must be -1 or the index of a step (0..{len(steps) - 1})")
        items.append(item)
    if not items:
        raise EvalDataError(f"{path} holds no items")
    return items


def predicted_error(scores: list[float]) -> int:
    """The earliest step scored below 0.5, or -1."""
    return next((i for i, score in enumerate(scores) if score < 0.5), -1)


def processbench_metrics(labels: list[int], predictions: list[int]) -> dict:
    """n, acc_err, acc_cor and f1 (harmonic mean of the two accuracies); None where a class is empty."""
    erroneous = [p == y for y, p in zip(labels, predictions, strict=True) if y != -1]
    correct = [p == -1 for y, p in zip(labels, predictions, strict=True) if y == -1]
    acc_err = sum(erroneous) / len(erroneous) if erroneous else None
    acc_cor = sum(correct) / len(correct) if correct else None
    if acc_err is None or acc_cor is None:
        f1 = None
    else:
        f1 = 0.0 if acc_err + acc_cor == 0 else 2 * acc_err * acc_cor / (acc_err + acc_cor)
    return {"n": len(labels), "n_erroneous": len(erroneous), "n_correct": len(correct),
            "acc_err": acc_err, "acc_cor": acc_cor, "f1": f1}


async def _predict(verifier: Verifier, items: list[dict]) -> list[int]:
    predictions = []
    for item in items:
        task = Task(item["problem"], item.get("reference_answer"), item.get("tests"), item.get("domain"))
        scores = await verifier.score_steps(task, item["steps"])
        predictions.append(predicted_error([s.score for s in scores]))
    return predictions


def evaluate(verifier: Verifier, items: list[dict]) -> dict:
    predictions = asyncio.run(_predict(verifier, items))
    return {"verifier": verifier.name, **processbench_metrics([i["label"] for i in items], predictions)}
