"""Magpie self-synthesis: chat templates, their detection, and the filters for what a model wrote.

Magpie sends a model only the head of its own chat template, up to the start of a user turn
(the "pre-query template"), as a raw completion: the model writes a user query. The query then
goes into the full template, and the model answers it. This module holds the template registry
(built in and custom), detection from a model name or a GGUF's metadata, and the filters.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from workbench.core.model_text import cut_at_stops
from workbench.core.teacher import Generation, Teacher, TeacherConfig, TeacherError, supports_raw_completion
from workbench.core.unfinished import unfinished_reason
from workbench.store import Store, text_hash

CUSTOM_TEMPLATES_KEY = "magpie.templates"
SYSTEM_MARK = "{system}"

Turn = tuple[str, str]  # (user query, assistant answer)


@dataclass(frozen=True)
class ChatTemplate:
    """One chat format as plain strings. `{system}` marks where the system prompt goes.

    A family with a system turn of its own fills `system_turn`; one without (Gemma, Mistral)
    leaves it empty and folds the system prompt into the first user message with `system_in_user`.
    """

    name: str
    user_start: str
    user_end: str
    assistant_start: str
    assistant_end: str
    stop: tuple[str, ...]
    bos: str = ""
    system_turn: str = ""
    system_in_user: str = "{system}\n\n"
    default_system: str = ""
    description: str = ""
    builtin: bool = field(default=False, compare=False)

    @classmethod
    def from_dict(cls, values: dict) -> ChatTemplate:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in values.items() if k in known}
        data["stop"] = tuple(s for s in data.get("stop") or () if s)
        return cls(**data)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stop"] = list(self.stop)
        data.pop("builtin")
        return data

    def _opening(self, system: str | None, add_bos: bool) -> tuple[str, str]:
        """(text before the first user turn, text that opens the first user message)."""
        system = system or self.default_system
        head = self.bos if add_bos else ""
        if not system:
            return head, ""
        if self.system_turn:
            return head + self.system_turn.replace(SYSTEM_MARK, system), ""
        return head, self.system_in_user.replace(SYSTEM_MARK, system)

    def pre_query(self, system: str | None = None, history: Sequence[Turn] = (), add_bos: bool = False) -> str:
        """Everything up to the start of the next user query: the prompt of step 1."""
        head, user_prefix = self._opening(system, add_bos)
        parts = [head]
        for index, (query, answer) in enumerate(history):
            prefix = user_prefix if index == 0 else ""
            parts.append(
                f"{self.user_start}{prefix}{query}{self.user_end}{self.assistant_start}{answer}{self.assistant_end}"
            )
        parts.append(self.user_start + (user_prefix if not history else ""))
        return "".join(parts)

    def answer_prompt(
        self, query: str, system: str | None = None, history: Sequence[Turn] = (), add_bos: bool = False
    ) -> str:
        """The query in the full template, open at the assistant's turn: the prompt of step 2."""
        return f"{self.pre_query(system, history, add_bos)}{query}{self.user_end}{self.assistant_start}"

    @property
    def role_tags(self) -> list[str]:
        """The template's own markers (stripped), whose appearance in generated text is leakage."""
        tags = [self.user_start, self.user_end, self.assistant_start, self.assistant_end, *self.stop]
        tags += [part for part in self.system_turn.split(SYSTEM_MARK) if part.strip()]
        return sorted({t.strip() for t in tags if t.strip()})


def _tagged_turns(turn: str, end: str, *, assistant: str = "assistant", system: bool = True) -> dict[str, str]:
    """The turn markers of a family whose every turn opens with `turn` naming its role (`{role}`) and closes with
    `end`: user and assistant turns, and a system turn when the family has a system role."""
    markers = {"user_start": turn.replace("{role}", "user"), "user_end": end,
               "assistant_start": turn.replace("{role}", assistant), "assistant_end": end}
    if system:
        markers["system_turn"] = turn.replace("{role}", "system") + SYSTEM_MARK + end
    return markers


_CHATML = {**_tagged_turns("<|im_start|>{role}\n", "<|im_end|>\n"), "stop": ("<|im_end|>", "<|im_start|>", "<|endoftext|>")}
_INST = {"bos": "<s>", "user_start": "[INST] ", "user_end": " [/INST]", "stop": ("[/INST]", "[INST]", "</s>")}

