"""The demo project: every stage runs as a real job over a loopback OpenAI-compatible server, and the gate decides."""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

import pytest

from benchmarks.loopback_server import serve
from tests.json_server import json_server
from tests.views.test_pages_foundation import page
from workbench.cli import main
from workbench.core.jobs.worker import run_worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.factory.demo import DEMO_REVIEWER, RESULT_KEYS, STAGES, passes_summary, review_by_gate
from workbench.factory.job import submit_demo
from workbench.store import Store


def loopback_teacher(store: Store, url: str) -> None:
    """The teacher, and the student the demo probes, both on the loopback server."""
    save_teacher_config(store, TeacherConfig(model="hosted_vllm/loopback", api_base=url, max_retries=0,
                                             extra={"api_key": "x"}))
    store.settings.set_setting("student", {"model": "hosted_vllm/loopback", "api_base": url, "max_retries": 0,
                                  "extra": {"api_key": "x"}})


def test_demo_runs_every_stage_as_its_own_job(store: Store, db_path):
    with serve(latency_s=0.0, reply_words=40) as url:
        loopback_teacher(store, url)
        job_id = submit_demo(store)
        assert run_worker(db_path, exit_when_idle=True, log=lambda _: None) == 0
    demo = store.jobs.get_job(job_id)
    assert demo["status"] == "done", store.jobs.unit_errors(job_id)
    assert (demo["done_units"], demo["total_units"], demo["failed_units"]) == (len(STAGES), len(STAGES), 0), store.jobs.unit_errors(job_id)
    kinds = {job["kind"]: job for job in store.jobs.list_jobs(limit=20) if job["id"] != job_id}
    assert set(kinds) == {"probe", "evolve", "magpie", "verify", "analyse.embed", "analyse.project", "pii_scan"}
    assert all(job["status"] == "done" for job in kinds.values())
    assert kinds["verify"]["params"]["verifiers"] == ["arithmetic", "consistency", "rollout", "code"]
    assert store.overview.counts()["seeds"] >= 90  # the shipped seeds were loaded into the empty store
    assert store.overview.counts()["evol_nodes"] > 0 and store.overview.counts()["paths"] > 0
    assert {s["source"] for s in store.samples.list_samples(include_filtered=True)} >= {"evol", "magpie"}
    # random words state no answer and no calculation: nothing can be verified, so nothing passes, each says why
    result = demo["result"]
    assert set(RESULT_KEYS) <= set(result) and result["passed_gate"] == 0 and result["exported"] == 0
    assert result["tasks_verified"] == len(kinds["verify"]["params"]["tasks"])
    assert "nothing to export" in result["export_note"]
    # random words state no answer: the student fails every seed it was probed on, and nothing approved is left to probe
    assert result["student"] == "hosted_vllm/loopback" and result["known_failures"] == result["seeds_probed"] > 0
    assert result["headroom_note"] == "There is no approved task to probe. Approve samples first (Review page)."
    rejected = store.samples.list_samples(status="rejected")
    assert len(rejected) == result["rejected"] > 0
    # words state no final answer: each rejected sample fails as such
    assert all(store.review.sample_reviews(s["id"])[0]["note"].startswith("gate failed: best path") for s in rejected)
    assert all("states no final answer" in store.review.sample_reviews(s["id"])[0]["note"] for s in rejected
               if s["source"] != "seed")
    assert len([s for s in rejected if s["source"] == "seed"]) == 3  # the checkable seeds asked as samples failed too


def reasoning_reply(body: dict) -> dict:
    """A teacher whose reasoning is scripted per problem: a third of the problems (by hash) get a false first
    calculation on every path; the others get three paths answering 12 with true sums and one answering 5.
    Every other request (evolution, answers, Magpie) gets a sentence of words chosen by the request's hash."""
    messages = body.get("messages") or []
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    user = messages[-1]["content"] if messages else body.get("prompt", "")
    if isinstance(user, list):
        user = " ".join(part.get("text", "") for part in user)
    problem = user.split("\n\nHere is the beginning of a solution")[0]
    slips = zlib.crc32(problem.strip().encode()) % 3 == 0
    if "Continue this solution" in user:
        text = "Step 2: 4 * 3 = 13.\nAnswer: 13" if slips else "Step 2: 4 * 3 = 12.\nAnswer: 12"
    elif "step by step" in system:
        if slips:
            text = "Step 1: 2 + 2 = 5.\nStep 2: 5 * 3 = 15.\nAnswer: 15"
        elif int(body.get("seed") or 0) % 1009 == 3:
            text = "Step 1: 2 + 3 = 5.\nAnswer: 5"
        else:
            text = "Step 1: 2 + 2 = 4.\nStep 2: 4 * 3 = 12.\nAnswer: 12"
    else:
        rng = random.Random(zlib.crc32(json.dumps(body, sort_keys=True).encode()))
        text = "Consider the " + " ".join(rng.choice(WORDS) for _ in range(30)) + "."
    usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    if "prompt" in body:
        return {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "usage": usage,
                "choices": [{"text": text, "index": 0, "finish_reason": "stop", "logprobs": None}]}
    return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "usage": usage,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}


