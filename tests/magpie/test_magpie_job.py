"""The magpie job against a loopback OpenAI-compatible /completions server, the chat-only refusal, the CLI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from tests.json_server import json_server
from workbench import cli
from workbench.core.jobs.runner import JobContext
from workbench.core.jobs.worker import run_worker
from workbench.core.teacher import TeacherConfig, TeacherError
from workbench.magpie.engine import get_template, reason_category, summarise_reasons
from workbench.magpie.job import KIND, MagpieHandler, build_params, submit_magpie
from workbench.store import Store

LLAMA3 = get_template("llama-3")


class CompletionServer:
    """Answers /v1/completions: a scripted user query for a pre-query prompt, an answer for an answer prompt."""

    def __init__(self, queries: list[str]) -> None:
        self.queries = list(queries)
        self.answers: list[tuple[str, str]] = []  # scripted (text, finish_reason) answers, used first
        self.prompts: list[str] = []
        self.url = ""

    def completion(self, body: dict) -> dict:
        text, finish_reason = self.reply(body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][0])
        tokens = re.findall(r"\S+\s*", text) or [""]
        return {
            "id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"],
            "choices": [{
                "text": text, "index": 0, "finish_reason": finish_reason,
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": [-0.5] * len(tokens),
                    "top_logprobs": [{"a": -0.5, "b": -1.5, "c": -2.5}] * len(tokens),
                    "text_offset": [0] * len(tokens),
                },
            }],
            "usage": {"prompt_tokens": 7, "completion_tokens": len(tokens), "total_tokens": 7 + len(tokens)},
        }

    def reply(self, prompt: str) -> tuple[str, str]:
        self.prompts.append(prompt)
        if prompt.endswith(LLAMA3.assistant_start):
            if self.answers:
                return self.answers.pop(0)
            return f"Here is answer number {len(self.prompts)}, with the reasoning spelled out step by step.", "stop"
        return (self.queries.pop(0) if self.queries else "What else would you like to know about rivers?"), "stop"


@pytest.fixture
def server() -> Iterator[CompletionServer]:
    queries = [
        "How do vaccines train the immune system?",
        "How do vaccines train the immune system?",  # exact duplicate of the first
        "How do vaccines train our immune systems?",  # near duplicate
        "Wie funktioniert ein Impfstoff im menschlichen Körper eigentlich genau?",  # German
        "What is a prime number?\nAssistant: a number with exactly two divisors.",  # template leakage
        "Hi?",  # too short
        "Explain how a rainbow forms after the rain.",
    ]
    scripted = CompletionServer(queries)
    with json_server(scripted.completion) as running:
        scripted.url = running.url
        yield scripted


def loopback_config(server: CompletionServer) -> TeacherConfig:
    return TeacherConfig(
        model="text-completion-openai/loopback", api_base=server.url, max_retries=0, extra={"api_key": "sk-loopback"}
    )


def test_job_writes_one_sample_per_index_with_filter_reasons_and_entropy(store: Store, db_path, server):
    job_id = submit_magpie(store, loopback_config(server), LLAMA3, {"n": 7, "concurrency": 1})
    assert run_worker(db_path, exit_when_idle=True, log=lambda m: None) == 0
    job = store.jobs.get_job(job_id)
    assert job["status"] == "done" and job["done_units"] == 7 and job["failed_units"] == 0
    samples = sorted(store.samples.job_samples(job_id), key=lambda s: s["unit_key"])
    assert [s["unit_key"] for s in samples] == [f"magpie:{job_id}:{i}" for i in range(7)]
    assert all(s["source"] == "magpie" for s in samples)
    reasons = [s["filter_reason"] for s in samples]
    first_id = samples[0]["id"]
    assert reasons[0] is None
    assert reasons[1] == f"duplicate of sample {first_id}"
    assert reasons[2].startswith(f"near duplicate of sample {first_id} (")
    assert reasons[3].startswith("non-target language (de")
    assert reasons[4].startswith("template leakage")
    assert reasons[5].startswith("too short")
    assert reasons[6] is None
    kept = samples[6]
    assert kept["instruction"] == "Explain how a rainbow forms after the rain."
    assert kept["output"].startswith("Here is answer number")
    assert kept["turns"] == [{"role": "user", "content": kept["instruction"]},
                             {"role": "assistant", "content": kept["output"]}]
    assert kept["params"]["template"] == "llama-3" and kept["params"]["query_temperature"] == 1.0
    assert kept["metadata"]["pre_query"] == LLAMA3.pre_query()
    # step 1 is the bare pre-query template; step 2 the query in the full template
    assert server.prompts[0] == LLAMA3.pre_query()
    assert server.prompts[1] == LLAMA3.answer_prompt("How do vaccines train the immune system?")
    metrics = store.metrics.get_metrics("sample", kept["id"])
    assert metrics["token_entropy_mean"] == pytest.approx(kept["token_entropy_mean"])
    assert 0 < metrics["token_entropy_mean"] < 2 and metrics["length_tokens"] == 9
    assert "top-3 logprobs approximation" in kept["entropy_source"]
    assert store.overview.counts()["samples"] == 2
    assert job["prompt_tokens"] > 0 and job["completion_tokens"] > 0


def test_junk_answers_are_dropped_and_each_reason_counted(store: Store, db_path, server):
    server.queries = ["Which part of a tomato is not sweet?", "What are the flowers called?",
                      "How do bees make honey from nectar?", "Why do leaves change colour in autumn?",
                      "Write a short poem about the"]
    server.answers = [("A.", "stop"), ('"', "stop"),
                      ("Bees swallow nectar, and enzymes in their stomachs start to break the", "length"),
                      ("Cooler days stop the making of chlorophyll, so the yellow pigments show.", "stop")]
    job_id = submit_magpie(store, loopback_config(server), LLAMA3, {"n": 5, "concurrency": 1})
    run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    samples = sorted(store.samples.job_samples(job_id), key=lambda s: s["unit_key"])
    reasons = [reason_category(s["filter_reason"]) if s["filter_reason"] else None for s in samples]
    assert reasons == ["near-empty answer", "near-empty answer", "answer hit the token limit", None, "unfinished query"]
    assert summarise_reasons(store.samples.job_filter_counts(job_id)) == {
        "near-empty answer": 2, "answer hit the token limit": 1, "unfinished query": 1}


def test_rerunning_a_finished_unit_neither_calls_the_model_nor_duplicates(store: Store, db_path, server):
    job_id = submit_magpie(store, loopback_config(server), LLAMA3, {"n": 2, "concurrency": 1})
    run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    calls = len(server.prompts)
    handler = MagpieHandler()
    ctx = JobContext(store, store.jobs.get_job(job_id))
    for unit in handler.units(ctx):  # what a worker killed after the writes but before recording would redo
        asyncio.run(handler.run_unit(ctx, unit))
    assert len(server.prompts) == calls
    assert len(store.samples.job_samples(job_id)) == 2


def test_multi_turn_with_a_system_prompt(store: Store, db_path, server):
    server.queries = ["How do tides work on Earth?", "And why are there two tides a day?"]
    job_id = submit_magpie(store, loopback_config(server), LLAMA3, {"n": 1, "turns": 2, "system": "Talk about the sea."})
    run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    [sample] = store.samples.job_samples(job_id)
    assert sample["filter_reason"] is None
    assert [m["role"] for m in sample["turns"]] == ["system", "user", "assistant", "user", "assistant"]
    assert sample["turns"][3]["content"] == "And why are there two tides a day?"
    first_answer = sample["turns"][2]["content"]
    # the second query is written after the first exchange, under the system turn
    assert server.prompts[2] == LLAMA3.pre_query("Talk about the sea.", [("How do tides work on Earth?", first_answer)])


def test_single_line_option_sends_a_newline_stop(store: Store):
    params = build_params(TeacherConfig(model="local/gemma-3-270m"), get_template("gemma"), {"n": 3})
    assert params["single_line"] and params["primer_examples"] == 3 and params["entropy_cut"] == 8.7  # bits
    assert params["concurrency"] == 1
    remote = build_params(TeacherConfig(model="hosted_vllm/Qwen2.5-7B"), get_template("qwen2.5"), {"n": 3})
    assert not remote["single_line"] and remote["primer_examples"] == 0 and remote["entropy_cut"] is None
    assert remote["query_temperature"] == 1.0 and remote["query_top_p"] == 1.0 and remote["answer_temperature"] < 0.5


def test_chat_only_teacher_is_refused_before_anything_is_queued(store: Store):
    with pytest.raises(TeacherError, match="chat-only API"):
        submit_magpie(store, TeacherConfig(model="openai/gpt-4o-mini"), LLAMA3, {"n": 2})
    assert store.jobs.list_jobs() == []


def test_a_queued_job_with_a_chat_only_teacher_fails_with_the_message(store: Store, db_path):
    params = build_params(TeacherConfig(model="anthropic/claude-3-5-haiku"), LLAMA3, {"n": 2})
    job_id = store.jobs.create_job(KIND, params)
    run_worker(db_path, exit_when_idle=True, log=lambda m: None)
    job = store.jobs.get_job(job_id)
    assert job["status"] == "failed" and "chat-only API" in job["error"]
    assert store.samples.job_samples(job_id) == []


def test_cli_chat_only_model_prints_the_message_and_queues_nothing(store: Store, db_path, capsys):
    code = cli.main(["--db", str(db_path), "magpie", "--n", "3", "--model", "openai/gpt-4o-mini"])
    assert code == 2
    assert "Magpie needs raw text completion" in capsys.readouterr().err
    assert store.jobs.list_jobs() == []


def test_cli_runs_the_job_and_reports_kept_and_filtered(store: Store, db_path, server, capsys):
    store.settings.set_setting("teacher", loopback_config(server).to_dict())
    code = cli.main(["--db", str(db_path), "magpie", "--n", "3", "--template", "llama-3.1", "--system", "Be brief."])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 kept, 2 filtered" in out and "duplicate" in out
    job = store.jobs.list_jobs(kind=KIND)[0]
    assert job["params"]["system"] == "Be brief." and job["params"]["template"]["name"] == "llama-3"
    assert server.prompts[0] == LLAMA3.pre_query("Be brief.")


def test_cli_unknown_template_and_listing(store: Store, db_path, capsys):
    assert cli.main(["--db", str(db_path), "magpie", "--template", "alpaca", "--model", "local/gemma-3-270m"]) == 2
    assert "unknown template" in capsys.readouterr().err
    assert cli.main(["--db", str(db_path), "magpie", "--list-templates"]) == 0
    listing = capsys.readouterr().out
    assert "qwen2.5" in listing and "<bos><start_of_turn>user\\n" in listing
