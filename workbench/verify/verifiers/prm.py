"""Neural process reward models from a local path, with transformers (GPU when present). No weights ship.

Two styles:
- `qwen` (Qwen2.5-Math-PRM): the assistant turn is the steps joined by `<extra_0>`, each step ending
  in one; the model gives two logits per token and a step's score is P(positive) (softmax index 1)
  at its marker. A config with `auto_map` (the released checkpoints' own code) loads with
  `trust_remote_code`; otherwise any token-classification model with two labels works.
- `shepherd` (Math-Shepherd): a causal LM reading `problem step1 ки\\nstep2 ки\\n...`; a step's
  score is softmax over the logits of "+" and "-" at its ` ки` tag, P("+").
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from workbench.core.env import configure_offline_environment
from workbench.verify.verifiers.base import STEP, StepScore, Task, VerifierError, unverifiable, verdict

STYLES = ("qwen", "shepherd")
QWEN_STEP = "<extra_0>"
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
SHEPHERD_TAG = "ки"
SHEPHERD_GOOD, SHEPHERD_BAD = "+", "-"


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class PRMVerifier:
    """A process reward model read at its step markers; loads once, on first use, in the calling process."""

    name = "prm"

    def __init__(self, path: str | Path | None = None, style: str = "qwen", device: str | None = None,
                 trust_remote_code: bool = False, max_length: int = 4096) -> None:
        if not path:
            raise VerifierError("the PRM verifier needs the path of a local model directory")
        if not Path(path).is_dir():
            raise VerifierError(f"no local model directory at {path}")
        if style not in STYLES:
            raise VerifierError(f"PRM style must be one of {', '.join(STYLES)}, not {style!r}")
        self.path = str(path)
        self.style = style
        self.device = device
        self.trust_remote_code = trust_remote_code
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._inference_lock = threading.Lock()

    def load(self) -> tuple[Any, Any]:
        """The tokenizer and model, loaded from the local path only (never a hub)."""
        with self._lock:
            if self._model is None:
                configure_offline_environment()
                import torch
                from transformers import (
                    AutoConfig,
                    AutoModel,
                    AutoModelForCausalLM,
                    AutoModelForTokenClassification,
                    AutoTokenizer,
                )

                self.device = self.device or default_device()
                kwargs = {"local_files_only": True, "trust_remote_code": self.trust_remote_code}
                tokenizer = AutoTokenizer.from_pretrained(self.path, **kwargs)
                dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
                if self.style == "shepherd":
                    model_class = AutoModelForCausalLM
                elif getattr(AutoConfig.from_pretrained(self.path, **kwargs), "auto_map", None):
                    model_class = AutoModel  # the released Qwen PRM checkpoints bring their own model code
                else:
                    model_class = AutoModelForTokenClassification
                model = model_class.from_pretrained(self.path, dtype=dtype, **kwargs)
                self._tokenizer, self._model = tokenizer, model.to(self.device).eval()
        return self._tokenizer, self._model

    # ------------------------------------------------------------ inputs

    def qwen_text(self, task: Task, steps: list[str]) -> str:
        tokenizer, _ = self.load()
        body = "".join(f"{step.replace(QWEN_STEP, ' ').strip()}{QWEN_STEP}" for step in steps)
        if getattr(tokenizer, "chat_template", None):
            messages = [
                {"role": "system", "content": QWEN_SYSTEM},
                {"role": "user", "content": task.text},
                {"role": "assistant", "content": body},
            ]
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        return f"{task.text}\n{body}"

    def shepherd_text(self, task: Task, steps: list[str]) -> str:
        body = "".join(f"{step.replace(SHEPHERD_TAG, ' ').strip()} {SHEPHERD_TAG}\n" for step in steps)
        return f"{task.text} {body}"

    # ------------------------------------------------------------ scoring

    def step_probabilities(self, task: Task, steps: list[str]) -> list[float]:
        """One probability per marker found in the (possibly truncated) input, in step order."""
        import torch

        tokenizer, model = self.load()
        text = self.shepherd_text(task, steps) if self.style == "shepherd" else self.qwen_text(task, steps)
        encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=self.max_length,
                            add_special_tokens=self.style == "shepherd")
        input_ids = encoded["input_ids"].to(self.device)
        with torch.no_grad():
            output = model(input_ids=input_ids, attention_mask=encoded["attention_mask"].to(self.device))
        logits = (output.logits if hasattr(output, "logits") else output[0])[0].float()
        ids = input_ids[0]
        if self.style == "shepherd":
            good, bad = tokenizer.encode(f"{SHEPHERD_GOOD} {SHEPHERD_BAD}", add_special_tokens=False)[-2:]
            tag = tokenizer.encode(SHEPHERD_TAG, add_special_tokens=False)[-1]
            pair = logits[:, [good, bad]].softmax(dim=-1)[:, 0]
            return pair[ids == tag].tolist()
        marker = tokenizer.convert_tokens_to_ids(QWEN_STEP)
        if marker is None or marker == tokenizer.unk_token_id:
            raise VerifierError(f"the tokenizer at {self.path} has no {QWEN_STEP} token: not a Qwen-style PRM")
        return logits[ids == marker].softmax(dim=-1)[:, 1].tolist()

    def score_all(self, task: Task, steps: list[str]) -> list[StepScore]:
        if not steps:
            return []
        with self._inference_lock:  # one forward pass at a time on the shared model
            probabilities = self.step_probabilities(task, steps)
        what = 'P("+")' if self.style == "shepherd" else "P(positive)"
        scores = [
            verdict(p, f"{what} = {p:.3f} at the step marker", model=self.path, params={"style": self.style},
                    checks=STEP)
            for p in probabilities[: len(steps)]
        ]
        scores += [unverifiable("cut off: beyond the model's maximum input length") for _ in steps[len(scores):]]
        return scores

    async def score_steps(self, task: Task, steps: list[str]) -> list[StepScore]:
        return await asyncio.to_thread(self.score_all, task, steps)
