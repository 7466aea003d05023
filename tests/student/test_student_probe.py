"""The failure probe's method: Chen et al.'s pass@k, what can be probed and why not, known failures, the student's
settings and their refusals, and the uncertainty measures in bits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.analyse.uncertainty import ANSWER_CLUSTERS, EMBEDDING_CLUSTERS, answer_cluster_labels, measure
from workbench.student.probe import (
    LONG_REFERENCE,
    MAJORITY_FAILED_GATE,
    NO_REFERENCE,
    NO_VERIFIED_ANSWER,
    ProbeTask,
    TaskResult,
    pass_at_k,
    plan_approved,
    plan_seeds,
    probe_report,
)
from workbench.student.settings import StudentSettings, save_student_settings, student_settings
from workbench.verify.verifiers.base import Task


def test_pass_at_k_is_chen_et_als_unbiased_estimator():
    assert pass_at_k(4, 2, 1) == 0.5
    assert pass_at_k(4, 2, 2) == 1 - 1 / 6  # 1 - C(2,2)/C(4,2)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5), abs=0)
    assert pass_at_k(200, 1, 100) == 0.5  # exact even where the binomials are huge
    for bad in ((3, 1, 4), (4, 5, 1), (4, 1, 0)):
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_a_task_with_fewer_attempts_than_k_has_no_pass_at_k_and_fails_by_its_rate():
    partial = TaskResult(1, attempts=3, correct=0, k=4)
    assert partial.pass_at_1 == 0.0 and partial.pass_at_k is None and partial.fails(0.0)
    assert not TaskResult(2, attempts=4, correct=1, k=4).fails(0.0)
    assert TaskResult(2, attempts=4, correct=1, k=4).fails(0.25)  # "at most" the threshold


def test_seeds_without_a_checkable_answer_are_listed_with_their_reason():
    seeds = [
        {"id": 1, "reference_answer": "42", "tests": None},
        {"id": 2, "reference_answer": None, "tests": "assert f() == 1"},
        {"id": 3, "reference_answer": None, "tests": None},
        {"id": 4, "reference_answer": "Step 1: add.\nStep 2: the answer is 42 because ...", "tests": ""},
    ]
    tasks, not_probed = plan_seeds(seeds)
    assert tasks == [ProbeTask("seed", 1, "reference"), ProbeTask("seed", 2, "tests")]
    assert not_probed == [{"id": 3, "reason": NO_REFERENCE}, {"id": 4, "reason": LONG_REFERENCE}]


def test_approved_tasks_need_a_reference_tests_or_a_majority_that_passed_the_gate():
    candidates = [
        {"id": 10, "reference_answer": "7", "tests": None, "majority_answer": None, "passed_gate": None},
        {"id": 11, "reference_answer": None, "tests": None, "majority_answer": "31", "passed_gate": 1},
        {"id": 12, "reference_answer": None, "tests": None, "majority_answer": "31", "passed_gate": 0},
        {"id": 13, "reference_answer": None, "tests": None, "majority_answer": None, "passed_gate": 1},
    ]
    tasks, not_probed = plan_approved(candidates)
    assert tasks == [ProbeTask("sample", 10, "reference"), ProbeTask("sample", 11, "majority")]
    assert not_probed == [{"id": 12, "reason": MAJORITY_FAILED_GATE}, {"id": 13, "reason": NO_VERIFIED_ANSWER}]


def test_the_report_averages_over_tasks_overall_and_per_domain():
    results = [TaskResult(1, 4, 4, 4, "math"), TaskResult(2, 4, 2, 4, "math"), TaskResult(3, 4, 0, 4, None)]
    report = probe_report("seeds", "m", 4, 0.0, results, [{"id": 9, "reason": NO_REFERENCE}])
    assert (report["pass_at_1"], report["pass_at_k"], report["known_failures"]) == (0.5, 2 / 3, [3])
    assert report["seeds"][1] == {"id": 2, "attempts": 4, "correct": 2, "pass_at_1": 0.5, "pass_at_k": 1.0,
                                  "known_failure": False}
    assert report["by_domain"] == [
        {"domain": "(no domain)", "probed": 1, "pass_at_1": 0.0, "pass_at_k": 0.0, "failed": 1},
        {"domain": "math", "probed": 2, "pass_at_1": 0.75, "pass_at_k": 1.0, "failed": 0},
    ]
    headroom = probe_report("approved", "m", 4, 0.0, results, [])
    assert headroom["failed"] == [3] and headroom["headroom"] == 1 / 3 and "tasks" in headroom
    assert probe_report("approved", "m", 4, 0.0, [], [])["headroom"] is None


@pytest.mark.parametrize(("values", "message"), [
    ({"k": 0}, r"k \(attempts per task\) must be"), ({"k": 2.5}, r"k \(attempts per task\) must be"),
    ({"threshold": 1.5}, "threshold is a pass rate in"), ({"threshold": -0.1}, "threshold is a pass rate in"),
    ({"model": " "}, "cannot be empty"),
])
def test_bad_student_settings_are_refused_with_a_plain_message(store, values, message):
    with pytest.raises(ValueError, match=message):
        student_settings(store, values)
    with pytest.raises(ValueError, match=message):
        save_student_settings(store, StudentSettings(**{**StudentSettings().to_dict(), **values}))
    assert store.settings.get_setting("student") is None  # nothing was saved


def test_the_student_defaults_to_the_bundled_model_and_keeps_what_is_saved(store):
    assert student_settings(store).model == "local/gemma-3-270m"
    save_student_settings(store, StudentSettings(model="openai/gpt-4o-mini", k=8, threshold=0.25))
    saved = student_settings(store, {"k": 2})
    assert (saved.model, saved.k, saved.threshold) == ("openai/gpt-4o-mini", 2, 0.25)
    assert saved.client_config().answer_temperature == saved.temperature


def test_math_answers_cluster_by_equivalence_and_unstated_answers_stand_alone():
    assert answer_cluster_labels(["$1,250", "1250", "7", None, None])[:3] == [0, 0, 1]
    labels = answer_cluster_labels(["$1,250", "1250", "7", None, None])
    assert len(set(labels)) == 4
    task = Task("What is 625 * 2?", reference_answer="1250")
    result = measure(task, ["a", "b", "c", "d"], ["1250", "1,250", "1250", "1250"], [None, 1.0, 3.0, None],
                     ["none", "full next-token distribution", "x", "none"], embed=lambda texts: pytest.fail())
    assert result.clustered_by == ANSWER_CLUSTERS and result.disagreement == 0.0
    assert result.token_entropy == 2.0 and result.entropy_note == "full next-token distribution"
    split = measure(task, ["a", "b"], ["1250", "7"], [None, None], ["not available: x"] * 2, embed=lambda t: None)
    assert split.disagreement == 1.0 and split.token_entropy is None and split.entropy_note == "not available: x"


def test_open_answers_cluster_by_embedding_in_bits():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    task = Task("Write a haiku about snow.")
    result = measure(task, ["w", "x", "y", "z"], [None] * 4, [None] * 4, ["n"] * 4, embed=lambda texts: vectors)
    assert result.clustered_by == EMBEDDING_CLUSTERS and result.disagreement == pytest.approx(1.0)  # two camps: 1 bit
