"""`workbench verify-eval`: ProcessBench's metric on our own labelled fixture, computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from workbench.cli import main
from workbench.verifiers.evaluation import (
    EvalDataError,
    predicted_error,
    processbench_metrics,
    read_processbench,
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
