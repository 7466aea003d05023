"""Evol-Instruct: operators, prompt building and parsing, operator schedules, elimination, one evolution step.

An operator is a stored, editable prompt template with two forms: a chat form (WizardLM-style
instructions, for chat models) and a few-shot completion form (for base models such as the
bundled Gemma, which continue patterns far better than they follow instructions). Both forms
hold the placeholder `{instruction}`, which receives the parent task's text: its instruction, then its
input after an 'Input:' line when it has one (WizardLM evolves Alpaca's instruction and input together).
An evolved instruction that fails a rule is eliminated and kept with its reason; the job retries that
position with another operator. An evolved task records what became of its parent's input (INPUT_ORIGINS).
"""

from __future__ import annotations

import difflib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.core.metrics import word_tokens
from workbench.core.model_text import cut_at_stops
from workbench.core.unfinished import unfinished_reason
from workbench.core.wording import plural
from workbench.store import Store, task_text

if TYPE_CHECKING:  # the teacher imports the openai SDK and aiohttp (seconds): the CLI's parser reads this module
    from workbench.core.teacher import Generation, Teacher

PLACEHOLDER = "{instruction}"
SCHEDULES = ("round-robin", "random", "fixed")
OPERATOR_KINDS = ("depth", "breadth", "adversarial", "custom")

# Few-shot completion prompts: examples separated by "###", each "Task: ...\n<label>: ...". A 'rewrite'
# operator's completion is the whole new instruction; an 'addition' operator's completion is one line
# appended to the parent (tiny base models copy their input when asked for a rewrite, but add well).
EXAMPLE_SEPARATOR = "\n###\n"
COMPLETION_OUTPUTS = ("rewrite", "addition")
COMPLETION_LABELS = {"rewrite": "Rewritten task", "addition": "Added requirement"}
EVOLUTION_STOP = ["###", "\nTask:", "<end_of_turn>"]
ADDITION_STOP = ["\n", *EVOLUTION_STOP]
ANSWER_STOP = ["###", "\nQuestion:", "<end_of_turn>"]

TEMPLATE_WORDS = (
    "#the given prompt#",
    "#given prompt#",
    "#rewritten prompt#",
    "#created prompt#",
    "given prompt",
    "rewritten prompt",
    "created prompt",
    "rewritten task",
    "added requirement",
    "prompt rewriter",
    "prompt creator",
)
REFUSAL_WORDS = ("sorry", "as an ai", "i cannot", "i can't", "i can not", "i am unable", "i'm unable", "i won't")
INPUT_LABEL = re.compile(r"\n[ \t]*(?:#[ \t]*)?(?:the[ \t]+)?input[ \t]*#?[ \t]*:[ \t]*", re.IGNORECASE)
# What an evolved task did with its parent's input:
INPUT_KEPT = "parent"  # keeps the parent's input unchanged (the instruction was evolved)
INPUT_EVOLVED = "evolved"  # the evolution wrote an input of its own (e.g. a complicated input)
INPUT_INLINED = "inlined"  # the parent's input is now written inside the instruction
INPUT_DROPPED = "dropped"  # a new task (breadth) that does not use the parent's input
INPUT_ORIGINS = (INPUT_KEPT, INPUT_EVOLVED, INPUT_INLINED, INPUT_DROPPED)
_LEADING_LABEL = re.compile(
    r"^\s*(?:#\s*)?(?:the\s+)?(?:rewritten|created|new|harder|added)\s+(?:prompt|task|instruction|requirement)\s*#?\s*:?\s*",
    re.IGNORECASE,
)


# ---------------------------------------------------------------- operators


@dataclass(frozen=True)
class Operator:
    """One evolution operator: its two prompt forms, each holding `{instruction}`."""

    name: str
    kind: str
    description: str
    chat_template: str
    completion_template: str
    completion_output: str = "rewrite"
    builtin: bool = False

    def to_row(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "chat_template": self.chat_template,
            "completion_template": self.completion_template,
            "completion_output": self.completion_output,
            "builtin": self.builtin,
        }

    @classmethod
    def from_row(cls, row: dict) -> Operator:
        return cls(
            name=row["name"],
            kind=row["kind"],
            description=row["description"],
            chat_template=row["chat_template"],
            completion_template=row["completion_template"],
            completion_output=row.get("completion_output") or "rewrite",
            builtin=bool(row["builtin"]),
        )