BUILTIN_TEMPLATES: dict[str, ChatTemplate] = {
    t.name: t
    for t in [
        ChatTemplate(
            name="llama-3",
            description="Llama 3, 3.1, 3.2 and 3.3 Instruct",
            bos="<|begin_of_text|>",
            stop=("<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"),
            builtin=True,
            **_tagged_turns("<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>"),
        ),
        ChatTemplate(name="qwen2", description="Qwen2 Instruct (ChatML)", builtin=True, **_CHATML),
        ChatTemplate(
            name="qwen2.5",
            description="Qwen2.5 Instruct (ChatML with its default system turn)",
            default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
            builtin=True,
            **_CHATML,
        ),
        ChatTemplate(
            name="gemma",
            description="Gemma, Gemma 2 and Gemma 3 (no system role: it opens the first user turn)",
            bos="<bos>",
            stop=("<end_of_turn>", "<start_of_turn>", "<eos>"),
            builtin=True,
            **_tagged_turns("<start_of_turn>{role}\n", "<end_of_turn>\n", assistant="model", system=False),
        ),
        ChatTemplate(
            name="phi-3",
            description="Phi-3 and Phi-3.5 Instruct",
            bos="<s>",
            stop=("<|end|>", "<|endoftext|>", "<|user|>", "<|assistant|>"),
            builtin=True,
            **_tagged_turns("<|{role}|>\n", "<|end|>\n"),
        ),
        ChatTemplate(
            name="llama-2",
            description="Llama 2 Chat ([INST] with a <<SYS>> block in the first turn)",
            system_in_user="<<SYS>>\n{system}\n<</SYS>>\n\n",
            assistant_start=" ",
            assistant_end=" </s><s>",
            builtin=True,
            **_INST,
        ),
        ChatTemplate(
            name="mistral",
            description="Mistral / Mixtral Instruct ([INST], no system role)",
            assistant_start="",
            assistant_end="</s>",
            builtin=True,
            **_INST,
        ),
        ChatTemplate(name="chatml", description="Generic ChatML (<|im_start|> / <|im_end|>)", builtin=True, **_CHATML),
    ]
}
ALIASES = {"llama-3.1": "llama-3", "gemma-2": "gemma", "gemma-3": "gemma", "phi-3.5": "phi-3", "mixtral": "mistral"}


class TemplateError(ValueError):
    """A template name or definition the user must fix."""


# ---------------------------------------------------------------- the registry (built in + saved)


def custom_templates(store: Store) -> dict[str, ChatTemplate]:
    saved = store.settings.get_setting(CUSTOM_TEMPLATES_KEY) or {}
    return {name: ChatTemplate.from_dict({**values, "name": name}) for name, values in saved.items()}


def all_templates(store: Store | None = None) -> dict[str, ChatTemplate]:
    """Built-in templates, then the custom ones saved in the store."""
    return {**BUILTIN_TEMPLATES, **(custom_templates(store) if store is not None else {})}


def get_template(name: str, store: Store | None = None) -> ChatTemplate:
    templates = all_templates(store)
    key = ALIASES.get(name.strip().lower(), name.strip())
    if key not in templates:
        raise TemplateError(f"unknown template {name!r}; known: {', '.join([*templates, *ALIASES])}")
    return templates[key]


def save_custom_template(store: Store, template: ChatTemplate) -> None:
    """Save (or replace) a custom template; built-in names are refused, and a template needs a user turn."""
    name = template.name.strip()
    if not name:
        raise TemplateError("a custom template needs a name")
    if name.lower() in BUILTIN_TEMPLATES or name.lower() in ALIASES:
        raise TemplateError(f"{name!r} is a built-in template; choose another name")
    if not template.user_start.strip():
        raise TemplateError("the user-turn start (the pre-query template) cannot be empty")
    if not template.assistant_start.strip() and not template.user_end.strip():
        raise TemplateError("the template needs a user-turn end or an assistant-turn start to mark the answer")
    saved = store.settings.get_setting(CUSTOM_TEMPLATES_KEY) or {}
    values = template.to_dict()
    values.pop("name")
    saved[name] = values
    store.settings.set_setting(CUSTOM_TEMPLATES_KEY, saved)


def delete_custom_template(store: Store, name: str) -> bool:
    saved = store.settings.get_setting(CUSTOM_TEMPLATES_KEY) or {}
    if saved.pop(name, None) is None:
        return False
    store.settings.set_setting(CUSTOM_TEMPLATES_KEY, saved)
    return True


