"""The LLM judge: P(yes)/(P(yes)+P(no)) from logprobs through the real Teacher, else the parsed verdict."""

from __future__ import annotations

import asyncio
import math

import pytest

from tests.json_server import json_server
from workbench.core.teacher import Generation, Teacher, TeacherConfig
from workbench.verify.verifiers import get_verifier
from workbench.verify.verifiers.base import Task
from workbench.verify.verifiers.judge import chat_messages, completion_prompt, score_generation

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
