"""Review: status decisions, tags, edits with history (per turn for conversations), queue filters, step ratings, CLI."""

from __future__ import annotations

import pytest

from tests.ship_data import add_chain, add_sample, add_scored_path
from workbench.cli import main
from workbench.core.settings import set_reviewer_name
from workbench.review import decisions as review
from workbench.store import Store, StoreError
from workbench.verify import ratings

# ---------------------------------------------------------------- decisions, tags, edits


def test_status_changes_write_one_review_row_per_sample_with_the_reviewer(store: Store):
    set_reviewer_name(store, "Ada")
    ids = [add_sample(store, f"task {i}", status="pending") for i in range(3)]
    assert review.set_status(store, ids[:2], "approved", note="looks right") == 2
    assert [s["status"] for s in store.samples.samples_by_ids(ids)] == ["approved", "approved", "pending"]
    history = store.review.sample_reviews(ids[0])
    assert len(history) == 1
    entry = history[0]
    assert (entry["action"], entry["reviewer"], entry["note"]) == ("status", "Ada", "looks right")
    assert entry["before"] == {"status": "pending"} and entry["after"] == {"status": "approved"}
    assert store.review.sample_reviews(ids[2]) == []
    review.set_status(store, [ids[0]], "rejected")
    assert [h["after"]["status"] for h in store.review.sample_reviews(ids[0])] == ["rejected", "approved"]
    assert store.review.latest_decisions([ids[0]])[ids[0]]["status"] == "rejected"
    with pytest.raises(StoreError, match="unknown status"):
        store.review.set_sample_status(ids, "shipped", "Ada")


def test_tags_are_added_once_and_removed_with_history(store: Store):
    ids = [add_sample(store, "one", tags=["keep"]), add_sample(store, "two")]
    review.tag(store, ids, ["hard", "keep", " "])
    assert [s["tags"] for s in store.samples.samples_by_ids(ids)] == [["keep", "hard"], ["hard", "keep"]]
    review.untag(store, ids, ["keep"])
    assert [s["tags"] for s in store.samples.samples_by_ids(ids)] == [["hard"], ["hard"]]
    actions = [h["action"] for h in store.review.sample_reviews(ids[0])]
    assert actions == ["untag", "tag"]


def test_edit_keeps_the_first_original_and_a_history_and_clears_the_pii_scan(store: Store):
    set_reviewer_name(store, "Grace")
    sample_id = add_sample(store, "Orignal wording", "first answer")
    assert store.samples.get_sample(sample_id)["pii"] is not None
    assert review.edit(store, sample_id, "Original wording", "first answer", note="typo")
    assert review.edit(store, sample_id, "Original wording", "better answer")
    assert not review.edit(store, sample_id, "Original wording", "better answer")  # nothing changed
    sample = store.samples.get_sample(sample_id)
    assert (sample["instruction"], sample["output"]) == ("Original wording", "better answer")
    assert (sample["original_instruction"], sample["original_output"]) == ("Orignal wording", "first answer")
    assert sample["pii"] is None
    history = store.review.sample_reviews(sample_id)
    assert [(h["action"], h["reviewer"]) for h in history] == [("edit", "Grace"), ("edit", "Grace")]
    assert history[1]["before"] == {"instruction": "Orignal wording"} and history[1]["after"] == {"instruction": "Original wording"}
    assert history[0]["before"] == {"output": "first answer"} and history[0]["note"] is None
    with pytest.raises(StoreError, match="cannot be empty"):
        review.edit(store, sample_id, "  ", "x")


CONVERSATION = [
    {"role": "system", "content": "You are a patient maths tutor."},
    {"role": "user", "content": "What is 12 * 4?"},
    {"role": "assistant", "content": "12 * 4 = 48."},
    {"role": "user", "content": "And half of that?"},
    {"role": "assistant", "content": "Half of 48 is 24."},
]


