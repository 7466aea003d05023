"""One Teacher for every model: chat and raw text completion, token entropy, retries, adaptive limits, the
response cache, usage.

Self-hosted OpenAI-compatible servers are called through the lean client (openai_compatible.py); every
other provider, the Router and the bundled model through litellm (the bundled model is a litellm custom
provider, `local/...`, see local_model.py). Both paths behave alike. API keys come from the environment
(or Streamlit's secrets file, loaded into the environment by `load_secrets`); they are never stored.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Self

from workbench.core.concurrency import AdaptiveLimit, retry_after_seconds
from workbench.core.env import configure_offline_environment
from workbench.core.model_names import provider_of
from workbench.core.response_cache import ACTIVE, SAMPLE, is_reproducible, request_key

if TYPE_CHECKING:
    import litellm

configure_offline_environment()  # for whatever imports litellm next (local_model, a test)


@cache
def load_litellm() -> ModuleType:
    """litellm, imported on first use (about 4 s of imports: a command or page that calls no model never pays
    them), after the offline environment is set (else it fetches its price map), quiet and dropping the params
    a provider does not take."""
    configure_offline_environment()
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


def __getattr__(name: str) -> Any:
    """`from workbench.core.teacher import litellm` still works: it imports litellm then."""
    if name == "litellm":
        return load_litellm()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

DEFAULT_MODEL = "local/gemma-3-270m"
RAW_COMPLETION_PROVIDERS = {"local", "text-completion-openai", "text-completion-codestral", "ollama", "hosted_vllm"}
def retryable_errors() -> tuple[type[Exception], ...]:
    """The errors a call is retried on: the openai SDK's rate limit, HTTP 5xx and connection errors (timeouts included;
    litellm's exceptions subclass the SDK's, so these cover both call paths), and litellm's 503 once litellm is loaded
    (it cannot be raised before). The SDK is imported here, not at module top: the CLI and pages read TeacherConfig
    without paying for it."""
    import openai

    litellm = sys.modules.get("litellm")
    retryable = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
    return retryable + ((litellm.ServiceUnavailableError,) if litellm is not None else ())


NOT_AVAILABLE = "not available"
CLIENT_KEYS = ("model", "timeout", "api_base", "max_retries", "api_key", "mock_response")  # not generation params
LEAN_PROVIDERS = ("openai", "hosted_vllm", "text-completion-openai")  # OpenAI-compatible servers at an api_base
LEAN_PARAMS = {  # what the lean client may send in the body; any other extra goes through litellm
    "temperature", "max_tokens", "stop", "logprobs", "top_logprobs", "top_p", "seed", "presence_penalty",
    "frequency_penalty", "user", "response_format", "logit_bias",
}
TOP_LOGPROBS = 5  # alternatives asked per token: the top-k entropy approximation (OpenAI allows up to 20)
TIERED_PRICING_FROM = 100_000  # prompt tokens above which a call is priced exactly (litellm's tiers start at 128k)


def unavailable(reason: str) -> str:
    """The entropy note of a generation without token entropies: 'not available: <why>'."""
    return f"{NOT_AVAILABLE}: {reason}"


@dataclass
class ModelCallSettings:
    """How a model is called, the same for the teacher (TeacherConfig) and the student
    (workbench.student.settings.StudentSettings): the model string, the OpenAI-compatible server at `api_base`
    (None: the provider's own), whether it is a base model (None: decided by the provider), the most tokens a
    call writes, the calls in flight at once, the timeout of one call in seconds, the retries of a failed call
    and extra litellm parameters. Holds no secrets: keys stay in the environment."""

    model: str = DEFAULT_MODEL
    api_base: str | None = None
    base_model: bool | None = None
    max_tokens: int = 256
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict | None) -> Self:
        """The settings from a saved dict; keys that are not fields are ignored, missing ones keep their default."""
        return cls(**{k: v for k, v in (values or {}).items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)

    def call_settings(self) -> dict[str, Any]:
        """The ModelCallSettings fields alone, as their types (a form or a JSON file may give 256.0 for 256)."""
        return {"model": self.model, "api_base": self.api_base, "base_model": self.base_model,
                "max_tokens": int(self.max_tokens), "concurrency": int(self.concurrency),
                "timeout_s": float(self.timeout_s), "max_retries": int(self.max_retries), "extra": dict(self.extra)}


@dataclass
class TeacherConfig(ModelCallSettings):
    """Which model teaches, and how: the ModelCallSettings, the temperatures of evolution and of answers, the
    base of the exponential backoff between retries (seconds), a router config file, and the client."""

    evolution_temperature: float = 0.8
    answer_temperature: float = 0.2
    backoff_base_s: float = 0.5
    router_config: str | None = None
    client: str = "auto"  # "auto": the lean client for an OpenAI-compatible server at api_base; "litellm": always litellm

    @property
    def provider(self) -> str:
        return provider_of(self.model)

    @property
    def uses_completion_prompts(self) -> bool:
        """Base models (the bundled Gemma among them) follow few-shot completion prompts, not chat."""
        if self.base_model is not None:
            return self.base_model
        return self.provider == "local"

    @property
    def uses_lean_client(self) -> bool:
        """Whether calls skip litellm for the lean OpenAI-compatible client (workbench/core/openai_compatible.py):
        a self-hosted OpenAI-compatible server at `api_base`, no Router, and no option only litellm knows.
        OpenAI's own API stays on litellm, which knows each model's parameter rules and prices."""
        if self.client != "auto" or self.router_config or not self.api_base or self.provider not in LEAN_PROVIDERS:
            return False
        if "api.openai.com" in self.api_base:
            return False
        return all(key in LEAN_PARAMS or key in ("api_key", "max_retries", "timeout") for key in self.extra)

    @property
    def served_model(self) -> str:
        """The model name the server knows: the model string without its litellm provider prefix."""
        return self.model.split("/", 1)[1] if "/" in self.model else self.model


def supports_raw_completion(model: str) -> bool:
    return provider_of(model) in RAW_COMPLETION_PROVIDERS


@dataclass
class Generation:
    """One model output with what the backend told us about it; entropy is None when not available, and
    `entropy_source` then says why ('not available: ...'). A `cached` generation was served from the
    response cache: it cost nothing, so its token counts and cost are 0."""

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
    cached: bool = False

    @property
    def mean_entropy(self) -> float | None:
        if not self.token_entropies:
            return None
        return sum(self.token_entropies) / len(self.token_entropies)

    @property
    def max_entropy(self) -> float | None:
        return max(self.token_entropies) if self.token_entropies else None

    def to_cache(self) -> dict:
        """What the response cache stores of this generation (a shallow copy: it is serialised at once)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "cached"}

    @classmethod
    def from_cache(cls, stored: dict) -> Generation:
        """A generation served from the cache: same text and entropies, nothing paid."""
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "cached": True})


