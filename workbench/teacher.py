"""One Teacher over litellm: chat and raw text completion, token entropy, retries, limits, usage.

Local and remote models share one code path: the bundled model is a litellm custom provider
(`local/...`, see local_model.py). API keys come from the environment (or Streamlit's
secrets file, loaded into the environment by `load_secrets`); they are never stored.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.env import configure_offline_environment

configure_offline_environment()

import litellm  # noqa: E402  (must come after the offline environment is set)
import openai  # noqa: E402

litellm.suppress_debug_info = True
litellm.drop_params = True

DEFAULT_MODEL = "local/gemma-3-270m"
RAW_COMPLETION_PROVIDERS = {"local", "text-completion-openai", "text-completion-codestral", "ollama", "hosted_vllm"}
RETRYABLE = (
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.Timeout,
    litellm.APIConnectionError,
)
NOT_AVAILABLE = "not available"
NOT_PARAMS = ("model", "timeout", "api_base", "max_retries", "mock_response")


@dataclass
class TeacherConfig:
    """Which model teaches, and how. Holds no secrets: keys stay in the environment."""

    model: str = DEFAULT_MODEL
    api_base: str | None = None
    evolution_temperature: float = 0.8
    answer_temperature: float = 0.2
    max_tokens: int = 256
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_base_s: float = 0.5
    base_model: bool | None = None
    router_config: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict | None) -> TeacherConfig:
        known = {k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def provider(self) -> str:
        return provider_of(self.model)

    @property
    def uses_completion_prompts(self) -> bool:
        """Base models (the bundled Gemma among them) follow few-shot completion prompts, not chat."""
        if self.base_model is not None:
            return self.base_model
        return self.provider == "local"


def provider_of(model: str) -> str:
    """The litellm provider prefix of a model string ('openai' when there is none)."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def supports_raw_completion(model: str) -> bool:
    return provider_of(model) in RAW_COMPLETION_PROVIDERS


@dataclass
class Generation:
    """One model output with what the backend told us about it; entropy is None when not available."""

    text: str
    model: str
    params: dict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    tokens: list[str] | None = None
    token_logprobs: list[float] | None = None
    token_entropies: list[float] | None = None
    entropy_source: str = NOT_AVAILABLE
    finish_reason: str | None = None
    top_logprobs: list[dict[str, float]] | None = None  # per token: alternative -> logprob, when returned

    @property
    def mean_entropy(self) -> float | None:
        if not self.token_entropies:
            return None
        return sum(self.token_entropies) / len(self.token_entropies)

    @property
    def max_entropy(self) -> float | None:
        return max(self.token_entropies) if self.token_entropies else None


class TeacherError(Exception):
    """A call that failed for good, with a message a user can act on."""


def explain_error(exc: Exception, model: str, api_base: str | None) -> str:
    where = f" at {api_base}" if api_base else ""
    if isinstance(exc, litellm.AuthenticationError):
        return f"{model}: the provider refused the API key (authentication failed). Check the key in the environment or secrets."
    if isinstance(exc, litellm.NotFoundError):
        return f"{model}: unknown model{where} (the provider answered 'not found')."
    unreachable = "connection error" in str(exc).lower() or "connection refused" in str(exc).lower()
    if unreachable or isinstance(exc, litellm.APIConnectionError | litellm.Timeout):
        return f"{model}: cannot reach the provider{where} ({type(exc).__name__}). Is the host up and the URL right?"
    if isinstance(exc, litellm.BadRequestError):
        return f"{model}: the provider rejected the request: {exc}"
    if isinstance(exc, litellm.RateLimitError):
        return f"{model}: rate limited by the provider even after retries."
    return f"{model}: {type(exc).__name__}: {exc}"


def entropy_from_top_logprobs(top_logprobs: list[float]) -> float:
    """Entropy (nats) of a next-token distribution known only by its top-k log-probabilities.

    The mass outside the top k is counted as one extra outcome, so this is a lower bound on
    the true entropy (the 'top-k approximation').
    """
    probs = [math.exp(lp) for lp in top_logprobs]
    rest = max(0.0, 1.0 - sum(probs))
    return -sum(p * math.log(p) for p in [*probs, rest] if p > 0)


def _read_legacy_logprobs(logprobs: Any) -> tuple[list[str] | None, list[float] | None, list[float] | None, str]:
    """The /completions format: parallel lists `tokens`, `token_logprobs`, `top_logprobs` (token -> logprob)."""

    def get(name: str) -> Any:
        return logprobs.get(name) if isinstance(logprobs, dict) else getattr(logprobs, name, None)

    tokens, values, tops = get("tokens"), get("token_logprobs"), get("top_logprobs")
    if not tokens:
        return None, None, None, NOT_AVAILABLE
    if tops and all(isinstance(t, dict) and len(t) >= 2 for t in tops):
        k = min(len(t) for t in tops)
        entropies = [entropy_from_top_logprobs(list(t.values())) for t in tops]
        return list(tokens), list(values or []), entropies, f"top-{k} logprobs approximation (lower bound)"
    return list(tokens), list(values or []), None, NOT_AVAILABLE


