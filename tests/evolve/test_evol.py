"""Evol-Instruct engine: operators' prompts and parsing, schedules, every elimination rule, stored operators."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from workbench.core.teacher import Teacher, TeacherConfig
from workbench.evolve.engine import (
    ADDITION_STOP,
    ANSWER_STRUGGLES,
    BUILTIN_NAMES,
    BUILTIN_OPERATORS,
    EMPTY,
    LENGTH,
    NO_INFORMATION_GAIN,
    PLACEHOLDER,
    REFUSAL,
    TEMPLATE_COPIED,
    UNFINISHED,
    EliminationRules,
    Operator,
    OperatorError,
    answer_struggles,
    build_answer_prompt,
    build_prompt,
    elimination_reason,
    evolve,
    load_operators,
    new_words,
    no_information_gain,
    parse_answer,
    parse_evolution,
    reset_builtin_operators,
    save_operator,
    schedule_operator,
    word_diff,
)


def run(coroutine):
    """Run a coroutine on its own thread (a session's Playwright loop may be running on this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


SEED = "A jacket costs $80 and is marked down 25%. What is the sale price?"
OPERATORS = {op.name: op for op in BUILTIN_OPERATORS}


# ---------------------------------------------------------------- operators and prompts


def test_builtins_cover_wizardlm_article_and_adversarial_operators():
    assert set(BUILTIN_NAMES) == {
        "add_constraints", "deepen", "concretize", "increase_reasoning", "complicate_input", "breadth",
        "professional_constraint", "what_if", "three_step_logic", "contradictory_tradeoff", "bias_neutralization",
    }
    assert OPERATORS["breadth"].kind == "breadth"
    assert OPERATORS["bias_neutralization"].kind == "adversarial"


@pytest.mark.parametrize("op", BUILTIN_OPERATORS, ids=lambda op: op.name)
def test_each_operator_builds_a_chat_prompt_around_the_instruction(op: Operator):
    prompt = build_prompt(op, f"  {SEED}\n", completion=False)
    assert PLACEHOLDER not in prompt
    assert f"\n{SEED}\n" in prompt
    label = "#Created Prompt#:" if op.kind == "breadth" else "#Rewritten Prompt#:"
    assert prompt.rstrip().endswith(label)
    if op.kind != "breadth":
        assert op.description in prompt  # the operator's method is spelled out


@pytest.mark.parametrize("op", BUILTIN_OPERATORS, ids=lambda op: op.name)
def test_each_operator_builds_a_few_shot_completion_prompt(op: Operator):
    prompt = build_prompt(op, SEED, completion=True)
    blocks = prompt.split("\n###\n")
    assert len(blocks) >= 4  # header + at least 3 worked examples + the open slot
    label = "Added requirement" if op.completion_output == "addition" else "Rewritten task"
    assert blocks[-1] == f"Task: {SEED}\n{label}:"
    for example in blocks[1:-1]:
        task, output = example.split(f"\n{label}: ")
        assert task.startswith("Task: ") and output.strip()
        # the worked examples pass the elimination rules themselves
        child = f"{task[6:]} {output}" if op.completion_output == "addition" else output
        assert elimination_reason(task[6:], child) is None, (op.name, child)
        assert "\n" not in output or op.completion_output == "rewrite"  # additions are one line (stop at newline)


def test_template_braces_other_than_the_placeholder_are_kept():
    op = Operator("json_input", "custom", "", 'Add {"k": 1} to: {instruction}', "Task: {instruction}\nOut:")
    assert build_prompt(op, "Sum a list.", completion=False) == 'Add {"k": 1} to: Sum a list.'


def test_answer_prompt_is_few_shot_question_answer():
    prompt = build_answer_prompt(SEED)
    assert prompt.count("Question:") == 4 and prompt.endswith(f"Question: {SEED}\nAnswer:")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Find the sale price, then add 8% tax.", "Find the sale price, then add 8% tax."),
        ("#Rewritten Prompt#:\nFind the sale price in euros.", "Find the sale price in euros."),
        ("Rewritten task: \"Find the price.\"", "Find the price."),
        (" Find the price twice.\n###\nTask: Another example", "Find the price twice."),
        ("Created Prompt: Price a coat.\nTask: next", "Price a coat."),
        ("", ""),
    ],
)
def test_parse_evolution_strips_labels_quotes_and_runoff(raw: str, expected: str):
    assert parse_evolution(raw) == expected


