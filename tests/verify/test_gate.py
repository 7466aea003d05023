"""The gate: passed means verified. A path passes only when its outcome is verified and no verifier found a step
wrong; a path nothing verified is unverified; a path with a step found wrong, or no final answer, fails. Paths are
ranked by status, then by the selection rule (a path score, or the verifier-weighted vote)."""

from __future__ import annotations

import pytest

from workbench.store import Store
from workbench.verify.reasoning import (
    VerificationSettings,
    evaluate_task,
    path_gate,
    refresh_task_metric,
    save_verification_settings,
    verification_settings,
)
from workbench.verify.weighted_vote import path_weight, vote_shares

STRICT = VerificationSettings()  # min, threshold 1.0, margin 0.5, strictest verdict


def holds(checks: str = "evidence", score: float = 1.0, **params) -> dict:
    """A verdict: correct at 0.5 and above."""
    return {"score": score, "label": "correct" if score >= 0.5 else "incorrect", "checks": checks,
            "rationale": f"{checks} {score}", "params": params}


def abstains(why: str = "no calculation to check") -> dict:
    return {"score": 0.5, "label": "unverifiable", "checks": "evidence", "rationale": why, "params": {}}


def path(path_id: int, steps: list[tuple[str, dict]], overrules: dict[int, str] | None = None) -> dict:
    """A path whose steps are (text, {verifier: verdict}); overrules maps a step index to a person's label."""
    return {"id": path_id, "path_index": path_id - 1, "job_id": 1, "final_answer": None, "steps": [
        {"id": path_id * 100 + i, "idx": i, "text": text, "scores": scores,
         "overrule": ({"label": overrules[i], "reviewer": "ada", "reason": "checked by hand"}
                      if overrules and i in overrules else None)}
        for i, (text, scores) in enumerate(steps)]}


def reference_match(answer: str = "12", matches: bool = True) -> dict:
    return holds("outcome", 1.0 if matches else 0.0, target="12", target_kind="reference", answer=answer)


# ---------------------------------------------------------------- one path


def test_arithmetic_that_holds_is_evidence_and_never_passes_a_path_alone():
    evidence_only = path(1, [("3 * 4 = 12 apples.", {"arithmetic": holds()}),
                             ("Answer: 12", {"arithmetic": abstains(), "consistency": abstains("no reference")})])
    verdict = evaluate_task([evidence_only], STRICT)
    assert (verdict.status, verdict.passed, verdict.failure.kind) == ("unverified", False, "unchecked")
    assert "is unverified: nothing checked the final answer" in verdict.reason
    assert verdict.failure.status == "unverified"


def test_a_verified_outcome_with_no_step_found_wrong_passes_and_says_who_verified_it():
    verified = path(1, [("She has 3 bags of 4 apples.", {"arithmetic": abstains()}),
                        ("3 * 4 = 12, Answer: 12", {"arithmetic": holds(), "consistency": reference_match()})])
    verdict = evaluate_task([verified], STRICT)
    assert (verdict.status, verdict.passed, verdict.failure) == ("passed", True, None)
    assert "passes: its outcome is verified by consistency (consistency: outcome 1.0)" in verdict.reason
    assert verdict.reason.endswith("and no verifier found a step wrong")


def test_a_step_found_wrong_fails_the_path_even_when_its_answer_matches():
    lucky = path(1, [("3 * 4 = 13 apples.", {"arithmetic": holds(score=0.0)}),
                     ("Answer: 12", {"consistency": reference_match()})])
    verdict = evaluate_task([lucky], STRICT)
    assert (verdict.status, verdict.failure.kind, verdict.failure.decided_by) == ("failed", "wrong", "arithmetic")
    assert verdict.failure.label == "a step judged wrong, decided by arithmetic"
    assert "fails at the threshold 1: step 1 scores 0.00, decided by arithmetic" in verdict.reason


def test_a_doubtful_step_under_the_threshold_fails_at_a_strict_gate_and_passes_a_lenient_one():
    doubtful = path(1, [("Half of 12 is 6.", {"judge": holds("step", 0.8)}),
                        ("Answer: 12", {"consistency": reference_match()})])
    assert path_gate(doubtful, STRICT).kind == "below"
    assert evaluate_task([doubtful], VerificationSettings(threshold=0.7)).status == "passed"


def test_a_path_without_a_final_answer_fails_as_no_final_answer():
    silent = path(1, [("3 * 4 = 12 apples.", {"arithmetic": holds()}),
                      ("So that is the count.", {"arithmetic": abstains(),
                                                 "consistency": holds("outcome", 0.0, answer=None)})])
    verdict = evaluate_task([silent], STRICT)
    assert (verdict.status, verdict.failure.kind) == ("failed", "no_answer")
    assert verdict.failure.label == "no final answer"
    assert "it states no final answer" in verdict.reason


def test_tests_that_pass_verify_a_code_path_without_a_stated_answer():
    code = path(1, [("Loop over the list.", {"code": abstains("no code in this step")}),
                    ("```python\ndef f(xs): return [2 * x for x in xs]\n```", {"code": holds("outcome")})])
    assert evaluate_task([code], STRICT).status == "passed"