WORDS = ("river orbit lantern copper meadow quartz violin harbor cactus glacier falcon saffron prism tunnel marble "
         "compass thunder velvet anchor ember willow canyon beacon walnut cobalt pebble summit ferry jasmine").split()


def test_demo_json_reports_what_the_gate_decided_and_exports_the_approved(store: Store, db_path, capsys):
    with json_server(reasoning_reply) as server:
        loopback_teacher(store, server.url)
        assert main(["--db", str(db_path), "demo", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["status"] == "done" and set(RESULT_KEYS) <= set(printed)
    reason_job = next(j for j in store.jobs.list_jobs(limit=20) if j["kind"] == "verify")
    tasks = reason_job["params"]["tasks"]
    assert printed["tasks_verified"] == len(tasks)
    assert 0 < printed["passed_gate"] < printed["tasks_verified"]  # the math seeds' reference answers are not 12
    assert printed["approved"] > 0 and printed["rejected"] > 0
    assert printed["approved"] == len(store.samples.list_samples(status="approved"))
    exported = Path(printed["export_path"]).read_text().splitlines()
    assert printed["exported"] == len(exported) == printed["approved"] - printed["blocked_for_pii"]
    for sample in store.samples.list_samples(status="rejected", source="evol"):
        note = store.review.sample_reviews(sample["id"])[0]["note"]
        assert re.match(r"gate failed: best path \(path 1 · job \d+, score 0\.00: min over steps\)", note), note
        assert "decided by arithmetic" in note
        assert "false: `2 + 2 = 5`" in note
    for sample in store.samples.list_samples(status="approved"):
        review = store.review.sample_reviews(sample["id"])[0]
        assert review["reviewer"] == DEMO_REVIEWER and review["note"].startswith("passed the gate: best path")
        # three of four paths answer 12: a lead of half the paths, at the default margin
        assert "its outcome is verified by consistency" in review["note"]
        assert store.verify.pseudo_references("sample", sample["id"])[0]["answer"] == "12"
    pairs = Path(printed["preference_path"]).read_text().splitlines() if printed["preference_pairs"] else []
    assert printed["preference_pairs"] == len(pairs) and (pairs or "no preference pair" in printed["preference_note"])
    assert all(json.loads(row)["lineage"]["pair"]["kind"] in ("response", "step") for row in pairs)
    funnel = store.overview.funnel_counts()  # the Overview's funnel: every approved sample passed the gate
    assert funnel["approved"] == printed["approved"] and funnel["exported"] == printed["exported"]
    # the student (this scripted model) answers 12, 15 or 5: wrong on the probed seeds, right on what was approved
    probe = next(j for j in store.jobs.list_jobs(limit=20) if j["kind"] == "probe" and j["params"]["on"] == "seeds")
    assert printed["seeds_probed"] == len(probe["params"]["tasks"]) and printed["known_failures"] > 0
    assert printed["approved_probed"] > 0 and 0 <= printed["headroom"] < 1


def _path_with(store: Store, sample_id: int, verdicts: list[tuple[float, str, str]], checks: str = "evidence") -> None:
    """A path ending in 'Answer: 12' whose steps carry these arithmetic verdicts; the last one checks `checks`."""
    texts = [f"step {i}" for i in range(len(verdicts) - 1)] + ["Answer: 12"]
    path_id = store.verify.add_reasoning_path({"task_type": "sample", "task_id": sample_id, "path_index": 0,
                                        "text": "...", "job_id": None}, texts)
    steps = store.verify.path_steps(path_id)
    store.verify.set_step_scores([
        {"step_id": step["id"], "verifier": "arithmetic", "score": score, "label": label, "rationale": rationale,
         "checks": checks if step is steps[-1] else "evidence"}
        for step, (score, label, rationale) in zip(steps, verdicts, strict=True)
    ])


def test_review_by_gate_approves_passes_rejects_the_rest_with_the_reason_and_signs(store: Store):
    passes = store.samples.insert_sample({"source": "evol", "instruction": "passes", "unit_key": "p"})
    wrong = store.samples.insert_sample({"source": "evol", "instruction": "has a false step", "unit_key": "w"})
    unsure = store.samples.insert_sample({"source": "evol", "instruction": "unverifiable", "unit_key": "u"})
    human = store.samples.insert_sample({"source": "evol", "instruction": "a person decided", "unit_key": "h"})
    no_paths = store.samples.insert_sample({"source": "evol", "instruction": "no paths", "unit_key": "n"})
    filtered = store.samples.insert_sample({"source": "evol", "instruction": "a near-duplicate", "unit_key": "f",
                                    "filter_reason": "similar to seed 1 (cosine 0.97 > 0.90)"})
    _path_with(store, passes, [(1.0, "correct", "final answer '12' matches the reference '12'")], checks="outcome")
    _path_with(store, wrong, [(1.0, "correct", "ok"), (0.0, "incorrect", "false: `4 * 3 = 13` (4 * 3 is 12)")])
    _path_with(store, unsure, [(0.5, "unverifiable", "no calculation to check")])
    _path_with(store, human, [(0.0, "incorrect", "false")])
    _path_with(store, filtered, [(1.0, "correct", "final answer '12' matches the reference '12'")], checks="outcome")
    store.review.set_sample_status([human], "approved", "ada")
    tasks = [{"type": "sample", "id": i} for i in (passes, wrong, unsure, human, no_paths, filtered)]
    result = review_by_gate(store, tasks)
    assert {key: result[key] for key in ("tasks_verified", "passed_gate", "approved", "rejected")} == {
        "tasks_verified": 5, "passed_gate": 2, "approved": 1, "rejected": 2}
    # both passes were checked against a reference answer (the arithmetic verifier's outcome check), and say so
    assert result["passed_by"] == {"reference_answer": 2, "tests": 0, "majority": 0}
    assert [p["task"] for p in result["passes"]] == [f"sample {passes}", f"sample {filtered}"]
    assert [(r["sample"], r["status"]) for r in result["rejections"]] == [(wrong, "failed"), (unsure, "unverified")]
    assert passes_summary(result) == "2 tasks of 5 verified passed the gate, checked against: reference answer 2."
    statuses = [store.samples.get_sample(i)["status"] for i in (passes, wrong, unsure, human, no_paths, filtered)]
    assert statuses == ["approved", "rejected", "rejected", "approved", "pending", "pending"]
    assert store.review.sample_reviews(wrong)[0]["reviewer"] == DEMO_REVIEWER
    assert store.review.sample_reviews(wrong)[0]["note"].endswith(
        "step 2 scores 0.00, decided by arithmetic: false: `4 * 3 = 13` (4 * 3 is 12)")
    unsure_note = store.review.sample_reviews(unsure)[0]["note"]
    assert unsure_note.startswith("gate unverified: ") and "nothing checked the final answer" in unsure_note
    assert [r["reviewer"] for r in store.review.sample_reviews(human)] == ["ada"]  # a person's decision stands


def test_home_offers_the_demo_on_an_empty_store(store: Store):
    at = page("home").run()
    button = next(b for b in at.button if b.label == "Build the demo project")
    at = button.click().run()
    assert not at.exception
    assert store.jobs.list_jobs()[0]["kind"] == "demo"


@pytest.mark.slow
def test_cli_demo_on_the_bundled_model(bundled_demo):
    """The whole demo on the bundled 270M model (built once per session, `bundled_demo`): the gate decides every task
    it reasons about, at least one task (a checkable seed the model can solve) passes against a real reference answer
    or real tests, each rejected sample carries the gate's reason, and what was approved (and not held back for PII)
    is exported."""
    printed = bundled_demo.printed
    assert printed["status"] == "done" and printed["tasks_verified"] > 0
    assert printed["rejected"] > 0 and printed["passed_gate"] <= printed["tasks_verified"]
    assert printed["passed_by"]["reference_answer"] + printed["passed_by"]["tests"] >= 1, printed
    assert sum(printed["passed_by"].values()) == printed["passed_gate"]
    assert printed["passes"] and all(p["checked_against"] in printed["passed_by"] for p in printed["passes"])
    assert printed["rejections"] and all(r["reason"] for r in printed["rejections"])
    store = Store(bundled_demo.db)
    try:
        rejected = store.samples.list_samples(status="rejected")
        assert len(rejected) == printed["rejected"]
        assert all(store.review.sample_reviews(s["id"])[0]["note"].startswith(("gate failed: best path",
                                                                         "gate unverified: best path"))
                   for s in rejected)
        assert printed["approved"] == len(store.samples.list_samples(status="approved"))
        assert printed["exported"] == printed["approved"] - printed.get("blocked_for_pii", 0)
    finally:
        store.close()


def test_home_shows_what_the_demo_passed_and_what_checked_it_beside_its_rejections(store: Store):
    job = store.jobs.create_job("demo", {})
    store.jobs.set_job_result(job, {
        "tasks_verified": 3, "passed_gate": 1, "rejected": 2,
        "passed_by": {"reference_answer": 0, "tests": 1, "majority": 0},
        "passes": [{"task": "sample 3", "instruction": "Write `add(a, b)`.", "checked_against": "tests"}],
        "rejections": [{"sample": 1, "instruction": "A jacket costs $80 and $20 off", "status": "failed",
                        "reason": "step 1 scores 0.00, decided by arithmetic: false: `2 * 3 = 11`"}]})
    store.jobs.set_job_status(job, "done")
    at = page("home").run()
    assert not at.exception
    assert "**Demo outcome:** 1 task of 3 verified passed the gate, checked against: tests 1." in [m.value for m in at.markdown]
    [passes] = [d.value for d in at.dataframe if "checked against" in d.value.columns]
    assert passes["checked against"].tolist() == ["tests"]
    # the rejection's text is shown as written: no dollar sign read as LaTeX, no backtick as code
    assert any(m.value.startswith("- **Sample 1** (failed), “A jacket costs \\$80 and \\$20 off”: step 1 scores 0\\.00")
               for m in at.markdown)
