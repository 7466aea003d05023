"""The connection test: which API keys the teacher needs, one tiny call in the worker, and a plain answer.

The `connection_test` job runs in the worker (where the bundled model loads). A connection that fails is the
test's answer, not a failed job: the job ends `done` with `result = {"ok": False, "cause": ..., "message":
...}`, where `cause` is one of `CAUSES` and the message says what to do about it. Keys are checked with
litellm's `validate_environment` before any call, so a missing key never turns into a provider error.
"""

from __future__ import annotations

import os
import time

from workbench.core.jobs.runner import JobContext, register
from workbench.core.settings import teacher_config

# litellm comes through the teacher, which sets the offline environment before importing it
from workbench.core.teacher import Teacher, TeacherConfig, litellm, load_secrets
from workbench.core.wording import plural

CAUSES = ("missing_key", "bad_key", "unreachable", "unknown_model", "rate_limited", "other")
TEST_MESSAGES = [{"role": "user", "content": "Say OK."}]
TEST_TIMEOUT_S = 30.0
SECRETS_HINT = "Set it in the environment or in `.streamlit/secrets.toml`, restart the app, and test again."
_MISSING = ("missing credentials", "api_key client option must be set", "no api key", "api key not found",
            "missing api key", "api_key must be set")
_BAD_KEY = ("invalid api key", "incorrect api key", "invalid x-api-key", "invalid_api_key", "unauthorized",
            "authentication")
_UNREACHABLE = ("connection error", "connection refused", "connecterror", "name or service not known",
                "nodename nor servname", "temporary failure in name resolution", "timed out", "timeout",
                "network is unreachable", "cannot connect", "connection reset")
_UNKNOWN_MODEL = ("model_not_found", "does not exist", "unknown model", "no such model", "model not found",
                  "invalid model", "not a valid model")


def provider_key_names() -> set[str]:
    """`<PROVIDER>_API_KEY` for every provider litellm knows (OPENAI_API_KEY, TOGETHERAI_API_KEY, ...)."""
    names = {"GOOGLE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for provider in litellm.provider_list:
        stem = str(getattr(provider, "value", provider)).upper().replace("-", "_")
        names |= {f"{stem}_API_KEY", f"{stem.replace('_', '')}_API_KEY"}
    return names


def keys_in_environment() -> list[str]:
    """The provider API keys set (and not empty) in this process's environment or the secrets file, by name only."""
    load_secrets()
    known = provider_key_names()
    return sorted(k for k, v in os.environ.items() if k in known and v.strip())


def missing_keys(config: TeacherConfig) -> list[str]:
    """The environment variables the teacher's provider needs but neither the environment nor the secrets file
    has (empty counts as missing)."""
    load_secrets()
    if config.provider == "local" or config.router_config or config.extra.get("mock_response") is not None:
        return []  # the bundled model, a router file's own keys, or litellm answering itself
    try:
        needed = litellm.validate_environment(config.model, api_base=config.api_base)
    except Exception:  # litellm could not tell; the call itself will
        return []
    stem = config.provider.upper().replace("-", "_")
    empty = [k for k in (f"{stem}_API_KEY", f"{stem.replace('_', '')}_API_KEY")
             if k in os.environ and not os.environ[k].strip()]
    return list(dict.fromkeys([*needed.get("missing_keys", []), *empty]))


def _names(keys: list[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _where(config: TeacherConfig) -> str:
    return config.api_base or f"the {config.provider} API"


def diagnose(exc: BaseException, config: TeacherConfig) -> tuple[str, str]:
    """(cause, plain message) for a failed call; the cause is one of CAUSES."""
    error = exc.__cause__ or exc
    text = str(error).lower()
    model = config.model
    if any(p in text for p in _MISSING):
        keys = missing_keys(config) or [f"{config.provider.upper()}_API_KEY"]
        return "missing_key", f"No API key: `{model}` needs {_names(keys)}. {SECRETS_HINT}"
    if isinstance(error, litellm.AuthenticationError | litellm.PermissionDeniedError) or any(p in text for p in _BAD_KEY):
        return "bad_key", (f"The provider refused the API key: it is wrong, expired, or has no access to `{model}`. "
                           f"Check the key, then test again.")
    if "llm provider not provided" in text:
        return "unknown_model", (f"Unknown model: litellm knows no provider in `{model}`. Write provider/model, "
                                 f"e.g. `openai/gpt-4o-mini`, or `hosted_vllm/<model>` with a base URL.")
    if isinstance(error, litellm.NotFoundError) or any(p in text for p in _UNKNOWN_MODEL):
        return "unknown_model", f"Unknown model: {_where(config)} does not know `{model}`. Check the model name."
    if isinstance(error, litellm.APIConnectionError | litellm.Timeout) or any(p in text for p in _UNREACHABLE):
        return "unreachable", (f"Cannot reach {_where(config)}: no answer within {config.timeout_s:g} s. Is the "
                               f"host up, the base URL right, and the network there?")
    if isinstance(error, litellm.RateLimitError):
        return "rate_limited", "The provider is rate limiting this key. Wait a minute and test again."
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return "other", f"The provider answered with an error: {first_line[:300]}"


async def check_connection(config: TeacherConfig) -> dict:
    """One tiny chat call without retries; the result the Settings page shows."""
    missing = missing_keys(config)
    if missing:
        return {"ok": False, "cause": "missing_key",
                "message": f"No API key: `{config.model}` needs {_names(missing)}. {SECRETS_HINT}"}
    config.max_retries = 0
    config.timeout_s = min(config.timeout_s, TEST_TIMEOUT_S)
    started = time.perf_counter()
    try:
        generation = await Teacher(config).achat(TEST_MESSAGES, max_tokens=8, temperature=0.0)
    except Exception as exc:  # every failure is the test's answer (TeacherError, a bad router file, ...)
        cause, message = diagnose(exc, config)
        return {"ok": False, "cause": cause, "message": message}
    seconds = time.perf_counter() - started
    return {
        "ok": True,
        "message": f"`{config.model}` answered in {seconds:.1f} s ({plural(generation.completion_tokens, 'token')}).",
        "entropy_source": generation.entropy_source,
        "mean_entropy": generation.mean_entropy,
        "usage": [generation.prompt_tokens, generation.completion_tokens, generation.cost],
    }


class ConnectionTestHandler:
    kind = "connection_test"

    def units(self, ctx: JobContext) -> list[str]:
        return ["call"]

    async def run_unit(self, ctx: JobContext, unit_key: str) -> None:
        result = await check_connection(teacher_config(ctx.store, ctx.params.get("teacher")))
        if result["ok"]:
            ctx.add_usage(*result.pop("usage"))
        ctx.store.jobs.set_job_result(ctx.job_id, result)


register(ConnectionTestHandler())