# ---------------------------------------------------------------- detection

NAME_PATTERNS: list[tuple[str, str]] = [
    (r"qwen[-_ ]?2[._]5", "qwen2.5"),
    (r"qwen", "qwen2"),
    (r"llama[-_ ]?3", "llama-3"),
    (r"llama[-_ ]?2", "llama-2"),
    (r"gemma", "gemma"),
    (r"phi[-_ ]?3", "phi-3"),
    (r"mi[sx]tral", "mistral"),
]
CHAT_TEMPLATE_MARKERS: list[tuple[tuple[str, ...], str]] = [
    (("<|start_header_id|>",), "llama-3"),
    (("<|im_start|>", "created by Alibaba Cloud"), "qwen2.5"),
    (("<|im_start|>",), "chatml"),
    (("<start_of_turn>",), "gemma"),
    (("<|user|>", "<|end|>"), "phi-3"),
    (("<<SYS>>",), "llama-2"),
    (("[INST]",), "mistral"),
]


def detect_from_name(name: str) -> str | None:
    """The template family a model name points to, or None."""
    lowered = name.lower()
    return next((family for pattern, family in NAME_PATTERNS if re.search(pattern, lowered)), None)


def detect_from_chat_template(chat_template: str) -> str | None:
    """The family of a Jinja chat template (as found in a GGUF or tokenizer_config.json), by its markers."""
    return next(
        (family for markers, family in CHAT_TEMPLATE_MARKERS if all(m in chat_template for m in markers)), None
    )


@functools.lru_cache(maxsize=8)
def gguf_metadata(path: str) -> dict[str, str]:
    """A GGUF file's metadata, read with llama.cpp's vocabulary-only load (no weights)."""
    from llama_cpp import Llama

    llama = Llama(model_path=path, vocab_only=True, verbose=False)
    try:
        return dict(llama.metadata)
    finally:
        llama.close()


def detect_from_gguf(metadata: dict[str, str]) -> str | None:
    """The chat template in the metadata decides; without one, the model's name and architecture."""
    chat_template = metadata.get("tokenizer.chat_template")
    if chat_template and (family := detect_from_chat_template(chat_template)):
        return family
    for key in ("general.name", "general.basename", "general.architecture"):
        if metadata.get(key) and (family := detect_from_name(metadata[key])):
            return family
    return None


def detect_template(model: str) -> tuple[str | None, str]:
    """(family, how it was found) for a teacher model string; the bundled model is read from its GGUF."""
    from workbench.core.model_names import provider_of

    if provider_of(model) == "local":
        from workbench.core.local_model import model_path

        family = detect_from_gguf(gguf_metadata(model_path()))
        if family:
            return family, "from the bundled model's GGUF metadata"
    family = detect_from_name(model)
    return family, ("from the model name" if family else "not detected")


# ---------------------------------------------------------------- raw completion


def chat_only_error(config: TeacherConfig) -> str | None:
    """The teacher's own message when its model cannot do raw completion (Magpie needs it), else None.

    Teacher.acomplete refuses chat-only providers before any request, so this makes no call.
    """
    if supports_raw_completion(config.model):
        return None
    try:
        Teacher(config).complete("")
    except TeacherError as exc:
        return str(exc)
    return None


TURN_BOUNDARY = re.compile(r"""[.?!:;)\]}"'`*]\s*$|\n\s*$""")


def cut_at_entropy_spike(generation: Generation, threshold: float | None) -> str:
    """The text before the first token that follows a finished sentence and was drawn from a flatter
    next-token distribution than `threshold` bits.

    A base model that never learnt to emit its end-of-turn token (the bundled Gemma 270M gives it
    ~1e-7) finishes its turn and then samples from a nearly flat distribution (10+ bits measured):
    that spike, right after a sentence ends, marks the end of the turn it could not write. Spikes
    inside a sentence (a rare word) do not cut. Without per-token entropies the text is returned whole.
    """
    if threshold is None or not generation.tokens or not generation.token_entropies:
        return generation.text
    prefix = ""
    for token, entropy in zip(generation.tokens, generation.token_entropies, strict=False):
        if entropy > threshold and prefix.strip() and TURN_BOUNDARY.search(prefix):
            return prefix if generation.text.startswith(prefix) else generation.text
        prefix += token
    return generation.text


