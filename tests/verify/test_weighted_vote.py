"""The verifier-weighted vote's tie-break: where answers gather equal weight, the path with more verified steps
(steps a check held on) is picked; unchecked prose and doubted steps count for nothing."""

from __future__ import annotations

from workbench.verify.reasoning import VerificationSettings, evaluate_task
from workbench.verify.weighted_vote import verified_steps, vote_tiebreak

VOTE = VerificationSettings(aggregation="vote")


def verdict(score: float, label: str = "correct", **params) -> dict:
    return {"score": score, "label": label, "checks": "evidence", "rationale": f"{label} {score}", "params": params}


HOLDS = {"arithmetic": verdict(1.0)}
ABSTAINS = {"arithmetic": verdict(0.5, "unverifiable")}


def path(path_id: int, steps: list[tuple[str, dict]]) -> dict:
    return {"id": path_id, "path_index": path_id, "job_id": 1, "final_answer": None, "steps": [
        {"id": path_id * 100 + i, "idx": i, "text": text, "scores": scores, "overrule": None}
        for i, (text, scores) in enumerate(steps)]}


def test_verified_steps_counts_the_steps_a_check_held_on():
    assert verified_steps([1.0, None, 0.5, 0.9, 0.0]) == 2  # unjudged, doubted (0.5) and wrong steps do not count
    assert verified_steps([]) == 0
    assert vote_tiebreak([1.0, 1.0, None]) == (1.0, 2)


def test_between_two_answers_of_equal_weight_the_path_with_more_verified_steps_wins():
    # one ticket costs $12 for adults; a family of 3 adults and 2 children (half price)
    short = path(1, [("3 * 12 = 36 dollars", HOLDS), ("Answer: 36", ABSTAINS)])
    longer = path(2, [("3 * 12 = 36 dollars for the adults", HOLDS), ("12 / 2 = 6 dollars a child", HOLDS),
                      ("2 * 6 = 12 dollars for the children", HOLDS), ("36 + 12 = 48", HOLDS), ("Answer: 48", ABSTAINS)])
    decided = evaluate_task([short, longer], VOTE)
    assert decided.path_scores == {1: 0.5, 2: 0.5}  # the vote alone cannot tell them apart
    assert (decided.best_path_id, decided.tied_best) == (2, [2])


def test_prose_no_check_held_on_wins_no_tie():
    padded = path(1, [("First we read the problem carefully.", ABSTAINS), ("The farmer has some hens.", ABSTAINS),
                      ("5 * 4 = 20 eggs", HOLDS), ("Answer: 20", ABSTAINS)])
    checked = path(2, [("5 + 5 = 10 hens", HOLDS), ("10 * 4 = 40 eggs", HOLDS), ("Answer: 40", ABSTAINS)])
    assert evaluate_task([padded, checked], VOTE).tied_best == [2]


def test_paths_with_as_many_verified_steps_still_tie():
    first = path(1, [("7 * 3 = 21 pens", HOLDS), ("Answer: 21", ABSTAINS)])
    second = path(2, [("7 + 3 = 10 pens", HOLDS), ("Answer: 10", ABSTAINS)])
    assert sorted(evaluate_task([first, second], VOTE).tied_best) == [1, 2]


def test_among_paths_of_one_answer_the_heavier_path_is_picked_before_the_longer_one():
    loose_end = {"arithmetic": verdict(1.0), "grounding": verdict(0.5, "unverifiable", hint=["'dozen' never used"])}
    longer = path(1, [("4 * 5 = 20", HOLDS), ("20 + 2 = 22", HOLDS), ("22 - 2 = 20", loose_end), ("Answer: 20", ABSTAINS)])
    heavier = path(2, [("4 * 5 = 20", HOLDS), ("Answer: 20", ABSTAINS)])
    decided = evaluate_task([longer, heavier], VOTE)
    assert decided.path_scores == {1: 1.0, 2: 1.0}
    assert (decided.best_path_id, decided.tied_best) == (2, [2])
