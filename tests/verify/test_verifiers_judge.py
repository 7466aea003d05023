"""The LLM judge: P(yes)/(P(yes)+P(no)) from logprobs through the real Teacher, else the parsed verdict."""

from __future__ import annotations

import asyncio
import math

import pytest

from tests.json_server import json_server
from workbench.core.teacher import Generation, Teacher, TeacherConfig
from workbench.verify.verifiers import get_verifier
from workbench.verify.verifiers.base import Task, VerifierError
from workbench.verify.verifiers.judge import (
    DEFAULT_MAX_TOKENS,
    chat_messages,
    completion_prompt,
    critic_prompt,
    critic_verdicts,
    judge_budget,
    parse_critic_reply,
    score_generation,
)

TASK = Task("Anna has 6 packs of 7 stickers. How many stickers?")
STEPS = ["6 * 7 = 42 stickers.", "Answer: 42"]


def judge(mock: str) -> object:
    return get_verifier("judge", teacher=Teacher(TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": mock})))


def test_parsed_verdict_when_the_backend_gives_no_logprobs():
    scores = asyncio.run(judge("yes\nReason: 6 times 7 is 42.").score_steps(TASK, STEPS))
    assert [s.score for s in scores] == [1.0, 1.0]
    assert scores[0].label == "correct" and scores[0].rationale == "6 times 7 is 42."
    assert scores[0].params["score_source"] == "parsed verdict (no logprobs)"
    scores = asyncio.run(judge("No. 6 * 7 is 42, but the step says 44.").score_steps(TASK, STEPS))
    assert [s.label for s in scores] == ["incorrect", "incorrect"]
    assert scores[0].rationale == "6 * 7 is 42, but the step says 44."


@pytest.mark.parametrize("reply", ["I cannot tell.", "There is no error in the sum."])
def test_a_judge_without_a_verdict_first_is_unverifiable(reply: str):
    scores = asyncio.run(judge(reply).score_steps(TASK, STEPS))
    assert scores[0].label == "unverifiable" and scores[0].score == 0.5
    assert "no yes/no verdict" in scores[0].rationale


def test_prompts_show_the_problem_and_the_steps_before():
    prompt = completion_prompt(TASK, ["a", "b", "c"], 2)
    assert prompt.endswith("Previous steps: \n1. a\n2. b\nStep: c\nCorrect (yes/no):")
    user = chat_messages(TASK, ["a", "b"], 0)[1]["content"]
    assert "Previous steps: (none)" in user and "Step to check:\na" in user


def test_score_from_top_logprobs_sums_spellings():
    generation = Generation(
        text="Yes, it is right.", model="m", params={}, tokens=["Yes", ",", " it"],
        token_logprobs=[math.log(0.6), -0.1, -0.1],
        top_logprobs=[{"Yes": math.log(0.6), " yes": math.log(0.1), "No": math.log(0.25)}, {}, {}],
    )
    score, source, rationale = score_generation(generation)
    assert score == pytest.approx(0.7 / 0.95)
    assert source.startswith("P(yes)/(P(yes)+P(no))") and rationale == "it is right."


def test_score_from_the_chosen_token_when_no_alternatives():
    generation = Generation(text=" no\nReason: wrong sum", model="m", params={}, tokens=[" no", "\n"],
                            token_logprobs=[math.log(0.8), -0.1])
    score, source, rationale = score_generation(generation)
    assert score == pytest.approx(0.2) and "chosen-token" in source and rationale == "wrong sum"


def judge_reply(body: dict) -> dict:
    """An OpenAI-compatible /chat/completions reply: 'yes' with real top logprobs."""
    top = [{"token": "yes", "logprob": math.log(0.7), "bytes": None},
           {"token": "no", "logprob": math.log(0.2), "bytes": None},
           {"token": "Yes", "logprob": math.log(0.05), "bytes": None}]
    content = [{"token": "yes", "logprob": math.log(0.7), "bytes": None, "top_logprobs": top},
               {"token": " because", "logprob": -0.2, "bytes": None, "top_logprobs": top[:2]}]
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "judge",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": {"content": content},
                     "message": {"role": "assistant", "content": "yes because 6 * 7 = 42"}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52},
    }


@pytest.fixture
def loopback_judge():
    with json_server(judge_reply) as server:
        yield server


def test_logprobs_from_a_real_backend_flow_through_the_teacher(loopback_judge):
    config = TeacherConfig(model="openai/judge", api_base=loopback_judge.url, max_retries=0, extra={"api_key": "sk-test"})
    scores = asyncio.run(get_verifier("judge", teacher=Teacher(config)).score_steps(TASK, STEPS))
    assert [s.score for s in scores] == pytest.approx([0.75 / 0.95] * 2)
    assert scores[0].params["score_source"] == "P(yes)/(P(yes)+P(no)) from top logprobs"
    assert scores[0].rationale == "because 6 * 7 = 42"
    assert scores[0].params["prompt_tokens"] == 50
    sent = loopback_judge.requests[0]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5 and sent["temperature"] == 0.0


