"""The lean per-call path: OpenAI-compatible servers without litellm, every other provider still through it."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.loopback_server import serve, stats
from workbench.core.teacher import NOT_AVAILABLE, Teacher, TeacherConfig, TeacherError

ASK = [{"role": "user", "content": "Rewrite: how many apples are left?"}]


def loopback(url: str, **config) -> TeacherConfig:
    return TeacherConfig(model="openai/loopback", api_base=url, extra={"api_key": "x"}, max_retries=0, **config)


@pytest.mark.parametrize(
    ("config", "lean"),
    [
        (TeacherConfig(model="openai/qwen", api_base="http://127.0.0.1:8000/v1"), True),
        (TeacherConfig(model="hosted_vllm/qwen", api_base="http://gpu-box:8000/v1"), True),
        (TeacherConfig(model="text-completion-openai/qwen", api_base="http://gpu-box:8000/v1"), True),
        (TeacherConfig(model="openai/qwen", api_base="http://h/v1", extra={"seed": 3, "top_p": 0.9}), True),
        (TeacherConfig(model="openai/gpt-4o-mini"), False),  # OpenAI itself: litellm knows its models' rules
        (TeacherConfig(model="openai/gpt-4o-mini", api_base="https://api.openai.com/v1"), False),
        (TeacherConfig(model="anthropic/claude-x", api_base="http://h/v1"), False),
        (TeacherConfig(model="local/gemma-3-270m"), False),
        (TeacherConfig(model="openai/qwen", api_base="http://h/v1", client="litellm"), False),
        (TeacherConfig(model="openai/qwen", api_base="http://h/v1", extra={"mock_response": "x"}), False),
        (TeacherConfig(model="openai/qwen", api_base="http://h/v1", extra={"top_k": 20}), False),  # litellm's option
        (TeacherConfig(model="pool", api_base="http://h/v1", router_config="router.yaml"), False),
    ],
)
def test_which_calls_take_the_lean_path(config: TeacherConfig, lean: bool):
    assert config.uses_lean_client is lean


def test_lean_and_litellm_paths_give_the_same_kind_of_generation():
    with serve(latency_s=0.0) as url:
        lean = Teacher(loopback(url)).chat(ASK, temperature=0.3, max_tokens=40, stop=["###"])
        via_litellm = Teacher(loopback(url, client="litellm")).chat(ASK, temperature=0.3, max_tokens=40, stop=["###"])
        served = stats(url)
    assert served["requests"] == served["ok"] == 2
    for generation in (lean, via_litellm):
        assert generation.text.startswith("Consider the ") and generation.finish_reason == "stop"
        assert generation.params == {"temperature": 0.3, "max_tokens": 40, "stop": ["###"], "logprobs": True,
                                     "top_logprobs": 5}  # and never the api key
        assert generation.prompt_tokens > 0 and generation.completion_tokens == len(generation.text.split())
        assert generation.entropy_source == "top-5 logprobs approximation (lower bound)"
        assert len(generation.token_entropies) == len(generation.tokens) == generation.completion_tokens
        assert generation.cost is None  # litellm knows no price for a self-hosted 'loopback'
    assert lean.tokens == [w + " " for w in lean.text.split(" ")]


def test_lean_raw_completion_reads_legacy_logprobs():
    with serve(latency_s=0.0) as url:
        teacher = Teacher(TeacherConfig(model="text-completion-openai/loopback", api_base=url, extra={"api_key": "x"}))
        generation = teacher.complete("Q: 2+2?\nA:", max_tokens=10)
    assert teacher.config.uses_lean_client
    assert generation.text and generation.params["logprobs"] == 5
    assert generation.entropy_source == "top-5 logprobs approximation (lower bound)"
    assert all(h > 0 for h in generation.token_entropies)


def test_a_server_that_refuses_logprobs_is_asked_again_without_them_and_the_note_says_why():
    with serve(latency_s=0.0, refuse_logprobs=True) as url:
        teacher = Teacher(loopback(url))
        first = teacher.chat(ASK)
        second = teacher.chat(ASK)
        served = stats(url)
    assert first.text and second.text
    assert served["400"] == 1 and served["ok"] == 2  # refused once, then never asked again
    assert first.token_entropies is None
    assert first.entropy_source == f"{NOT_AVAILABLE}: the server at {url} refused log-probabilities"


def test_lean_path_retries_server_errors_and_explains_failures():
    with serve(latency_s=0.0, failure_rate=1.0, failures=("500",)) as url:
        teacher = Teacher(TeacherConfig(model="openai/loopback", api_base=url, extra={"api_key": "x"}, max_retries=2,
                                        backoff_base_s=0.001))
        with pytest.raises(TeacherError, match="InternalServerError"):
            teacher.chat(ASK)
        assert stats(url)["500"] == 3 and teacher.usage["retries"] == 3
    unreachable = Teacher(TeacherConfig(model="openai/some-model", api_base="http://127.0.0.1:9/v1", max_retries=0))
    ok, message = unreachable.test_connection()
    assert not ok and "cannot reach the provider at http://127.0.0.1:9/v1" in message


def test_lean_path_shares_one_limit_across_concurrent_calls():
    with serve(latency_s=0.05) as url:
        teacher = Teacher(loopback(url, concurrency=4))

        async def many() -> list:
            return await asyncio.gather(*(teacher.achat(ASK) for _ in range(24)))

        generations = asyncio.run(many())
        served = stats(url)
    assert len(generations) == 24 and served["requests"] == 24
    assert served["max_in_flight"] == 4
