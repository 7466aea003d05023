"""Grounding checks: a right final answer reached by a wrong route raises a doubt, never a verdict. Each check
doubts the kind of slip it names and leaves a sound solution of the same problem alone; the gate makes a doubted
path unverified instead of passed, and the verifier-weighted vote weighs it at most 0.5."""

from __future__ import annotations

import asyncio

from workbench.verify.grounding import (
    answer_unit,
    fractional_count,
    grounding_doubts,
    hedged_steps,
    loose_ends,
    misread_relations,
    restated_quantities,
    unused_quantities,
    unwritten_answer,
)
from workbench.verify.reasoning import VerificationSettings, evaluate_task, judged_score, split_steps
from workbench.verify.verifiers import DEFAULT_VERIFIERS, get_verifier
from workbench.verify.verifiers.base import Task
from workbench.verify.verifiers.grounding import DOUBT, HINT

FERRY = ("A ferry crossing takes 25 minutes, and the wait at the dock takes an hour and 15 minutes. How many "
         "minutes do the wait and the crossing take together?")


def kinds(problem: str, steps: list[str]) -> list[str]:
    return [doubt.kind for doubt in grounding_doubts(problem, steps)]


# ---------------------------------------------------------------- the checks, one kind of slip each


def test_a_quantity_the_problem_gives_and_no_step_uses_is_doubted_where_the_solution_counts_its_kind():
    skipped = ["The wait takes 60 minutes (an hour).", "Together: 60 + 25 = 85 minutes.", "Answer: 85"]
    doubts = unused_quantities(FERRY, skipped, answer_step=2)
    assert [(d.step, d.kind) for d in doubts] == [(2, "unused quantity")]
    assert "'15 minute'" in doubts[0].rationale and "heuristic" in doubts[0].rationale
    sound = ["The wait is 60 + 15 = 75 minutes.", "Together: 75 + 25 = 100 minutes.", "Answer: 100"]
    assert unused_quantities(FERRY, sound, answer_step=2) == []


def test_what_is_not_an_unused_quantity_a_distractor_a_restated_total_a_worded_count_and_one():
    problem = ("A class of 30 pupils has 18 girls and 12 boys. On a trip over 20 miles, two buses carry them, and "
               "each girl brings 1 apple and 2 pears. How many pieces of fruit do the girls bring?")
    steps = ["Each girl brings 2 pears and an apple: 3 pieces of fruit.", "18 * 3 = 54 pieces.", "Answer: 54"]
    # 30 = 18 + 12 (a total stated twice), 20 miles (the solution never speaks of miles), "two buses" (a count
    # written as a word), 1 (multiplying by one goes unwritten), 12 boys (boys are never mentioned)
    assert unused_quantities(problem, steps, answer_step=2) == []


def test_a_percentage_may_be_used_as_its_factor_and_a_half_as_a_division_by_two():
    problem = "A $80 coat is 25% off, and a scarf costs half as much as the coat after the discount. Total cost?"
    steps = ["The coat costs 80 * 0.75 = 60 dollars.", "The scarf costs 60 / 2 = 30 dollars.", "Answer: 90"]
    assert unused_quantities(problem, steps, answer_step=2) == []


def test_a_step_that_corrects_itself_or_doubts_the_question_is_doubted_at_that_step():
    steps = ["The crossing takes 25 minutes.", "Wait, the dock wait is longer: 75 minutes.",
             "Assuming the wait comes first, 75 + 25 = 100.", "Answer: 100"]
    assert [(d.step, d.kind) for d in hedged_steps(steps)] == [(1, "hedge"), (2, "hedge")]
    assert "'Wait'" in hedged_steps(steps)[0].rationale
    assert hedged_steps(["Let's represent the total as t.", "It waits at the dock, then crosses."]) == []


def test_a_final_answer_no_step_wrote_is_doubted_a_restated_result_is_not():
    truncated = ["She needs 500 / 3 = <<500/3=166.67>>166.67 jars.", "A: 166"]
    assert [d.kind for d in unwritten_answer(truncated, 1)] == ["unwritten answer"]
    restated = ["She needs 500 / 4 = <<500/4=125>>125 jars.", "A: 125"]
    assert unwritten_answer(restated, 1) == []
    in_a_box = ["Coins: 3 + 2 = 5 dollars; bills: 40 dollars.", "Total: $5 + $40 = $\\boxed{45}$."]
    assert unwritten_answer(in_a_box, 1) == []  # the result of the step's own calculation