def test_a_person_decides_over_every_verifier():
    answer = ("Answer: 12", {"arithmetic": abstains()})
    confirmed = path(1, [("3 * 4 = 12", {"arithmetic": holds()}), answer], overrules={1: "correct"})
    assert path_gate(confirmed, STRICT).status == "passed"  # a person's "correct" on the answer step verifies it
    assert path_gate(confirmed, STRICT).decided_by == "overrule (ada)"
    rejected = path(1, [("3 * 4 = 12", {"arithmetic": holds()}), ("Answer: 12", {"consistency": reference_match()})],
                    overrules={0: "incorrect"})
    assert (path_gate(rejected, STRICT).status, path_gate(rejected, STRICT).kind) == ("failed", "overruled")
    forgiven = path(1, [("3 * 4 = 13", {"arithmetic": holds(score=0.0)}), ("Answer: 12", {"consistency": reference_match()})],
                    overrules={0: "correct"})
    assert path_gate(forgiven, STRICT).status == "passed"


# ---------------------------------------------------------------- self-consistency at a margin


def majority(agrees: bool, margin: float) -> dict:
    return holds("outcome", 1.0 if agrees else 0.0, target="7", target_kind="pseudo-reference", margin=margin,
                 answer="7" if agrees else "9")


def test_a_majority_verifies_an_outcome_only_at_the_margin_the_user_sets():
    weak = [path(1, [("Answer: 7", {"consistency": majority(True, 0.25)})]),
            path(2, [("Answer: 9", {"consistency": majority(False, 0.25)})])]
    verdict = evaluate_task(weak, STRICT)
    assert (verdict.status, verdict.failure.kind) == ("unverified", "weak_majority")
    assert "leads by 0.25 of the paths, under the margin 0.50" in verdict.reason
    # under the margin the minority path is not failed by a majority nobody trusts: both are unverified
    assert set(verdict.path_status.values()) == {"unverified"}
    lenient = evaluate_task(weak, VerificationSettings(margin=0.25))
    assert (lenient.status, lenient.best_path_id, lenient.path_status[2]) == ("passed", 1, "failed")


def test_one_path_with_no_reference_is_never_verified():
    alone = path(1, [("2 + 2 = 4", {"arithmetic": holds()}), ("Answer: 4", {"consistency": abstains("no other paths")})])
    assert evaluate_task([alone], STRICT).status == "unverified"


# ---------------------------------------------------------------- ranking and the verifier-weighted vote


def test_a_passed_path_ranks_above_a_higher_scored_unverified_one():
    unverified = path(1, [("2 * 6 = 12", {"arithmetic": holds()}), ("Answer: 12", {"arithmetic": holds()})])
    passed = path(2, [("Twelve apples.", {"arithmetic": abstains()}), ("Answer: 12", {"consistency": reference_match()})])
    verdict = evaluate_task([unverified, passed], STRICT)
    assert verdict.path_scores == {1: 1.0, 2: 0.5}
    assert (verdict.best_path_id, verdict.status) == (2, "passed")


def test_path_weight_multiplies_the_judged_steps_only():
    assert path_weight([1.0, None, 0.5]) == 0.5
    assert path_weight([None, None]) == 1.0  # nothing judged: a plain vote
    assert path_weight([1.0, 0.0]) == 0.0


def test_vote_shares_sum_to_one_over_the_stated_answers_and_equal_weights_are_a_majority_vote():
    shares = vote_shares(["7", "7.0", "9", None], [1.0, 1.0, 1.0, 1.0])
    assert shares[0] == shares[1] == pytest.approx(2 / 3) and shares[2] == pytest.approx(1 / 3) and shares[3] == 0.0
    with pytest.raises(ValueError, match="3 answers but 2 weights"):
        vote_shares(["1", "2", "3"], [1.0, 1.0])


def test_the_vote_outweighs_a_majority_whose_paths_have_steps_found_wrong():
    slipped = [path(i, [("5 * 3 = 16", {"arithmetic": holds(score=0.0)}), ("Answer: 16", {})]) for i in (1, 2, 3)]
    clean = [path(i, [("5 * 3 = 15", {"arithmetic": holds()}), ("Answer: 15", {})]) for i in (4, 5)]
    verdict = evaluate_task(slipped + clean, VerificationSettings(aggregation="vote"))
    assert verdict.best_path_id == 4 and verdict.tied_best == [4, 5]
    assert verdict.path_scores[4] == 1.0 and verdict.path_scores[1] == 0.0
    # every path with a step found wrong: the plain majority
    everyone_slipped = evaluate_task(slipped + [path(6, [("5 * 3 = 14", {"arithmetic": holds(score=0.0)}),
                                                         ("Answer: 14", {})])], VerificationSettings(aggregation="vote"))
    assert everyone_slipped.best_path_id == 1 and everyone_slipped.path_scores[1] == pytest.approx(0.75)
    # answers of equal weight tie: a pick among them is a coin toss
    even = [path(1, [("Answer: 3", {"arithmetic": holds()})]), path(2, [("Answer: 4", {"arithmetic": holds()})])]
    assert evaluate_task(even, VerificationSettings(aggregation="vote")).tied_best == [1, 2]