def trim_generation(
    generation: Generation, stops: Iterable[str], entropy_threshold: float | None
) -> tuple[str, list[float] | None]:
    """One turn's text (cut at an entropy spike, then at the first stop string) and its tokens' entropies."""
    text = cut_at_stops(cut_at_entropy_spike(generation, entropy_threshold), stops)
    entropies = generation.token_entropies
    if entropies and generation.tokens:
        kept: list[float] = []
        length = 0
        for token, entropy in zip(generation.tokens, entropies, strict=False):
            if length >= len(text):
                break
            kept.append(entropy)
            length += len(token)
        entropies = kept
    return text.strip(), entropies


# ---------------------------------------------------------------- a primer for base models

PRIMER_POOL: list[Turn] = [
    ("What causes the seasons on Earth?", "The tilt of Earth's axis: each hemisphere leans toward the Sun for part of the year."),
    ("Write a Python function that reverses a string.", "def reverse(text):\n    return text[::-1]"),
    ("How many minutes are there in 3.5 hours?", "3.5 x 60 = 210 minutes."),
    ("Suggest a name for a bakery that sells only bread.", "\"Crumb & Crust\"."),
    ("Why do onions make people cry?", "Cutting them releases a gas that irritates the eyes."),
    ("Give me one tip for a job interview.", "Research the company before you go."),
    ("What is the derivative of x^3?", "3x^2."),
    ("Explain what a mortgage is in one sentence.", "A loan to buy property, secured by that property."),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen."),
    ("Is a tomato a fruit or a vegetable?", "Botanically a fruit; in cooking it is used as a vegetable."),
    ("How do I center a div in CSS?", "Give its parent display: flex; justify-content: center; align-items: center."),
    ("What is the boiling point of water at sea level?", "100 degrees Celsius (212 degrees Fahrenheit)."),
]


def primer_turns(template_seed: str, k: int) -> list[Turn]:
    """k example exchanges for a base model, drawn per sample so that no one example dominates.

    A base model has no chat alignment: given the bare pre-query template it writes code or
    noise. A few exchanges in its own turn format before the pre-query make it write a user
    query. This departs from pure Magpie; the job records the primer, and the duplicate filter
    drops copies of it.
    """
    if k <= 0:
        return []
    return random.Random(template_seed).sample(PRIMER_POOL, min(k, len(PRIMER_POOL)))


# ---------------------------------------------------------------- filters

GENERIC_ROLE_TAGS = re.compile(
    r"<\|(?:im_start|im_end|eot_id|start_header_id|end_header_id|user|assistant|system|end|endoftext)\|>"
    r"|<(?:start|end)_of_turn>|\[/?INST\]|<</?SYS>>"
    r"|^\s*(?:user|assistant|human|system|model)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class FilterSettings:
    """Thresholds of the Magpie filters. Character bounds are on the stripped text; `min_answer_chars`
    counts letters and digits only, so an answer of a lone quote mark or "A." is near-empty."""

    min_chars: int = 10
    max_chars: int = 2000
    min_answer_chars: int = 2
    max_answer_chars: int = 8000
    language: str | None = "en"
    language_confidence: float = 0.5
    near_duplicate_similarity: float = 90.0

    @classmethod
    def from_dict(cls, values: dict | None) -> FilterSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


@functools.lru_cache(maxsize=1)
def _language_identifier():  # -> py3langid.langid.LanguageIdentifier
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) by py3langid's naive Bayes over byte n-grams (97 languages)."""
    language, probability = _language_identifier().classify(text)
    return language, float(probability)


def language_languages() -> list[str]:
    return sorted(_language_identifier().labels)


def language_reason(text: str, settings: FilterSettings) -> str | None:
    """A reason when the text is confidently in another language than the target; short texts rarely are."""
    if not settings.language:
        return None
    language, probability = detect_language(text)
    if language != settings.language and probability >= settings.language_confidence:
        return f"non-target language ({language}, p={probability:.2f})"
    return None


def reason_category(reason: str) -> str:
    """The kind of a filter reason, without its details: 'turn 2: near duplicate of sample 3 (95%)' -> 'near duplicate'."""
    reason = re.sub(r"^turn \d+: ", "", reason)
    return re.split(r" \(| of ", reason, maxsplit=1)[0]


def summarise_reasons(counts: dict[str, int]) -> dict[str, int]:
    """Counts of filter reasons (as store.samples.job_filter_counts gives them) by category, 'kept' left out."""
    summary: dict[str, int] = {}
    for reason, count in counts.items():
        if reason != "kept":
            category = reason_category(reason)
            summary[category] = summary.get(category, 0) + count
    return dict(sorted(summary.items(), key=lambda item: -item[1]))


