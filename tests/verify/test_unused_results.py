"""A calculation whose result nothing after it uses is a loose end of the path: a weak hint at the answer step that
the verifier-weighted vote weighs a little, never a doubt and never a verdict."""

from __future__ import annotations

from workbench.verify.grounding import grounding_doubts, loose_ends, unused_results
from workbench.verify.reasoning import VerificationSettings, evaluate_task
from workbench.verify.verifiers import evaluation
from workbench.verify.verifiers.base import Task
from workbench.verify.verifiers.grounding import HINT, GroundingVerifier

BAKERY = ("A bakery sells muffins for $3 each and cookies for $2 each. Mia buys 4 muffins and 5 cookies. How many "
          "dollars does she spend?")
LOST_THREAD = ["Mia buys 4 + 5 = 9 items.", "The muffins cost 4 * 3 = 12 dollars.", "She spends 12 + 2 = 14 dollars.",
               "Answer: 14"]
SOUND = ["The muffins cost 4 * 3 = 12 dollars.", "The cookies cost 5 * 2 = 10 dollars.",
         "She spends 12 + 10 = 22 dollars.", "Answer: 22"]


def test_a_result_no_later_step_uses_is_a_loose_end_at_the_answer_step():
    hints = unused_results(LOST_THREAD, 3)
    assert [(h.step, h.kind) for h in hints] == [(3, "unused result")]
    assert "step 1 computes" in hints[0].rationale and "heuristic" in hints[0].rationale


def test_results_carried_forward_chained_in_one_step_or_stated_as_the_answer_are_used():
    assert unused_results(SOUND, 3) == []
    chained = ["The muffins cost 4 * 3 = 12 dollars, and with the cookies 12 + 5 * 2 = 22 dollars.", "Answer: 22"]
    assert unused_results(chained, 1) == []
    rounded = ["Each of 3 friends gets 10 / 3 = 3.333 dollars.", "So each gets about 3.33 dollars.", "Answer: 3.33"]
    assert unused_results(rounded, 2) == []  # written again to within 0.01


def test_a_false_calculation_is_the_arithmetic_verifiers_finding_not_a_loose_end():
    assert unused_results(["Mia buys 4 + 5 = 10 items.", "The muffins cost 4 * 3 = 12 dollars.", "Answer: 12"], 2) == []


def test_the_hint_is_no_doubt_but_weighs_the_path_in_the_vote():
    assert "unused result" in [h.kind for h in loose_ends(BAKERY, LOST_THREAD, 3)]
    assert "unused result" not in [d.kind for d in grounding_doubts(BAKERY, LOST_THREAD)]
    verdicts = GroundingVerifier().score_all(Task(BAKERY), LOST_THREAD)
    assert verdicts[3].params[HINT] == ["unused result"] and verdicts[3].score == 0.5

    def as_path(path_id: int, steps: list[str]) -> dict:
        return evaluation.as_path(steps, {"grounding": GroundingVerifier().score_all(Task(BAKERY), steps)}, path_id)

    decided = evaluate_task([as_path(1, LOST_THREAD), as_path(2, SOUND)], VerificationSettings(aggregation="vote"))
    assert decided.path_scores[2] > decided.path_scores[1] and decided.best_path_id == 2