def test_parse_addition_appends_one_line_to_the_parent():
    assert parse_evolution(" Give the answer in euros.\nTask: x", SEED, addition=True) == f"{SEED} Give the answer in euros."
    assert parse_evolution("\n", SEED, addition=True) == SEED  # nothing added: the rules will call it no gain
    assert "\n" in ADDITION_STOP


def test_parse_answer_cuts_at_the_next_question():
    assert parse_answer(" 60 dollars.\n###\nQuestion: more") == "60 dollars."


# ---------------------------------------------------------------- schedules


def test_round_robin_rotates_along_the_chain_and_across_seeds():
    ops = ["a", "b", "c"]
    chain = [schedule_operator("round-robin", ops, seed_index=0, path=(0,) * d, attempt=0, rng_key="k") for d in (1, 2, 3, 4)]
    assert chain == ["a", "b", "c", "a"]
    assert schedule_operator("round-robin", ops, seed_index=1, path=(0,), attempt=0, rng_key="k") == "b"
    siblings = {schedule_operator("round-robin", ops, seed_index=0, path=(0, c), attempt=0, rng_key="k") for c in (0, 1)}
    assert siblings == {"b", "c"}


def test_fixed_schedule_follows_the_list_by_depth():
    ops = ["x", "y"]
    assert [schedule_operator("fixed", ops, seed_index=5, path=(1,) * d, attempt=0, rng_key="k") for d in (1, 2, 3)] == [
        "x", "y", "x",
    ]


def test_retries_move_to_operators_not_tried_yet():
    ops = ["a", "b", "c"]
    for schedule in ("round-robin", "fixed", "random"):
        tried = [schedule_operator(schedule, ops, seed_index=2, path=(0, 1), attempt=a, rng_key="j:s1/p0.1") for a in range(3)]
        assert sorted(tried) == ops, schedule


def test_random_schedule_is_deterministic_per_key_and_varies_across_keys():
    ops = [f"op{i}" for i in range(8)]
    pick = [schedule_operator("random", ops, seed_index=0, path=(0,), attempt=0, rng_key=f"k{i}") for i in range(40)]
    assert pick == [schedule_operator("random", ops, seed_index=0, path=(0,), attempt=0, rng_key=f"k{i}") for i in range(40)]
    assert len(set(pick)) > 3


def test_unknown_schedule_and_empty_operators_are_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_operator("zigzag", ["a"], seed_index=0, path=(0,), attempt=0, rng_key="k")
    with pytest.raises(ValueError, match="no operators"):
        schedule_operator("fixed", [], seed_index=0, path=(0,), attempt=0, rng_key="k")


# ---------------------------------------------------------------- elimination rules


def test_a_real_evolution_survives():
    assert elimination_reason(SEED, f"{SEED} Then add 8% sales tax and show each step.") is None


@pytest.mark.parametrize("child", [SEED, SEED.upper(), SEED.replace("What", "what") + " ", SEED + " Thanks."])
def test_no_information_gain_for_identical_or_near_identical_text(child: str):
    assert elimination_reason(SEED, child).startswith(NO_INFORMATION_GAIN)


TWO_SENTENCES = "A jacket costs $80 and is marked down 25%. Sales tax is 8% of the sale price. What do you pay?"


@pytest.mark.parametrize(
    "child",
    [
        f"{SEED} What is the sale price?",  # the parent's question again
        f"{TWO_SENTENCES} Sales tax is 8% of the sale price.",  # one of the parent's sentences again
        f"{TWO_SENTENCES} Sales tax is 8% of the sale price. Sales tax is 8% of the sale price.",  # twice
        "What is the sale price? A jacket costs $80 and is marked down 25%.",  # reordered
        f"{SEED} Thanks, thanks, thanks, thanks.",  # one new word, repeated
    ],
)
def test_a_repeat_adds_no_information(child: str):
    parent = TWO_SENTENCES if child.startswith(TWO_SENTENCES) else SEED
    reason = no_information_gain(parent, child)
    assert reason is not None and reason.startswith(NO_INFORMATION_GAIN), child
    assert elimination_reason(parent, child).startswith(NO_INFORMATION_GAIN)