class OperatorError(ValueError):
    """An operator definition a user must fix (message says what)."""


def validate_operator(op: Operator) -> None:
    if not re.fullmatch(r"[a-z0-9_\-]{2,40}", op.name):
        raise OperatorError("The name must be 2-40 characters: lower-case letters, digits, '_' or '-'.")
    if op.kind not in OPERATOR_KINDS:
        raise OperatorError(f"The kind must be one of {', '.join(OPERATOR_KINDS)}.")
    if op.completion_output not in COMPLETION_OUTPUTS:
        raise OperatorError(f"The completion output must be one of {', '.join(COMPLETION_OUTPUTS)}.")
    for label, template in (("chat template", op.chat_template), ("completion template", op.completion_template)):
        if PLACEHOLDER not in template:
            raise OperatorError(f"The {label} must contain {PLACEHOLDER} where the parent instruction goes.")


_DEPTH_CHAT = """I want you to act as a Prompt Rewriter.
Your objective is to rewrite a given prompt into a more complex version to make famous AI systems (e.g., ChatGPT and GPT-4) a bit harder to handle.
But the rewritten prompt must be reasonable and must be understood and responded to by humans.
Your rewriting cannot omit the non-text parts such as the table and code in #The Given Prompt#. Also, please do not omit the input in #The Given Prompt#.
You SHOULD complicate the given prompt using the following method:
{method}
You should try your best not to make the #Rewritten Prompt# become verbose; #Rewritten Prompt# can only add 10 to 20 words into #The Given Prompt#.
'#The Given Prompt#', '#Rewritten Prompt#', 'given prompt' and 'rewritten prompt' are not allowed to appear in #Rewritten Prompt#.
Reply with the #Rewritten Prompt# only.
#The Given Prompt#:
{instruction}
#Rewritten Prompt#:
"""

_BREADTH_CHAT = """I want you to act as a Prompt Creator.
Your goal is to draw inspiration from the #Given Prompt# to create a brand new prompt.
This new prompt should belong to the same domain as the #Given Prompt# but be even more rare.
The LENGTH and complexity of the #Created Prompt# should be similar to that of the #Given Prompt#.
The #Created Prompt# must be reasonable and must be understood and responded to by humans.
'#Given Prompt#', '#Created Prompt#', 'given prompt' and 'created prompt' are not allowed to appear in #Created Prompt#.
Reply with the #Created Prompt# only.
#Given Prompt#:
{instruction}
#Created Prompt#:
"""


def _few_shot(header: str, label: str, examples: list[tuple[str, str]]) -> str:
    blocks = [f"Task: {task}\n{label}: {output}" for task, output in examples]
    return f"{header}\n\n" + EXAMPLE_SEPARATOR.join([*blocks, f"Task: {PLACEHOLDER}\n{label}:"])


def _operator(
    name: str, kind: str, method: str, header: str, examples: list[tuple[str, str]], output: str = "addition"
) -> Operator:
    chat = _BREADTH_CHAT if kind == "breadth" else _DEPTH_CHAT.replace("{method}", method)
    completion = _few_shot(header, COMPLETION_LABELS[output], examples)
    return Operator(name, kind, method, chat, completion, completion_output=output, builtin=True)


