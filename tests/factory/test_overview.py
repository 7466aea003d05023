"""The factory at a glance: a funnel that only narrows, the gate's decisions, the same numbers on the
Overview page, on Home and from `workbench overview --json`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench import cli
from workbench.core.jobs.queue import job_cost
from workbench.factory.overview import STAGES, approved_beside_the_gate, next_step, overview_report
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
    at.switch_page(f"views/{name}.py")
    return at


def node(store: Store, job: int, seed: int, key: str, status: str, text: str) -> dict:
    """An evolution attempt; a survivor comes with its sample (as the evolve job writes them)."""
    sample = {"source": "evol", "instruction": text, "output": "ok", "unit_key": f"evol:{key}", "seed_id": seed,
              "job_id": job, "model": "local/gemma-3-270m"} if status == "survived" else None
    node_id = store.evolve.save_evol_node({"job_id": job, "node_key": key, "seed_id": seed, "depth": 1, "operator": "deepen",
                                    "status": status, "instruction": text}, sample=sample)
    found = [s for s in store.samples.list_samples(include_filtered=True) if s["node_id"] == node_id]
    return {"node": node_id, "sample": found[0]["id"] if found else None}


VERDICTS = {"correct": (1.0, "correct", "evidence"), "incorrect": (0.0, "incorrect", "evidence"),
            "unverifiable": (0.5, "unverifiable", "evidence"), "outcome": (1.0, "correct", "outcome")}


def path(store: Store, sample_id: int, index: int, labels: list[str], overrule: str | None = None) -> int:
    """A reasoning path ending in 'Answer: 42' whose steps carry one verdict each: arithmetic that holds (correct,
    score 1, evidence), a false one (incorrect, 0), none (unverifiable, 0.5), or a final answer that matches the
    reference (outcome: consistency, score 1)."""
    texts = [f"step {i}" for i in range(len(labels) - 1)] + ["Answer: 42"]
    path_id = store.verify.add_reasoning_path({"task_type": "sample", "task_id": sample_id, "path_index": index, "text": "..."},
                                       texts)
    steps = store.verify.path_steps(path_id)
    rows = []
    for step, label in zip(steps, labels, strict=True):
        score, verdict, checks = VERDICTS[label]
        rows.append({"step_id": step["id"], "verifier": "consistency" if checks == "outcome" else "arithmetic",
                     "score": score, "label": verdict, "checks": checks,
                     "params": {"target_kind": "reference", "answer": "42"} if checks == "outcome" else {}})
    store.verify.set_step_scores(rows)
    if overrule:
        store.verify.add_step_overrule(steps[0]["id"], overrule, "checked by hand", "ana")
    return path_id


def decide(store: Store, *sample_ids: int) -> None:
    for sample_id in sample_ids:
        refresh_task_metric(store, "sample", sample_id, verification_settings(store))


def build(store: Store) -> dict:
    """A store with every way a sample can leave (or skip) the funnel."""
    [seed] = store.seeds.insert_seeds([{"instruction": "A jacket costs $80 and is 25% off. What is the sale price?"}])
    job = store.jobs.create_job("evolve", {})
    made = {
        "eliminated": node(store, job, seed, "e", "eliminated", "A jacket costs $80."),
        "failed": node(store, job, seed, "f", "failed", ""),
        "passes": node(store, job, seed, "p", "survived", "Price the jacket, then add 8% tax."),
        "wrong": node(store, job, seed, "w", "survived", "Price the jacket, then add 10% tax."),
        "unchecked": node(store, job, seed, "u", "survived", "Price the jacket in euros."),
        "near_seed": node(store, job, seed, "n", "survived", "A jacket costs $80 and is 25% off: its sale price?"),
    }
    ids = {name: value["sample"] for name, value in made.items()}
    ids["magpie_kept"] = store.samples.insert_sample({"source": "magpie", "instruction": "Name a prime above 10.", "unit_key": "m1",
                                             "model": "local/gemma-3-270m"})
    ids["magpie_dropped"] = store.samples.insert_sample({"source": "magpie", "instruction": "A.", "unit_key": "m2",
                                                "filter_reason": "near-empty answer (1 letter or digit)"})
    store.samples.apply_similarity_gate({ids["near_seed"]: "similar to seed 1 (cosine 0.97 > 0.90)"})
    path(store, ids["passes"], 0, ["correct", "outcome"])
    path(store, ids["wrong"], 0, ["correct", "incorrect"])
    path(store, ids["wrong"], 1, ["incorrect"])
    path(store, ids["unchecked"], 0, ["incorrect"])
    path(store, ids["unchecked"], 1, ["correct", "unverifiable"])  # arithmetic holds, nothing checks the answer
    path(store, ids["near_seed"], 0, ["correct", "outcome"])
    decide(store, *(ids[name] for name in ("passes", "wrong", "unchecked", "near_seed")))
    store.review.set_sample_status([ids["passes"]], "approved", "ana")
    store.review.set_sample_status([ids["magpie_kept"]], "approved", "ana")  # approved without ever being verified
    store.review.set_sample_status([ids["wrong"]], "rejected", "ana")
    store.export.record_export("openai", "/tmp/x.jsonl", {}, [ids["passes"], ids["magpie_kept"]])
    store.jobs.add_job_usage(job, 100, 40, 0.002)
    store.jobs.create_job("analyse.embed", {})  # no model calls: costs nothing
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
    assert report["outside_funnel"] == {"approved": 1, "exported": 1}  # the never verified Magpie sample
    assert report["seeds"] == 1
    assert all(row["definition"] for row in report["funnel"])


def test_approved_samples_are_counted_once_by_what_the_gate_said_of_them(store: Store):
    ids = build(store)
    report = overview_report(store)
    # every approved sample no filter removed (what Export takes): one passed the gate, one was never verified
    assert report["approved"] == {"total": 2, "passed": 1, "failed": 0, "unverified": 0, "undecided": 1,
                                  "exported": 2, "exported_passed": 1}
    assert report["approved"]["passed"] == counts(report)[4]  # the funnel's 'Passed and approved'
    # the Export page's count (clean, flagged and unscanned approved samples) and the Review queue's
    assert report["approved"]["total"] == sum(store.samples.pii_counts("approved").values()) == store.queue.count_samples(status="approved")
    assert approved_beside_the_gate(report["approved"]) == ("1 sample approved before the gate decided it (no scored "
                                                            "reasoning path)")
    store.review.set_sample_status([ids["wrong"]], "approved", "ana")  # a person approves what the gate failed
    report = overview_report(store)
    assert (report["approved"]["total"], report["approved"]["failed"], report["outside_funnel"]["approved"]) == (3, 1, 2)
    assert approved_beside_the_gate(report["approved"]).startswith("1 sample approved though the gate failed it; ")
    assert "without verification" not in approved_beside_the_gate(report["approved"])


def test_gate_decisions_count_passed_unverified_and_failed_apart_with_their_reasons(store: Store):
    build(store)
    gate = overview_report(store)["gate"]
    assert (gate["decided"], gate["passed"], gate["unverified"], gate["failed"]) == (3, 1, 1, 1)
    assert gate["passed"] + gate["unverified"] + gate["failed"] == gate["decided"]
    # 'wrong': both its paths have a wrong step; 'unchecked': its second path's arithmetic holds, nothing checked
    # its answer, so it is unverified and not passed
    assert [(r["key"], r["count"]) for r in gate["failure_reasons"]] == [("wrong", 1)]
    assert [(r["key"], r["count"]) for r in gate["unverified_reasons"]] == [("unchecked", 1)]
    assert gate["unverified_reasons"][0]["reason"].startswith("nothing checked the final answer")
    assert gate["review_of_passed"] == {"approved": 1}
    # the seeds and the samples a filter removed after the gate decided them are counted apart (the near-duplicate)
    assert gate["seeds"]["decided"] == 0
    assert gate["removed_samples"] == {"decided": 1, "passed": 1, "unverified": 0, "failed": 0}
    assert (gate["margin"], gate["step_rule"], gate["selection_rule"]) == (0.5, "strictest", "min over steps")


def test_a_persons_overrule_moves_a_sample_through_the_gate(store: Store):
    ids = build(store)
    second_path = store.verify.reasoning_paths_nested("sample", ids["unchecked"])[("sample", ids["unchecked"])][1]
    overrule_step(store, second_path["steps"][-1]["id"], "correct", "checked by hand: 42 is right", "ana",
                  verification_settings(store))
    gate = overview_report(store)["gate"]
    assert (gate["decided"], gate["passed"], gate["unverified"], gate["failed"]) == (3, 2, 0, 1)


def test_a_settings_change_decides_every_sample_again(store: Store):
    build(store)
    scored = store.samples.insert_sample({"source": "magpie", "instruction": "What is 7 x 8?", "unit_key": "prm"})
    steps = store.verify.path_steps(store.verify.add_reasoning_path(
        {"task_type": "sample", "task_id": scored, "path_index": 0, "text": "..."}, ["7 x 8 = 56", "Answer: 56"]))
    store.verify.set_step_scores([{"step_id": steps[0]["id"], "verifier": "prm", "score": 0.8, "label": "correct",
                            "checks": "step"},
                           {"step_id": steps[1]["id"], "verifier": "consistency", "score": 1.0, "label": "correct",
                            "checks": "outcome"}])
    decide(store, scored)
    assert counts(overview_report(store)) == [8, 5, 4, 1, 1, 1]
    reasons = {row["key"]: row["count"] for row in overview_report(store)["gate"]["failure_reasons"]}
    assert reasons == {"wrong": 1, "below": 1}
    save_verification_settings(store, verification_settings(store, {"threshold": 0.75}))
    assert counts(overview_report(store)) == [8, 5, 4, 2, 1, 1]
    assert overview_report(store)["gate"]["threshold"] == 0.75


def test_usage_cost_is_unknown_only_where_calls_had_no_price(store: Store):
    build(store)
    usage = {row["kind"]: row for row in overview_report(store)["usage"]}
    assert usage["evolve"]["cost"] == pytest.approx(0.002)
    assert usage["analyse.embed"]["cost"] == 0.0
    unpriced = store.jobs.create_job("magpie", {})
    store.jobs.add_job_usage(unpriced, 10, 10, None)
    assert {row["kind"]: row for row in store.jobs.usage_by_kind()}["magpie"]["cost"] is None


def test_empty_store(store: Store):
    report = overview_report(store)
    assert counts(report) == [0] * len(STAGES)
    assert all(row["rate"] is None for row in report["funnel"])
    assert next_step(report)[0] == "seeds"


def test_next_step_follows_the_factory(store: Store):
    assert next_step(overview_report(store))[0] == "seeds"
    [seed] = store.seeds.insert_seeds([{"instruction": "Add 2 and 3."}])
    assert next_step(overview_report(store))[0] == "generate"
    kept = store.samples.insert_sample({"source": "evol", "instruction": "Add 2, 3 and 4.", "unit_key": "a", "seed_id": seed})
    assert next_step(overview_report(store)) == ("verify", "Sample and verify reasoning paths for the 1 kept sample.")
    path(store, kept, 0, ["correct", "unverifiable"])
    decide(store, kept)
    assert next_step(overview_report(store)) == ("gate", "1 sample decided by the gate, none passed (1 unverified, 0 "
                                                         "failed): see why on the Verifier page, where you can also "
                                                         "overrule a step.")
    path(store, kept, 1, ["correct", "outcome"])
    decide(store, kept)
    assert next_step(overview_report(store)) == ("review", "Review what passed the gate: 1 sample pending.")
    store.review.set_sample_status([kept], "approved", "ana")
    assert next_step(overview_report(store))[0] == "export"
    store.export.record_export("openai", "/tmp/x.jsonl", {}, [kept])
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
    assert "approved samples in all (what an export of approved samples takes): 2, 1 of them passed the gate" in text
    assert "beside the funnel: 1 sample approved before the gate decided it (no scored reasoning path)" in text
    assert "beside the funnel: 1 sample exported without passing the gate and being approved" in text
    assert "failed: a step judged wrong, decided by arithmetic" in text
    assert "unverified: nothing checked the final answer" in text
    assert "3 decided, 1 passed, 1 unverified, 1 failed" in text
    assert "removed samples: 1 decided, 1 passed the gate, 0 unverified, 0 failed" in text


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
    assert "Beside the funnel: 1 sample approved before the gate decided it (no scored reasoning path)." in captions
    assert "Beside the funnel: 1 sample exported without passing the gate and being approved" in captions
    assert "Not counted above: 1 sample the gate decided before a filter removed it (1 passed" in captions
    assert "a step judged wrong, decided by arithmetic" in " ".join(str(d.value) for d in at.dataframe)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Tokens"], metrics["Cost"]) == ("140", "$0.0020")
    assert (metrics["Samples decided by the gate"], metrics["Passed"], metrics["Unverified"], metrics["Failed"]) == (
        "3", "1", "1", "1")
    assert metrics["Approved samples in all"] == "2"
    assert "nothing checked the final answer" in " ".join(str(d.value) for d in at.dataframe)
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
    assert metrics["Approved samples"] == "2"  # what Export takes: the one that passed and the never verified one
    assert any(c.value.startswith("Of the 2 approved samples, 1 passed the gate; 1 sample approved before the gate "
                                  "decided it") for c in at.caption)
    assert f"**Next step:** {next_step(overview_report(store))[1]}" in [m.value for m in at.markdown]


def test_the_overview_says_why_a_sample_failed_as_the_verifier_page_does(store: Store):
    """One source of truth: each sample is counted under the gate's own verdict (the best path's kind of failure
    and who decided it), the words the Verifier page shows for that task."""
    build(store)
    settings = verification_settings(store)
    voted = store.samples.insert_sample({"source": "magpie", "instruction": "What is 6 x 7?", "unit_key": "vote"})
    first, second = (store.verify.path_steps(store.verify.add_reasoning_path(
        {"task_type": "sample", "task_id": voted, "path_index": i, "text": "..."}, ["6 x 7 = 42", "Answer: 42"]))
        for i in range(2))
    # arithmetic holds on every step; the vote of the paths (consistency) and the rollouts disagree with the answer
    store.verify.set_step_scores(
        [{"step_id": s["id"], "verifier": "arithmetic", "score": 1.0, "label": "correct"} for s in first + second]
        + [{"step_id": first[1]["id"], "verifier": "consistency", "score": 0.0, "label": "incorrect",
            "checks": "outcome"},
           {"step_id": second[0]["id"], "verifier": "rollout", "score": 0.0, "label": "incorrect", "checks": "step"}])
    verdict = refresh_task_metric(store, "sample", voted, settings)
    assert not verdict.passed and "decided by consistency" in verdict.reason
    report = overview_report(store)["gate"]
    assert {"reason": "a step judged wrong, decided by consistency", "key": "wrong", "decided_by": "consistency",
            "count": 1} in report["failure_reasons"]
    # every decided sample is counted once, under what the gate says for it
    expected: dict[tuple[str, str], int] = {}
    for (task_type, task_id), paths in store.verify.reasoning_paths_nested().items():
        sample = store.samples.get_sample(task_id)
        verdict = evaluate_task(paths, settings)
        if task_type == "sample" and not sample["filter_reason"] and verdict.failure:
            key = (verdict.status, verdict.failure.label)
            expected[key] = expected.get(key, 0) + 1
    found = {("failed", r["reason"]): r["count"] for r in report["failure_reasons"]}
    found |= {("unverified", r["reason"]): r["count"] for r in report["unverified_reasons"]}
    assert found == expected


def test_a_job_without_model_calls_costs_nothing_and_an_unpriced_one_is_unknown(store: Store):
    build(store)
    embed, evolve = (next(j for j in store.jobs.list_jobs(limit=10) if j["kind"] == kind) for kind in ("analyse.embed", "evolve"))
    unpriced = store.jobs.create_job("magpie", {})
    store.jobs.add_job_usage(unpriced, 50, 20, None)
    assert (job_cost(embed), job_cost(evolve), job_cost(store.jobs.get_job(unpriced))) == (0.0, pytest.approx(0.002), None)
    at = app_page("jobs").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("kind")
    assert table.loc["analyse.embed", "cost ($)"] == 0.0 and table.loc["analyse.embed", "teacher"] == "—" and table.loc[
        "analyse.embed", "student"] == "—"
    assert pd.isna(table.loc["magpie", "cost ($)"])
