"""The `reason` job and the `workbench reason` command, with a mocked teacher (the point is the plumbing)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.json_server import json_server
from workbench.cli import main
from workbench.core.jobs import queue, runner
from workbench.core.jobs import worker as jobs_worker
from workbench.core.jobs.runner import JobContext
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store
from workbench.verify.job import ReasonHandler

RIGHT = "Step 1: 25% of $80 = $20.\nStep 2: $80 - $20 = $60.\nStep 3: 10% of $60 = $6.\nStep 4: $60 - $6 = $54.\nAnswer: 54"
SLIP = "Step 1: 25% of $80 = $20.\nStep 2: $80 - $20 = $50.\nAnswer: 50"


def mocked_teacher(store: Store, text: str) -> None:
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": text}))


def seeds(store: Store) -> list[int]:
    return store.seeds.insert_seeds([
        {"instruction": "A jacket costs $80, 25% off, then 10% off. Final price?", "reference_answer": "54",
         "domain": "math"},
        {"instruction": "Write an essay.", "domain": "writing"},
    ])


def run(store: Store, params: dict) -> dict:
    job_id = queue.submit(store, "verify", params)
    runner.run_job(store, store.jobs.claim_job(job_id, 1))
    return store.jobs.get_job(job_id)


def test_paths_steps_scores_and_metric_are_stored(store: Store):
    mocked_teacher(store, RIGHT)
    first, second = seeds(store)
    job = run(store, {"tasks": [{"type": "seed", "id": first}, {"type": "seed", "id": second}], "n": 3,
                      "verifiers": ["arithmetic"]})
    assert job["status"] == "done" and (job["done_units"], job["failed_units"]) == (2, 0)
    assert job["completion_tokens"] > 0
    nested = store.verify.reasoning_paths_nested()
    assert sorted(nested) == [("seed", first), ("seed", second)]
    paths = nested[("seed", first)]
    assert [p["path_index"] for p in paths] == [0, 1, 2]
    assert paths[0]["final_answer"] == "54" and paths[0]["model"].endswith("gpt-4o-mini")
    steps = paths[0]["steps"]
    assert [s["text"] for s in steps][:2] == ["25% of $80 = $20.", "$80 - $20 = $60."]
    assert all(s["scores"]["arithmetic"]["label"] == "correct" for s in steps)
    assert store.metrics.get_metrics("seed", first)["best_path_score"] == 1.0
    # the essay task has no reference answer: its 'Answer: 54' step is checked only as a restatement of the result
    # the step before computed (workbench.verify.restated_answer), never against a reference
    answer_step = store.verify.reasoning_paths_nested()[("seed", second)][0]["steps"][-1]["scores"]["arithmetic"]
    assert answer_step["label"] == "correct" and "restates" in answer_step["rationale"]
    assert "reference" not in answer_step["rationale"]


def test_a_slip_is_gated_out(store: Store):
    mocked_teacher(store, SLIP)
    first, _ = seeds(store)
    run(store, {"tasks": [{"type": "seed", "id": first}], "n": 2, "verifiers": ["arithmetic"]})
    steps = store.verify.reasoning_paths_nested("seed", first)[("seed", first)][0]["steps"]
    assert [s["scores"]["arithmetic"]["label"] for s in steps] == ["correct", "incorrect", "incorrect"]
    assert "80 - 20 is 60" in steps[1]["scores"]["arithmetic"]["rationale"]
    assert store.metrics.get_metrics("seed", first)["best_path_score"] == 0.0


def test_samples_are_tasks_too_with_their_own_metric_type(store: Store):
    mocked_teacher(store, RIGHT)
    sample = store.samples.insert_sample({"source": "import", "instruction": "Jacket: $80, 25% then 10% off?"})
    run(store, {"tasks": [{"type": "sample", "id": sample}], "n": 1})
    # no reference: the answer is checked only as a restatement of the result before it (evidence)
    assert store.metrics.get_metrics("sample", sample)["best_path_score"] == 1.0
    assert store.metrics.get_metrics("seed", sample) == {}


def test_a_rerun_unit_neither_duplicates_nor_calls_the_model_again(store: Store):
    mocked_teacher(store, RIGHT)
    first, _ = seeds(store)
    job = run(store, {"tasks": [{"type": "seed", "id": first}], "n": 2, "verifiers": ["arithmetic", "judge"]})
    tokens = job["completion_tokens"]
    ctx = JobContext(store, store.jobs.get_job(job["id"]))
    asyncio.run(ReasonHandler().run_unit(ctx, f"seed:{first}"))  # as after a kill -9 mid-unit
    again = store.jobs.get_job(job["id"])
    assert again["completion_tokens"] == tokens
    paths = store.verify.reasoning_paths_nested("seed", first)[("seed", first)]
    assert len(paths) == 2
    assert store.conn.execute("SELECT count(*) FROM step_scores").fetchone()[0] == 2 * 5 * 2


def test_a_missing_task_fails_its_unit_and_the_job_goes_on(store: Store):
    mocked_teacher(store, RIGHT)
    first, _ = seeds(store)
    job = run(store, {"tasks": [{"type": "seed", "id": 999}, {"type": "seed", "id": first}], "n": 1})
    assert (job["done_units"], job["failed_units"]) == (1, 1)
    assert "seed 999 does not exist" in store.jobs.unit_errors(job["id"])[0]["error"]


def test_cli_reason_runs_the_job_and_prints_the_gate(store: Store, db_path, capsys):
    mocked_teacher(store, SLIP)
    first, second = seeds(store)
    code = main(["--db", str(db_path), "verify", "run", "--tasks", f"seed:{first}", "--n", "2",
                 "--verifier", "arithmetic", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "done" and summary["threshold"] == 1.0 and summary["aggregation"] == "min"
    assert summary["tasks"] == [{"task": f"seed:{first}", "paths": 2, "best_path_id": 1, "best_path_score": 0.0,
                                 "gate": "failed", "passed_gate": False,
                                 "reason": "best path (path 1 · job 1, score 0.00: min over steps) fails at the threshold 1: "
                                           "step 2 scores 0.00, decided by arithmetic: false: "
                                           "`80 - 20 = 50` (80 - 20 is 60)"}]
    assert (summary["margin"], summary["step_rule"]) == (0.5, "strictest")
    # at threshold 0 no verdict finds a step wrong, and the final answer 50 still misses the reference 60: the
    # answer check is a verdict too, so nothing passes a path whose outcome is wrong
    assert main(["--db", str(db_path), "verify", "run", "--tasks", "domain:math", "--n", "1", "--threshold", "0"]) == 0
    assert "unverified:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--tasks", "seed:999"], "no seed with id 999"), (["--tasks", "bogus"], "bad task spec"),
     (["--tasks", "seed:all", "--verifier", "oracle"], "unknown verifier oracle"),
     (["--tasks", "seed:all", "--threshold", "2"], "threshold"), (["--tasks", "sample:all"], "no tasks"),
     (["--tasks", "seed:all", "--verifier", "rollout", "--rollout-k", "0"], "rollouts need K >= 1")],
)
def test_cli_reason_refuses_bad_input_without_queueing(store: Store, db_path, capsys, args, message):
    seeds(store)
    assert main(["--db", str(db_path), "verify", "run", *args]) == 2
    assert message in capsys.readouterr().err
    assert store.jobs.list_jobs() == []


@pytest.mark.slow
def test_real_model_reasons_about_one_seed(store: Store):
    """The bundled Gemma (a base model, few-shot prompt) writes two short paths; every step gets a verdict."""
    seed_id = store.seeds.insert_seeds([{"instruction": "Tom has 3 boxes of 12 pencils and gives away 5 pencils. How many "
                                                  "pencils does he have left?", "reference_answer": "31"}])[0]
    job = run(store, {"tasks": [{"type": "seed", "id": seed_id}], "n": 2, "max_tokens": 48, "concurrency": 1})
    assert job["status"] == "done" and job["failed_units"] == 0, store.jobs.unit_errors(job["id"])
    assert job["model"] is None or job["model"] == "local/gemma-3-270m"
    paths = store.verify.reasoning_paths_nested("seed", seed_id)[("seed", seed_id)]
    assert len(paths) == 2
    for path in paths:
        assert path["model"] == "local/gemma-3-270m" and path["text"].startswith("Step 1:")
        assert path["params"]["seed"] != paths[0]["params"]["seed"] or path is paths[0]
        assert path["steps"], path["text"]
        for step in path["steps"]:
            verdict = step["scores"]["arithmetic"]
            assert 0.0 <= verdict["score"] <= 1.0 and verdict["label"] in ("correct", "incorrect", "unverifiable")
            assert verdict["rationale"]
        entropy = store.metrics.get_metrics("path", path["id"])
        assert entropy["token_entropy_mean"] is not None and entropy["token_entropy_mean"] >= 0
    assert "best_path_score" in store.metrics.get_metrics("seed", seed_id)


# ---------------------------------------------------------------- self-consistency and rollouts in the job

PENCIL = "Tom has 3 boxes of 12 pencils and gives away 5 pencils. How many pencils does he have left?"


class PencilServer:
    """A base model behind /completions: paths 0 and 1 answer 31, path 2 answers 30 (the path index is
    read from the request's seed); every rollout continues to 'Answer: 31'. Optionally slow."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s

    def __call__(self, body: dict) -> dict:
        time.sleep(self.latency_s)
        prompt = body["prompt"]
        if prompt.endswith("Solution:\nStep 1:"):
            answer = 30 if body["seed"] % 1009 == 2 else 31
            text = f" 3 boxes hold 3 * 12 = 36 pencils.\nStep 2: He has 36 - 5 = {answer} pencils left.\nAnswer: {answer}"
        else:
            text = " So he has 31 pencils.\nAnswer: 31"
        usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
        return {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "usage": usage,
                "choices": [{"text": text, "index": 0, "finish_reason": "stop", "logprobs": None}]}


def settled(server, quiet_s: float = 1.0) -> None:
    """Wait until the server has received no request for quiet_s."""
    seen = -1
    while seen != len(server.requests):
        seen = len(server.requests)
        time.sleep(quiet_s)


def pencil_teacher(store: Store, url: str) -> None:
    save_teacher_config(store, TeacherConfig(model="hosted_vllm/base", api_base=url, base_model=True, max_retries=0,
                                             extra={"api_key": "x"}))


# two of three paths agree: a majority whose lead is a third of the paths, counted at the margin 0.3
LABEL_FREE = {"n": 3, "verifiers": ["arithmetic", "consistency", "rollout"], "consistency_mode": "share",
              "rollout_k": 4, "margin": 0.3, "concurrency": 1}


def test_label_free_gate_records_the_pseudo_reference_and_every_rollout(store: Store):
    with json_server(PencilServer()) as server:
        pencil_teacher(store, server.url)
        task = store.samples.insert_sample({"source": "import", "instruction": PENCIL})
        job = run(store, {"tasks": [{"type": "sample", "id": task}], **LABEL_FREE})
        calls = len(server.requests)
    assert job["status"] == "done" and job["failed_units"] == 0, store.jobs.unit_errors(job["id"])
    assert calls == 3 + 3 * 2 * 4  # three paths, then K=4 rollouts from each of their two steps before the answer
    assert store.verify.pseudo_references("sample", task)[0] | {"created_at": 0} == {
        "task_type": "sample", "task_id": task, "job_id": job["id"], "answer": "31", "votes": 2, "voters": 3,
        "created_at": 0}
    paths = store.verify.reasoning_paths_nested("sample", task)[("sample", task)]
    first = paths[0]["steps"]
    assert [len(store.verify.stored_rollouts(s["id"])) for s in first] == [4, 4, 0]
    assert first[0]["scores"]["rollout"]["score"] == 1.0
    assert "4 of 4 rollouts from this step reach the pseudo-reference '31'" in first[0]["scores"]["rollout"]["rationale"]
    assert first[2]["scores"]["consistency"]["score"] == pytest.approx(2 / 3)
    wrong = paths[2]["steps"]
    assert wrong[2]["scores"]["consistency"]["score"] == pytest.approx(1 / 3)
    assert wrong[2]["scores"]["rollout"]["label"] == "incorrect"
    assert store.metrics.get_metrics("sample", task)["best_path_score"] == pytest.approx(2 / 3)
    assert store.metrics.get_metrics("path", paths[2]["id"])["path_score"] == 0.0
    # every call's tokens are counted once: 27 calls of 100 + 10 tokens
    assert (job["prompt_tokens"], job["completion_tokens"]) == (2700, 270)


def test_rollouts_resume_after_kill_9_without_duplicates_or_extra_calls(store: Store, db_path):
    with json_server(PencilServer(latency_s=0.15)) as server:
        pencil_teacher(store, server.url)
        task = store.samples.insert_sample({"source": "import", "instruction": PENCIL})
        job_id = queue.submit(store, "verify", {"tasks": [{"type": "sample", "id": task}], **LABEL_FREE})
        worker = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while store.conn.execute("SELECT count(*) FROM rollouts").fetchone()[0] < 6 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        settled(server)  # calls in flight at the kill reach the server and are counted, answered to nobody
        paths_kept = store.conn.execute("SELECT count(*) FROM reasoning_paths").fetchone()[0]
        rollouts_kept = store.conn.execute("SELECT count(*) FROM rollouts").fetchone()[0]
        assert 6 <= rollouts_kept < 24 and store.jobs.get_job(job_id)["status"] == "running"
        calls_before = len(server.requests)
        assert jobs_worker.run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
        calls_after = len(server.requests)
    assert store.jobs.get_job(job_id)["status"] == "done"
    assert calls_after - calls_before == (3 - paths_kept) + (24 - rollouts_kept)  # only what was missing
    assert store.conn.execute("SELECT count(*), count(DISTINCT step_id || ':' || k) FROM rollouts").fetchone() == (24, 24)
    assert store.conn.execute("SELECT count(*) FROM reasoning_paths").fetchone()[0] == 3
    assert store.metrics.get_metrics("sample", task)["best_path_score"] == pytest.approx(2 / 3)


def test_cli_reason_with_the_label_free_verifiers(store: Store, db_path, capsys):
    with json_server(PencilServer()) as server:
        pencil_teacher(store, server.url)
        task = store.samples.insert_sample({"source": "import", "instruction": PENCIL})
        code = main(["--db", str(db_path), "verify", "run", "--tasks", f"sample:{task}", "--n", "3", "--verifier",
                     "consistency,rollout", "--consistency-mode", "majority", "--rollout-k", "2",
                     "--rollout-label", "any", "--rollout-max-steps", "1", "--json"])
        calls = len(server.requests)
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    params = store.jobs.list_jobs()[0]["params"]
    assert (params["rollout_k"], params["rollout_label"], params["rollout_max_steps"]) == (2, "any", 1)
    assert params["consistency_mode"] == "majority"
    assert calls == 3 + 3 * 1 * 2  # one step rolled out per path (budget), K = 2
    row = summary["tasks"][0]
    # two of three paths agree on 31: a lead of a third of the paths, under the default margin 0.5, so neither the
    # vote nor the rollouts towards it verify anything; the first step is beyond the rollout budget: neutral
    assert row["best_path_score"] == 0.5 and row["gate"] == "unverified" and not row["passed_gate"]
    assert "is unverified: not counted: the paths' majority leads by 0.33 of the paths, under the margin 0.50" in (
        row["reason"])
