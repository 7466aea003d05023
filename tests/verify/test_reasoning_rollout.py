"""Monte-Carlo rollouts (Math-Shepherd) against a scripted OpenAI-compatible loopback server: exact shares,
hard labels, the budget, chat continuation, and the pseudo-reference as target."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.json_server import json_server
from workbench.core.teacher import Teacher, TeacherConfig
from workbench.verify.verifiers import get_verifier
from workbench.verify.verifiers.base import Task, VerifierError
from workbench.verify.verifiers.consistency import PathContext, stated_answer, vote
from workbench.verify.verifiers.rollout import (
    MemoryLedger,
    continuation_messages,
    continuation_prompt,
    label_value,
    rolled_steps,
    rollout_budget,
)

TASK = Task("Tom has 3 boxes of 12 pencils and gives away 5 pencils. How many pencils does he have left?",
            reference_answer="31")
PATH = ["3 boxes hold 3 * 12 = 36 pencils.", "He gives away 5, so he has 36 - 5 = 31 pencils.", "Answer: 31"]


class ScriptedRollouts:
    """Answers /completions and /chat/completions. For the prefix ending in step `s`, the j-th continuation
    reaches 31 when j < reach[s], else 30: so exactly reach[s] of K continuations reach the reference."""

    def __init__(self, reach: dict[int, int]) -> None:
        self.reach = reach
        self.seen: Counter[int] = Counter()
        self.bodies: list[dict] = []

    def prefix_steps(self, body: dict) -> int:
        text = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        text = text[text.rindex("Problem:"):] if "Problem:" in text else text
        return len(re.findall(r"Step \d+: \S", text))

    def __call__(self, body: dict) -> dict:
        self.bodies.append(body)
        steps = self.prefix_steps(body)
        j = self.seen[steps]
        self.seen[steps] += 1
        answer = 31 if j < self.reach.get(steps, 0) else 30
        text = f" So he has {answer} pencils.\nAnswer: {answer}"
        usage = {"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109}
        if "prompt" in body:
            return {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "usage": usage,
                    "choices": [{"text": text, "index": 0, "finish_reason": "stop", "logprobs": None}]}
        return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "usage": usage,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": f"Step 3:{text}"}}]}


@pytest.fixture
def scripted() -> Iterator[tuple[ScriptedRollouts, str]]:
    script = ScriptedRollouts({1: 3, 2: 1})  # after step 1: 3 of 4 reach 31; after step 2: 1 of 4
    with json_server(script) as server:
        yield script, server.url


def base_teacher(url: str) -> Teacher:
    """A base model behind a raw /completions endpoint (vLLM-style)."""
    return Teacher(TeacherConfig(model="hosted_vllm/base", api_base=url, base_model=True, max_retries=0,
                                 extra={"api_key": "x"}))


def chat_teacher(url: str) -> Teacher:
    """A chat-only provider: no raw completion."""
    return Teacher(TeacherConfig(model="openai/chat", api_base=url, max_retries=0, extra={"api_key": "x"}))


def test_soft_label_is_the_share_of_rollouts_reaching_the_reference(scripted):
    script, url = scripted
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4)
    scores = asyncio.run(verifier.score_steps(TASK, PATH))
    assert [s.score for s in scores] == [0.75, 0.25, 1.0]
    assert scores[0].rationale.startswith("3 of 4 rollouts from this step reach the reference answer '31'")
    assert scores[0].params["reached"].count(True) == 3 and sorted(scores[0].params["answers"]) == ["30", "31", "31", "31"]
    assert scores[1].label == "incorrect" and scores[2].rationale.startswith("the path's own final answer '31' reaches")
    assert len(script.bodies) == 8  # 2 prefixes x K=4; the answer step needs no rollout
    prompts = [b["prompt"] for b in script.bodies]
    assert sum(p.endswith(f"Problem: {TASK.problem}\nSolution:\nStep 1: {PATH[0]}\nStep 2:") for p in prompts) == 4
    assert sum(p.endswith(f"Step 1: {PATH[0]}\nStep 2: {PATH[1]}\nStep 3:") for p in prompts) == 4
    assert {b["max_tokens"] for b in script.bodies} == {128} and len({b["seed"] for b in script.bodies}) == 8


@pytest.mark.parametrize(("label", "expected"), [("any", [1.0, 1.0, 1.0]), ("most", [1.0, 0.0, 1.0])])
def test_hard_labels(scripted, label: str, expected: list[float]):
    _, url = scripted
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4, label=label)
    assert [s.score for s in asyncio.run(verifier.score_steps(TASK, PATH))] == expected


def test_label_values_and_the_step_budget():
    assert label_value([True, False, False, False], "soft") == 0.25
    assert label_value([True, False, False, False], "any") == 1.0
    assert label_value([True, True, False, False], "most") == 0.0  # half is not most
    assert rolled_steps(6, 3) == [1, 3, 5] and rolled_steps(2, 5) == [0, 1] and rolled_steps(4, 1) == [3]
    budget = rollout_budget(paths=10, k=4, max_steps=3, max_tokens=100, prompt_chars=800)
    assert (budget.calls, budget.completion_tokens, budget.prompt_tokens) == (120, 12_000, 24_000)


def test_steps_beyond_the_budget_are_left_unverified_and_cost_nothing(scripted):
    script, url = scripted
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=2, max_steps=1)
    scores = asyncio.run(verifier.score_steps(TASK, PATH))
    assert scores[0].label == "unverifiable" and "budget: at most 1 step per path" in scores[0].rationale
    assert scores[1].params["k"] == 2 and len(script.bodies) == 2


def test_a_chat_only_provider_continues_the_solution_by_chat(scripted):
    script, url = scripted
    verifier = get_verifier("rollout", teacher=chat_teacher(url), k=4)
    scores = asyncio.run(verifier.score_steps(TASK, PATH))
    assert [s.score for s in scores] == [0.75, 0.25, 1.0]
    last = script.bodies[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user"] and "prompt" not in script.bodies[-1]
    assert "Continue this solution from where it stops" in last[-1]["content"]
    assert continuation_messages(TASK, PATH[:1])[-1]["content"].count("Step 1: 3 boxes hold") == 1


def test_without_a_reference_rollouts_aim_at_the_pseudo_reference(scripted):
    script, url = scripted
    task = Task(TASK.problem)
    others = [PATH, ["3 * 12 - 5 = 31.", "Answer: 31"], ["12 - 5 = 7.", "Answer: 7"]]
    paths_vote = vote([stated_answer(p)[1] for p in others])
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4)
    scores = asyncio.run(verifier.score_in_context(task, PATH, PathContext(paths_vote, 0)))
    assert scores[0].score == 0.75 and scores[0].params["target_kind"] == "pseudo-reference"
    assert "the pseudo-reference '31' (majority of 2/3 paths, margin 0.33, self-consistency)" in scores[0].rationale
    assert (scores[0].checks, scores[-1].checks) == ("step", "outcome")  # rollouts judge steps; the answer, the outcome
    no_majority = vote(["31", "7"])
    alone = asyncio.run(verifier.score_in_context(task, PATH, PathContext(no_majority, 0)))
    assert {s.label for s in alone} == {"unverifiable"} and "nothing to roll out towards" in alone[0].rationale


def test_paths_whose_answer_misses_can_skip_their_rollouts(scripted):
    script, url = scripted
    wrong = ["3 boxes hold 36 pencils.", "Answer: 41"]
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4, skip_wrong_paths=True)
    scores = asyncio.run(verifier.score_steps(TASK, wrong))
    assert [s.label for s in scores] == ["unverifiable", "incorrect"]
    assert "not rolled out: the path's own final answer '41' already misses" in scores[0].rationale
    assert script.bodies == []


def test_a_path_with_no_final_answer_gets_that_verdict(scripted):
    _, url = scripted
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4)
    scores = asyncio.run(verifier.score_steps(TASK, ["3 boxes hold 36 pencils.", "He gives some away."]))
    assert scores[1].label == "incorrect" and scores[1].rationale.startswith("no final answer: the path states none")
    assert scores[0].score == 0.75


def test_stored_rollouts_are_reused_and_only_the_missing_ones_sampled(scripted):
    script, url = scripted
    ledger = MemoryLedger()
    verifier = get_verifier("rollout", teacher=base_teacher(url), k=4, ledger=ledger)
    first = asyncio.run(verifier.score_steps(TASK, PATH))
    assert len(script.bodies) == 8
    key = next(iter(ledger.rollouts))
    # as if the run was killed before one rollout of one prefix was kept: one that missed, since the scripted server
    # answers the next call for that prefix with a miss (which of k = 0..3 missed depends on arrival order)
    missed = next(k for k, rollout in ledger.rollouts[key].items() if rollout.final_answer != "31")
    del ledger.rollouts[key][missed]
    again = asyncio.run(verifier.score_steps(TASK, PATH))
    assert len(script.bodies) == 9 and all(len(kept) == 4 for kept in ledger.rollouts.values())
    assert [s.score for s in again][1:] == [s.score for s in first][1:]


def test_continuation_prompt_is_the_paths_own_few_shot_prompt_with_the_prefix():
    prompt = continuation_prompt(TASK, PATH[:2])
    assert prompt.endswith(f"Problem: {TASK.problem}\nSolution:\nStep 1: {PATH[0]}\nStep 2: {PATH[1]}\nStep 3:")


def test_bad_budgets_are_refused():
    teacher = chat_teacher("http://127.0.0.1:9/v1")
    with pytest.raises(VerifierError, match="soft, any, most"):
        get_verifier("rollout", teacher=teacher, label="half")
    with pytest.raises(VerifierError, match="K >= 1"):
        get_verifier("rollout", teacher=teacher, k=0)


@pytest.mark.slow
def test_rollouts_on_the_bundled_model():
    """The bundled Gemma (a base model) continues the few-shot prompt from each prefix; every rollout is kept and
    the step's score is the share of its K rollouts whose stated answer is the reference."""
    ledger = MemoryLedger()
    verifier = get_verifier("rollout", teacher=Teacher(TeacherConfig()), k=2, max_tokens=40, ledger=ledger)
    scores = asyncio.run(verifier.score_steps(TASK, PATH))
    assert scores[2].score == 1.0  # the path's own answer is the reference: no rollout needed
    assert len(ledger.rollouts) == 2 and all(sorted(kept) == [0, 1] for kept in ledger.rollouts.values())
    for index, step in enumerate(scores[:2]):
        key = (TASK.problem, tuple(PATH[: index + 1]))  # rollouts of a path scored alone are keyed on their prefix
        rollouts = dict(sorted(ledger.rollouts[key].items()))
        reached = step.params["reached"]
        assert step.score == sum(reached) / 2 and step.params["answers"] == [r.final_answer for r in rollouts.values()]
        assert all("31" in (r.final_answer or "") for r, hit in zip(rollouts.values(), reached, strict=True) if hit)
        assert all(r.text.startswith(f"Step {len(key[1]) + 1}:") and r.model == "local/gemma-3-270m"
                   for r in rollouts.values())
        assert all(r.completion_tokens > 0 for r in rollouts.values())