def test_a_count_answered_with_a_fraction_or_a_negative_number_is_doubted():
    assert [d.kind for d in fractional_count("How many jars does she fill?", 1, "166.5")] == ["fractional count"]
    assert [d.kind for d in fractional_count("How many jars are left?", 1, "-4")] == ["fractional count"]
    assert fractional_count("How many jars does she fill?", 1, "166") == []
    assert fractional_count("How much does the jam cost?", 1, "12.5") == []


def test_a_step_restating_the_problem_with_another_of_its_nouns_is_doubted():
    problem = "A roll of film holds 36 photos. Each photo is printed on glossy paper. How many rolls for 108 photos?"
    misread = ["Given that a roll holds 36 papers, we need 108 / 36 = 3 rolls.", "Answer: 3"]
    doubts = restated_quantities(problem, misread)
    assert [(d.step, d.kind) for d in doubts] == [(0, "restated quantity")]
    assert "36 paper" in doubts[0].rationale and "36 photo" in doubts[0].rationale
    faithful = ["Given that a roll holds 36 photos, we need 108 / 36 = 3 rolls.", "Answer: 3"]
    assert restated_quantities(problem, faithful) == []
    converted = ["We know that 36 photos take 36 minutes to print.", "Answer: 3"]  # a unit, not a misreading
    assert restated_quantities(problem, converted) == []


def test_a_relation_of_a_named_thing_with_a_multiplier_the_problem_never_gives_it_is_doubted():
    problem = ("Mara's garden is a third as big as Omar's garden. Lena's garden is twice as big as Mara's garden. "
               "If Lena's garden is 40 square meters, how big is Omar's garden?")
    misread = ["Mara's garden is half as big as Lena's: 40 / 2 = 20 square meters.",
               "Omar's garden is 4 times as big as Mara's: 20 * 4 = 80 square meters.", "Answer: 80"]
    assert [(d.step, d.kind) for d in misread_relations(problem, misread)] == [(1, "misread relation")]
    read_both_ways = ["Mara's garden is half as big as Lena's: 40 / 2 = 20 square meters.",
                      "Omar's garden is 3 times as big as Mara's: 20 * 3 = 60 square meters.", "Answer: 60"]
    assert misread_relations(problem, read_both_ways) == []


def test_an_answer_counting_something_else_than_the_question_asks_for_is_doubted():
    problem = "Each toy weighs 1/2 pound. Uri must remove 6 pounds of toys. How many toys does he remove?"
    weighed = ["He removes 6 * 1/2 = <<6*1/2=3>>3 pounds of toys", "A: 3"]
    assert [d.kind for d in answer_unit(problem, weighed, 1)] == ["answer unit"]
    counted = ["He removes 6 / (1/2) = <<6/(1/2)=12>>12 toys", "A: 12"]
    assert answer_unit(problem, counted, 1) == []


def test_loose_ends_are_the_quantities_no_step_writes_and_an_answer_that_only_restates_one():
    problem = "A shelf holds 12 books and two boxes of 9 books each. How many books are there?"
    skipped = ["There are 12 + 9 = 21 books.", "Answer: 21"]  # the "two" boxes are never written
    assert [(h.step, h.kind) for h in loose_ends(problem, skipped, 1)] == [(1, "unwritten quantity")]
    echoed = ["The shelf holds 12 books, 2 boxes of 9.", "Answer: 12"]
    assert [h.kind for h in loose_ends(problem, echoed, 1)] == ["answer restates a given"]
    assert loose_ends(problem, ["The boxes hold 2 * 9 = 18 books.", "12 + 18 = 30 books.", "Answer: 30"], 2) == []


def test_a_sound_solution_raises_no_doubt_at_all():
    steps = split_steps("The wait is 60 + 15 = <<60+15=75>>75 minutes\nTogether they take 75 + 25 = <<75+25=100>>100 "
                        "minutes\nA: 100")
    assert len(steps) == 3 and grounding_doubts(FERRY, steps) == []


# ---------------------------------------------------------------- the verifier, the gate and the vote


def verdicts_of(name: str, problem: str, steps: list[str], reference: str | None = "100") -> list[dict]:
    scores = asyncio.run(get_verifier(name).score_steps(Task(problem, reference_answer=reference), steps))
    return [{"score": s.score, "label": s.label, "checks": s.checks, "rationale": s.rationale, "params": s.params}
            for s in scores]