# ---------------------------------------------------------------- consensus filtering


def disputed_path() -> dict:
    return path(1, [("Half of 12 is 6.", {"rollout": holds("step", 0.0), "judge": holds("step", 1.0)}),
                    ("Answer: 12", {"consistency": reference_match()})])


def test_consensus_keeps_a_step_label_only_where_rollouts_and_the_judge_agree():
    assert evaluate_task([disputed_path()], STRICT).failure.kind == "wrong"  # the strictest verdict: rollouts win
    consensus = evaluate_task([disputed_path()], VerificationSettings(step_rule="consensus"))
    assert (consensus.status, consensus.failure.kind, consensus.disputes) == ("unverified", "disputed", 1)
    assert "label it by hand" in consensus.reason
    agreeing = path(1, [("Half of 12 is 6.", {"rollout": holds("step", 1.0), "judge": holds("step", 1.0)}),
                        ("Answer: 12", {"consistency": reference_match()})])
    assert evaluate_task([agreeing], VerificationSettings(step_rule="consensus")).status == "passed"


# ---------------------------------------------------------------- settings and stored decisions


def test_settings_are_validated_saved_and_overridden(store: Store):
    assert verification_settings(store) == VerificationSettings("min", 1.0, 0.5, "strictest")
    save_verification_settings(store, VerificationSettings("vote", 0.8, 0.25, "consensus"))
    assert verification_settings(store) == VerificationSettings("vote", 0.8, 0.25, "consensus")
    assert verification_settings(store, {"threshold": 0.5, "aggregation": None}).threshold == 0.5
    for bad, message in ((dict(threshold=1.5), "threshold"), (dict(aggregation="median"), "aggregation"),
                         (dict(margin=-0.1), "margin"), (dict(step_rule="majority"), "step rule")):
        with pytest.raises(ValueError, match=message):
            VerificationSettings(**bad)


def test_each_decision_is_stored_and_a_settings_change_decides_every_task_again(store: Store):
    seed = store.seeds.insert_seeds([{"instruction": "What is 3 * 4?", "reference_answer": "12"}])[0]
    path_id = store.verify.add_reasoning_path({"task_type": "seed", "task_id": seed, "path_index": 0, "text": "..."},
                                       ["3 * 4 = 12", "Answer: 12"])
    steps = store.verify.path_steps(path_id)
    store.verify.set_step_scores([
        {"step_id": steps[0]["id"], "verifier": "judge", "score": 0.8, "label": "correct", "checks": "step"},
        {"step_id": steps[1]["id"], "verifier": "consistency", "score": 1.0, "label": "correct", "checks": "outcome",
         "params": {"target_kind": "reference", "answer": "12"}}])
    refresh_task_metric(store, "seed", seed, STRICT)
    stored = store.verify.gate_verdict("seed", seed)
    assert (stored["status"], stored["kind"], stored["decided_by"]) == ("failed", "below", "judge")
    assert store.verify.reasoning_paths_nested("seed", seed)[("seed", seed)][0]["steps"][1]["scores"]["consistency"][
        "checks"] == "outcome"
    assert save_verification_settings(store, VerificationSettings(threshold=0.75)) == 1
    assert store.verify.gate_verdict("seed", seed)["status"] == "passed"


def test_the_heatmap_and_step_table_keep_outcome_checks_and_evidence_apart():
    from workbench.verify.audit import EVIDENCE_MARK, OUTCOME_MARK, heatmap_figure, step_rows, summarise

    verified = path(1, [("3 * 4 = 12", {"arithmetic": holds()}), ("She eats none.", {"arithmetic": abstains()}),
                        ("Answer: 12", {"arithmetic": abstains(), "consistency": reference_match()})])
    [summary] = summarise({("seed", 1): [verified]}, {("seed", 1): "apples"}, STRICT)
    assert heatmap_figure(summary).data[0].text[0] == [EVIDENCE_MARK, "", OUTCOME_MARK]
    rows = step_rows(verified, ["arithmetic", "consistency"], STRICT)
    assert [r["vouches for"] for r in rows] == ["evidence", "nothing", "outcome"]
    assert rows[2]["consistency checks"] == "outcome" and rows[0]["arithmetic checks"] == "evidence"
    assert "Gate: passes" in heatmap_figure(summary).layout.title.text


def test_no_final_answer_is_not_rescued_by_a_sentence_matching_the_reference():
    # arithmetic reads the last sentence as stating the reference; self-consistency finds no stated answer
    unstated = path(1, [("She had 15 apples and ate 3: 12 are left.", {"arithmetic": reference_match(),
                                                           "consistency": holds("outcome", 0.0, answer=None)})])
    assert (path_gate(unstated, STRICT).status, path_gate(unstated, STRICT).kind) == ("failed", "no_answer")
