"""The probe job against a scripted student on the loopback server: exact pass@k, known failures by probe beside the
hand-ticked ones, every attempt stored once with its verdict, reruns from the response cache, a kill -9 resumed with
nothing lost or repeated, the headroom on approved tasks, and bad input refused before any unit runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from benchmarks.loopback_server import configure, serve, stats
from tests.conftest import ROOT
from workbench.cli import main
from workbench.core.jobs import queue
from workbench.core.jobs import worker as jobs_worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.store import Store
from workbench.student.job import submit_probe

SEEDS = [  # Problem n: its reference; the scripted student's replies, taken in turn
    ("Problem 1: What is 2 + 3?", "5", ["Step 1: 2 + 3 = 5.\nAnswer: 5"]),
    ("Problem 2: What is 4 + 4?", "8", ["Answer: 8", "Answer: 9", "Answer: 8", "Answer: 7"]),
    ("Problem 3: What is 10 - 3?", "7", ["Step 1: 10 - 3 = 6.\nAnswer: 6"]),
]


def add_seeds(store: Store) -> list[int]:
    ids = store.seeds.insert_seeds([{"instruction": text, "reference_answer": ref, "domain": "math"} for text, ref, _ in SEEDS])
    ids += store.seeds.insert_seeds([{"instruction": "Write a haiku about snow.", "domain": "writing"}])
    return ids


def script(url: str) -> None:
    configure(url, script=[{"contains": text.split(":")[0] + ":", "replies": replies} for text, _, replies in SEEDS])


def student(url: str) -> dict:
    return {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x"}, "max_retries": 0}


def run(db_path) -> None:
    assert jobs_worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None) == 0


def test_a_scripted_student_gets_exact_pass_at_k_and_known_failures(store: Store, db_path):
    ids = add_seeds(store)
    store.seeds.update_seed(ids[0], {"known_failure": True})  # ticked by hand, though the student solves it
    with serve(latency_s=0.0) as url:
        script(url)
        job_id = submit_probe(store, "seeds", student={**student(url), "k": 4})
        run(db_path)
        served = stats(url)["requests"]
        rerun = queue.rerun(store, job_id)
        run(db_path)
        served_again = stats(url)["requests"] - served
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["done_units"], job["failed_units"], job["student"]) == ("done", 12, 0, "openai/loopback")
    assert served == 1 + 12  # the reachability check, then one call per attempt
    report = job["result"]
    assert report["pass_at_1"] == 0.5 and report["pass_at_k"] == 2 / 3 and report["known_failures"] == [ids[2]]
    assert report["seeds"] == [
        {"id": ids[0], "attempts": 4, "correct": 4, "pass_at_1": 1.0, "pass_at_k": 1.0, "known_failure": False},
        {"id": ids[1], "attempts": 4, "correct": 2, "pass_at_1": 0.5, "pass_at_k": 1.0, "known_failure": False},
        {"id": ids[2], "attempts": 4, "correct": 0, "pass_at_1": 0.0, "pass_at_k": 0.0, "known_failure": True},
    ]
    assert report["not_probed"] == [{"id": ids[3], "reason": "no reference answer and no tests"}]
    flags = {s["id"]: (s["known_failure"], s["known_failure_source"]) for s in store.seeds.list_seeds()}
    assert flags == {ids[0]: (True, "manual"), ids[1]: (False, None), ids[2]: (True, "probe"), ids[3]: (False, None)}
    attempts = store.student.job_attempts(job_id)
    assert len(attempts) == 12 and {a["model"] for a in attempts} == {"openai/loopback"}
    wrong = [a for a in attempts if a["task_id"] == ids[2]]
    assert {a["verdict"] for a in wrong} == {"states '6'; the reference answer is '7'"}
    # the student's uncertainty from the same attempts, in bits: seed 2 splits 8/9/7 as 2/1/1
    metrics = store.metrics.get_metrics("seed", ids[1])
    assert metrics["student_semantic_disagreement"] == pytest.approx(1.5)
    assert metrics["student_token_entropy"] > 0 and metrics["student_uncertainty"] > 0
    # a rerun asks the same named samples: every attempt from the cache, only the reachability check is sent
    again = store.jobs.get_job(rerun)
    assert (again["model_calls"], again["cache_hits"], served_again) == (0, 12, 1)
    assert again["result"]["seeds"] == report["seeds"]


def test_the_cli_prints_the_report_as_json_and_seeds_list_shows_the_source(store: Store, db_path, capsys):
    ids = add_seeds(store)
    with serve(latency_s=0.0) as url:
        script(url)
        store.settings.set_setting("student", {"extra": {"api_key": "x"}, "max_retries": 0})
        code = main(["--db", str(db_path), "probe", "--student", "openai/loopback", "--student-api-base", url,
                     "--k", "4", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    report = json.loads(out.out)
    assert set(report) >= {"student", "k", "probed", "not_probed", "pass_at_1", "pass_at_k", "known_failures", "seeds"}
    assert (report["student"], report["k"], report["probed"], report["known_failures"]) == (
        "openai/loopback", 4, 3, [ids[2]])
    assert "Student `openai/loopback`, teacher `local/gemma-3-270m`." in out.err
    assert main(["--db", str(db_path), "seeds", "list", "--json"]) == 0
    listed = {s["id"]: (s["known_failure"], s["known_failure_source"]) for s in json.loads(capsys.readouterr().out)}
    assert listed[ids[2]] == (True, "probe") and listed[ids[0]] == (False, None)


def test_a_probe_killed_mid_job_resumes_with_nothing_lost_or_repeated(store: Store, db_path):
    add_seeds(store)
    with serve(latency_s=0.3) as url:
        script(url)
        job_id = submit_probe(store, "seeds", student={**student(url), "k": 4, "concurrency": 2})
        worker = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while len(store.student.job_attempts(job_id)) < 3 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            worker.kill()
            worker.wait()
        while stats(url)["in_flight"]:  # calls in flight at the kill reach the server, answered to nobody
            time.sleep(0.05)
        kept = len(store.student.job_attempts(job_id))
        assert 3 <= kept < 12 and store.jobs.job_status(job_id) == "running"
        before = stats(url)["requests"]
        run(db_path)
        sent = stats(url)["requests"] - before
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["done_units"], job["failed_units"]) == ("done", 12, 0)
    assert sent == 1 + (12 - kept)  # the reachability check, then only the attempts that were missing
    rows = store.conn.execute("SELECT count(*), count(DISTINCT task_id || ':' || attempt) FROM student_attempts").fetchone()
    assert rows == (12, 12)
    assert job["result"]["pass_at_1"] == 0.5 and job["result"]["pass_at_k"] == 2 / 3


def test_the_headroom_is_the_share_of_verified_approved_tasks_the_student_fails(store: Store, db_path):
    ids = add_seeds(store)
    seed_copy, evolved, open_ended = store.samples.insert_samples([
        {"source": "seed", "seed_id": ids[2], "instruction": SEEDS[2][0], "status": "approved"},
        {"source": "evol", "seed_id": ids[0], "instruction": "Problem 4: What is 2 + 3 + 1?", "status": "approved"},
        {"source": "evol", "seed_id": ids[0], "instruction": "Write a haiku about rain.", "status": "approved"},
    ])
    with serve(latency_s=0.0) as url:
        configure(url, script=[{"contains": "Problem 3:", "replies": ["Answer: 6"]},
                               {"contains": "Problem 4:", "replies": ["Answer: 6"]}])
        # the teacher's three paths agree on 6: a majority answer that passes the gate (self-consistency)
        queue.submit(store, "verify", {"tasks": [{"type": "sample", "id": evolved}], "n": 3, "verifiers": ["consistency"],
                                      "teacher": student(url)})
        run(db_path)
        job_id = submit_probe(store, "approved", student={**student(url), "k": 2})
        run(db_path)
    report = store.jobs.get_job(job_id)["result"]
    assert report["failed"] == [seed_copy] and report["headroom"] == 0.5 and report["probed"] == 2
    assert report["not_probed"] == [{"id": open_ended, "reason": "no reference answer, no tests and no verified "
                                                                  "majority answer"}]
    checked = {a["task_id"]: a["checked_against"] for a in store.student.job_attempts(job_id)}
    assert checked == {seed_copy: "reference", evolved: "majority"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("model", "api_base", "says"), [
    ("openai/loopback", f"http://127.0.0.1:{closed_port()}/v1", "Cannot reach http://127.0.0.1:"),
    ("no-such-provider/model", None, "Unknown model: litellm knows no provider"),
])
def test_an_unusable_student_fails_the_job_before_any_unit_with_its_name(store, db_path, capsys, model, api_base, says):
    add_seeds(store)
    store.settings.set_setting("student", {"extra": {"api_key": "x"}, "max_retries": 0})
    code = main(["--db", str(db_path), "probe", "--student", model, *(["--student-api-base", api_base] if api_base else [])])
    err = capsys.readouterr().err
    assert code == 2 and f"The student `{model}` cannot be probed. {says}" in err
    job = store.jobs.list_jobs()[0]
    assert (job["status"], job["total_units"], job["done_units"]) == ("failed", 0, 0)
    assert store.conn.execute("SELECT count(*) FROM student_attempts").fetchone()[0] == 0


def test_bad_k_threshold_and_nothing_to_probe_are_refused(store, db_path, capsys):
    cli = ["--db", str(db_path), "probe"]
    assert main([*cli, "--k", "0"]) == 2 and "k (attempts per task) must be" in capsys.readouterr().err
    assert main([*cli, "--threshold", "1.5"]) == 2 and "threshold is a pass rate in [0, 1]" in capsys.readouterr().err
    store.seeds.insert_seeds([{"instruction": "Write a haiku."}, {"instruction": "Write a limerick."}])
    assert main(cli) == 2
    assert "None of the 2 seeds can be probed: 2 with no reference answer and no tests." in capsys.readouterr().err
    assert main([*cli, "--on", "approved"]) == 2
    assert "There is no approved task to probe." in capsys.readouterr().err
    assert store.jobs.list_jobs() == []


def test_a_student_identical_to_the_teacher_is_allowed_and_said(store, db_path, capsys):
    add_seeds(store)
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": "Answer: 5"}))
    store.settings.set_setting("student", {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "Answer: 5"}, "k": 1})
    assert main(["--db", str(db_path), "probe"]) == 0
    out = capsys.readouterr().out
    assert "Student and teacher are the same model, `openai/gpt-4o-mini`" in out
    assert "known failures by probe (pass rate at most 0): 2" in out and "pass@1 0.333" in out