def test_new_words_are_counted_once_each():
    assert new_words(SEED, SEED + " " + SEED) == 0
    assert new_words(SEED, f"{SEED} Round up, round up, round up.") == 2  # round, up
    assert new_words(SEED, f"{SEED} Then add 8% sales tax.") == 5  # then, add, 8, sales, tax ("%" is known)


def test_a_repeated_phrase_beside_real_new_content_survives():
    child = f"{SEED} Then add 8% sales tax, and show the sales tax as a separate line."
    assert elimination_reason(SEED, child) is None


def test_no_information_gain_uses_embedding_similarity_when_given():
    child = f"{SEED} Please answer quickly and clearly."
    assert no_information_gain(SEED, child) is None
    assert no_information_gain(SEED, child, embedding_similarity=0.99).startswith(NO_INFORMATION_GAIN)
    assert no_information_gain(SEED, child, embedding_similarity=0.5) is None


@pytest.mark.parametrize(
    "child",
    [
        "#Rewritten Prompt#: A jacket costs $90 and is marked down 30%.",
        "Rewrite the given prompt so the jacket costs $90 and is marked down 30%.",
        "Rewritten task: a coat costs $200, find the discounted price after 15% off.",
    ],
)
def test_template_words_copied(child: str):
    assert elimination_reason(SEED, child).startswith(TEMPLATE_COPIED)


@pytest.mark.parametrize("child", ["", "   ", "?!...", "—", "``` ```"])
def test_empty_or_punctuation_only(child: str):
    assert elimination_reason(SEED, child).startswith(EMPTY)


@pytest.mark.parametrize("child", ["I'm sorry, but I cannot help with that request.", "As an AI language model, I can't rewrite this."])
def test_short_refusals(child: str):
    assert elimination_reason(SEED, child).startswith(REFUSAL)


def test_a_long_task_mentioning_sorry_is_not_a_refusal():
    child = ("Write a letter in which a shop says sorry to a customer for a late delivery of a jacket that cost $80, "
             "offering a 25% refund, explaining the cause of the delay, and promising a firm new delivery date, "
             "all in a warm but professional tone that keeps the customer loyal to the shop for years.")
    assert elimination_reason(SEED, child, EliminationRules(refusal_max_words=40)) is None


@pytest.mark.parametrize(
    "addition",
    ["You can use the following function to calculate the final price of the jacket:",
     "Then compare the price with the", "Give the answer (in dollars and cents"],
)
def test_an_instruction_that_stops_mid_sentence_is_eliminated(addition: str):
    assert elimination_reason(SEED, f"{SEED} {addition}").startswith(UNFINISHED)


def test_length_outside_bounds():
    rules = EliminationRules(min_words=4, max_words=30)
    assert elimination_reason(SEED, "Price it.", rules).startswith(LENGTH)
    long_child = SEED + " " + " ".join(f"extra{i}" for i in range(40))
    assert elimination_reason(SEED, long_child, rules).startswith(LENGTH)


def test_answer_struggles_when_sorry_and_short():
    assert answer_struggles("Sorry, I do not know how to compute that.").startswith(ANSWER_STRUGGLES)
    assert answer_struggles("").startswith(ANSWER_STRUGGLES)
    assert answer_struggles("The sale price is $60, because 25% of $80 is $20.") is None
    long_apology = "Sorry for the long answer. " + "Each step follows from the previous one. " * 20
    assert answer_struggles(long_apology) is None


# ---------------------------------------------------------------- one step with a mocked chat model