# ---------------------------------------------------------------- critic mode (ProcessBench's protocol)

PARAGRAPHS = ["Anna buys 6 packs.", "6 * 7 = 44 stickers.", "Answer: 44"]


@pytest.mark.parametrize(("reply", "expected"), [
    ("Paragraph 0 is fine. Paragraph 1 multiplies wrongly.\n\n\\boxed{1}", (1, "paragraph 1 is the earliest wrong one")),
    ("Every paragraph checks out. \\boxed{-1}", (-1, "no paragraph is wrong")),
    ("So the answer is \\boxed{ 2 }, and again \\boxed{2}.", (2, "paragraph 2 is the earliest wrong one")),
    ("Paragraph 1 is wrong.", (None, "no index in \\boxed{}")),
    ("Either \\boxed{0} or \\boxed{1}.", (None, "two different indices (0, 1)")),
    ("\\boxed{3}", (None, "index 3 is outside -1..2 (3 paragraphs)")),
    ("\\boxed{-2}", (None, "index -2 is outside -1..2 (3 paragraphs)")),
    ("\\boxed{paragraph 1}", (None, "\\boxed{paragraph 1} is not a paragraph index")),
    ("\\boxed{1.5}", (None, "\\boxed{1.5} is not a paragraph index")),
])
def test_the_critic_reply_is_parsed_strictly(reply: str, expected: tuple):
    assert parse_critic_reply(reply, len(PARAGRAPHS)) == expected


def test_a_critic_reply_in_no_known_format_is_no_verdict_with_the_reply_kept_never_a_pass():
    verdicts = critic_verdicts("I think it is probably fine overall.", 3)
    assert {v.label for v in verdicts} == {"unverifiable"} and {v.score for v in verdicts} == {0.5}
    assert "the critic gave no verdict (no index in \\boxed{})" in verdicts[0].rationale
    assert "'I think it is probably fine overall.'" in verdicts[0].rationale


def test_critic_verdicts_pass_the_paragraphs_before_the_earliest_wrong_one_and_judge_none_after():
    verdicts = critic_verdicts("\\boxed{1}", 3)
    assert [(v.score, v.label) for v in verdicts] == [(1.0, "correct"), (0.0, "incorrect"), (0.5, "unverifiable")]
    assert [v.checks for v in verdicts[:2]] == ["step", "step"]
    assert [v.score for v in critic_verdicts("\\boxed{-1}", 3)] == [1.0, 1.0, 1.0]


def test_critic_mode_asks_once_per_path_with_indexed_paragraphs():
    critic = get_verifier("judge", mode="critic", teacher=Teacher(TeacherConfig(
        model="openai/gpt-4o-mini", extra={"mock_response": "Paragraph 1 says 44, but 6 * 7 = 42. \\boxed{1}"})))
    verdicts = asyncio.run(critic.score_steps(TASK, PARAGRAPHS))
    assert [v.label for v in verdicts] == ["correct", "incorrect", "unverifiable"]
    assert "6 * 7 = 42" in verdicts[1].rationale and verdicts[0].params["prompt_tokens"] > 0
    assert "prompt_tokens" not in verdicts[1].params  # the one call's usage is counted once
    prompt = critic_prompt(TASK, PARAGRAPHS)
    assert "<paragraph_0>\nAnna buys 6 packs.\n</paragraph_0>" in prompt and "<paragraph_2>" in prompt
    assert "\\boxed{-1}" in prompt and TASK.text in prompt


def test_the_critic_through_a_real_backend_is_one_call_per_path():
    with json_server(lambda body: {**judge_reply(body), "choices": [{
            "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "\\boxed{-1}"}}]}) as server:
        config = TeacherConfig(model="openai/critic", api_base=server.url, max_retries=0, extra={"api_key": "sk-test"})
        verdicts = asyncio.run(get_verifier("judge", mode="critic", teacher=Teacher(config)).score_steps(TASK, PARAGRAPHS))
        assert len(server.requests) == 1 and "<paragraph_1>" in server.requests[0]["messages"][0]["content"]
    assert [v.score for v in verdicts] == [1.0, 1.0, 1.0]


def test_an_unknown_judge_mode_is_refused():
    with pytest.raises(VerifierError, match="judge mode"):
        get_verifier("judge", mode="vote", teacher=Teacher(TeacherConfig(model="openai/gpt-4o-mini")))


def test_each_modes_expected_calls_and_tokens_before_a_job():
    step = judge_budget("step", paths=8, steps_per_path=6, problem_chars=400, path_chars=2000)
    critic = judge_budget("critic", paths=8, steps_per_path=6, problem_chars=400, path_chars=2000)
    assert (step.calls, critic.calls) == (48, 8)  # per step against once per path
    assert step.completion_tokens == 48 * DEFAULT_MAX_TOKENS["step"]
    assert critic.completion_tokens == 8 * DEFAULT_MAX_TOKENS["critic"]
    assert critic.prompt_tokens < step.prompt_tokens  # the critic reads each path once