BUILTIN_OPERATORS: list[Operator] = [
    _operator(
        "add_constraints", "depth",
        "Please add one more constraint or requirement into #The Given Prompt#.",
        "Each task below gets one more constraint or requirement that makes it harder.",
        [
            ("Write a short poem about the sea.",
             "The poem must be exactly four lines long, and every line must end with a word that rhymes with \"blue\"."),
            ("Write a Python function that returns the largest number in a list.",
             "Do not use max() or sorted(), and raise a ValueError when the list is empty."),
            ("A train travels 120 km in 2 hours. What is its average speed?",
             "The trip includes a 15-minute stop, so give the average speed while the train is moving, in km/h to one "
             "decimal place."),
        ],
    ),
    _operator(
        "deepen", "depth",
        "If #The Given Prompt# contains inquiries about certain issues, the depth and breadth of the inquiry can be increased.",
        "Each question below gets a follow-up that asks about causes, mechanisms or consequences in more depth.",
        [
            ("Why is the sky blue?",
             "Also explain how the colour would change on a planet whose atmosphere scattered long wavelengths more "
             "strongly than short ones."),
            ("What does a SQL JOIN do?",
             "Compare INNER, LEFT and FULL OUTER JOIN, and say which rows gain NULL values in each when a customer has "
             "no orders."),
            ("Explain what inflation is.",
             "Also explain how a central bank's interest rate changes try to control it, and why they take months to "
             "affect prices."),
        ],
    ),
    _operator(
        "concretize", "depth",
        "Please replace general concepts with more specific concepts.",
        "Each vague task below is rewritten into a concrete one by replacing general ideas with specific names, "
        "numbers and details.",
        [
            ("Write a function that sorts data.",
             "Write a Python function that sorts a list of (name, age) tuples by age in descending order, breaking "
             "ties by name in alphabetical order."),
            ("Describe an animal's habitat.",
             "Describe the habitat of the emperor penguin in Antarctica, including the temperatures the males endure "
             "while they incubate the eggs through the winter."),
            ("Calculate the area of a shape.",
             "Calculate the area of a trapezoid whose parallel sides are 8 cm and 14 cm long and whose height is 5 cm."),
        ],
        output="rewrite",
    ),
    _operator(
        "increase_reasoning", "depth",
        "If #The Given Prompt# can be solved with just a few simple thinking processes, rewrite it to explicitly "
        "request multiple-step reasoning.",
        "Each task below gets a requirement that makes solving it take several explicit reasoning steps.",
        [
            ("What is 25% of 80?", "Then add 8% sales tax to the result and show the value after each step."),
            ("Is 91 a prime number?",
             "Test divisibility by each prime up to its square root one at a time and say what each test shows before "
             "concluding."),
            ("Write a function that reverses a string.",
             "First explain your plan in steps, then give the code, then trace it by hand on the input \"the quick fox\"."),
        ],
    ),
    _operator(
        "complicate_input", "depth",
        "Add more complex input data to #The Given Prompt#, such as a table, code or JSON that the answer must use.",
        "Each task below gets concrete input data (a table, a list, code or JSON) that the answer must use.",
        [
            ("Find the average of the test scores.",
             "Use this data and skip absent students: Ana 82, Ben 75, Cy absent, Dee 91."),
            ("Count the words in a sentence.",
             "The input is the JSON {\"id\": 7, \"text\": \"Data never sleeps, but analysts do.\"} and only the "
             "\"text\" field counts."),
            ("Explain what a loop prints.", "The loop is: for i in range(1, 10, 3): print(i * i)"),
        ],
    ),
    _operator(
        "breadth", "breadth",
        "Create a brand new, rarer task in the same domain as #The Given Prompt#, of similar length and complexity.",
        "Each task below inspires a brand new task from the same field that is rarer and less common.",
        [
            ("Write a function that checks whether a number is even.",
             "Write a function that checks whether a number is a Harshad number, that is, divisible by the sum of its "
             "own digits."),
            ("Explain how photosynthesis works.",
             "Explain how crassulacean acid metabolism lets cacti photosynthesise while keeping their stomata closed "
             "during the day."),
            ("Write a birthday card message for a friend.",
             "Write a card message congratulating a friend on passing their beekeeping certification exam, with one "
             "gentle joke about bees."),
        ],
        output="rewrite",
    ),
    _operator(
        "professional_constraint", "depth",
        "Add a professional constraint that needs real domain expertise (a standard, a regulation, a safety rule or "
        "an industry practice) to answer well.",
        "Each task below gets a professional constraint that only an expert in the field would handle well.",
        [
            ("Write a function that stores user passwords.",
             "It must pass a security audit: hash with a salted, slow algorithm such as bcrypt or Argon2, and explain "
             "why plain SHA-256 is not enough."),
            ("Plan a meal for a dinner party of eight.",
             "One guest has coeliac disease, so follow the cross-contamination rules a professional kitchen uses for "
             "gluten-free service."),
            ("Estimate how much weight a wall shelf can hold.",
             "It is mounted with two plastic anchors in drywall; apply the safety factor a structural engineer would "
             "use and state your assumptions."),
        ],
    ),
    _operator(
        "what_if", "depth",
        "Add a what-if change of state: keep the task, then ask how the answer changes when one condition changes.",
        "Each task below gets a what-if question that changes one condition and asks how the answer changes.",
        [
            ("A ball is dropped from a height of 20 m. How long does it take to land? Use g = 9.8 m/s^2.",
             "What if the same drop happened on the Moon, where g = 1.62 m/s^2? Give both times and by what factor the "
             "time changes."),
            ("Write a function that finds the shortest path through a maze.",
             "What if some doors open only on even-numbered moves? Adapt the search so that it still finds the "
             "shortest path."),
            ("Summarise the causes of the French Revolution.",
             "Then explain what might have changed if the harvest of 1788 had been a good one."),
        ],
    ),
    _operator(
        "three_step_logic", "depth",
        "Rewrite #The Given Prompt# so that answering it requires at least three distinct steps of logic.",
        "Each task below gets a requirement so that answering it needs at least three distinct steps of logic.",
        [
            ("How many working days are there in 3 weeks?",
             "The work starts on a Monday, skips weekends and needs 2 extra working days; find the finishing weekday, "
             "reasoning in at least three distinct steps."),
            ("Which is heavier, a kilogram of iron or a kilogram of feathers?",
             "They are weighed in air on a balance: compare the masses, then the volumes, then the buoyancy of the "
             "air, as three separate steps."),
            ("Sort the numbers 5, 2 and 9.",
             "Add the numbers 2 and 7, remove duplicates and report the median, showing the list after each of the "
             "three steps."),
        ],
    ),
    _operator(
        "contradictory_tradeoff", "depth",
        "Add a requirement that conflicts with an existing one, and ask for the trade-off that resolves the conflict "
        "to be chosen and justified.",
        "Each task below gets a second requirement that pulls against the first, so the answer must choose a trade-off.",
        [
            ("Design a login page.",
             "It must be as secure as possible yet let users sign in within five seconds on a slow phone; explain the "
             "trade-off you choose."),
            ("Write a sorting function in Python.",
             "It must use as little extra memory as possible but also be fast on nearly sorted lists; justify the "
             "trade-off you accept."),
            ("Write a product description for a backpack.",
             "Keep it under 50 words yet cover capacity, weight, waterproofing and warranty, and say what you "
             "compressed."),
        ],
    ),
    _operator(
        "bias_neutralization", "adversarial",
        "Rewrite #The Given Prompt# so that it demands a viewpoint, setting or audience outside the default a model "
        "would assume, and forbids the default assumptions.",
        "Each task below gets a requirement to take a viewpoint or setting outside the usual default, without default "
        "assumptions.",
        [
            ("Explain why cities should build more highways.",
             "Answer from the viewpoints of a rural farmer, a disabled commuter without a car and a city planner, "
             "without favouring any of them."),
            ("Describe a typical family dinner.",
             "Set it in a household in rural Vietnam, without assuming Western food, table customs or family structure."),
            ("What is the best programming language for beginners?",
             "The learner only has a borrowed phone with patchy internet; do not assume a laptop or a fast connection."),
        ],
    ),
]
BUILTIN_NAMES = [op.name for op in BUILTIN_OPERATORS]

