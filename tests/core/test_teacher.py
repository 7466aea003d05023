"""The Teacher: one interface over litellm, honest about entropy, retrying what is worth retrying."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import litellm
import numpy as np
import pytest

from tests.json_server import json_server
from tests.seeds.test_seed_inputs import chat_reply
from workbench.core.connection_test import keys_in_environment, missing_keys
from workbench.core.teacher import (
    NOT_AVAILABLE,
    Teacher,
    TeacherConfig,
    TeacherError,
    entropy_from_top_logprobs,
    load_secrets,
    supports_raw_completion,
)


def mocked(response, **config) -> Teacher:
    return Teacher(TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": response}, **config))


def test_chat_returns_text_usage_and_params():
    generation = mocked("The answer is 4.").chat([{"role": "user", "content": "2+2?"}], temperature=0.3, max_tokens=20)
    assert generation.text == "The answer is 4."
    assert generation.model == "openai/gpt-4o-mini"
    assert generation.params["temperature"] == 0.3 and generation.params["max_tokens"] == 20
    assert generation.completion_tokens > 0 and generation.prompt_tokens > 0


def test_entropy_is_not_invented_when_the_backend_gives_none_and_the_note_says_why():
    generation = mocked("plain").chat([{"role": "user", "content": "hi"}])
    assert generation.params["logprobs"] is True  # asked by default, wherever the provider may give them
    assert generation.token_entropies is None
    assert generation.entropy_source == f"{NOT_AVAILABLE}: the provider returned no token log-probabilities for this call"
    assert generation.mean_entropy is None and generation.max_entropy is None
    unasked = mocked("plain").chat([{"role": "user", "content": "hi"}], logprobs=False)
    assert unasked.entropy_source == f"{NOT_AVAILABLE}: log-probabilities were not requested"
    anthropic = Teacher(TeacherConfig(model="anthropic/claude-3-5-haiku-latest", extra={"mock_response": "x"}))
    assert anthropic.chat([{"role": "user", "content": "hi"}]).entropy_source == (
        f"{NOT_AVAILABLE}: anthropic gives no token log-probabilities")


def test_rate_limits_are_retried_then_reported():
    teacher = mocked("litellm.RateLimitError", max_retries=3, backoff_base_s=0.001)
    with pytest.raises(TeacherError, match="rate limited"):
        teacher.chat([{"role": "user", "content": "hi"}])
    assert teacher.usage["retries"] == 4  # three retries, then the fourth failure gives up


def test_server_errors_are_retried():
    teacher = mocked("litellm.InternalServerError", max_retries=2, backoff_base_s=0.001)
    with pytest.raises(TeacherError):
        teacher.chat([{"role": "user", "content": "hi"}])
    assert teacher.usage["retries"] == 3


def test_bad_key_is_not_retried_and_says_so():
    error = litellm.AuthenticationError(message="invalid api key", llm_provider="openai", model="gpt-4o-mini")
    teacher = mocked(error, max_retries=5, backoff_base_s=0.001)
    with pytest.raises(TeacherError, match="refused the API key"):
        teacher.chat([{"role": "user", "content": "hi"}])
    assert teacher.usage["retries"] == 0


def test_unreachable_host_gives_a_clear_message():
    teacher = Teacher(TeacherConfig(model="openai/some-model", api_base="http://127.0.0.1:9", max_retries=0,
                                    timeout_s=5, extra={"api_key": "sk-test"}))
    ok, message = teacher.test_connection()
    assert not ok
    assert "cannot reach the provider at http://127.0.0.1:9" in message


def test_chat_only_models_refuse_raw_completion():
    assert supports_raw_completion("local/gemma-3-270m")
    assert supports_raw_completion("hosted_vllm/qwen")
    assert not supports_raw_completion("openai/gpt-4o-mini")
    with pytest.raises(TeacherError, match="chat-only"):
        mocked("x").complete("<|im_start|>user\n")


def test_top_k_entropy_in_bits_counts_the_rest_as_one_outcome():
    # two tokens at 0.5 each (natural log-probabilities in): exactly 1 bit, nothing left over
    assert entropy_from_top_logprobs([math.log(0.5), math.log(0.5)]) == pytest.approx(1.0)
    # 0.6 and 0.2 known, 0.2 left over: -(0.6 log2 0.6 + 0.2 log2 0.2 + 0.2 log2 0.2)
    expected = -(0.6 * math.log2(0.6) + 2 * 0.2 * math.log2(0.2))
    assert entropy_from_top_logprobs([math.log(0.6), math.log(0.2)]) == pytest.approx(expected)


def test_the_bundled_model_measures_next_token_entropy_in_bits():
    from workbench.core.local_model import _entropy_bits

    assert _entropy_bits(np.log(np.full(4, 0.25))) == pytest.approx(2.0)  # four equal tokens: 2 bits, not ln 4
    assert _entropy_bits(np.log(np.array([1.0, 1e-300]))) == pytest.approx(0.0, abs=1e-9)


def test_base_models_use_completion_prompts():
    assert TeacherConfig().uses_completion_prompts
    assert not TeacherConfig(model="openai/gpt-4o").uses_completion_prompts
    assert TeacherConfig(model="hosted_vllm/llama-base", base_model=True).uses_completion_prompts


def test_config_holds_no_secrets_and_round_trips():
    config = TeacherConfig(model="anthropic/claude-x", api_base="http://h", concurrency=3)
    assert TeacherConfig.from_dict({**config.to_dict(), "api_key": "sk-leak"}) == config
    assert "api_key" not in config.to_dict()


def test_secrets_file_fills_the_environment_without_overriding(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OPENAI_API_KEY = "sk-from-file"\nANTHROPIC_API_KEY = "from-file"\nlowercase = "ignored"\n')
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    assert load_secrets([secrets]).loaded == ["OPENAI_API_KEY"]
    assert os.environ["OPENAI_API_KEY"] == "sk-from-file"
    assert os.environ["ANTHROPIC_API_KEY"] == "from-env"
    assert load_secrets([secrets]).loaded == []  # loading again changes nothing
    monkeypatch.delenv("OPENAI_API_KEY")


def test_a_key_in_the_projects_secrets_file_reaches_the_call(tmp_path, monkeypatch):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('OPENAI_API_KEY = "sk-from-secrets"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = TeacherConfig(model="openai/loopback", extra={"max_retries": 0})
    try:
        assert missing_keys(config) == []  # the Settings page sees the file's key
        assert "OPENAI_API_KEY" in keys_in_environment()
        monkeypatch.delenv("OPENAI_API_KEY")
        with json_server(chat_reply("OK")) as server:
            generation = Teacher(replace(config, api_base=server.url)).chat([{"role": "user", "content": "hi"}])
        assert generation.text == "OK"
        assert server.headers[0]["Authorization"] == "Bearer sk-from-secrets"
    finally:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_an_unreadable_secrets_file_is_reported_not_skipped(tmp_path, monkeypatch):
    broken = tmp_path / "secrets.toml"
    broken.write_text('OPENAI_API_KEY = "sk-unterminated\n')
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = load_secrets([broken, tmp_path / "absent.toml"])
    assert result.loaded == [] and "OPENAI_API_KEY" not in os.environ
    assert len(result.problems) == 1 and result.problems[0].startswith(f"{broken}: ")


@pytest.mark.slow
def test_bundled_model_chat_and_raw_completion_with_real_entropy():
    teacher = Teacher(TeacherConfig())
    generation = teacher.complete("Q: What is the capital of France?\nA:", max_tokens=12, stop=["\n"], temperature=0.0)
    assert "Paris" in generation.text
    assert generation.entropy_source == "full next-token distribution"
    assert generation.token_entropies and len(generation.token_entropies) == len(generation.tokens)
    assert all(h >= 0 for h in generation.token_entropies)
    vocabulary_bound = math.log2(262_144)  # Gemma 3's vocabulary size bounds entropy: 18 bits
    assert generation.max_entropy <= vocabulary_bound
    assert generation.completion_tokens == len(generation.tokens) or generation.finish_reason == "stop"
    chat = teacher.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert chat.text.strip() and chat.token_entropies and chat.cost == 0.0