def _read_logprobs(choice: Any) -> tuple[list[str] | None, list[float] | None, list[float] | None, str]:
    """Tokens, logprobs and per-token entropies from a litellm choice, with where the entropy came from."""
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is None:
        return None, None, None, NOT_AVAILABLE
    content = logprobs.get("content") if isinstance(logprobs, dict) else getattr(logprobs, "content", None)
    if not content:
        return _read_legacy_logprobs(logprobs)

    def field_of(item: Any, name: str) -> Any:
        return item.get(name) if isinstance(item, dict) else getattr(item, name, None)

    tokens = [field_of(item, "token") for item in content]
    values = [field_of(item, "logprob") for item in content]
    exact = [field_of(item, "entropy") for item in content]
    if all(e is not None for e in exact):
        return tokens, values, [float(e) for e in exact], "full next-token distribution"
    tops = [field_of(item, "top_logprobs") or [] for item in content]
    if all(len(t) >= 2 for t in tops):
        k = min(len(t) for t in tops)
        entropies = [entropy_from_top_logprobs([field_of(t, "logprob") for t in top]) for top in tops]
        return tokens, values, entropies, f"top-{k} logprobs approximation (lower bound)"
    return tokens, values, None, NOT_AVAILABLE


def _read_top_alternatives(choice: Any) -> list[dict[str, float]] | None:
    """Per generated token, the alternatives the backend returned with their logprobs (None if none)."""
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is None:
        return None

    def get(item: Any, name: str) -> Any:
        return item.get(name) if isinstance(item, dict) else getattr(item, name, None)

    content = get(logprobs, "content")
    if content:
        tops = [{get(t, "token"): get(t, "logprob") for t in get(item, "top_logprobs") or []} for item in content]
    else:
        tops = [dict(t) for t in get(logprobs, "top_logprobs") or [] if isinstance(t, dict)]
    return tops if any(tops) else None


def load_secrets(paths: list[Path] | None = None) -> list[str]:
    """Copy keys from Streamlit secrets files into the environment (never overriding it). Returns key names."""
    candidates = paths or [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]
    loaded: list[str] = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            continue
        for key, value in values.items():
            if isinstance(value, str) and key.isupper() and key not in os.environ:
                os.environ[key] = value
                loaded.append(key)
    return loaded


def load_router(path: str) -> litellm.Router:
    """A litellm Router from a YAML file holding a `model_list` (the format of litellm's proxy config).

    Each entry names a `model_name` (what the teacher's model string asks for) and its `litellm_params`
    (model, api_base, ...); the Router spreads calls across the entries of one name."""
    import yaml

    try:
        config = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TeacherError(f"cannot read the router config {path}: {exc}") from exc
    model_list = config.get("model_list") if isinstance(config, dict) else None
    if not model_list:
        raise TeacherError(f"the router config {path} has no model_list")
    return litellm.Router(model_list=model_list, num_retries=0)