class TeacherError(Exception):
    """A call that failed for good, with a message a user can act on."""


def explain_error(exc: Exception, model: str, api_base: str | None) -> str:
    import openai

    where = f" at {api_base}" if api_base else ""
    if isinstance(exc, openai.AuthenticationError):
        return f"{model}: the provider refused the API key (authentication failed). Check the key in the environment or secrets."
    if isinstance(exc, openai.NotFoundError):
        return f"{model}: unknown model{where} (the provider answered 'not found')."
    unreachable = "connection error" in str(exc).lower() or "connection refused" in str(exc).lower()
    if unreachable or isinstance(exc, openai.APIConnectionError):
        return f"{model}: cannot reach the provider{where} ({type(exc).__name__}). Is the host up and the URL right?"
    if isinstance(exc, openai.BadRequestError):
        return f"{model}: the provider rejected the request: {exc}"
    if isinstance(exc, openai.RateLimitError):
        return f"{model}: rate limited by the provider even after retries."
    return f"{model}: {type(exc).__name__}: {exc}"


def entropy_from_top_logprobs(top_logprobs: list[float]) -> float:
    """Entropy (bits) of a next-token distribution known only by its top-k (natural) log-probabilities.

    The mass outside the top k is counted as one extra outcome, so this is a lower bound on
    the true entropy (the 'top-k approximation').
    """
    probs = [math.exp(lp) for lp in top_logprobs]
    rest = max(0.0, 1.0 - sum(probs))
    return -sum(p * math.log2(p) for p in [*probs, rest] if p > 0)