def test_editing_turns_keeps_a_history_per_turn_and_the_original_conversation(store: Store):
    set_reviewer_name(store, "Grace")
    sample_id = add_sample(store, "What is 12 * 4?", "12 * 4 = 48.", source="magpie", turns=CONVERSATION)
    assert review.edit_turns(store, sample_id, {4: "Half of 48 is 24, since 48 / 2 = 24."}, note="show the step")
    assert review.edit_turns(store, sample_id, {1: "What is 12 x 4?", 4: "Half of 48 is 24, since 48 / 2 = 24."})
    assert not review.edit_turns(store, sample_id, {1: "What is 12 x 4?"})  # nothing changed
    sample = store.samples.get_sample(sample_id)
    assert [t["content"] for t in sample["turns"]] == [
        "You are a patient maths tutor.", "What is 12 x 4?", "12 * 4 = 48.", "And half of that?",
        "Half of 48 is 24, since 48 / 2 = 24."]
    assert (sample["instruction"], sample["original_instruction"]) == ("What is 12 x 4?", "What is 12 * 4?")
    assert sample["output"] == "12 * 4 = 48." and sample["pii"] is None
    latest, first = store.review.sample_reviews(sample_id)
    assert (first["before"], first["after"], first["note"]) == (
        {"turn:4": "Half of 48 is 24."}, {"turn:4": "Half of 48 is 24, since 48 / 2 = 24."}, "show the step")
    assert (latest["before"], latest["after"], latest["reviewer"]) == (
        {"turn:1": "What is 12 * 4?"}, {"turn:1": "What is 12 x 4?"}, "Grace")
    details = review.focus_details(store, sample_id)
    assert details["conversation"] and details["original_turns"] == CONVERSATION
    with pytest.raises(StoreError, match="turn 4 .* cannot be empty"):
        review.edit_turns(store, sample_id, {3: "  "})
    with pytest.raises(StoreError, match="has no turn 9"):
        review.edit_turns(store, sample_id, {8: "x"})


def test_editing_a_sample_that_stores_its_turns_edits_them_too(store: Store):
    turns = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "9"}]
    sample_id = add_sample(store, "Name a prime.", "9", source="magpie", turns=turns)
    assert review.edit(store, sample_id, "Name a prime.", "7")
    sample = store.samples.get_sample(sample_id)
    assert sample["output"] == "7" and sample["turns"][1]["content"] == "7"
    assert sample["original_output"] == "9"
    assert not review.focus_details(store, sample_id)["conversation"]  # one plain exchange is shown as such


# ---------------------------------------------------------------- the queue


def test_queue_filters_by_source_operator_depth_scores_novelty_pii_tags_and_ids(store: Store):
    seed_id, leaf = add_chain(store)
    evolved = add_sample(store, "evolved", status="pending", seed_id=seed_id, node_id=leaf, tags=["hard"])
    magpie = add_sample(store, "magpie", source="magpie", status="pending",
                        pii={"engine": "ner", "findings": [{"field": "output", "entity": "EMAIL_ADDRESS", "start": 0, "end": 3, "score": 1}]})
    unscanned = add_sample(store, "unscanned", source="import", status="approved", pii=None)
    store.metrics.set_metrics("sample", evolved, {"best_path_score": 0.9, "novelty_seeds": 0.7})
    store.metrics.set_metrics("sample", magpie, {"best_path_score": 0.2, "novelty_seeds": 0.1})

    def ids(**filters) -> list[int]:
        return store.queue.query_sample_ids(**review.QueueFilter(**filters).kwargs())

    assert ids() == [evolved, magpie]
    assert ids(status=None) == [evolved, magpie, unscanned]
    assert ids(sources=["magpie"]) == [magpie]
    assert ids(operators=["deepen"]) == [evolved]
    assert ids(depth_min=2, depth_max=2) == [evolved] and ids(depth_min=3) == []
    assert ids(score_min=0.5) == [evolved] and ids(score_max=0.5) == [magpie]
    assert ids(novelty_min=0.5) == [evolved]
    assert ids(status=None, pii="flagged") == [magpie]
    assert ids(status=None, pii="clean") == [evolved]
    assert ids(status=None, pii="unscanned") == [unscanned]
    assert ids(tags=["hard"]) == [evolved]
    assert ids(status=None, ids=[magpie, unscanned]) == [magpie, unscanned]
    assert ids(status=None, search="scann") == [unscanned]
    row = store.queue.query_samples(**review.QueueFilter(ids=[evolved]).kwargs())[0]
    assert (row["operator"], row["depth"], row["best_path_score"], row["novelty"]) == ("deepen", 2, 0.9, 0.7)
    assert store.queue.count_samples(status=None, pii="flagged") == 1


