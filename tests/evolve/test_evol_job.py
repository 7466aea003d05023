"""The evolve job: trees and samples in the store, resume without loss or duplicates, failures, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from benchmarks.loopback_server import serve, stats
from tests.conftest import ROOT
from workbench.cli import main as cli
from workbench.core.jobs import worker as jobs_worker
from workbench.core.metrics import word_tokens
from workbench.evolve.job import EvolveParams, choose_seeds, parse_node_key, submit_evolve
from workbench.store import Store

REPLY = "Compute the total cost of seven baskets of plums, each holding twelve plums at 30 cents each."
MOCK = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": REPLY}}


def add_seeds(store: Store, n: int) -> list[int]:
    return store.seeds.insert_seeds(
        [{"instruction": f"Seed task {i}: how many apples are left if {i} of 20 are eaten?", "known_failure": i == 0}
         for i in range(n)]
    )


def loopback_teacher(url: str, **overrides) -> dict:
    # max_retries=0 inside litellm: the Teacher's own retry loop is the one under test.
    return {"model": "openai/loopback", "api_base": url, "extra": {"api_key": "x", "max_retries": 0}, **overrides}


def run(db_path) -> None:
    assert jobs_worker.run_worker(db_path, exit_when_idle=True, log=lambda m: None) == 0


def test_job_grows_trees_writes_samples_and_metrics(store: Store, db_path):
    seeds = add_seeds(store, 3)
    job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "what_if"], depth=2,
                                               branching=2, max_tries=2, teacher=MOCK))
    run(db_path)
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["total_units"], job["done_units"], job["failed_units"]) == ("done", 6, 6, 0)
    nodes = store.evolve.evol_nodes(job_id)
    # depth 1: every branch survives (new text); depth 2: the mock repeats itself, so no information gain,
    # and each of the 2 children of each survivor is retried once with the other operator.
    assert Counter((n["depth"], n["status"]) for n in nodes) == {(1, "survived"): 6, (2, "eliminated"): 24}
    assert all(n["elimination_reason"].startswith("no information gain") for n in nodes if n["depth"] == 2)
    for node in nodes:
        if node["depth"] == 2:
            parent = next(p for p in nodes if p["id"] == node["parent_id"])
            assert parse_node_key(node["node_key"])[1][:1] == parse_node_key(parent["node_key"])[1]
        _, path, attempt = parse_node_key(node["node_key"])
        assert node["attempt"] == attempt and node["depth"] == len(path)
    retried = [n for n in nodes if n["attempt"] == 1]
    assert all(n["operator"] != next(m for m in nodes if m["node_key"] == n["node_key"][:-1] + "0")["operator"]
               for n in retried)
    samples = store.samples.list_samples(source="evol")
    assert len(samples) == 6
    assert {(s["seed_id"], s["node_id"]) for s in samples} == {(n["seed_id"], n["id"]) for n in nodes if n["status"] == "survived"}
    assert all(s["output"] == REPLY and s["metadata"]["chain"] == [s["metadata"]["operator"]] for s in samples)
    metrics = store.metrics.get_metrics("node", nodes[0]["id"])
    assert {"lexical_entropy", "distinct_1", "distinct_2", "compression_ratio", "length_tokens", "token_entropy_mean",
            "token_entropy_max", "entropy_gain_parent", "entropy_gain_seed", "novelty_parent"} <= set(metrics)
    assert metrics["length_tokens"] == len(word_tokens(REPLY)) and metrics["token_entropy_mean"] is None  # the mock gives no logprobs
    assert job["prompt_tokens"] > 0 and job["completion_tokens"] > 0
    assert job["result"] == {"nodes": 30, "survived": 6, "eliminated": 24, "failed": 0}
    effectiveness = {row["operator"]: row for row in store.evolve.operator_effectiveness(job_id)}
    assert sum(row["attempts"] for row in effectiveness.values()) == 30
    assert sum(row["survived"] for row in effectiveness.values()) == 6


def test_rerunning_finished_units_writes_nothing_twice(store: Store, db_path):
    seeds = add_seeds(store, 2)
    job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1, teacher=MOCK))
    run(db_path)
    before = (len(store.evolve.evol_nodes(job_id)), len(store.samples.list_samples()), store.jobs.get_job(job_id)["prompt_tokens"])
    store.conn.execute("DELETE FROM job_units WHERE job_id = ?", [job_id])  # as if the worker died before recording
    store.jobs.request_job_status(job_id, "queued")
    run(db_path)
    assert (len(store.evolve.evol_nodes(job_id)), len(store.samples.list_samples()), store.jobs.get_job(job_id)["prompt_tokens"]) == before
    assert store.jobs.get_job(job_id)["done_units"] == 2


def test_seed_choices_and_bad_params(store: Store):
    seeds = add_seeds(store, 3)
    assert choose_seeds(store, "all")["seeds"] == seeds
    assert choose_seeds(store, "known-failures")["seeds"] == seeds[:1]
    assert choose_seeds(store, [seeds[2]])["seeds"] == [seeds[2]]
    with pytest.raises(ValueError, match="No seed with id 999"):
        choose_seeds(store, [999])
    with pytest.raises(ValueError, match="Unknown operator"):
        submit_evolve(store, EvolveParams(seeds=seeds, operators=["nope"]))
    with pytest.raises(ValueError, match="depth must be between"):
        submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=0))
    assert store.jobs.list_jobs() == []


def test_empty_store_has_no_seeds_to_evolve(store: Store):
    with pytest.raises(ValueError, match="no seeds yet"):
        choose_seeds(store, "all")
    with pytest.raises(ValueError, match="known failure"):
        choose_seeds(store, "known-failures")


def test_base_models_get_few_shot_completion_prompts(store: Store, db_path):
    seeds = add_seeds(store, 2)
    with serve(latency_s=0.0) as url:
        teacher = {**loopback_teacher(url), "model": "text-completion-openai/loopback", "base_model": True}
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "concretize"], depth=1,
                                                   teacher=teacher))
        run(db_path)
    nodes = store.evolve.evol_nodes(job_id)
    assert [n["status"] for n in nodes] == ["survived", "survived"]
    by_op = {n["operator"]: n for n in nodes}
    added, rewritten = by_op["add_constraints"], by_op["concretize"]
    seed_text = store.seeds.get_seed(added["seed_id"])["instruction"]
    assert added["prompt"].endswith(f"Task: {seed_text}\nAdded requirement:")
    assert added["instruction"] == f"{seed_text} {added['raw_response'].strip()}"  # addition: parent + new line
    assert rewritten["prompt"].rstrip().endswith("Rewritten task:")
    assert rewritten["instruction"] == rewritten["raw_response"].strip()
    assert added["params"]["completion_prompt"] is True and added["params"]["addition"] is True


def test_flaky_server_job_completes_retries_succeed_and_failures_are_recorded(store: Store, db_path):
    seeds = add_seeds(store, 12)
    with serve(latency_s=0.01, failure_rate=0.3, hang_s=3.0, seed=7) as url:
        teacher = loopback_teacher(url, timeout_s=0.5, max_retries=1, backoff_base_s=0.01, concurrency=16)
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "what_if"], depth=2,
                                                   concurrency=16, teacher=teacher))
        run(db_path)
        counted = stats(url)
    job = store.jobs.get_job(job_id)
    assert job["status"] == "done"
    assert job["done_units"] + job["failed_units"] == job["total_units"] == 12
    assert counted["429"] and counted["500"] and counted["timeout"]  # every failure kind was served
    nodes = store.evolve.evol_nodes(job_id)
    survived = [n for n in nodes if n["status"] == "survived"]
    # every survivor needed 2 successful calls; with 30% failing, many of those were retries that succeeded
    assert counted["ok"] >= 2 * len(survived) and counted["requests"] > counted["ok"]
    failed_units = {e["unit_key"]: e["error"] for e in store.jobs.unit_errors(job_id)}
    failed_nodes = {f"s{n['seed_id']}/b0": n for n in nodes if n["status"] == "failed"}
    assert set(failed_units) == set(failed_nodes)  # each permanent failure is recorded on its unit and its node
    assert all("loopback" in error for error in failed_units.values())
    for unit in {f"s{s}/b0" for s in seeds} - set(failed_units):  # finished units have their whole chain
        seed_id = int(unit[1:].split("/")[0])
        assert [n["depth"] for n in nodes if n["seed_id"] == seed_id and n["status"] == "survived"] == [1, 2]
    assert len(store.samples.list_samples(source="evol")) == len(survived)


def test_a_server_that_always_fails_gives_recorded_failures_and_a_finished_job(store: Store, db_path):
    seeds = add_seeds(store, 2)
    with serve(latency_s=0.0, failure_rate=1.0, failures=("500",)) as url:
        teacher = loopback_teacher(url, max_retries=1, backoff_base_s=0.01)
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1, teacher=teacher))
        run(db_path)
        assert stats(url)["500"] == 4  # two units, one call each, tried twice
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["failed_units"]) == ("done", 2)
    assert [n["status"] for n in store.evolve.evol_nodes(job_id)] == ["failed", "failed"]
    # resuming after the server recovers replaces the failed nodes
    store.jobs.clear_failed_units(job_id)
    store.jobs.set_job_status(job_id, "queued")  # request_job_status refuses done -> queued (reported to the lead)
    with serve(latency_s=0.0) as url:
        store.conn.execute("UPDATE jobs SET params = json_set(params, '$.teacher.api_base', ?) WHERE id = ?", [url, job_id])
        run(db_path)
    assert [n["status"] for n in store.evolve.evol_nodes(job_id)] == ["survived", "survived"]
    assert store.jobs.get_job(job_id)["failed_units"] == 0


def test_kill_9_mid_job_then_resume_loses_and_duplicates_nothing(store: Store, db_path):
    seeds = add_seeds(store, 6)
    with serve(latency_s=0.25) as url:
        job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "deepen"], depth=3,
                                                   concurrency=2, teacher=loopback_teacher(url, concurrency=2)))
        command = [sys.executable, "-m", "workbench.cli", "--db", str(db_path), "worker"]
        worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(store.evolve.evol_nodes(job_id)) < 4 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        killed_at = len(store.evolve.evol_nodes(job_id))
        assert 4 <= killed_at < 18 and store.jobs.job_status(job_id) == "running"
        resumed = subprocess.run([*command, "--exit-when-idle"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert "resuming 1 job" in resumed.stdout
        served = stats(url)["requests"]
    job = store.jobs.get_job(job_id)
    assert (job["status"], job["done_units"], job["failed_units"]) == ("done", 6, 0)
    nodes = store.evolve.evol_nodes(job_id)
    assert len(nodes) == 18 and len({n["node_key"] for n in nodes}) == 18  # 6 seeds x depth 3, every reply is new
    assert all(n["status"] == "survived" for n in nodes)
    samples = store.samples.list_samples(source="evol")
    assert len(samples) == 18 and sorted(s["node_id"] for s in samples) == sorted(n["id"] for n in nodes)
    assert len(store.conn.execute("SELECT DISTINCT item_id FROM metrics WHERE item_type = 'node'").fetchall()) == 18
    assert 36 <= served <= 36 + 2 * 2  # 2 calls per node; at most the calls in flight at the kill are repeated


def test_cli_evolve_prints_progress_and_exits_0(store: Store, db_path, capsys):
    add_seeds(store, 2)
    store.settings.set_setting("teacher", MOCK)  # the saved teacher answers with litellm's mock_response
    code = cli(["--db", str(db_path), "evolve", "--seeds", "1,2", "--depth", "1", "--operators", "deepen",
                "--model", "openai/gpt-4o-mini", "--concurrency", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "evolving 2 seeds" in out and "done: 2/2 units, 0 failed; 2 nodes, 2 survived" in out
    assert cli(["--db", str(db_path), "evolve", "--seeds", "999"]) == 2
    assert "No seed with id 999" in capsys.readouterr().err


def test_nodes_and_their_samples_carry_token_entropy_or_say_why_not(store: Store, db_path):
    seeds = add_seeds(store, 2)
    with serve(latency_s=0.0) as url:  # the loopback server gives top-5 logprobs when asked, as vLLM does
        with_logprobs = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1,
                                                          teacher=loopback_teacher(url)))
        run(db_path)
    without = submit_evolve(store, EvolveParams(seeds=seeds, operators=["deepen"], depth=1, teacher=MOCK))
    run(db_path)
    approximation = "top-5 logprobs approximation (lower bound)"
    for node in store.evolve.evol_nodes(with_logprobs):
        metrics = store.conn.execute("SELECT name, value, note FROM metrics WHERE item_type = 'node' AND item_id = ?",
                                     [node["id"]]).fetchall()
        entropy = {name: (value, note) for name, value, note in metrics if name.startswith("token_entropy")}
        assert entropy["token_entropy_mean"][0] > 0 and entropy["token_entropy_max"][0] >= entropy["token_entropy_mean"][0]
        assert entropy["token_entropy_mean"][1] == approximation
    samples = {s["node_id"]: s for s in store.samples.list_samples(source="evol")}
    for node in store.evolve.evol_nodes(with_logprobs):
        rows = store.conn.execute("SELECT name, value, note FROM metrics WHERE item_type = 'sample' AND item_id = ?",
                                  [samples[node["id"]]["id"]]).fetchall()
        values = {name: value for name, value, _ in rows}
        assert values["token_entropy_mean"] > 0 and values["query_entropy_mean"] > 0 and values["answer_entropy_mean"] > 0
        assert {note for _, _, note in rows} == {approximation}
    for node in store.evolve.evol_nodes(without):  # litellm's mock gives no logprobs: no number, and the note says why
        sample_id = next(s["id"] for s in store.samples.list_samples(source="evol") if s["node_id"] == node["id"])
        for item_type, item_id in (("node", node["id"]), ("sample", sample_id)):
            value, note = store.conn.execute(
                "SELECT value, note FROM metrics WHERE item_type = ? AND item_id = ? AND name = 'token_entropy_mean'",
                [item_type, item_id]).fetchone()
            assert value is None and note == "not available: the provider returned no token log-probabilities for this call"


@pytest.mark.slow
def test_bundled_model_gives_every_node_and_sample_its_real_token_entropy(store: Store, db_path):
    seeds = add_seeds(store, 2)
    job_id = submit_evolve(store, EvolveParams(seeds=seeds, operators=["add_constraints", "concretize"], depth=1,
                                               max_tries=2, concurrency=1))
    run(db_path)
    nodes = store.evolve.evol_nodes(job_id)
    assert nodes and all(n["status"] != "failed" for n in nodes)
    full = "full next-token distribution"
    for node in nodes:
        value, note = store.conn.execute("SELECT value, note FROM metrics WHERE item_type = 'node' AND item_id = ? "
                                         "AND name = 'token_entropy_mean'", [node["id"]]).fetchone()
        assert value is not None and value >= 0 and note == full
    for sample in store.samples.list_samples(source="evol"):
        rows = dict(store.conn.execute("SELECT name, value FROM metrics WHERE item_type = 'sample' AND item_id = ?",
                                       [sample["id"]]).fetchall())
        assert rows["token_entropy_mean"] is not None and rows["answer_entropy_mean"] is not None