def _get(item: Any, name: str) -> Any:
    """A field of a response part, whether the client gave a dict (lean path) or an object (litellm)."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


NO_LOGPROBS = unavailable("the provider returned no token log-probabilities for this call")
ONLY_SAMPLED = unavailable("only the sampled tokens' log-probabilities came back; entropy needs the alternatives")


def _read_legacy_logprobs(logprobs: Any) -> tuple[list[str] | None, list[float] | None, list[float] | None, str]:
    """The /completions format: parallel lists `tokens`, `token_logprobs`, `top_logprobs` (token -> logprob)."""
    tokens, values, tops = _get(logprobs, "tokens"), _get(logprobs, "token_logprobs"), _get(logprobs, "top_logprobs")
    if not tokens:
        return None, None, None, NO_LOGPROBS
    if tops and all(isinstance(t, dict) and len(t) >= 2 for t in tops):
        k = min(len(t) for t in tops)
        entropies = [entropy_from_top_logprobs(list(t.values())) for t in tops]
        return list(tokens), list(values or []), entropies, f"top-{k} logprobs approximation (lower bound)"
    return list(tokens), list(values or []), None, ONLY_SAMPLED


def _read_logprobs(choice: Any) -> tuple[list[str] | None, list[float] | None, list[float] | None, str]:
    """Tokens, logprobs and per-token entropies from a response choice, with where the entropy came from
    (or why there is none)."""
    logprobs = _get(choice, "logprobs")
    if logprobs is None:
        return None, None, None, NO_LOGPROBS
    content = _get(logprobs, "content")
    if not content:
        return _read_legacy_logprobs(logprobs)
    tokens = [_get(item, "token") for item in content]
    values = [_get(item, "logprob") for item in content]
    exact = [_get(item, "entropy") for item in content]
    if all(e is not None for e in exact):
        return tokens, values, [float(e) for e in exact], "full next-token distribution"
    tops = [_get(item, "top_logprobs") or [] for item in content]
    if all(len(t) >= 2 for t in tops):
        k = min(len(t) for t in tops)
        entropies = [entropy_from_top_logprobs([_get(t, "logprob") for t in top]) for top in tops]
        return tokens, values, entropies, f"top-{k} logprobs approximation (lower bound)"
    return tokens, values, None, ONLY_SAMPLED


def _read_top_alternatives(choice: Any) -> list[dict[str, float]] | None:
    """Per generated token, the alternatives the backend returned with their logprobs (None if none)."""
    logprobs = _get(choice, "logprobs")
    if logprobs is None:
        return None
    content = _get(logprobs, "content")
    if content:
        tops = [{_get(t, "token"): _get(t, "logprob") for t in _get(item, "top_logprobs") or []} for item in content]
    else:
        tops = [dict(t) for t in _get(logprobs, "top_logprobs") or [] if isinstance(t, dict)]
    return tops if any(tops) else None


SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


@dataclass
class SecretsLoad:
    """What `load_secrets` did: the key names it copied into the environment, and each secrets file it could not
    read, as "path: why" (a file that is not there is no problem)."""

    loaded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_secrets(paths: list[Path] | None = None) -> SecretsLoad:
    """Copy upper-case string keys (OPENAI_API_KEY = "sk-...") from Streamlit secrets files into the environment,
    never overriding a variable that is set. Default files: `.streamlit/secrets.toml` in the working directory,
    then in the home folder (where Streamlit looks too). Every Teacher calls it, so a key in the file reaches the
    call in the app, its worker and the CLI alike; calling it again loads only what is new."""
    result = SecretsLoad()
    for path in paths or [Path(p) for p in SECRETS_FILES]:
        if not path.is_file():
            continue
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            result.problems.append(f"{path}: {exc}")
            continue
        for key, value in values.items():
            if isinstance(value, str) and key.isupper() and key not in os.environ:
                os.environ[key] = value
                result.loaded.append(key)
    return result


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
    return load_litellm().Router(model_list=model_list, num_retries=0)


class Teacher:
    """Calls one model with retries, an adaptive concurrency limit, the job's response cache and usage accounting.

    A self-hosted OpenAI-compatible server is called through the lean client (`TeacherConfig.uses_lean_client`);
    every other provider, the Router and the bundled model through litellm. Both paths ask for token
    log-probabilities by default (`logprobs=None`), so every generation carries its token entropy where the
    provider gives it, and says why where it does not.
    """

    def __init__(self, config: TeacherConfig | None = None) -> None:
        self.config = config or TeacherConfig()
        load_secrets()  # keys in .streamlit/secrets.toml reach this teacher's calls
        self._limits: dict[int, tuple[asyncio.AbstractEventLoop, AdaptiveLimit]] = {}
        self._rates: tuple[float, float] | None | bool = None  # per-token prices on the lean path; False: unpriced
        self._unpriced = False
        self._logprobs_refused = False
        self._router = load_router(self.config.router_config) if self.config.router_config else None
        self._lean = None
        if self.config.uses_lean_client:  # the openai SDK loads only here
            from workbench.core.openai_compatible import OpenAICompatibleClient

            self._lean = OpenAICompatibleClient(self.config.api_base, self._api_key(), self.config.timeout_s)
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "calls": 0, "retries": 0, "cache_hits": 0,
                      "backoff_s": 0.0}
        if self.config.provider == "local":
            load_litellm()  # configured before local_model imports it
            from workbench.core.local_model import register_local_provider

            register_local_provider()

    @property
    def model(self) -> str:
        return self.config.model

    def _api_key(self) -> str | None:
        """The lean path's key: the config's extra, else the provider's variable (as litellm reads them)."""
        variable = "HOSTED_VLLM_API_KEY" if self.config.provider == "hosted_vllm" else "OPENAI_API_KEY"
        return self.config.extra.get("api_key") or os.environ.get(variable)

    @property
    def limit(self) -> AdaptiveLimit:
        """This event loop's adaptive limit on calls in flight (at most `config.concurrency`)."""
        loop = asyncio.get_running_loop()
        entry = self._limits.get(id(loop))
        if entry is None or entry[0] is not loop:
            entry = (loop, AdaptiveLimit(max(1, self.config.concurrency)))
            self._limits = {k: v for k, v in self._limits.items() if not v[0].is_closed()}
            self._limits[id(loop)] = entry
        return entry[1]

    def _params(self, temperature: float, max_tokens: int | None, stop: list[str] | None, extra: dict) -> dict:
        """The generation parameters of a call: what decides its answer, recorded with it, and part of its cache key."""
        params: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
            **{k: v for k, v in {**self.config.extra, **extra}.items() if k not in CLIENT_KEYS},
        }
        if stop:
            params["stop"] = stop
        return params

    async def _call(self, send: Any, *args: Any) -> Any:
        """`await send(*args)` within the adaptive limit, retrying what is worth retrying with backoff; a 429
        shrinks the limit and its Retry-After holds new calls. Failures for good raise TeacherError."""
        import openai

        limit = self.limit
        attempt = 0
        while True:
            token = await limit.acquire()
            try:
                result = await send(*args)
            except retryable_errors() as exc:
                rate_limited = isinstance(exc, openai.RateLimitError)
                retry_after = retry_after_seconds(exc) if rate_limited else None
                limit.release(token, "rate_limited" if rate_limited else "error", retry_after)
                attempt += 1
                self.usage["retries"] += 1
                if attempt > self.config.max_retries:
                    raise TeacherError(explain_error(exc, self.model, self.config.api_base)) from exc
                delay = min(self.config.backoff_base_s * (2 ** (attempt - 1)) * (0.5 + random.random()), 30.0)
                delay = max(delay, retry_after or 0.0)
                self.usage["backoff_s"] += delay
                await asyncio.sleep(delay)
                continue
            except openai.OpenAIError as exc:  # the base of every litellm exception
                limit.release(token, "error")
                raise TeacherError(explain_error(exc, self.model, self.config.api_base)) from exc
            except BaseException:
                limit.release(token, "error")
                raise
            limit.release(token, "ok")
            return result

    async def _generate(self, kind: str, request: Any, params: dict, sample_index: str | None) -> Generation:
        """One call, answered from the job's response cache when it holds this exact sample."""
        cache = ACTIVE.get()
        sample_index = SAMPLE.get() if sample_index is None else sample_index
        key = None
        if cache is not None and is_reproducible(params, sample_index):
            endpoint = self.config.api_base or self.config.router_config
            answer_inputs = {**params, "mock_response": self.config.extra.get("mock_response")}
            key = request_key(self.model, endpoint, kind, request, answer_inputs, sample_index)
            stored = cache.get(key)
            if stored is not None:
                self.usage["cache_hits"] += 1
                return Generation.from_cache(stored)
        if self._lean is not None:
            generation = await self._call(self._lean_request, kind, request, params)
        else:
            generation = await self._call(self._litellm_request, kind, request, params)
        self._count(generation)
        if cache is not None:
            cache.count_call()
            if key is not None:
                cache.put(key, self.model, generation.to_cache())
        return generation

    async def _litellm_request(self, kind: str, request: Any, params: dict) -> Generation:
        kwargs: dict[str, Any] = {
            **params,
            "model": self.config.model,
            "timeout": self.config.timeout_s,
            "max_retries": 0,  # the Teacher retries with its own backoff; no second layer inside the client
            **{k: v for k, v in self.config.extra.items() if k in ("api_key", "mock_response")},
        }
        if self.config.api_base:
            kwargs["api_base"] = self.config.api_base
        if kind == "chat":
            response = await (self._router or load_litellm()).acompletion(**kwargs, messages=request)
            return self._generation(response, response.choices[0].message.content, params)
        if self.config.provider == "local":
            # litellm's text-completion wrapper drops logprobs; the local provider takes raw prompts directly.
            messages = [{"role": "user", "content": request}]
            response = await load_litellm().acompletion(**kwargs, messages=messages, raw_prompt=True)
            return self._generation(response, response.choices[0].message.content, params)
        response = await (self._router or load_litellm()).atext_completion(**kwargs, prompt=request)
        return self._generation(response, response.choices[0].text, params)

    async def _lean_request(self, kind: str, request: Any, params: dict) -> Generation:
        """The lean path; a server that refuses log-probabilities is asked again without them (and from then on)."""
        import openai

        assert self._lean is not None
        body = {k: v for k, v in params.items() if not (self._logprobs_refused and k in ("logprobs", "top_logprobs"))}
        try:
            if kind == "chat":
                response = await self._lean.post("/chat/completions", {"model": self.config.served_model,
                                                                       "messages": request, **body})
            else:
                response = await self._lean.post("/completions", {"model": self.config.served_model,
                                                                  "prompt": request, **body})
        except openai.BadRequestError as exc:
            if "logprob" not in str(exc).lower() or "logprobs" not in body:
                raise
            self._logprobs_refused = True
            return await self._lean_request(kind, request, params)
        choice = response["choices"][0]
        text = choice["message"]["content"] if kind == "chat" else choice["text"]
        return self._generation(response, text, params)

    def _cost(self, response: Any, prompt_tokens: int, completion_tokens: int) -> float | None:
        """The call's price: litellm's own figure when it priced the call, else from litellm's price map (None for
        a model it cannot price; looked up once per Teacher, since pricing costs a fraction of a millisecond)."""
        if self.config.provider == "local":
            return 0.0
        hidden = getattr(response, "_hidden_params", None) or {}
        if "response_cost" in hidden:  # litellm priced the call already (None: it knows no price)
            return hidden["response_cost"]
        if self._lean is not None:
            return self._lean_cost(prompt_tokens, completion_tokens)
        if self._unpriced:
            return None
        try:
            return load_litellm().completion_cost(completion_response=response)
        except Exception:  # litellm knows no price for this model
            self._unpriced = True
            return None

    def _lean_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Lean-path price from litellm's per-token rates (read once); exact above the size where tiers begin."""
        if self._rates is None:
            try:
                prompt_cost, completion_cost = load_litellm().cost_per_token(model=self.model, prompt_tokens=1000,
                                                                      completion_tokens=1000)
                self._rates = (prompt_cost / 1000, completion_cost / 1000)
            except Exception:  # litellm knows no price for a self-hosted model
                self._rates = False
        if self._rates is False:
            return None
        if prompt_tokens > TIERED_PRICING_FROM:
            return sum(load_litellm().cost_per_token(model=self.model, prompt_tokens=prompt_tokens,
                                              completion_tokens=completion_tokens))
        return prompt_tokens * self._rates[0] + completion_tokens * self._rates[1]

    def _entropy_note(self, params: dict, source: str, text: str) -> str:
        """Why a generation has no entropy, as precisely as we know it."""
        if not text:
            return unavailable("the model wrote no tokens")
        if self.config.provider == "local":
            return source
        if not params.get("logprobs"):
            return unavailable("log-probabilities were not requested")
        if self._logprobs_refused:
            return unavailable(f"the server at {self.config.api_base} refused log-probabilities")
        if source == NO_LOGPROBS and self._router is None and not self.config.uses_lean_client:
            try:
                supported = load_litellm().get_supported_openai_params(model=self.config.served_model,
                                                                custom_llm_provider=self.config.provider)
            except Exception:  # litellm does not know the provider
                supported = None
            if supported is not None and "logprobs" not in supported:
                return unavailable(f"{self.config.provider} gives no token log-probabilities")
        return source

    def _generation(self, response: Any, text: str | None, params: dict) -> Generation:
        usage = _get(response, "usage")
        prompt_tokens = int(_get(usage, "prompt_tokens") or 0) if usage else 0
        completion_tokens = int(_get(usage, "completion_tokens") or 0) if usage else 0
        choice = _get(response, "choices")[0]
        tokens, values, entropies, source = _read_logprobs(choice)
        return Generation(
            text=text or "",
            model=self.model,
            params=params,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=self._cost(response, prompt_tokens, completion_tokens),
            tokens=tokens,
            token_logprobs=values,
            token_entropies=entropies,
            entropy_source=source if entropies else self._entropy_note(params, source, text or ""),
            finish_reason=_get(choice, "finish_reason"),
            top_logprobs=_read_top_alternatives(choice),
        )

    def _count(self, generation: Generation) -> None:
        self.usage["calls"] += 1
        self.usage["prompt_tokens"] += generation.prompt_tokens
        self.usage["completion_tokens"] += generation.completion_tokens
        self.usage["cost"] += generation.cost or 0.0

    async def achat(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int = TOP_LOGPROBS,
        sample_index: str | None = None,
        **extra: Any,
    ) -> Generation:
        """A chat completion. `logprobs=None` asks for token log-probabilities (the default: entropy wherever the
        provider gives it); `sample_index` names which sample this call is (see workbench.core.response_cache)."""
        temperature = self.config.answer_temperature if temperature is None else temperature
        params = self._params(temperature, max_tokens, stop, extra)
        if logprobs is not False:
            params["logprobs"] = True
            params["top_logprobs"] = top_logprobs
        return await self._generate("chat", messages, params, sample_index)

    async def acomplete(
        self,
        prompt: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        logprobs: bool | None = None,
        sample_index: str | None = None,
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
        params = self._params(temperature, max_tokens, stop, extra)
        if logprobs is not False and self.config.provider != "local":  # the bundled model always gives entropy
            params["logprobs"] = TOP_LOGPROBS
        return await self._generate("completion", prompt, params, sample_index)

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