def leakage_reason(text: str, template: ChatTemplate) -> str | None:
    for tag in template.role_tags:
        if tag in text:
            return f"template leakage ({tag!r} in the text)"
    if match := GENERIC_ROLE_TAGS.search(text):
        return f"template leakage ({match.group(0).strip()!r} in the text)"
    return None


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


class DuplicateIndex:
    """Known texts (samples, seeds, primer examples) for exact and near-duplicate checks.

    Exact: the store's whitespace- and case-normalised text hash. Near: rapidfuzz's normalised
    Indel similarity (0-100) of the normalised texts, at or above the threshold.
    """

    def __init__(self, similarity: float = 90.0) -> None:
        self.similarity = similarity
        self._by_hash: dict[str, str] = {}
        self._texts: list[str] = []
        self._labels: list[str] = []

    def add(self, text: str, label: str) -> None:
        self._by_hash.setdefault(text_hash(text), label)
        self._texts.append(_normalise(text))
        self._labels.append(label)

    def __len__(self) -> int:
        return len(self._texts)

    def match(self, text: str) -> str | None:
        """A reason naming what the text duplicates, or None."""
        if label := self._by_hash.get(text_hash(text)):
            return f"duplicate of {label}"
        if not self._texts or self.similarity > 100:
            return None
        from rapidfuzz import process

        best = process.extractOne(_normalise(text), self._texts, scorer=fuzz.ratio, score_cutoff=self.similarity)
        if best is None:
            return None
        _, score, index = best
        return f"near duplicate of {self._labels[index]} ({score:.0f}% similar)"


def duplicate_index(store: Store, similarity: float, primer: Iterable[Turn] = ()) -> DuplicateIndex:
    """An index of every kept sample and every seed in the store, and the primer's queries."""
    index = DuplicateIndex(similarity)
    for seed_id, instruction in store.seeds.seed_instructions():
        index.add(instruction, f"seed {seed_id}")
    for sample_id, instruction in store.samples.sample_instructions():
        index.add(instruction, f"sample {sample_id}")
    for query, _ in primer:
        index.add(query, "a primer example")
    return index


def stopped_at_token_limit(generation: Generation, kept: str) -> bool:
    """True when the generation ran until max_tokens and nothing ended the turn before that: the kept text
    is the whole generated text (no stop string, end-of-turn or entropy cut shortened it), so it was cut off."""
    return generation.finish_reason == "length" and kept.strip() == generation.text.strip()


def _letters_and_digits(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def filter_turn(
    query: str, answer: str, template: ChatTemplate, settings: FilterSettings, hit_limit: Iterable[str] = ()
) -> str | None:
    """The first reason to drop one query/answer exchange, or None to keep it (duplicates: DuplicateIndex).

    `hit_limit` names the parts ("query", "answer") whose generation stopped on the token limit
    (`stopped_at_token_limit`). Each reason starts with its category (see `reason_category`).
    """
    if not query.strip():
        return "empty query"
    if not answer.strip():
        return "empty answer"
    for role in ("query", "answer"):
        if role in hit_limit:
            return f"{role} hit the token limit (cut off before it finished)"
    if (letters := _letters_and_digits(answer)) < settings.min_answer_chars:
        return f"near-empty answer ({letters} {'letter or digit' if letters == 1 else 'letters or digits'})"
    if len(query.strip()) < settings.min_chars:
        return f"too short (query under {settings.min_chars} characters)"
    if len(query) > settings.max_chars:
        return f"too long (query over {settings.max_chars} characters)"
    if len(answer) > settings.max_answer_chars:
        return f"too long (answer over {settings.max_answer_chars} characters)"
    for text in (query, answer):
        if reason := leakage_reason(text, template):
            return reason
    english = settings.language == "en"
    for role, text in (("query", query), ("answer", answer)):
        if reason := unfinished_reason(text, english):
            return f"unfinished {role} ({reason})"
    for text in (query, answer):
        if reason := language_reason(text, settings):
            return reason
    # the same words in another order are still a repeat ("Water boils at 212 F (100 C)" -> "... 100 C (212 F).")
    if fuzz.token_sort_ratio(query, answer, processor=default_process) >= settings.near_duplicate_similarity:
        return "answer repeats the query"
    return None
