"""Step labelling (issue 16 §1): the queue's orders, gold mixed in at its rate and unmarked, gold accuracy, the
refusal of a submission with a step unrated, human completions, and labels moving the gate and the exports
exactly as overrules do."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.ship_data import CLEAN_PII, add_sample, add_scored_path
from workbench.export.engine import ExportOptions, export
from workbench.store import Store
from workbench.verify import labelling
from workbench.verify.labelling import (
    CONSENSUS_DISPUTES,
    DISAGREEMENT,
    LOW_CONFIDENCE,
    RANDOM,
    LabellingError,
    QueueItem,
    gold_accuracy,
    labelling_queue,
    mark_gold,
    mark_gold_from_labeller,
    mix_gold,
    own_ratings,
    submit_labels,
)
from workbench.verify.reasoning import VerificationSettings, evaluate_task

GATE = VerificationSettings("min", 1.0)


def scored_task(store: Store, title: str, scores: list[float], verifiers: dict[str, list[float]] | None = None,
                paths: int = 1) -> tuple[int, list[tuple[int, list[int]]]]:
    """A sample task with `paths` paths whose steps carry `scores` (one verifier), or per-verifier scores."""
    sample_id = add_sample(store, title)
    made = []
    for index in range(paths):
        texts = [f"{title} step {i + 1}" for i in range(len(scores))]
        path_id, step_ids = add_scored_path(store, sample_id, texts, scores, path_index=index)
        for name, values in (verifiers or {}).items():
            store.verify.set_step_scores([{"step_id": s, "verifier": name, "score": v, "label": "scored"}
                                   for s, v in zip(step_ids, values, strict=True)])
        made.append((path_id, step_ids))
    return sample_id, made


def titles(queue: list[QueueItem]) -> list[str]:
    return [item.title for item in queue]


# ---------------------------------------------------------------- queue orders


def test_low_confidence_puts_the_most_unsure_steps_first_then_the_score_nearest_the_threshold(store):
    scored_task(store, "sure", [1.0, 1.0, 1.0])
    scored_task(store, "one unsure", [1.0, 0.5, 1.0])
    scored_task(store, "two unsure", [0.6, 0.5, 1.0])
    scored_task(store, "one unsure, far below", [0.5, 0.0, 1.0])
    queue = labelling_queue(store, "ada", LOW_CONFIDENCE, rate=0.0, settings=GATE)
    # two unsure steps first; of the one-unsure tasks, best score 0.5 (0.5 from the gate at 1.0) before 0.0 (1.0 from it)
    assert titles(queue) == ["two unsure", "one unsure", "one unsure, far below", "sure"]


def test_disagreement_puts_the_most_disputed_steps_first(store):
    scored_task(store, "agreed", [1.0, 1.0], {"judge": [0.9, 0.8]})
    scored_task(store, "one dispute", [1.0, 1.0], {"judge": [0.1, 0.8]})
    scored_task(store, "two disputes", [1.0, 0.0], {"judge": [0.0, 1.0]})
    queue = labelling_queue(store, "ada", DISAGREEMENT, rate=0.0, settings=GATE)
    assert titles(queue) == ["two disputes", "one dispute", "agreed"]


def test_consensus_disputes_put_the_steps_rollouts_and_the_judge_disagree_on_first(store):
    scored_task(store, "agreed", [1.0, 1.0], {"rollout": [1.0, 1.0], "judge": [1.0, 1.0]})
    scored_task(store, "one dispute", [1.0, 1.0], {"rollout": [0.0, 1.0], "judge": [1.0, 1.0]})
    scored_task(store, "two disputes", [1.0, 1.0], {"rollout": [0.0, 1.0], "judge": [1.0, 0.0]})
    scored_task(store, "judge alone", [1.0, 1.0], {"judge": [0.0, 0.0]})  # nothing to agree with: no dispute
    queue = labelling_queue(store, "ada", CONSENSUS_DISPUTES, rate=0.0, settings=GATE)
    assert titles(queue)[:2] == ["two disputes", "one dispute"]
    assert set(titles(queue)[2:]) == {"agreed", "judge alone"}


def test_random_order_is_every_task_once_and_reproducible_from_its_seed(store):
    for i in range(12):
        scored_task(store, f"task {i}", [1.0])
    first = labelling_queue(store, "ada", RANDOM, rate=0.0, seed=7)
    assert titles(first) == titles(labelling_queue(store, "ada", RANDOM, rate=0.0, seed=7))
    assert sorted(titles(first)) == sorted(f"task {i}" for i in range(12))
    assert titles(first) != titles(labelling_queue(store, "ada", LOW_CONFIDENCE, rate=0.0))


def test_each_task_offers_its_best_path_the_labeller_has_not_labelled(store):
    sample_id = add_sample(store, "two paths")
    worse, worse_steps = add_scored_path(store, sample_id, ["a", "b"], [0.4, 0.4], path_index=0)
    better, better_steps = add_scored_path(store, sample_id, ["c", "d"], [0.9, 0.9], path_index=1)
    assert [i.path_id for i in labelling_queue(store, "ada", settings=GATE)] == [better]
    submit_labels(store, better, "ada", {better_steps[0]: 1, better_steps[1]: 1}, settings=GATE)
    assert [i.path_id for i in labelling_queue(store, "ada", settings=GATE)] == [worse]
    assert [i.path_id for i in labelling_queue(store, "bob", settings=GATE)] == [better]  # bob has not labelled it
    submit_labels(store, worse, "ada", {worse_steps[0]: 1, worse_steps[1]: 0}, settings=GATE)
    assert labelling_queue(store, "ada", settings=GATE) == []


# ---------------------------------------------------------------- gold tasks


def test_mix_gold_puts_gold_at_the_rate_and_ends_with_the_regular_items():
    regular, gold = [f"r{i}" for i in range(8)], ["g0", "g1", "g2"]
    assert mix_gold(regular, gold, 0.25) == ["r0", "r1", "r2", "g0", "r3", "r4", "r5", "g1", "r6", "r7"]
    assert mix_gold(regular[:4], gold, 0.5) == ["r0", "g0", "r1", "g1", "r2", "g2", "r3"]
    assert mix_gold(regular, gold, 0.0) == regular
    assert mix_gold([], gold, 0.5) == []
    with pytest.raises(LabellingError, match="under 1"):
        mix_gold(regular, gold, 1.0)


def gold_store(store: Store, regular: int = 8, gold: int = 3) -> list[int]:
    """`regular` unlabelled tasks and `gold` tasks whose one path 'teacher' labelled and that are marked gold."""
    for i in range(regular):
        scored_task(store, f"regular {i}", [1.0, 0.5])
    gold_ids = []
    for i in range(gold):
        _, [(path_id, step_ids)] = scored_task(store, f"gold {i}", [1.0, 1.0])
        store.labelling.add_step_labels("teacher", {step_ids[0]: "correct", step_ids[1]: "incorrect"}, "known")
        mark_gold(store, path_id, "lead", labeller="teacher")
        gold_ids.append(path_id)
    return gold_ids


def test_gold_is_mixed_in_at_the_rate_and_looks_like_any_other_task(store):
    gold_ids = gold_store(store)
    queue = labelling_queue(store, "ada", LOW_CONFIDENCE, rate=0.25, settings=GATE, seed=1)
    assert len(queue) == 10
    assert [i for i, item in enumerate(queue) if item.path_id in gold_ids] == [3, 7]
    # nothing on an item (nor on the task shown for it) says gold
    assert {f.name for f in dataclasses.fields(QueueItem)} == {"path_id", "task_type", "task_id", "title"}
    gold_task = labelling.labelling_task(store, queue[3].path_id)
    assert {f.name for f in dataclasses.fields(gold_task)} == {"path_id", "task", "steps", "model"}
    assert own_ratings(store, queue[3].path_id, "ada") == {}  # the gold labels are not shown as the labeller's own


def test_gold_never_goes_to_the_labeller_whose_labels_made_it_nor_twice(store):
    gold_ids = gold_store(store, regular=4, gold=2)
    assert not {i.path_id for i in labelling_queue(store, "teacher", rate=0.5)} & set(gold_ids)
    queue = labelling_queue(store, "ada", rate=0.5, seed=3)
    served = [i.path_id for i in queue if i.path_id in gold_ids]
    assert sorted(served) == sorted(gold_ids)
    steps = [s["id"] for s in store.verify.path_steps(served[0])]
    submit_labels(store, served[0], "ada", {steps[0]: 1, steps[1]: 1})
    assert [i.path_id for i in labelling_queue(store, "ada", rate=0.5) if i.path_id in gold_ids] == [served[1]]


def test_gold_answers_do_not_count_as_labels_in_the_gate(store):
    (gold_path,) = gold_store(store, regular=0, gold=1)
    steps = [s["id"] for s in store.verify.path_steps(gold_path)]
    before = evaluate_task(next(iter(store.verify.reasoning_paths_nested().values())), GATE)
    submit_labels(store, gold_path, "ada", {steps[0]: 1, steps[1]: 1}, settings=GATE)
    nested = next(iter(store.verify.reasoning_paths_nested().values()))
    assert [s["overrule"]["reviewer"] for s in nested[0]["steps"]] == ["teacher", "teacher"]
    assert evaluate_task(nested, GATE) == before  # the gold labels (teacher's -1 on step 2) still decide
    assert store.labelling.latest_step_labels("ada") == {}
    assert own_ratings(store, gold_path, "ada") == {steps[0]: 1, steps[1]: 1}  # ada sees what she answered


def test_gold_accuracy_on_a_hand_computed_case(store):
    _, [(first, a)] = scored_task(store, "gold A", [1.0, 1.0, 1.0, 1.0])
    _, [(second, b)] = scored_task(store, "gold B", [1.0, 1.0])
    store.labelling.add_step_labels("teacher", dict(zip(a, ["correct", "correct", "incorrect", "neutral"], strict=True)), "known")
    store.labelling.add_step_labels("teacher", dict(zip(b, ["correct", "incorrect"], strict=True)), "known")
    assert mark_gold(store, first, "lead", "teacher") == 4
    mark_gold(store, second, "lead", "teacher")
    # gold A: +1 +1 -1 0; gold B: +1 -1
    submit_labels(store, first, "bob", dict(zip(a, [1, 0, -1, 0], strict=True)))       # 3 of 4
    submit_labels(store, second, "bob", dict(zip(b, [1, 1], strict=True)))             # 1 of 2
    submit_labels(store, first, "cy", dict(zip(a, [1, 1, 1, 1], strict=True)))         # 2 of 4 ...
    submit_labels(store, first, "cy", dict(zip(a, [1, 1, -1, 1], strict=True)))        # ... then 3 of 4: the latest counts
    assert gold_accuracy(store) == {
        "bob": {"steps": 6, "correct": 4, "accuracy": pytest.approx(4 / 6)},
        "cy": {"steps": 4, "correct": 3, "accuracy": pytest.approx(0.75)},
    }
    store.labelling.unmark_gold_path(second)  # answers to a path no longer gold count no more
    assert gold_accuracy(store)["bob"] == {"steps": 4, "correct": 3, "accuracy": pytest.approx(0.75)}


def test_marking_gold_needs_every_step_labelled_and_says_which_are_not(store):
    _, [(path_id, steps)] = scored_task(store, "partly labelled", [1.0, 1.0, 1.0, 1.0])
    store.labelling.add_step_labels("teacher", {steps[0]: "correct", steps[2]: "neutral"}, "known")
    with pytest.raises(LabellingError, match="Steps 2 and 4 of path .* have no label by teacher"):
        mark_gold(store, path_id, "lead", "teacher")
    _, [(full, full_steps)] = scored_task(store, "fully labelled", [1.0])
    store.labelling.add_step_labels("teacher", {full_steps[0]: "incorrect"}, "known")
    marking = mark_gold_from_labeller(store, "teacher", "lead")
    assert marking.marked == [full]
    assert "Steps 2 and 4" in marking.skipped[path_id]
    assert store.labelling.gold_paths()[0]["path_id"] == full and store.labelling.gold_paths()[0]["labeller"] == "teacher"
    assert mark_gold_from_labeller(store, "teacher", "lead").skipped[full] == "already gold"


# ---------------------------------------------------------------- submissions


def test_a_submission_with_a_step_unrated_is_refused_naming_the_step_and_saves_nothing(store):
    _, [(path_id, steps)] = scored_task(store, "four steps", [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(LabellingError, match=r"^Step 3 is not rated"):
        submit_labels(store, path_id, "ada", {steps[0]: 1, steps[1]: -1, steps[3]: 0}, "a fix")
    with pytest.raises(LabellingError, match=r"^Steps 2 and 4 are not rated"):
        submit_labels(store, path_id, "ada", {steps[0]: 1, steps[1]: None, steps[2]: 1})
    with pytest.raises(LabellingError, match="a rating is -1, 0 or \\+1"):
        submit_labels(store, path_id, "ada", {steps[0]: 2, steps[1]: 1, steps[2]: 1, steps[3]: 1})
    assert store.labelling.latest_step_labels() == {}
    assert store.verify.human_completions([path_id]) == {path_id: []}


def test_human_completion_is_stored_at_the_first_wrong_step_with_the_labels(store):
    _, [(path_id, steps)] = scored_task(store, "three steps", [1.0, 1.0, 1.0])
    with pytest.raises(LabellingError, match="no step is rated −1"):
        submit_labels(store, path_id, "ada", dict.fromkeys(steps, 1), "a correction")
    saved = submit_labels(store, path_id, "ada", {steps[0]: 1, steps[1]: -1, steps[2]: -1}, "  3 * 4 = 12  ")
    assert (saved.labels, saved.human_completion) == (3, True)
    (completion,) = store.verify.human_completions([path_id])[path_id]
    assert (completion["step_id"], completion["idx"], completion["text"], completion["labeller"]) == (
        steps[1], 1, "3 * 4 = 12", "ada")
    history = store.verify.step_overrule_history(steps[1])
    assert [(h["label"], h["reviewer"]) for h in history] == [("incorrect", "ada")]
    assert history[0]["created_at"] > 0


def test_several_labellers_each_see_their_own_labels_and_the_latest_counts(store):
    _, [(path_id, steps)] = scored_task(store, "shared", [1.0, 1.0])
    submit_labels(store, path_id, "ada", {steps[0]: 1, steps[1]: 1}, settings=GATE)
    submit_labels(store, path_id, "bob", {steps[0]: 1, steps[1]: -1}, settings=GATE)
    assert own_ratings(store, path_id, "ada") == {steps[0]: 1, steps[1]: 1}
    assert own_ratings(store, path_id, "bob") == {steps[0]: 1, steps[1]: -1}
    assert own_ratings(store, path_id, "cy") == {}
    assert [s["overrule"]["reviewer"] for s in store.verify.reasoning_paths_nested()[("sample", 1)][0]["steps"]] == ["bob", "bob"]


def test_labels_move_the_step_score_the_gate_and_the_exports_as_overrules_do(store, tmp_path: Path):
    sample_id, [(path_id, steps)] = scored_task(store, "unverified until labelled", [0.9, 0.9])
    settings = VerificationSettings("min", 0.8)
    # the verifier's 0.9s find nothing wrong; the path fails only for stating no final answer
    assert evaluate_task(store.verify.reasoning_paths_nested()[("sample", sample_id)], settings).failure.kind == "no_answer"
    submit_labels(store, path_id, "ada", {steps[0]: 1, steps[1]: -1}, "the right step", settings=settings)
    paths = store.verify.reasoning_paths_nested()[("sample", sample_id)]
    verdict = evaluate_task(paths, settings)
    assert (verdict.status, verdict.failure.kind) == ("failed", "overruled") and verdict.path_scores[path_id] == 0.0
    assert "decided by overrule (ada)" in verdict.reason
    assert store.metrics.get_metrics("sample", sample_id)["best_path_score"] == 0.0  # the gate metric was refreshed
    assert store.samples.get_sample(sample_id)["pii"] is None  # the corrected step was never scanned: the scan is made again
    store.samples.set_sample_pii({sample_id: CLEAN_PII})

    def exported(fmt: str) -> dict:
        result = export(store, ExportOptions(fmt=fmt), f"out-{fmt}.jsonl", tmp_path / "exports")
        return json.loads(result.path.read_text().splitlines()[0])

    assert exported("trl-stepwise")["labels"] == [True, False]
    prm = exported("prm800k")
    assert [s["completions"][0]["rating"] for s in prm["label"]["steps"]] == [1, -1]


def test_a_labeller_needs_a_name_and_unknown_paths_or_steps_are_refused(store):
    _, [(path_id, steps)] = scored_task(store, "one step", [1.0])
    _, [(_, other_steps)] = scored_task(store, "other", [1.0])
    with pytest.raises(LabellingError, match="set your name"):
        submit_labels(store, path_id, "  ", {steps[0]: 1})
    with pytest.raises(LabellingError, match="not in path"):
        submit_labels(store, path_id, "ada", {steps[0]: 1, other_steps[0]: 1})
    with pytest.raises(LookupError):
        submit_labels(store, 999, "ada", {})