_ANSWER_FEW_SHOT = EXAMPLE_SEPARATOR.join(
    [
        "Below are questions, each followed by a careful, correct and complete answer.\n\n"
        "Question: What is 15% of 80?\nAnswer: 15% of 80 is 0.15 x 80 = 12. The answer is 12.",
        "Question: Write a Python function that returns the square of a number.\n"
        "Answer: def square(x):\n    return x * x",
        "Question: Why do we see lightning before we hear thunder?\n"
        "Answer: Light travels at about 300,000 km/s while sound travels at about 343 m/s, so the flash reaches us "
        "almost at once and the sound arrives seconds later.",
        f"Question: {PLACEHOLDER}\nAnswer:",
    ]
)


# ---------------------------------------------------------------- prompts and parsing


def render(template: str, instruction: str) -> str:
    """Put the instruction into a template (plain replacement: braces elsewhere in the template are kept)."""
    return template.replace(PLACEHOLDER, instruction.strip())


def build_prompt(op: Operator, instruction: str, completion: bool, input_text: str | None = None) -> str:
    """The prompt sent for one evolution: the few-shot completion form for base models, else the chat form.
    The parent's input, when it has one, follows its instruction (`store.task_text`)."""
    return render(op.completion_template if completion else op.chat_template, task_text(instruction.strip(), input_text))