def mock_teacher(reply: str) -> Teacher:
    return Teacher(TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": reply}))


def test_evolve_sends_the_chat_prompt_and_answers_the_survivor():
    reply = "Find the sale price of the $80 jacket after 25% off, then add 8% sales tax."
    evolution = run(evolve(mock_teacher(reply), OPERATORS["add_constraints"], SEED))
    assert evolution.survived and evolution.instruction == reply
    assert evolution.answer == reply  # the mock answers everything with the same text
    sent = json.loads(evolution.prompt)
    assert sent[0]["role"] == "user" and SEED in sent[0]["content"]
    assert evolution.params["evolution"]["temperature"] == 0.8
    assert evolution.params["answer"]["temperature"] == 0.2


def test_evolve_asks_the_embedding_similarity_hook_about_the_child():
    reply = f"{SEED} Answer in euros as well."
    seen = []

    def same_meaning(parent: str, child: str) -> float:
        seen.append((parent, child))
        return 0.99

    evolution = run(evolve(mock_teacher(reply), OPERATORS["deepen"], SEED, embedding_similarity=same_meaning))
    assert seen == [(SEED, reply)]
    assert evolution.elimination_reason.startswith(f"{NO_INFORMATION_GAIN}: embedding similarity 0.990")


def test_evolve_eliminates_without_asking_for_an_answer():
    evolution = run(evolve(mock_teacher(SEED), OPERATORS["deepen"], SEED))
    assert evolution.elimination_reason.startswith(NO_INFORMATION_GAIN)
    assert evolution.answer is None and evolution.answer_generation is None


class ScriptedTeacher(Teacher):
    """A real Teacher over litellm whose mock_response follows a script, one reply per call."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(TeacherConfig(model="openai/gpt-4o-mini"))
        self.replies = list(replies)

    async def _litellm_request(self, kind: str, request, params: dict):
        return await super()._litellm_request(kind, request, {**params, "mock_response": self.replies.pop(0)})


def test_evolve_eliminates_a_struggling_answer():
    teacher = ScriptedTeacher([f"{SEED} What if the discount were 40% instead?", "Sorry, I cannot work that out."])
    evolution = run(evolve(teacher, OPERATORS["what_if"], SEED))
    assert evolution.elimination_reason.startswith(ANSWER_STRUGGLES)
    assert evolution.answer


# ---------------------------------------------------------------- diff and stored operators


def test_word_diff_marks_inserted_and_deleted_words():
    pieces = word_diff("Find the price of a coat.", "Find the total price of a red coat in euros.")
    inserted = "".join(text for op, text in pieces if op == "insert")
    assert "total" in inserted and "red" in inserted and "euros" in inserted
    assert "".join(text for op, text in pieces if op != "delete") == "Find the total price of a red coat in euros."
    assert "".join(text for op, text in pieces if op != "insert") == "Find the price of a coat."


def test_builtins_are_stored_editable_and_resettable(store):
    operators = load_operators(store)
    assert set(operators) == set(BUILTIN_NAMES)
    edited = Operator(**{**operators["deepen"].to_row(), "chat_template": "Go deeper: {instruction}"})
    save_operator(store, edited)
    assert load_operators(store)["deepen"].chat_template == "Go deeper: {instruction}"  # kept, not re-seeded
    reset_builtin_operators(store)
    assert load_operators(store)["deepen"] == OPERATORS["deepen"]


def test_custom_operators_are_validated_saved_and_deleted(store):
    custom = Operator("pirate", "custom", "Ask it as a pirate.", "Say as a pirate: {instruction}", "Task: {instruction}\nPirate:")
    save_operator(store, custom)
    assert load_operators(store)["pirate"] == custom
    reset_builtin_operators(store)
    assert "pirate" in load_operators(store)  # a reset touches built-ins only
    with pytest.raises(OperatorError, match="must contain"):
        save_operator(store, Operator("bad", "custom", "", "no placeholder", "Task: {instruction}"))
    with pytest.raises(OperatorError, match="name"):
        save_operator(store, Operator("Bad Name!", "custom", "", "{instruction}", "{instruction}"))
    with pytest.raises(OperatorError, match="built-in"):
        save_operator(store, Operator("deepen", "custom", "", "{instruction}", "{instruction}"))
    assert not store.evolve.delete_operator("deepen")
    assert store.evolve.delete_operator("pirate") and "pirate" not in load_operators(store)


@pytest.mark.slow
def test_bundled_base_model_adds_a_requirement_with_real_token_entropy():
    teacher = Teacher(TeacherConfig(max_tokens=48, extra={"seed": 7}))
    evolution = run(evolve(teacher, OPERATORS["what_if"], SEED))
    assert evolution.params["addition"] is True and evolution.prompt.endswith(f"Task: {SEED}\nAdded requirement:")
    assert evolution.instruction.startswith(SEED) and len(evolution.instruction) > len(SEED)
    assert evolution.generation.entropy_source == "full next-token distribution"
    assert evolution.generation.token_entropies and evolution.generation.mean_entropy > 0
    assert evolution.survived or evolution.elimination_reason  # a verdict either way, with its reason
    print(f"\n{evolution.instruction}\n-> {evolution.answer!r} ({evolution.elimination_reason})")
