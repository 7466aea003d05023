"""Reasoning paths: prompts, step segmentation, aggregation, best-of-N, the gate and human overrules."""

from __future__ import annotations

import math

import pytest

from workbench.store import Store
from workbench.verify.prompts import chat_messages, completion_prompt
from workbench.verify.reasoning import (
    VerificationSettings,
    aggregate,
    best_of_n,
    decided_by,
    disagrees,
    evaluate_task,
    final_answer,
    load_task,
    overrule_step,
    refresh_task_metric,
    split_steps,
    step_score,
)
from workbench.verify.verifiers.base import Task

# ---------------------------------------------------------------- prompts


def test_base_models_get_a_few_shot_prompt_that_opens_step_one():
    prompt = completion_prompt(Task("What is 2 + 2?"))
    assert prompt.endswith("Problem: What is 2 + 2?\nSolution:\nStep 1:")
    assert prompt.count("Problem:") == 3 and "Answer: 53" in prompt  # two worked examples, then the task


def test_code_tasks_get_code_examples_and_chat_models_get_chat():
    code = Task("Write a function f", tests="assert f() == 1")
    assert "```python" in completion_prompt(code)
    assert "```python" not in completion_prompt(Task("What is 2 + 2?"))
    messages = chat_messages(Task("What is 2 + 2?"))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Step k" in messages[0]["content"] and messages[1]["content"] == "What is 2 + 2?"


# ---------------------------------------------------------------- segmentation


def test_split_on_step_markers_with_labels_removed_and_answer_apart():
    text = "Step 1: 5 * 12 = 60 pencils.\nStep 2: 60 - 7 = 53.\nIt is still step two.\nAnswer: 53"
    assert split_steps(text) == ["5 * 12 = 60 pencils.", "60 - 7 = 53.\nIt is still step two.", "Answer: 53"]


def test_split_on_markdown_step_headings():
    text = "We start.\n**Step 1:** add.\n**Step 2.** subtract.\nThe final answer is 4"
    assert split_steps(text) == ["We start.", "add.", "subtract.", "The final answer is 4"]


def test_split_on_numbered_lines():
    text = "1. Add 2 and 3 to get 5.\n2) Double it: 10.\n3. Done"
    assert split_steps(text) == ["Add 2 and 3 to get 5.", "Double it: 10.", "Done"]


def test_split_on_blank_line_paragraphs():
    text = "First we add the numbers.\nThat gives 5.\n\nThen we double it.\n\n\nSo 10."
    assert split_steps(text) == ["First we add the numbers.\nThat gives 5.", "Then we double it.", "So 10."]


def test_split_on_sentences_as_a_fallback_keeping_decimals():
    text = "The price is 3.50 dollars. Two cost 7.00 dollars! Is that right? Yes."
    assert split_steps(text) == ["The price is 3.50 dollars.", "Two cost 7.00 dollars!", "Is that right?", "Yes."]


def test_code_fences_are_never_split():
    text = "Step 1: Plan.\nStep 2: The code:\n```python\ndef f():\n\n    return 1\n\n# Step 3: not a step\n```"
    steps = split_steps(text)
    assert len(steps) == 2 and steps[1].startswith("The code:\n```python") and "# Step 3" in steps[1]


def test_final_answer_is_the_last_stated_one():
    assert final_answer(["Answer: 3", "Wait. The answer is 4."]) == "4"
    assert final_answer(["no answer"]) is None


# ---------------------------------------------------------------- scores


def test_aggregation_rules():
    scores = [1.0, 0.5, 0.8]
    assert aggregate(scores, "min") == 0.5
    assert aggregate(scores, "product") == pytest.approx(0.4)
    assert aggregate(scores, "last") == 0.8
    assert aggregate(scores, "mean") == pytest.approx(2.3 / 3)
    assert aggregate([], "min") == 0.0
    with pytest.raises(ValueError, match="aggregates by"):
        aggregate(scores, "max")


def test_step_score_takes_the_strictest_verdict_and_unverifiable_abstains():
    judge_yes = {"score": 0.9, "label": "correct"}
    arithmetic_no = {"score": 0.0, "label": "incorrect"}
    neutral = {"score": 0.5, "label": "unverifiable"}
    assert step_score({"judge": judge_yes, "arithmetic": arithmetic_no}) == 0.0
    assert step_score({"judge": judge_yes, "arithmetic": neutral}) == 0.9
    assert step_score({"arithmetic": neutral}) == 0.5
    assert step_score({}) == 0.5
    assert disagrees({"judge": judge_yes, "arithmetic": arithmetic_no})
    assert not disagrees({"judge": judge_yes, "arithmetic": neutral})