def build_answer_prompt(instruction: str, input_text: str | None = None) -> str:
    """Few-shot question/answer prompt for base models; the task's input follows its instruction."""
    return render(_ANSWER_FEW_SHOT, task_text(instruction.strip(), input_text))


def parse_evolution(raw: str, parent: str = "", addition: bool = False) -> str:
    """The evolved instruction inside a model response: cut at stops, labels and wrapping quotes removed.

    With `addition`, the response is one line added to the parent, and the result is the parent plus that line.
    """
    text = cut_at_stops(raw or "", ADDITION_STOP if addition else EVOLUTION_STOP).strip()
    previous = None
    while previous != text:
        previous = text
        text = _LEADING_LABEL.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    if addition:
        return f"{parent.rstrip()} {text}".strip() if text else parent.strip()
    return text


def parse_answer(raw: str) -> str:
    return cut_at_stops(raw or "", ANSWER_STOP).strip()


def _squeezed(text: str) -> str:
    return " ".join(text.split()).casefold()


def evolved_input(op: Operator, evolved: str, parent_input: str | None, addition: bool) -> tuple[str, str | None, str | None]:
    """(instruction, input, input origin) of an evolved task, from the parsed evolution text.

    An addition keeps the parent's input. A rewrite that writes an 'Input:' section has that input (kept,
    when it is the parent's own); one that copies the parent's input into its instruction has it inlined; a
    breadth operator's new task drops it; any other rewrite evolved the instruction alone and keeps it.
    """
    if addition:
        return evolved, parent_input, INPUT_KEPT if parent_input else None
    parts = INPUT_LABEL.split(evolved, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        instruction, own = parts[0].strip(), parts[1].strip()
        same = parent_input is not None and _squeezed(own) == _squeezed(parent_input)
        return instruction, own, INPUT_KEPT if same else INPUT_EVOLVED
    if not parent_input:
        return evolved, None, None
    if _squeezed(parent_input) in _squeezed(evolved):
        return evolved, None, INPUT_INLINED
    if op.kind == "breadth":
        return evolved, None, INPUT_DROPPED
    return evolved, parent_input, INPUT_KEPT


# ---------------------------------------------------------------- schedules


def schedule_operator(
    schedule: str,
    operators: list[str],
    *,
    seed_index: int,
    path: tuple[int, ...],
    attempt: int,
    rng_key: str,
) -> str:
    """The operator for one tree position and attempt; deterministic, so a resumed job makes the same choices.

    - round-robin: rotates along the chain, offset per seed and per sibling (`path` holds the child index
      at each depth, so depth = len(path));
    - fixed: the list is the order by depth (depth 1 gets the first operator), siblings alike;
    - random: a choice seeded by `rng_key`.
    A retry (attempt > 0) moves on to an operator not tried yet at this position while one is left.
    """
    if not operators:
        raise ValueError("no operators chosen")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    depth = len(path)
    n = len(operators)
    if schedule == "round-robin":
        start = seed_index + depth - 1 + sum(path)
    elif schedule == "fixed":
        start = depth - 1
    else:
        order = list(range(n))
        random.Random(rng_key).shuffle(order)
        return operators[order[attempt % n]]
    return operators[(start + attempt) % n]


# ---------------------------------------------------------------- elimination


@dataclass(frozen=True)
class EliminationRules:
    """Thresholds of the elimination rules (WizardLM's, plus length bounds)."""

    min_words: int = 4
    max_words: int = 400
    min_new_words: int = 3
    max_embedding_similarity: float = 0.97
    refusal_max_words: int = 40
    struggle_max_words: int = 80


NO_INFORMATION_GAIN = "no information gain"
TEMPLATE_COPIED = "template words copied"
EMPTY = "empty or punctuation only"
REFUSAL = "refusal"
LENGTH = "length out of bounds"
UNFINISHED = "unfinished"
ANSWER_STRUGGLES = "answer struggles"


def _words(text: str) -> list[str]:
    return [t for t in word_tokens(text) if any(ch.isalnum() for ch in t)]


def lexical_similarity(a: str, b: str) -> float:
    """difflib ratio over word tokens: 1.0 for the same words in the same order."""
    return difflib.SequenceMatcher(None, word_tokens(a), word_tokens(b), autojunk=False).ratio()


def new_words(parent: str, child: str) -> int:
    """How many distinct words (case-folded) the child uses that its parent never does.

    Counted over word types, not occurrences, so a repeat adds nothing: a child that only says one
    of its parent's sentences again, or a word of its own twice, brings no more new words than before.
    """
    return len(set(_words(child)) - set(_words(parent)))


def no_information_gain(
    parent: str, child: str, rules: EliminationRules = EliminationRules(), embedding_similarity: float | None = None
) -> str | None:
    """A reason when the child adds nothing over its parent, else None.

    Lexically: the child brings fewer than `min_new_words` distinct words its parent lacks (identical
    or near-identical text, a reordering, or a repeat of the parent's own sentences). When embeddings
    exist, the caller passes `embedding_similarity` (cosine) and a near-identical meaning is caught too.
    """
    added = new_words(parent, child)
    if added < rules.min_new_words:
        return (
            f"{NO_INFORMATION_GAIN}: only {plural(added, 'new word')} over the parent "
            f"(lexical similarity {lexical_similarity(parent, child):.2f})"
        )
    if embedding_similarity is not None and embedding_similarity >= rules.max_embedding_similarity:
        return f"{NO_INFORMATION_GAIN}: embedding similarity {embedding_similarity:.3f} to the parent"
    return None


def elimination_reason(
    parent: str, child: str, rules: EliminationRules = EliminationRules(), embedding_similarity: float | None = None
) -> str | None:
    """Why an evolved instruction is eliminated, or None when it survives (the answer is checked later).

    WizardLM's rules (empty, template words copied, refusal, no information gain) plus length bounds and an
    instruction that stops mid-sentence (a base model cut at a newline: "...use the following function:").
    """
    words = _words(child)
    if not words:
        return f"{EMPTY}: nothing but punctuation or whitespace"
    lowered = child.casefold()
    copied = [w for w in TEMPLATE_WORDS if w in lowered]
    if copied:
        return f"{TEMPLATE_COPIED}: {copied[0]!r}"
    refusal = [w for w in REFUSAL_WORDS if w in lowered]
    if refusal and len(words) < rules.refusal_max_words:
        return f"{REFUSAL}: {refusal[0]!r} in a {len(words)}-word reply"
    if not rules.min_words <= len(words) <= rules.max_words:
        return f"{LENGTH}: {plural(len(words), 'word')} (allowed {rules.min_words}-{rules.max_words})"
    if reason := unfinished_reason(child):
        return f"{UNFINISHED}: the instruction stops mid-sentence ({reason})"
    return no_information_gain(parent, child, rules, embedding_similarity)


def answer_struggles(answer: str, rules: EliminationRules = EliminationRules()) -> str | None:
    """WizardLM's rule: the answer says 'sorry' and is short, so the task was too hard or ill-posed."""
    words = _words(answer)
    if not words:
        return f"{ANSWER_STRUGGLES}: empty answer"
    if "sorry" in answer.casefold() and len(words) < rules.struggle_max_words:
        return f"{ANSWER_STRUGGLES}: 'sorry' in a {len(words)}-word answer"
    return None


# ---------------------------------------------------------------- one evolution step


@dataclass
class Evolution:
    """One evolution attempt: what was sent, what came back, and its fate."""

    operator: str
    prompt: str
    raw_response: str
    instruction: str
    generation: Generation
    input: str | None = None
    input_origin: str | None = None
    elimination_reason: str | None = None
    answer: str | None = None
    answer_generation: Generation | None = None
    params: dict = field(default_factory=dict)

    @property
    def survived(self) -> bool:
        return self.elimination_reason is None

    @property
    def generations(self) -> list[Generation]:
        return [g for g in (self.generation, self.answer_generation) if g is not None]


async def generate_answer(teacher: Teacher, instruction: str, input_text: str | None = None) -> tuple[str, Generation]:
    """An answer at the teacher's low answer temperature: few-shot Q/A for base models, a chat turn otherwise."""
    temperature = teacher.config.answer_temperature
    if teacher.config.uses_completion_prompts:
        prompt = build_answer_prompt(instruction, input_text)
        generation = await teacher.acomplete(prompt, temperature=temperature, stop=ANSWER_STOP)
    else:
        messages = [{"role": "user", "content": task_text(instruction, input_text)}]
        generation = await teacher.achat(messages, temperature=temperature)
    return parse_answer(generation.text), generation


SimilarityFn = Callable[[str, str], float | None]


async def evolve(
    teacher: Teacher,
    op: Operator,
    parent: str,
    rules: EliminationRules = EliminationRules(),
    embedding_similarity: SimilarityFn | None = None,
    parent_input: str | None = None,
) -> Evolution:
    """Evolve `parent` (with its input, when it has one) with one operator, check the rules, and answer the
    survivor. The rules compare the parent's and the child's whole task text, input included.

    `embedding_similarity(parent, child)`, when given (embeddings exist), returns their cosine similarity for
    the no-information-gain rule; without it the rule is lexical.
    """
    completion = teacher.config.uses_completion_prompts
    addition = completion and op.completion_output == "addition"
    prompt = build_prompt(op, parent, completion, parent_input)
    temperature = teacher.config.evolution_temperature
    if completion:
        stop = ADDITION_STOP if addition else EVOLUTION_STOP
        generation = await teacher.acomplete(prompt, temperature=temperature, stop=stop, logprobs=True)
        sent = prompt
    else:
        messages = [{"role": "user", "content": prompt}]
        generation = await teacher.achat(messages, temperature=temperature, logprobs=True)
        sent = json.dumps(messages, ensure_ascii=False)
    instruction, child_input, input_origin = evolved_input(
        op, parse_evolution(generation.text, parent, addition), parent_input, addition
    )
    parent_text = task_text(parent, parent_input)
    child_text = task_text(instruction, child_input) if instruction.strip() else ""
    similarity = (embedding_similarity(parent_text, child_text)
                  if embedding_similarity and instruction.strip() else None)
    evolution = Evolution(
        operator=op.name,
        prompt=sent,
        raw_response=generation.text,
        instruction=instruction,
        generation=generation,
        input=child_input,
        input_origin=input_origin,
        elimination_reason=elimination_reason(parent_text, child_text, rules, similarity),
        params={"evolution": generation.params, "completion_prompt": completion, "addition": addition},
    )
    if evolution.survived:
        evolution.answer, evolution.answer_generation = await generate_answer(teacher, instruction, child_input)
        evolution.params["answer"] = evolution.answer_generation.params
        evolution.elimination_reason = answer_struggles(evolution.answer, rules)
    return evolution


# ---------------------------------------------------------------- showing a change


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Word-level diff of two texts as (op, text) pieces, op in equal/insert/delete; whitespace kept."""
    a, b = re.findall(r"\S+\s*", old), re.findall(r"\S+\s*", new)
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "".join(b[j1:j2])))
            continue
        if tag in ("delete", "replace"):
            pieces.append(("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            pieces.append(("insert", "".join(b[j1:j2])))
    return pieces


# ---------------------------------------------------------------- stored operators


def ensure_operators(store: Store) -> None:
    """Add any built-in operator missing from the store (user edits are kept)."""
    store.evolve.save_operators([op.to_row() for op in BUILTIN_OPERATORS], overwrite=False)


def load_operators(store: Store) -> dict[str, Operator]:
    ensure_operators(store)
    return {row["name"]: Operator.from_row(row) for row in store.evolve.list_operators()}


def reset_builtin_operators(store: Store) -> None:
    """Put every built-in operator back to its shipped templates."""
    store.evolve.save_operators([op.to_row() for op in BUILTIN_OPERATORS], overwrite=True)


def save_operator(store: Store, op: Operator) -> None:
    """Validate and store an operator; a user's operator cannot take a built-in's name."""
    validate_operator(op)
    if op.name in BUILTIN_NAMES and not op.builtin:
        raise OperatorError(f"{op.name!r} is a built-in operator's name; choose another.")
    store.evolve.save_operators([op.to_row()], overwrite=True)
