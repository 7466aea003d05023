"""A seed's input is part of its identity and of every prompt built from it, and evolution says what it kept."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.json_server import json_server
from workbench.core.jobs import queue, worker
from workbench.core.teacher import Teacher, TeacherConfig
from workbench.evolve.engine import (
    INPUT_DROPPED,
    INPUT_EVOLVED,
    INPUT_INLINED,
    INPUT_KEPT,
    build_answer_prompt,
    build_prompt,
    evolve,
    load_operators,
)
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.store import Store, StoreError, task_text, text_hash
from workbench.verify.prompts import chat_messages, completion_prompt
from workbench.verify.reasoning import load_task
from workbench.verify.verifiers.judge import chat_messages as judge_messages

INSTRUCTION = "Identify the odd one out."
INPUT = "Twitter, Instagram, Telegram"


def chat_reply(text: str):
    def reply(body: dict) -> dict:
        return {"id": "x", "object": "chat.completion", "created": 0, "model": "loopback",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return reply


def loopback(url: str) -> dict:
    return {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x", "max_retries": 0}}


def run_worker(store: Store) -> None:
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0


# ---------------------------------------------------------------- identity


def test_one_instruction_with_two_inputs_is_two_seeds(store: Store):
    first, second = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT},
                                        {"instruction": INSTRUCTION, "input": "Apple, Banana, Carrot"}])
    assert store.seeds.get_seed(first)["text_hash"] == text_hash(f"{INSTRUCTION}\n\nInput:\n{INPUT}")
    with pytest.raises(StoreError, match="another seed already has this instruction and input"):
        store.seeds.update_seed(second, {"input": f"  {INPUT} "})
    store.seeds.update_seed(second, {"input": ""})  # an empty input is no input
    assert store.seeds.get_seed(second)["input"] is None
    assert store.seeds.get_seed(second)["text_hash"] == text_hash(INSTRUCTION)


def test_the_embedded_text_of_a_seed_is_its_instruction_and_input(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT}])
    [item] = store.analyse.analysis_items()
    assert item["instruction"] == task_text(INSTRUCTION, INPUT)
    assert text_hash(item["instruction"]) == store.seeds.get_seed(seed_id)["text_hash"]  # the embedding cache key


def test_samples_keep_their_input(store: Store):
    sample_id = store.samples.insert_sample({"source": "import", "instruction": INSTRUCTION, "input": INPUT, "output": "Telegram"})
    sample = store.samples.get_sample(sample_id)
    assert sample["input"] == INPUT and sample["text_hash"] == text_hash(task_text(INSTRUCTION, INPUT))
    store.review.edit_sample(sample_id, {"instruction": "Which one is not like the others?"}, reviewer="ann")
    assert store.samples.get_sample(sample_id)["text_hash"] == text_hash(task_text("Which one is not like the others?", INPUT))


# ---------------------------------------------------------------- reasoning paths and verifiers


def test_reasoning_prompts_and_verifier_prompts_carry_the_input(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT, "reference_answer": "Telegram",
                                     "reference_solution": "Twitter and Instagram are social networks.\nAnswer: Telegram"}])
    task = load_task(store, "seed", seed_id)
    assert (task.input, task.reference_answer) == (INPUT, "Telegram")
    assert task.reference_solution.endswith("Answer: Telegram")
    assert completion_prompt(task).endswith(f"Problem: {INSTRUCTION}\n\nInput:\n{INPUT}\nSolution:\nStep 1:")
    assert chat_messages(task)[1] == {"role": "user", "content": f"{INSTRUCTION}\n\nInput:\n{INPUT}"}
    assert f"Problem:\n{INSTRUCTION}\n\nInput:\n{INPUT}\n" in judge_messages(task, ["Telegram is a messenger."], 0)[1]["content"]


def test_a_sample_asking_the_seeds_question_with_its_input_inherits_the_reference(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT, "reference_answer": "Telegram"}])
    same = store.samples.insert_sample({"source": "evol", "seed_id": seed_id, "instruction": INSTRUCTION, "input": INPUT})
    other = store.samples.insert_sample({"source": "evol", "seed_id": seed_id, "instruction": INSTRUCTION, "input": "a, b, 3"})
    assert load_task(store, "sample", same).reference_answer == "Telegram"
    task = load_task(store, "sample", other)
    assert (task.reference_answer, task.input) == (None, "a, b, 3")


def test_the_reason_job_sends_the_input(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT, "reference_answer": "Telegram"}])
    with json_server(chat_reply("Step 1: Telegram is a messenger app.\nAnswer: Telegram")) as server:
        queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": seed_id}], "n": 1, "teacher": loopback(server.url)})
        run_worker(store)
    assert store.jobs.list_jobs()[0]["status"] == "done"
    assert server.requests[0]["messages"][-1]["content"] == f"{INSTRUCTION}\n\nInput:\n{INPUT}"


def test_the_uncertainty_job_asks_with_the_input(store: Store):
    store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT}])
    with json_server(chat_reply("Telegram")) as server:
        queue.submit(store, "analyse.uncertainty", {"k": 2, "max_tokens": 8, "student": loopback(server.url)})
        run_worker(store)
    assert store.jobs.list_jobs()[0]["status"] == "done"
    assert [r["messages"][-1]["content"] for r in server.requests] == [f"{INSTRUCTION}\n\nInput:\n{INPUT}"] * 2


# ---------------------------------------------------------------- evolution


def mock(reply: str) -> Teacher:
    return Teacher(TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": reply}))


def test_evolution_prompts_show_the_parents_input(store: Store):
    operators = load_operators(store)
    chat = build_prompt(operators["add_constraints"], INSTRUCTION, completion=False, input_text=INPUT)
    assert f"#The Given Prompt#:\n{INSTRUCTION}\n\nInput:\n{INPUT}\n#Rewritten Prompt#:" in chat
    few_shot = build_prompt(operators["add_constraints"], INSTRUCTION, completion=True, input_text=INPUT)
    assert few_shot.endswith(f"Task: {INSTRUCTION}\n\nInput:\n{INPUT}\nAdded requirement:")
    assert build_answer_prompt(INSTRUCTION, INPUT).endswith(f"Question: {INSTRUCTION}\n\nInput:\n{INPUT}\nAnswer:")


@pytest.mark.parametrize(
    ("operator", "reply", "instruction", "new_input", "origin"),
    [
        ("deepen", "Identify the odd one out and explain in one sentence what the other two have in common.",
         "Identify the odd one out and explain in one sentence what the other two have in common.", INPUT, INPUT_KEPT),
        ("complicate_input", "Identify the odd one out and say why.\nInput: Twitter, Instagram, Telegram, Mastodon, Signal",
         "Identify the odd one out and say why.", "Twitter, Instagram, Telegram, Mastodon, Signal", INPUT_EVOLVED),
        ("deepen", "Among Twitter, Instagram, Telegram, which is the odd one out, and which feature decides it?",
         "Among Twitter, Instagram, Telegram, which is the odd one out, and which feature decides it?", None, INPUT_INLINED),
        ("breadth", "Name three social networks that shut down before 2015 and say what replaced each one.",
         "Name three social networks that shut down before 2015 and say what replaced each one.", None, INPUT_DROPPED),
    ],
)
def test_an_evolved_task_records_what_became_of_its_parents_input(store: Store, operator, reply, instruction,
                                                                   new_input, origin):
    operators = load_operators(store)
    op = operators.get(operator) or next(o for o in operators.values() if o.kind == operator)
    evolution = asyncio.run(evolve(mock(reply), op, INSTRUCTION, parent_input=INPUT))
    assert evolution.survived, evolution.elimination_reason
    assert (evolution.instruction, evolution.input, evolution.input_origin) == (instruction, new_input, origin)


def test_the_evolve_job_keeps_the_seeds_input_on_nodes_and_samples(store: Store):
    [seed_id] = store.seeds.insert_seeds([{"instruction": INSTRUCTION, "input": INPUT}])
    reply = "Identify the odd one out, and name the feature the other two share."
    teacher = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": reply}}
    job_id = submit_evolve(store, EvolveParams(seeds=[seed_id], operators=["deepen"], depth=2, max_tries=1,
                                               teacher=teacher))
    run_worker(store)
    nodes = store.evolve.evol_nodes(job_id)
    assert [(n["status"], n["input"], n["input_origin"]) for n in nodes] == [("survived", INPUT, INPUT_KEPT),
                                                                            ("eliminated", INPUT, INPUT_KEPT)]
    assert INPUT in json.loads(nodes[0]["prompt"])[0]["content"]
    [sample] = store.samples.list_samples(source="evol")
    assert sample["input"] == INPUT and sample["metadata"]["input_origin"] == INPUT_KEPT