@pytest.mark.parametrize(("label", "expected"), [("correct", 1.0), ("incorrect", 0.0), ("neutral", 0.5)])
def test_an_overrule_replaces_every_verdict(label: str, expected: float):
    verdicts = {"arithmetic": {"score": 0.0, "label": "incorrect"}, "judge": {"score": 1.0, "label": "correct"}}
    assert step_score(verdicts, {"label": label}) == expected


def test_best_of_n_takes_the_earliest_of_the_best():
    assert best_of_n({11: 0.5, 12: 1.0, 13: 1.0}) == 12
    assert best_of_n({11: 1.0, 12: 0.5}, {11: "failed", 12: "unverified"}) == 12  # status before score
    assert best_of_n({}) is None


def _path(path_id: int, *scores: float) -> dict:
    steps = [
        {"id": path_id * 10 + i, "idx": i, "overrule": None, "text": f"step {i}",
         "scores": {"v": {"score": s, "label": "correct" if s >= 0.5 else "incorrect", "rationale": f"v says {s}"}}}
        for i, s in enumerate(scores)
    ]
    return {"id": path_id, "path_index": path_id - 1, "steps": steps}


def test_each_rule_ranks_the_paths_by_its_path_score():
    paths = [_path(1, 1.0, 0.6, 1.0), _path(2, 0.9, 0.9, 0.9), _path(3, 1.0, 1.0, 0.0)]
    by_min = evaluate_task(paths, VerificationSettings("min", 0.5))
    assert by_min.path_scores == {1: 0.6, 2: 0.9, 3: 0.0} and by_min.best_path_id == 2
    by_product = evaluate_task(paths, VerificationSettings("product", 0.5))
    assert by_product.best_path_id == 2 and by_product.best_score == pytest.approx(0.729)
    by_mean = evaluate_task(paths, VerificationSettings("mean", 0.5))
    assert by_mean.best_path_id == 2 and math.isclose(by_mean.path_scores[1], 2.6 / 3)
    assert evaluate_task(paths, VerificationSettings("last", 0.5)).best_path_id == 1


def test_decided_by_names_the_strictest_verifier_the_overrule_or_nobody():
    rollout = {"score": 0.25, "label": "incorrect"}
    arithmetic = {"score": 1.0, "label": "correct"}
    neutral = {"score": 0.5, "label": "unverifiable"}
    assert decided_by({"rollout": rollout, "arithmetic": arithmetic, "consistency": neutral}) == "rollout"
    assert decided_by({"arithmetic": arithmetic, "consistency": {**arithmetic}}) == "arithmetic, consistency"
    assert decided_by({"arithmetic": neutral}) == decided_by({}) == "nobody"
    assert decided_by({"rollout": rollout}, {"label": "correct", "reviewer": "ada"}) == "overrule (ada)"


def test_gate_reason_explains_the_best_paths_weakest_step():
    paths = [_path(1, 1.0, 0.25, 1.0), _path(2, 0.0, 1.0)]
    failed = evaluate_task(paths, VerificationSettings("min", 1.0))
    assert failed.reason == ("best path (path 1, score 0.25: min over steps) fails at the threshold 1: "
                             "step 2 scores 0.25, decided by v: v says 0.25")
    unverified = _path(3, 1.0)
    unverified["steps"][0].update(text="Answer: 4",
                                  scores={"v": {"score": 0.5, "label": "unverifiable", "rationale": "no calculation"}})
    assert evaluate_task([unverified], VerificationSettings()).reason.endswith(
        "step 1 is unverified: no verifier could check it (v: no calculation)")
    assert evaluate_task([], VerificationSettings()).reason == "no reasoning paths"


# ---------------------------------------------------------------- store round trip and overrules


