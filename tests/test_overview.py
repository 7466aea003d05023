"""The factory at a glance: a funnel that only narrows, the gate's decisions, the same numbers on the
Overview page, on Home and from `workbench overview --json`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench import cli
from workbench.core.jobs import job_cost
from workbench.factory.overview import STAGES, next_step, overview_report
from workbench.store import Store
from workbench.verify.reasoning import (
    evaluate_task,
    overrule_step,
    refresh_task_metric,
    save_verification_settings,
    verification_settings,
)


def app_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{name}.py")
    return at


def node(store: Store, job: int, seed: int, key: str, status: str, text: str) -> dict:
    """An evolution attempt; a survivor comes with its sample (as the evolve job writes them)."""
    sample = {"source": "evol", "instruction": text, "output": "ok", "unit_key": f"evol:{key}", "seed_id": seed,
              "job_id": job, "model": "local/gemma-3-270m"} if status == "survived" else None
    node_id = store.save_evol_node({"job_id": job, "node_key": key, "seed_id": seed, "depth": 1, "operator": "deepen",
                                    "status": status, "instruction": text}, sample=sample)
    found = [s for s in store.list_samples(include_filtered=True) if s["node_id"] == node_id]
    return {"node": node_id, "sample": found[0]["id"] if found else None}


def path(store: Store, sample_id: int, index: int, labels: list[str], overrule: str | None = None) -> int:
    """A reasoning path whose steps carry one arithmetic verdict each (score 1 correct, 0 incorrect, 0.5 unverifiable)."""
    path_id = store.add_reasoning_path({"task_type": "sample", "task_id": sample_id, "path_index": index, "text": "..."},
                                       [f"step {i}" for i in range(len(labels))])
    steps = store.path_steps(path_id)
    score = {"correct": 1.0, "incorrect": 0.0, "unverifiable": 0.5}
    store.set_step_scores([{"step_id": s["id"], "verifier": "arithmetic", "score": score[label], "label": label}
                           for s, label in zip(steps, labels, strict=True)])
    if overrule:
        store.add_step_overrule(steps[0]["id"], overrule, "checked by hand", "ana")
    return path_id


def build(store: Store) -> dict:
    """A store with every way a sample can leave (or skip) the funnel."""
    [seed] = store.insert_seeds([{"instruction": "A jacket costs $80 and is 25% off. What is the sale price?"}])
    job = store.create_job("evolve", {})
    made = {
        "eliminated": node(store, job, seed, "e", "eliminated", "A jacket costs $80."),
        "failed": node(store, job, seed, "f", "failed", ""),
        "passes": node(store, job, seed, "p", "survived", "Price the jacket, then add 8% tax."),
        "wrong": node(store, job, seed, "w", "survived", "Price the jacket, then add 10% tax."),
        "unchecked": node(store, job, seed, "u", "survived", "Price the jacket in euros."),
        "near_seed": node(store, job, seed, "n", "survived", "A jacket costs $80 and is 25% off: its sale price?"),
    }
    ids = {name: value["sample"] for name, value in made.items()}
    ids["magpie_kept"] = store.insert_sample({"source": "magpie", "instruction": "Name a prime above 10.", "unit_key": "m1",
                                             "model": "local/gemma-3-270m"})
    ids["magpie_dropped"] = store.insert_sample({"source": "magpie", "instruction": "A.", "unit_key": "m2",
                                                "filter_reason": "near-empty answer (1 letter or digit)"})
    store.apply_similarity_gate({ids["near_seed"]: "similar to seed 1 (cosine 0.97 > 0.90)"})
    for name, score in (("passes", 1.0), ("wrong", 0.0), ("unchecked", 0.5), ("near_seed", 1.0)):
        store.set_metrics("sample", ids[name], {"best_path_score": score})
    path(store, ids["passes"], 0, ["correct", "correct"])
    path(store, ids["wrong"], 0, ["correct", "incorrect"])
    path(store, ids["wrong"], 1, ["incorrect"])
    path(store, ids["unchecked"], 0, ["incorrect"])
    path(store, ids["unchecked"], 1, ["correct", "unverifiable"])
    store.set_sample_status([ids["passes"]], "approved", "ana")
    store.set_sample_status([ids["magpie_kept"]], "approved", "ana")  # approved without ever being verified
    store.set_sample_status([ids["wrong"]], "rejected", "ana")
    store.record_export("openai", "/tmp/x.jsonl", {}, [ids["passes"], ids["magpie_kept"]])
    store.add_job_usage(job, 100, 40, 0.002)
    store.create_job("embed", {})  # no model calls: costs nothing
    return ids


def counts(report: dict) -> list[int]:
    return [row["count"] for row in report["funnel"]]


def test_the_funnel_only_narrows_and_counts_what_skipped_the_gate_beside_it(store: Store):
    build(store)
    report = overview_report(store)
    assert [row["key"] for row in report["funnel"]] == [s.key for s in STAGES]
    # candidates: 5 evolutions that came back (the failed call is not one) + 2 Magpie generations
    assert counts(report) == [7, 4, 3, 1, 1, 1]
    assert all(later <= earlier for earlier, later in zip(counts(report), counts(report)[1:], strict=False))
    assert all(row["rate"] is None or 0.0 <= row["rate"] <= 1.0 for row in report["funnel"])
    assert report["funnel"][1]["rate"] == pytest.approx(4 / 7)
    assert report["outside_funnel"] == {"approved": 1, "exported": 1}  # the unverified Magpie sample
    assert report["seeds"] == 1
    assert all(row["definition"] for row in report["funnel"])


def test_the_gate_threshold_moves_the_gate_stage_only(store: Store):
    build(store)
    save_verification_settings(store, verification_settings(store, {"threshold": 0.5}))
    report = overview_report(store)
    assert counts(report) == [7, 4, 3, 2, 1, 1]
    assert report["gate"]["threshold"] == 0.5


def test_gate_failures_say_why_each_verified_sample_failed(store: Store):
    build(store)
    gate = overview_report(store)["gate"]
    assert (gate["verified"], gate["passed"], gate["failed"]) == (3, 1, 2)
    reasons = {row["key"]: row["count"] for row in gate["failure_reasons"]}
    # 'wrong': both its paths have a wrong step; 'unchecked': its second path has an unverifiable step, no wrong one
    assert reasons == {"wrong": 1, "unchecked": 1}
    assert sum(reasons.values()) == gate["failed"]
    assert gate["review_of_passed"] == {"approved": 1}


def test_a_persons_overrule_moves_a_sample_through_the_gate(store: Store):
    ids = build(store)
    second_path = store.reasoning_paths_nested("sample", ids["wrong"])[("sample", ids["wrong"])][1]
    overrule_step(store, second_path["steps"][0]["id"], "correct", "checked by hand: 10% of $60 is $6", "ana", verification_settings(store))
    gate = overview_report(store)["gate"]
    assert (gate["verified"], gate["passed"], gate["failed"]) == (3, 2, 1)
    assert {row["key"]: row["count"] for row in gate["failure_reasons"]} == {"unchecked": 1}


def test_a_checked_path_under_the_threshold_is_named_as_such(store: Store):
    build(store)
    scored = store.insert_sample({"source": "magpie", "instruction": "What is 7 x 8?", "unit_key": "prm"})
    [step] = store.path_steps(store.add_reasoning_path(
        {"task_type": "sample", "task_id": scored, "path_index": 0, "text": "7 x 8 = 56"}, ["7 x 8 = 56"]))
    store.set_step_scores([{"step_id": step["id"], "verifier": "prm", "score": 0.8, "label": "correct"}])
    assert refresh_task_metric(store, "sample", scored, verification_settings(store)).best_score == 0.8
    reasons = {row["key"]: row["count"] for row in overview_report(store)["gate"]["failure_reasons"]}
    assert reasons == {"wrong": 1, "unchecked": 1, "below": 1}


def test_usage_cost_is_unknown_only_where_calls_had_no_price(store: Store):
    build(store)
    usage = {row["kind"]: row for row in overview_report(store)["usage"]}
    assert usage["evolve"]["cost"] == pytest.approx(0.002)
    assert usage["embed"]["cost"] == 0.0
    unpriced = store.create_job("magpie", {})
    store.add_job_usage(unpriced, 10, 10, None)
    assert {row["kind"]: row for row in store.usage_by_kind()}["magpie"]["cost"] is None


def test_empty_store(store: Store):
    report = overview_report(store)
    assert counts(report) == [0] * len(STAGES)
    assert all(row["rate"] is None for row in report["funnel"])
    assert next_step(report)[0] == "seeds"


def test_next_step_follows_the_factory(store: Store):
    assert next_step(overview_report(store))[0] == "seeds"
    [seed] = store.insert_seeds([{"instruction": "Add 2 and 3."}])
    assert next_step(overview_report(store))[0] == "generate"
    kept = store.insert_sample({"source": "evol", "instruction": "Add 2, 3 and 4.", "unit_key": "a", "seed_id": seed})
    assert next_step(overview_report(store)) == ("verify", "Sample and verify reasoning paths for the 1 kept sample.")
    store.set_metrics("sample", kept, {"best_path_score": 0.5})
    assert next_step(overview_report(store))[0] == "gate"
    store.set_metrics("sample", kept, {"best_path_score": 1.0})
    assert next_step(overview_report(store)) == ("review", "Review what passed the gate: 1 sample pending.")
    store.set_sample_status([kept], "approved", "ana")
    assert next_step(overview_report(store))[0] == "export"
    store.record_export("openai", "/tmp/x.jsonl", {}, [kept])
    assert next_step(overview_report(store))[0] == "done"


def test_cli_prints_the_same_numbers_as_the_report(store: Store, db_path, capsys):
    build(store)
    assert cli.main(["--db", str(db_path), "overview", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [{"stage": r["stage"], "count": r["count"]} for r in printed["funnel"]] == [
        {"stage": r["stage"], "count": r["count"]} for r in overview_report(store)["funnel"]]
    assert cli.main(["--db", str(db_path), "overview"]) == 0
    text = capsys.readouterr().out
    assert "Passed the filters" in text and "57% of the stage before" in text
    assert "1 sample approved and 1 sample exported without passing the gate" in text
    assert "a step judged wrong, decided by arithmetic" in text


def test_overview_page_empty_and_full(store: Store):
    at = app_page("overview").run()
    assert not at.exception
    assert any("Nothing in the factory yet" in i.value for i in at.info)
    build(store)
    at = app_page("overview").run()
    assert not at.exception
    report = overview_report(store)
    stage_table = at.dataframe[0].value
    assert list(stage_table["count"]) == counts(report)
    rates = [r for r in stage_table["of the stage before"] if r != "—"]
    assert rates and all(0 <= int(r.rstrip("%")) <= 100 for r in rates)
    captions = " ".join(c.value for c in at.caption)
    assert "1 sample approved and 1 sample exported without passing the gate" in captions
    assert "a step judged wrong, decided by arithmetic" in " ".join(str(d.value) for d in at.dataframe)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Tokens"], metrics["Cost"]) == ("140", "$0.0020")
    assert (metrics["Verified samples"], metrics["Passed the gate"], metrics["Failed the gate"]) == ("3", "1", "2")
    usage = next(d.value for d in at.dataframe if "Job kind" in d.value.columns)
    assert "elapsed_s" not in usage.columns and list(usage["Cost"]) == ["$0.0000", "$0.0020"]


def test_home_shows_the_funnel_numbers_and_the_next_step(store: Store):
    build(store)
    at = app_page("home").run()
    assert not at.exception
    stages = {row["key"]: row["count"] for row in overview_report(store)["funnel"]}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Gold seeds"] == "1"
    assert metrics["Passed the filters"] == str(stages["kept"])
    assert metrics["Passed the gate"] == str(stages["gated"])
    assert metrics["Approved"] == str(stages["approved"])
    assert f"**Next step:** {next_step(overview_report(store))[1]}" in [m.value for m in at.markdown]


def test_the_overview_says_why_a_sample_failed_as_the_verifier_page_does(store: Store):
    """One source of truth: each failing sample is counted under the gate's own verdict (the best path's weakest
    step and the verifier that decided it), the words the Verifier page shows for that task."""
    build(store)
    settings = verification_settings(store)
    voted = store.insert_sample({"source": "magpie", "instruction": "What is 6 x 7?", "unit_key": "vote"})
    first, second = (store.path_steps(store.add_reasoning_path(
        {"task_type": "sample", "task_id": voted, "path_index": i, "text": "..."}, ["6 x 7 = 42", "Answer: 42"]))
        for i in range(2))
    # arithmetic passes every step; the vote of the paths (consistency) and the rollouts disagree with the answer
    store.set_step_scores(
        [{"step_id": s["id"], "verifier": "arithmetic", "score": 1.0, "label": "correct"} for s in first + second]
        + [{"step_id": first[1]["id"], "verifier": "consistency", "score": 0.0, "label": "incorrect"},
           {"step_id": second[0]["id"], "verifier": "rollout", "score": 0.0, "label": "incorrect"}])
    verdict = refresh_task_metric(store, "sample", voted, settings)
    assert not verdict.passed and "decided by consistency" in verdict.reason
    reasons = overview_report(store)["gate"]["failure_reasons"]
    assert {"reason": "a step judged wrong, decided by consistency", "key": "wrong", "decided_by": "consistency",
            "count": 1} in reasons
    # every failing sample is counted once, under what the gate says for it
    nested = store.reasoning_paths_nested()
    expected: dict[str, int] = {}
    for sample_id in store.gate_failing_samples(settings.threshold):
        failure = evaluate_task(nested[("sample", sample_id)], settings).failure
        expected[failure.label] = expected.get(failure.label, 0) + 1
    assert {row["reason"]: row["count"] for row in reasons} == expected
    assert sum(expected.values()) == overview_report(store)["gate"]["failed"]


def test_a_score_stored_under_an_earlier_rule_is_named_not_misfiled(store: Store):
    build(store)
    recovered = store.insert_sample({"source": "magpie", "instruction": "What is 9 - 4?", "unit_key": "late"})
    path(store, recovered, 0, ["incorrect", "correct"])
    refresh_task_metric(store, "sample", recovered, verification_settings(store))  # stored under 'min': 0.0
    save_verification_settings(store, verification_settings(store, {"aggregation": "last"}))
    reasons = {row["key"]: row for row in overview_report(store)["gate"]["failure_reasons"]}
    assert reasons["rescored"]["count"] == 1 and "earlier rule" in reasons["rescored"]["reason"]
    assert evaluate_task(store.reasoning_paths_nested("sample", recovered)[("sample", recovered)],
                         verification_settings(store)).passed


def test_a_job_without_model_calls_costs_nothing_and_an_unpriced_one_is_unknown(store: Store):
    build(store)
    embed, evolve = (next(j for j in store.list_jobs(limit=10) if j["kind"] == kind) for kind in ("embed", "evolve"))
    unpriced = store.create_job("magpie", {})
    store.add_job_usage(unpriced, 50, 20, None)
    assert (job_cost(embed), job_cost(evolve), job_cost(store.get_job(unpriced))) == (0.0, pytest.approx(0.002), None)
    at = app_page("jobs").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("kind")
    assert table.loc["embed", "cost ($)"] == 0.0 and table.loc["embed", "teacher"] == "—" and table.loc["embed", "student"] == "—"
    assert pd.isna(table.loc["magpie", "cost ($)"])
