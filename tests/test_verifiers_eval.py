"""`workbench verify-eval`: ProcessBench's metric, the report file and best-of-N selection, on small fixtures
whose figures are computed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from workbench.cli import main
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.verify.verifiers.base import Task, unverifiable
from workbench.verify.verifiers.evaluation import (
    EvalDataError,
    best_of_n,
    miss_kind,
    predicted_error,
    processbench_metrics,
    read_best_of_n,
    read_processbench,
    read_report,
)

FIXTURE = FIXTURES / "processbench_small.jsonl"


def test_metric_definition():
    assert predicted_error([1.0, 0.5, 0.49, 0.0]) == 2
    assert predicted_error([0.5, 1.0]) == -1  # neutral is not an error
    result = processbench_metrics([1, 0, -1, -1], [1, -1, -1, 2])
    assert (result["acc_err"], result["acc_cor"]) == (0.5, 0.5) and result["f1"] == 0.5
    assert processbench_metrics([-1], [-1])["f1"] is None  # no erroneous samples: F1 undefined


def test_verify_eval_on_the_fixture_matches_the_hand_computed_metric(db_path, capsys):
    # By hand, for the arithmetic verifier:
    # 7 erroneous items. The five arithmetic slips are caught at the labelled step (65 != 60 at step 1,
    # 14 != 12 at step 0, 20 != 21 at step 2, 1100 != 1000 at step 2, 74 != 72 at step 1). The wrong
    # premise in prose is unverifiable (predicted -1), and multiplying instead of dividing is a true
    # calculation (60 * 1.5 = 90), so it is missed too: acc_err = 5/7.
    # 5 correct items, none with a false calculation or a step below 0.5: acc_cor = 5/5.
    # f1 = 2 * (5/7) * 1 / (5/7 + 1) = 10/12.
    assert main(["--db", str(db_path), "verify-eval", str(FIXTURE), "--verifier", "arithmetic", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 12 and (result["n_erroneous"], result["n_correct"]) == (7, 5)
    assert result["acc_err"] == pytest.approx(5 / 7)
    assert result["acc_cor"] == 1.0
    assert result["f1"] == pytest.approx(10 / 12)


@pytest.mark.parametrize(
    ("line", "message"),
    [("not json", "line 1: not JSON"), ('{"steps": ["a"], "label": -1}', "'problem'"),
     ('{"problem": "p", "steps": [], "label": -1}', "non-empty list"),
     ('{"problem": "p", "steps": ["a"], "label": 3}', "'label' must be -1 or the index")],
)
def test_bad_files_are_refused_with_the_line(tmp_path: Path, db_path, capsys, line: str, message: str):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    with pytest.raises(EvalDataError, match=message):
        read_processbench(bad)
    assert main(["--db", str(db_path), "verify-eval", str(bad), "--json"]) == 2
    assert message.split("'")[0] in capsys.readouterr().err


def test_verify_eval_refuses_a_prm_without_a_path(db_path, capsys):
    assert main(["--db", str(db_path), "verify-eval", str(FIXTURE), "--verifier", "prm"]) == 2
    assert "path" in capsys.readouterr().err


# ---------------------------------------------------------------- the report file

def test_report_keeps_label_prediction_and_every_steps_score_and_rationale(db_path, tmp_path: Path, capsys):
    report = tmp_path / "out" / "report.jsonl"
    assert main(["--db", str(db_path), "verify-eval", str(FIXTURE), "--verifier", "arithmetic,consistency",
                 "--report", str(report), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["verifier"] == "arithmetic,consistency" and result["report"] == str(report)
    lines = read_report(report.read_text().splitlines())
    assert [r["id"] for r in lines] == [json.loads(x)["id"] for x in FIXTURE.read_text().splitlines() if x.strip()]
    first = lines[0]
    assert (first["label"], first["predicted"], first["hit"]) == (1, 1, True)
    step = first["steps"][1]
    assert step["text"] == "20 * 3 = 65 litres a day." and step["score"] == 0.0 and step["decided_by"] == "arithmetic"
    assert step["verdicts"]["arithmetic"]["rationale"] == "false: `20 * 3 = 65` (20 * 3 is 60)"
    assert step["verdicts"]["consistency"]["label"] == "unverifiable"
    # the two errors the arithmetic verifier cannot see (hand count above) are the report's misses
    misses = [(r["id"], miss_kind(r)) for r in lines if miss_kind(r)]
    assert len(misses) == 2 and {kind for _, kind in misses} == {"missed error"}
    assert processbench_metrics([r["label"] for r in lines], [r["predicted"] for r in lines])["f1"] == result["f1"]


def test_a_report_that_is_not_one_is_refused():
    with pytest.raises(EvalDataError, match="line 2: not a verify-eval report line"):
        read_report(['{"label": -1, "predicted": -1, "steps": []}', '{"id": 3}'])
    with pytest.raises(EvalDataError, match="holds no items"):
        read_report(["", " "])


# ---------------------------------------------------------------- best-of-N selection

BEST_OF_N = FIXTURES / "best_of_n_small.jsonl"


def test_best_of_n_selection_accuracy_matches_the_hand_computed_figures(db_path, capsys):
    # By hand (min over steps; an unverifiable step is 0.5; ties for best are averaged like a random pick):
    # "sum": arithmetic scores the four completions 0.5, 0 (6 * 7 = 48), 0.5, 0.5 (a wrong plan with true sums)
    #        -> 2 of the 3 tied are right: 2/3. consistency: final answers 44, 50, 44, 56 -> shares
    #        0.5, 0.25, 0.5, 0.25 -> both picks right: 1. majority 44: right. random 2/4. oracle 1.
    # "pens" (no `correct`: read from `answer` 12): arithmetic 0.5, 0.5, 0 (4 * 3 = 7) -> 1 of 2 tied: 1/2.
    #        consistency: answers 12, 7, 7 -> shares 1/3, 2/3, 2/3 -> both picks wrong: 0. majority 7: wrong.
    #        random 1/3. oracle 1.
    assert main(["--db", str(db_path), "verify-eval", str(BEST_OF_N), "--best-of-n", "--verifier",
                 "arithmetic,consistency", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"selection_accuracy", "n"} and result["n"] == 2
    assert result["selection_accuracy"] == pytest.approx({
        "arithmetic": (2 / 3 + 1 / 2) / 2, "consistency": (1 + 0) / 2, "majority": (1 + 0) / 2,
        "random": (2 / 4 + 1 / 3) / 2, "oracle": 1.0})


class RecordingVerifier:
    """A verifier that records what it was shown."""

    name = "recording"

    def __init__(self) -> None:
        self.tasks: list[Task] = []

    async def score_steps(self, task: Task, steps: list[str]) -> list:
        self.tasks.append(task)
        return [unverifiable("seen") for _ in steps]


def test_best_of_n_never_shows_the_answer_to_a_verifier():
    recorder = RecordingVerifier()
    result = best_of_n([recorder], read_best_of_n(BEST_OF_N))
    assert len(recorder.tasks) == 7 and {t.reference_answer for t in recorder.tasks} == {None}
    assert result["selection_accuracy"]["recording"] == result["selection_accuracy"]["random"]  # all tied


@pytest.mark.parametrize(
    ("line", "message"),
    [('{"problem": "p", "completions": []}', "'completions' must be a non-empty list"),
     ('{"problem": "p", "completions": ["a"]}', "give 'correct' (one flag per completion) or an 'answer'"),
     ('{"problem": "p", "completions": ["a", "b"], "correct": [true]}', "'correct' needs one true/false per completion (2 completions)")],
)
def test_bad_best_of_n_files_are_refused_with_the_line(tmp_path: Path, db_path, capsys, line: str, message: str):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "fine", "completions": ["Answer: 1"], "correct": [true]}\n' + line + "\n")
    with pytest.raises(EvalDataError, match=f"line 2: {re.escape(message)}"):
        read_best_of_n(bad)
    assert main(["--db", str(db_path), "verify-eval", str(bad), "--best-of-n", "--json"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_report_and_best_of_n_do_not_mix(db_path, tmp_path: Path, capsys):
    assert main(["--db", str(db_path), "verify-eval", str(BEST_OF_N), "--best-of-n", "--report",
                 str(tmp_path / "r.jsonl")]) == 2
    assert "best-of-N prints selection accuracy only" in capsys.readouterr().err


def test_best_of_n_with_rollouts_towards_the_majority(store, db_path, capsys):
    # every continuation ends 'Answer: 44'. "sum": the majority is 44, so the completions stating 44 keep 1.0 and
    # are picked: 1. "pens": the majority is 7, no rollout reaches it and every completion scores 0: a tie, 1/3.
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini",
                                             extra={"mock_response": "Step 2: so 44.\nAnswer: 44"}))
    assert main(["--db", str(db_path), "verify-eval", str(BEST_OF_N), "--best-of-n", "--verifier", "rollout",
                 "--rollout-k", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["selection_accuracy"]["rollout"] == pytest.approx((1 + 1 / 3) / 2)