def test_focus_details_show_lineage_best_path_and_history(store: Store):
    seed_id, leaf = add_chain(store, "Add 2 and 3.")
    sample_id = add_sample(store, "Add 2 and 3, then double it.", seed_id=seed_id, node_id=leaf)
    add_scored_path(store, sample_id, ["weak step"], [0.1], path_index=0)
    _, best_steps = add_scored_path(store, sample_id, ["2+3=5", "5*2=10"], [0.9, 0.8], path_index=1)
    store.metrics.set_metrics("sample", sample_id, {"lexical_entropy": 3.2})
    details = review.focus_details(store, sample_id)
    assert details["seed"]["instruction"] == "Add 2 and 3."
    assert [c["operator"] for c in details["chain"]] == ["add_constraints", "deepen"]
    gate = details["gate"]  # as the Verifier page shows the task: its best path, numbered by path_index
    assert [s["id"] for s in gate["path"]["steps"]] == best_steps and gate["label"] == "★ path 2"  # no job sampled it
    assert [(s["step"], s["rating"]) for s in gate["steps"]] == [(1, 1), (2, 1)]
    assert details["decision"] is None  # nobody has decided yet
    assert details["metrics"] == {"lexical_entropy": 3.2}
    assert review.focus_details(store, 999) is None


def test_best_path_prefers_the_path_score_metric_over_mean_step_scores(store: Store):
    sample_id = add_sample(store, "task")
    first, _ = add_scored_path(store, sample_id, ["a"], [0.9], path_index=0)
    second, _ = add_scored_path(store, sample_id, ["b"], [0.1], path_index=1)
    assert store.verify.best_paths([sample_id])[sample_id]["id"] == first
    store.metrics.set_metrics("path", second, {"path_score": 0.95})
    store.metrics.set_metrics("path", first, {"path_score": 0.5})
    assert store.verify.best_paths([sample_id])[sample_id]["id"] == second


def test_step_rating_latest_overrule_wins_then_label_then_score():
    overrule = {"label": "incorrect"}
    assert ratings.step_rating({"score": 0.99, "label": "correct", "overrule": overrule}) == -1
    assert ratings.step_rating({"score": 0.1, "label": "correct", "overrule": None}) == 1
    assert ratings.step_rating({"score": 0.9, "label": "neutral"}) == 0
    assert ratings.step_rating({"score": 0.7, "label": "scored"}) == 1
    assert ratings.step_rating({"score": 0.3, "label": "scored"}) == -1
    assert ratings.step_rating({"score": 0.3, "label": None}, threshold=0.2) == 1
    assert ratings.step_rating({"score": None, "label": None}) is None


def test_the_latest_verifier_score_of_a_step_is_the_one_read(store: Store):
    sample_id = add_sample(store, "task")
    _, (step,) = add_scored_path(store, sample_id, ["a"], [0.9], verifier="prm-a")
    store.verify.set_step_scores([{"step_id": step, "verifier": "judge-b", "score": 0.1, "label": "incorrect"}])
    read = store.verify.best_paths([sample_id])[sample_id]["steps"][0]
    assert (read["verifier"], read["score"], read["label"]) == ("judge-b", 0.1, "incorrect")
    store.verify.set_step_scores([{"step_id": step, "verifier": "prm-a", "score": 0.8, "label": "scored"}])
    read = store.verify.best_paths([sample_id])[sample_id]["steps"][0]
    assert (read["verifier"], read["score"]) == ("prm-a", 0.8)


def test_latest_overrule_of_a_step_is_the_one_read(store: Store):
    sample_id = add_sample(store, "task")
    _, (step,) = add_scored_path(store, sample_id, ["a"], [0.9])
    store.verify.add_step_overrule(step, "incorrect", "wrong sign", "Ada")
    store.verify.add_step_overrule(step, "neutral", "fine actually", "Grace")
    read = store.verify.best_paths([sample_id])[sample_id]["steps"][0]
    assert read["overrule"]["label"] == "neutral" and read["overrule"]["reviewer"] == "Grace"
    assert ratings.step_rating(read) == 0


# ---------------------------------------------------------------- CLI


def test_cli_review_approve_reject_and_all_pending(store: Store, db_path, capsys):
    ids = [add_sample(store, f"t{i}", status="pending") for i in range(4)]
    assert main(["--db", str(db_path), "review", "approve", "--ids", str(ids[0]), str(ids[1])]) == 0
    assert main(["--db", str(db_path), "review", "reject", "--ids", str(ids[2])]) == 0
    assert [s["status"] for s in store.samples.samples_by_ids(ids)] == ["approved", "approved", "rejected", "pending"]
    assert main(["--db", str(db_path), "review", "approve", "--ids", "999"]) == 2
    assert "no such samples: 999" in capsys.readouterr().err
    assert main(["--db", str(db_path), "review", "reject", "--all-pending"]) == 0
    assert [s["status"] for s in store.samples.samples_by_ids(ids)] == ["approved", "approved", "rejected", "rejected"]
    assert store.review.sample_reviews(ids[3])[0]["reviewer"] == "reviewer"
