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
from workbench.verify.verifiers import DEFAULT_VERIFIERS
from workbench.verify.verifiers.base import Task, unverifiable
from workbench.verify.verifiers.evaluation import (
    EvalDataError,
    best_of_n,
    gate_figures,
    miss_kind,
    processbench_metrics,
    read_best_of_n,
    read_processbench,
    read_report,
)

FIXTURE = FIXTURES / "processbench_small.jsonl"


def test_metric_definition():
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
    assert main(["--db", str(db_path), "verify", "eval", str(FIXTURE), "--verifier", "arithmetic", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 12 and (result["n_erroneous"], result["n_correct"]) == (7, 5)
    assert result["acc_err"] == pytest.approx(5 / 7)
    assert result["acc_cor"] == 1.0
    assert result["f1"] == pytest.approx(10 / 12)
    # no item brings a reference answer and each is one path: nothing verifies an outcome, nothing passes; the
    # items whose last step states no final answer fail as such, with the five slips and "Answer: 66" (false)
    assert result["gate"] == {"passed": 0, "passed_correct": 0, "precision": None, "yield": 0.0,
                              "unverified": 1, "failed": 11}
    assert result["verifiers"] == ["arithmetic"] and 0.0 < result["unverifiable_share"] < 1.0


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
    assert main(["--db", str(db_path), "verify", "eval", str(bad), "--json"]) == 2
    assert message.split("'")[0] in capsys.readouterr().err


def test_verify_eval_refuses_a_prm_without_a_path(db_path, capsys):
    assert main(["--db", str(db_path), "verify", "eval", str(FIXTURE), "--verifier", "prm"]) == 2
    assert "path" in capsys.readouterr().err


# ---------------------------------------------------------------- the report file

def test_report_keeps_label_prediction_and_every_steps_score_and_rationale(db_path, tmp_path: Path, capsys):
    report = tmp_path / "out" / "report.jsonl"
    assert main(["--db", str(db_path), "verify", "eval", str(FIXTURE), "--verifier", "arithmetic,consistency",
                 "--report", str(report), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["verifiers"] == ["arithmetic", "consistency"] and result["report"] == str(report)
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
    # By hand (the gate ranks passed > unverified > failed, then the rule; ties are averaged like a random pick):
    # min over steps, margin 0.25 (a majority must lead the runner-up by a quarter of the paths):
    # "sum": arithmetic: the four completions are unverified, failed (6 * 7 = 48), unverified, unverified (a wrong
    #        plan with true sums), all unverified at 0.5 -> 2 of the 3 tied are right: 2/3. consistency (1/0 against
    #        the majority): answers 44, 50, 44, 56 -> 44 leads 2 to 1 of 4 (margin 0.25): the 44s pass -> 1.
    #        majority 44: right. random 2/4. oracle 1.
    # "pens" (no `correct`: read from `answer` 12): arithmetic unverified, unverified, failed (4 * 3 = 7) -> 1/2.
    #        consistency: 12, 7, 7 -> 7 leads by 1/3: both 7s pass, wrong: 0. majority 7: wrong. random 1/3.
    # combined: "sum" passes the two 44s: 1; "pens" passes the 7 of the true sum (4 + 3 = 7 holds): 0.
    # vote (DIVERSE): arithmetic weighs the completions 1, 0, 1, 1 ("sum": 44 gathers 2 of 3 -> 1) and 1, 1, 0
    #        ("pens": 12 and 7 weigh 1 each: a tie of 12 and 7 -> 1/2).
    assert main(["--db", str(db_path), "verify", "eval", str(BEST_OF_N), "--best-of-n", "--verifier",
                 "arithmetic,consistency", "--margin", "0.25", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 2 and result["aggregation"] == "min" and result["verifiers"] == ["arithmetic", "consistency"]
    baselines = {"majority": (1 + 0) / 2, "random": (2 / 4 + 1 / 3) / 2, "oracle": 1.0}
    assert result["selection_accuracy"] == pytest.approx({
        "arithmetic": (2 / 3 + 1 / 2) / 2, "consistency": (1 + 0) / 2, "combined": (1 + 0) / 2, **baselines})
    assert result["by_rule"]["vote"]["arithmetic"] == pytest.approx((1 + 1 / 2) / 2)
    assert set(result["by_rule"]) == {"min", "product", "last", "mean", "vote"}


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
    assert main(["--db", str(db_path), "verify", "eval", str(bad), "--best-of-n", "--json"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_report_and_best_of_n_do_not_mix(db_path, tmp_path: Path, capsys):
    assert main(["--db", str(db_path), "verify", "eval", str(BEST_OF_N), "--best-of-n", "--report",
                 str(tmp_path / "r.jsonl")]) == 2
    assert "best-of-N prints selection accuracy only" in capsys.readouterr().err


def test_best_of_n_with_rollouts_towards_the_majority(store, db_path, capsys):
    # every continuation ends 'Answer: 44'. "sum": the majority is 44, so the completions stating 44 keep 1.0 and
    # are picked: 1. "pens": the majority is 7, no rollout reaches it and every completion scores 0: a tie, 1/3.
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini",
                                             extra={"mock_response": "Step 2: so 44.\nAnswer: 44"}))
    assert main(["--db", str(db_path), "verify", "eval", str(BEST_OF_N), "--best-of-n", "--verifier", "rollout",
                 "--rollout-k", "2", "--margin", "0.25", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["selection_accuracy"]["rollout"] == pytest.approx((1 + 1 / 3) / 2)


# ---------------------------------------------------------------- files as published, several files, the gate


def test_a_processbench_json_array_as_published_reads_like_jsonl(tmp_path: Path):
    items = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    published = tmp_path / "gsm8k.json"
    published.write_text(json.dumps([{**item, "generator": "Qwen2.5-7B", "final_answer_correct": item["label"] == -1}
                                     for item in items], indent=2))
    assert [i["id"] for i in read_processbench(published)] == [i["id"] for i in items]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([items[0], {"problem": "p", "steps": ["a"], "label": 5}]))
    with pytest.raises(EvalDataError, match="item 2: 'label' must be -1 or the index"):
        read_processbench(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"problem\": ")
    with pytest.raises(EvalDataError, match="not a JSON array"):
        read_processbench(broken)


def test_without_a_verifier_it_runs_a_new_stores_defaults_on_each_file_and_names_them(db_path, tmp_path: Path,
                                                                                   capsys):
    with_reference = tmp_path / "with_reference.jsonl"
    with_reference.write_text(json.dumps({"id": "r", "problem": "What is 6 * 7?", "reference_answer": "42",
                                          "steps": ["6 * 7 = 42.", "Answer: 42"], "label": -1}) + "\n"
                              + json.dumps({"id": "w", "problem": "What is 6 * 8?", "reference_answer": "48",
                                            "steps": ["6 * 8 = 48.", "So 48 + 1 = 49.", "Answer: 49"],
                                            "label": 1}) + "\n")
    assert main(["--db", str(db_path), "verify", "eval", str(with_reference), str(FIXTURE), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    first, second = printed["files"]
    assert first["file"] == str(with_reference) and second["file"] == str(FIXTURE)
    assert first["verifiers"] == list(DEFAULT_VERIFIERS) == second["verifiers"]
    assert first["settings"] == {"aggregation": "min", "threshold": 1.0, "margin": 0.5, "step_rule": "strictest"}
    # the right answer to 6 * 7 is verified against its reference; the other's answer misses its reference, and its
    # wrong "+ 1" (true arithmetic) is placed as the first error: it went on from the reference answer 48 (overshoot)
    assert first["gate"] == {"passed": 1, "passed_correct": 1, "precision": 1.0, "yield": 1.0, "unverified": 0,
                             "failed": 1}
    assert (first["acc_err"], first["acc_cor"]) == (1.0, 1.0)
    assert main(["--db", str(db_path), "verify", "eval", str(with_reference)]) == 0
    assert "gate: 1 passed (1 of them correct), 0 unverified, 1 failed; precision 1.0000, yield 1.0000" in (
        capsys.readouterr().out)


def test_a_report_needs_one_file(db_path, tmp_path: Path, capsys):
    assert main(["--db", str(db_path), "verify", "eval", str(FIXTURE), str(FIXTURE), "--report",
                 str(tmp_path / "r.jsonl")]) == 2
    assert "one FILE" in capsys.readouterr().err


def test_gate_figures_count_precision_and_yield_over_the_correct_items():
    reports = [{"label": -1, "gate": "passed"}, {"label": 2, "gate": "passed"}, {"label": -1, "gate": "unverified"},
               {"label": -1, "gate": "failed"}, {"label": 0, "gate": "failed"}]
    assert gate_figures(reports) == {"passed": 2, "passed_correct": 1, "precision": 0.5, "yield": 1 / 3,
                                     "unverified": 1, "failed": 2}
    assert gate_figures([{"label": 1, "gate": "failed"}])["precision"] is None  # nothing passed: no precision