def nested(path_id: int, steps: list[str], reference: str | None = "100", problem: str = FERRY) -> dict:
    """A path as the store nests it, scored by the arithmetic and grounding verifiers."""
    names = ("arithmetic", "grounding")
    verdicts = {name: verdicts_of(name, problem, steps, reference) for name in names}
    return {"id": path_id, "path_index": path_id - 1, "final_answer": None, "steps": [
        {"id": path_id * 100 + i, "idx": i, "text": text, "overrule": None,
         "scores": {name: verdicts[name][i] for name in names}} for i, text in enumerate(steps)]}


WRONG_ROUTE = ["The wait is 60 + 15 = 75 minutes, and 75 + 25 = 100 minutes.",
               "Actually, the wait is only 60 minutes, so the total is 60 + 40 = 100 minutes.", "Answer: 100"]
SOUND = ["The wait is 60 + 15 = 75 minutes.", "Together: 75 + 25 = 100 minutes.", "Answer: 100"]


def test_the_grounding_verifier_abstains_everywhere_and_names_its_doubts_in_params_and_rationale():
    verdicts = verdicts_of("grounding", FERRY, WRONG_ROUTE)
    assert [v["label"] for v in verdicts] == ["unverifiable"] * 3 and {v["score"] for v in verdicts} == {0.5}
    assert verdicts[1]["params"] == {DOUBT: ["hedge"]} and verdicts[0]["params"] == {}
    assert verdicts[1]["rationale"].startswith("doubt, not a verdict: a grounding check (heuristic)")
    assert "grounding" in DEFAULT_VERIFIERS


def test_a_right_answer_with_a_doubted_step_is_unverified_and_a_sound_one_passes():
    doubted = evaluate_task([nested(1, WRONG_ROUTE)], VerificationSettings())
    assert (doubted.status, doubted.failure.kind, doubted.failure.decided_by) == ("unverified", "doubted", "grounding")
    assert "its final answer holds, but grounding doubts step 2" in doubted.reason
    assert evaluate_task([nested(1, SOUND)], VerificationSettings()).status == "passed"
    # a person who checked the doubted step as correct settles the doubt
    settled = nested(1, WRONG_ROUTE)
    settled["steps"][1]["overrule"] = {"label": "correct", "reviewer": "ada", "reason": "checked by hand"}
    assert evaluate_task([settled], VerificationSettings()).status == "passed"


def test_a_doubted_step_weighs_a_coin_flip_in_the_verifier_weighted_vote():
    settings = VerificationSettings(aggregation="vote")
    doubted = nested(1, WRONG_ROUTE, reference=None)
    assert judged_score(doubted["steps"][1], settings) == 0.5
    assert judged_score(nested(2, SOUND, reference=None)["steps"][1], settings) == 1.0
    other = nested(3, ["The wait is 60 + 15 = 75 minutes.", "With the boarding, 75 + 25 + 15 = 115 minutes.",
                       "Answer: 115"], reference=None)
    verdict = evaluate_task([doubted, other], settings)  # 100 (doubted) against 115 (nothing doubted): 115 wins
    assert verdict.best_path_id == 3 and verdict.path_scores[3] > verdict.path_scores[1]


def test_a_loose_end_is_a_tie_break_in_the_vote_and_never_makes_a_path_unverified():
    problem = "A shelf holds 12 books and two boxes of 9 books each. How many books are there?"
    short = ["The shelf has 12 books and 9 more in a box.", "12 + 9 = 21 books.", "Answer: 21"]  # "two" unwritten
    hinted = nested(1, short, reference="21", problem=problem)
    assert hinted["steps"][2]["scores"]["grounding"]["params"] == {HINT: ["unwritten quantity"]}
    assert evaluate_task([hinted], VerificationSettings()).status == "passed"  # a hint is not a doubt
    settings = VerificationSettings(aggregation="vote")
    assert judged_score(nested(1, short, reference=None, problem=problem)["steps"][2], settings) == 0.9
    sound = ["The boxes hold 2 * 9 = 18 books.", "12 + 18 = 30 books.", "Answer: 30"]
    verdict = evaluate_task([nested(1, short, None, problem), nested(2, sound, None, problem)], settings)
    assert verdict.best_path_id == 2  # one vote each: the path with no loose end wins the tie