class Teacher:
    """Calls one model through litellm with retries, a concurrency limit and usage accounting."""

    def __init__(self, config: TeacherConfig | None = None) -> None:
        self.config = config or TeacherConfig()
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._unpriced = False
        self._router = load_router(self.config.router_config) if self.config.router_config else None
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "calls": 0, "retries": 0}
        if self.config.provider == "local":
            from workbench.local_model import register_local_provider

            register_local_provider()

    @property
    def model(self) -> str:
        return self.config.model

    def _semaphore(self) -> asyncio.Semaphore:
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._semaphores:
            self._semaphores[loop_id] = asyncio.Semaphore(max(1, self.config.concurrency))
        return self._semaphores[loop_id]

    def _base_kwargs(self, temperature: float, max_tokens: int | None, stop: list[str] | None, **extra: Any) -> dict:
        kwargs: dict[str, Any] = {
            "model": self.config.model,
            "temperature": temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
            "timeout": self.config.timeout_s,
            "max_retries": 0,  # the Teacher retries with its own backoff; no second layer inside the client
            **self.config.extra,
            **extra,
        }
        if stop:
            kwargs["stop"] = stop
        if self.config.api_base:
            kwargs["api_base"] = self.config.api_base
        return kwargs

    def _client(self, method: str) -> Any:
        """litellm's call, or the Router's when the teacher spreads load over several deployments."""
        return getattr(self._router or litellm, method)

    async def _call(self, fn: Any, kwargs: dict) -> Any:
        attempt = 0
        async with self._semaphore():
            while True:
                try:
                    return await fn(**kwargs)
                except RETRYABLE as exc:
                    attempt += 1
                    self.usage["retries"] += 1
                    if attempt > self.config.max_retries:
                        raise TeacherError(explain_error(exc, self.model, self.config.api_base)) from exc
                    delay = self.config.backoff_base_s * (2 ** (attempt - 1)) * (0.5 + random.random())
                    await asyncio.sleep(min(delay, 30.0))
                except openai.OpenAIError as exc:  # the base of every litellm exception
                    raise TeacherError(explain_error(exc, self.model, self.config.api_base)) from exc

    def _cost(self, response: Any) -> float | None:
        """The call's price: litellm's own figure when it priced the call, else None for a model it cannot price
        (asked once per Teacher: pricing an unknown model costs a millisecond per call)."""
        if self.config.provider == "local":
            return 0.0
        hidden = getattr(response, "_hidden_params", None) or {}
        if "response_cost" in hidden:  # litellm priced the call already (None: it knows no price)
            return hidden["response_cost"]
        if self._unpriced:
            return None
        try:
            return litellm.completion_cost(completion_response=response)
        except Exception:  # litellm knows no price for this model
            self._unpriced = True
            return None

    def _generation(self, response: Any, text: str, params: dict) -> Generation:
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self._cost(response)
        choice = response.choices[0]
        tokens, values, entropies, source = _read_logprobs(choice)
        self.usage["calls"] += 1
        self.usage["prompt_tokens"] += prompt_tokens
        self.usage["completion_tokens"] += completion_tokens
        self.usage["cost"] += cost or 0.0
        return Generation(
            text=text or "",
            model=self.model,
            params=params,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            tokens=tokens,
            token_logprobs=values,
            token_entropies=entropies,
            entropy_source=source,
            finish_reason=getattr(choice, "finish_reason", None),
            top_logprobs=_read_top_alternatives(choice),
        )

    async def achat(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        logprobs: bool = False,
        top_logprobs: int = 5,
        **extra: Any,
    ) -> Generation:
        temperature = self.config.answer_temperature if temperature is None else temperature
        kwargs = self._base_kwargs(temperature, max_tokens, stop, **extra)
        if logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = top_logprobs
        response = await self._call(self._client("acompletion"), {**kwargs, "messages": messages})
        params = {k: v for k, v in kwargs.items() if k not in NOT_PARAMS}
        return self._generation(response, response.choices[0].message.content, params)

    async def acomplete(
        self,
        prompt: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        logprobs: bool = False,
        **extra: Any,
    ) -> Generation:
        """Raw text completion: the prompt is sent as-is, with no chat template around it."""
        if not supports_raw_completion(self.model):
            raise TeacherError(
                f"{self.model} is a chat-only API: it cannot continue a raw prompt. Raw completion needs the bundled "
                "local model or an OpenAI-compatible /completions endpoint (text-completion-openai/..., "
                "hosted_vllm/..., ollama/...)."
            )
        temperature = self.config.answer_temperature if temperature is None else temperature
        kwargs = self._base_kwargs(temperature, max_tokens, stop, **extra)
        params = {k: v for k, v in kwargs.items() if k not in NOT_PARAMS}
        if self.config.provider == "local":
            # litellm's text-completion wrapper drops logprobs; the local provider takes raw prompts directly.
            messages = [{"role": "user", "content": prompt}]
            response = await self._call(litellm.acompletion, {**kwargs, "messages": messages, "raw_prompt": True})
            return self._generation(response, response.choices[0].message.content, params)
        if logprobs:
            kwargs["logprobs"] = 5
        response = await self._call(self._client("atext_completion"), {**kwargs, "prompt": prompt})
        return self._generation(response, response.choices[0].text, params)

    def chat(self, messages: list[dict], **kwargs: Any) -> Generation:
        return asyncio.run(self.achat(messages, **kwargs))

    def complete(self, prompt: str, **kwargs: Any) -> Generation:
        return asyncio.run(self.acomplete(prompt, **kwargs))

    def test_connection(self) -> tuple[bool, str]:
        """One tiny call; returns (ok, message for the user)."""
        try:
            generation = self.chat([{"role": "user", "content": "Say OK."}], max_tokens=5, temperature=0.0)
        except TeacherError as exc:
            return False, str(exc)
        except Exception as exc:  # anything else litellm raises for a bad configuration
            return False, explain_error(exc, self.model, self.config.api_base)
        return True, f"{self.model} answered: {generation.text.strip()[:80]!r}"