def _stored_task(store: Store) -> tuple[int, list[int], list[int]]:
    """A seed with two stored paths: path A has a false step, path B is unverifiable in its middle."""
    seed_id = store.seeds.insert_seeds([{"instruction": "Jacket: $80, 25% off, then 10% off.", "reference_answer": "54"}])[0]
    job = store.jobs.create_job("verify", {})
    a = store.verify.add_reasoning_path({"job_id": job, "task_type": "seed", "task_id": seed_id, "path_index": 0,
                                  "text": "..."}, ["25% of 80 = 25", "Answer: 55"])
    b = store.verify.add_reasoning_path({"job_id": job, "task_type": "seed", "task_id": seed_id, "path_index": 1,
                                  "text": "..."}, ["25% of 80 = 20", "We then take 10% off.", "Answer: 54"])
    rows = []
    for path_id, verdicts in ((a, [(0.0, "incorrect"), (0.0, "incorrect")]),
                              (b, [(1.0, "correct"), (0.5, "unverifiable"), (1.0, "correct")])):
        for step, (score, label) in zip(store.verify.path_steps(path_id), verdicts, strict=True):
            rows.append({"step_id": step["id"], "verifier": "arithmetic", "score": score, "label": label,
                         "rationale": "r"})
    store.verify.set_step_scores(rows)
    return seed_id, [s["id"] for s in store.verify.path_steps(a)], [s["id"] for s in store.verify.path_steps(b)]


def test_a_path_is_stored_once_per_job_task_and_index(store: Store):
    seed_id, steps_a, _ = _stored_task(store)
    job = store.jobs.list_jobs()[0]["id"]
    again = store.verify.add_reasoning_path({"job_id": job, "task_type": "seed", "task_id": seed_id, "path_index": 0,
                                      "text": "other"}, ["x"])
    paths = store.verify.reasoning_paths_nested("seed", seed_id)[("seed", seed_id)]
    assert again == paths[0]["id"] and len(paths) == 2
    assert [s["id"] for s in paths[0]["steps"]] == steps_a


def test_overrules_change_the_path_score_and_the_gate(store: Store):
    seed_id, steps_a, steps_b = _stored_task(store)
    settings = VerificationSettings("min", 1.0)
    before = refresh_task_metric(store, "seed", seed_id, settings)
    assert before.best_score == 0.5 and before.status == "unverified"  # arithmetic alone verifies no outcome
    assert store.metrics.get_metrics("seed", seed_id)["best_path_score"] == 0.5

    after = overrule_step(store, steps_b[2], "correct", "54 is the sale price", "ada", settings)
    assert after.passed and after.best_score == 0.5  # a person verified the answer; step 2 stays unchecked
    assert store.verify.gate_verdict("seed", seed_id)["status"] == "passed"
    history = store.verify.step_overrule_history(steps_b[2])
    assert history[0]["reviewer"] == "ada" and history[0]["reason"] == "54 is the sale price"
    assert history[0]["created_at"] > 0

    later = overrule_step(store, steps_b[2], "incorrect", "on second thought", "bob", settings)
    assert later.best_score == 0.0 and later.status == "failed"  # the latest overrule counts
    assert len(store.verify.step_overrule_history(steps_b[2])) == 2

    neutral = overrule_step(store, steps_a[0], "neutral", "not sure", "ada", settings)
    assert neutral.path_scores[neutral.best_path_id] == 0.0  # path A still has its false final answer


def test_an_overrule_needs_a_known_label_a_reason_and_a_step(store: Store):
    _, steps_a, _ = _stored_task(store)
    settings = VerificationSettings()
    with pytest.raises(ValueError, match="reason"):
        overrule_step(store, steps_a[0], "correct", "  ", "ada", settings)
    with pytest.raises(ValueError, match="overrule"):
        overrule_step(store, steps_a[0], "maybe", "because", "ada", settings)
    with pytest.raises(LookupError):
        overrule_step(store, 99999, "correct", "because", "ada", settings)
    assert store.verify.step_overrule_history(steps_a[0]) == []


def test_load_task_for_seeds_and_samples(store: Store):
    seed_id = store.seeds.insert_seeds([{"instruction": "What is 6 * 7?", "reference_answer": "42", "domain": "math"}])[0]
    same = store.samples.insert_sample({"source": "seed", "seed_id": seed_id, "instruction": "What is 6 * 7?"})
    evolved = store.samples.insert_sample({"source": "evol", "seed_id": seed_id, "instruction": "What is 6 * 7 * 2?"})
    assert load_task(store, "seed", seed_id).reference_answer == "42"
    assert load_task(store, "sample", same).reference_answer == "42"
    assert load_task(store, "sample", evolved).reference_answer is None  # a new question: the seed's answer is wrong
    with pytest.raises(LookupError):
        load_task(store, "seed", 999)
