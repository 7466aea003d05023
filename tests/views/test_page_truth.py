"""Pages say one true thing (issue 25): job rows, units, the gate's threshold, glossary help, export and review
defaults. AppTest runs of the whole app over a real store."""

from __future__ import annotations

import ast
import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.analyse.test_maps_pages import array
from tests.analyse.test_maps_pages import fill as fill_map
from tests.conftest import ROOT
from tests.ship_data import add_sample
from workbench.core.glossary import TERMS, explain
from workbench.core.jobs import worker
from workbench.core.metrics import METRIC_UNITS
from workbench.factory.demo import review_by_gate
from workbench.factory.overview import entropy_by_depth, overview_report
from workbench.review import decisions as review
from workbench.store import Store
from workbench.verify.reasoning import refresh_task_metric, verification_settings

TIMEOUT = 60


def page(name: str) -> AppTest:
    """The whole app (navigation included), switched to one page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(f"views/{name}.py")
    return at


def finished_job(store: Store, kind: str, units: int) -> int:
    """A job of `kind` that ran to its end with `units` units (0: a kind that does its work in one piece)."""
    job_id = store.jobs.create_job(kind, {})
    store.jobs.set_job_total(job_id, units)
    store.jobs.record_units(job_id, [(f"u{i}", "done", None) for i in range(units)])
    store.jobs.set_job_status(job_id, "done")
    return job_id


def test_home_lists_a_job_without_units_by_its_status_never_as_0_of_0_units(store: Store):
    export = finished_job(store, "export", units=0)
    evolve = finished_job(store, "evolve", units=3)
    at = page("home").run()
    assert not at.exception
    bars = [bar.proto.text for bar in at.get("progress")]
    assert any(text.startswith(f"Job {evolve} · evolve · done · 3/3 units") for text in bars)
    assert not any(f"Job {export} " in text for text in bars)  # no bar: its work had no units to count
    assert not any("0/0" in text for text in bars + [m.value for m in at.markdown])
    assert any(f"Job {export} · export · done" in m.value for m in at.markdown)


VERDICTS = {"correct": (1.0, "correct", "evidence"), "incorrect": (0.0, "incorrect", "evidence"),
            "unverifiable": (0.5, "unverifiable", "evidence"), "outcome": (1.0, "correct", "outcome")}


def scored_path(store: Store, task: tuple[str, int], index: int, verdicts: list[dict[str, str]],
                job: int | None = None) -> int:
    """A reasoning path of `task` (from reason job `job`) ending in 'Answer: 42'; step i carries verdicts[i]
    ({verifier: kind}): arithmetic that holds (correct, 1.0), a false one (incorrect, 0.0), none (unverifiable, 0.5),
    or a final answer that matches the reference answer (outcome: correct, 1.0)."""
    task_type, task_id = task
    texts = [f"step {i + 1}" for i in range(len(verdicts) - 1)] + ["Answer: 42"]
    path_id = store.verify.add_reasoning_path({"task_type": task_type, "task_id": task_id, "path_index": index, "job_id": job,
                                        "text": "\n".join(texts)}, texts)
    rows = []
    for step, given in zip(store.verify.path_steps(path_id), verdicts, strict=True):
        for name, kind in given.items():
            score, label, checks = VERDICTS[kind]
            params = {"target_kind": "reference", "answer": "42"} if checks == "outcome" else {}
            rows.append({"step_id": step["id"], "verifier": name, "score": score, "label": label, "checks": checks,
                         "params": params})
    store.verify.set_step_scores(rows)
    return path_id


def test_a_verifiers_pass_rate_counts_only_the_steps_it_could_check(store: Store):
    [seed] = store.seeds.insert_seeds([{"instruction": "What is 2 + 3 * 4?"}])
    labels = ["correct", "incorrect", "unverifiable", "unverifiable", "unverifiable", "unverifiable"]
    scored_path(store, ("seed", seed), 0, [{"arithmetic": label, "rollout": "unverifiable"} for label in labels])
    rates = {row["verifier"]: row for row in store.overview.verifier_pass_rates()}
    assert rates["arithmetic"]["steps"] == 6 and rates["arithmetic"]["checked"] == 2
    assert rates["arithmetic"]["pass_rate"] == pytest.approx(0.5)  # 1 correct of 2 checked, not 1 of 6
    assert rates["arithmetic"]["unverifiable_rate"] == pytest.approx(4 / 6)
    assert rates["rollout"]["checked"] == 0 and rates["rollout"]["pass_rate"] is None  # no rate of nothing


def test_the_glossary_explains_each_term_once_with_its_source_and_refuses_unknown_terms():
    assert all(term.meaning.strip() for term in TERMS.values())
    text = explain("rollout", "pseudo-reference")
    assert text.startswith("**rollout**: ") and "Math-Shepherd" in text and "\n\n**pseudo-reference**: " in text
    assert "The Entropy Era" in explain("rectified-scaling heuristic")  # which article: named
    with pytest.raises(KeyError):
        explain("no such term")


def test_the_verifier_page_explains_rollout_and_pseudo_reference_where_they_first_appear(store: Store):
    store.seeds.insert_seeds([{"instruction": "What is 2 + 3 * 4?", "reference_answer": "14"}])
    at = page("verifier").run()
    assert not at.exception
    verifiers = next(w for w in at.multiselect if w.label == "Verifiers")
    assert TERMS["rollout"].meaning in verifiers.help
    verifiers.set_value(["consistency"]).run()
    assert TERMS["pseudo-reference"].meaning in next(w for w in at.radio if w.label == "Self-consistency score").help


def test_the_overview_explains_the_gate_its_best_path_and_min_over_steps(store: Store):
    reviewed_by_the_gate(store)
    at = page("overview").run()
    assert not at.exception
    [gate] = [c for c in at.caption if "best reasoning path" in c.value]
    assert TERMS["gate"].meaning in gate.proto.help and "min over steps" in gate.proto.help


def test_distributions_shows_the_gates_own_pass_rate_per_depth_as_the_overview_does(store: Store):
    [seed] = store.seeds.insert_seeds([{"instruction": "What is 2 + 3 * 4?", "reference_answer": "42"}])
    scored_path(store, ("seed", seed), 0, [{"arithmetic": "correct"}, {"consistency": "outcome"}])
    refresh_task_metric(store, "seed", seed, verification_settings(store))
    at = page("distributions").run()
    assert not at.exception
    assert not [s for s in at.slider if s.label.startswith("Pass threshold")]  # no second definition of a pass
    assert entropy_by_depth(store)[0]["pass_rate"] == 1.0 == overview_report(store)["entropy_by_depth"][0]["pass_rate"]


def test_after_a_successful_export_the_page_shows_its_success_without_a_warning_or_a_greyed_out_button(
    store: Store, db_path
):
    add_sample(store, "Approved task", "answer")
    at = page("export").run()
    at = next(b for b in at.button if b.label == "Export").click().run()
    worker.run_worker(db_path, exit_when_idle=True, log=lambda message: None)
    at = at.run()
    assert not at.exception
    assert any("Wrote 1 row to" in s.value for s in at.success)
    assert not any("Already there" in w.value for w in at.warning)
    assert not next(b for b in at.button if b.label == "Export").disabled
    assert any("written by the export below; exporting again replaces them" in c.value for c in at.caption)
    (db_path.parent / "exports" / "other.jsonl").write_text("someone else's")  # a file this session did not write
    next(t for t in at.text_input if t.label.startswith("File name")).input("other.jsonl").run()
    assert any("Already there: `other.jsonl`" in w.value for w in at.warning)
    assert next(b for b in at.button if b.label == "Export").disabled


def test_the_map_marks_samples_removed_as_near_duplicates_apart_from_the_kept_ones(store: Store):
    ids = fill_map(store)
    store.samples.apply_similarity_gate({ids[0]: "similar to seed 1 (cosine 0.951 > 0.90)",
                                 ids[1]: "similar to seed 2 (cosine 0.930 > 0.90)"})
    store.db["samples"].update(ids[2], {"filter_reason": "turn 2: near duplicate of sample 9 (96% similar)"})
    store.db["samples"].update(ids[3], {"filter_reason": "too short (query under 10 characters)"})
    for colour in ("Source / evolution depth", "Novelty vs seeds"):
        at = page("maps")
        at.session_state["map-color"] = colour
        at.run()
        assert not at.exception
        traces = {t["name"]: t for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
        duplicates = traces["removed as a near-duplicate (3)"]
        assert duplicates["marker"]["symbol"] == "x" and sorted(array(duplicates["customdata"])) == sorted(ids[:3])
        assert "removed: similar to seed" in " ".join(duplicates["hovertext"])
        assert list(array(traces["removed by another filter (1)"]["customdata"])) == [ids[3]]
        drawn_as_kept = [i for name, t in traces.items() if not name.startswith(("removed", "seeds"))
                         for i in array(t["customdata"])]
        assert not set(ids[:4]) & set(drawn_as_kept) and len(drawn_as_kept) == len(ids) - 4
        assert any("✕ marks the 3 samples removed as near-duplicates" in c.value for c in at.caption)


PALINDROME = {"instruction": "Write a Python function `is_palindrome(s)` that tells whether s reads the same backwards.",
              "reference_answer": "def is_palindrome(s):\n    return s == s[::-1]\n", "domain": "code",
              "tests": "assert is_palindrome('abba')\nassert not is_palindrome('abc')"}


def test_a_code_seeds_reference_is_its_tests_which_the_seeds_page_edits_without_a_false_warning(store: Store):
    [code, worked] = store.seeds.insert_seeds([
        PALINDROME,
        {"instruction": "Add 12 and 30.", "reference_answer": "Step 1: add.\nStep 2: 12 + 30 = 42"},  # no tests
    ])
    at = page("seeds").run()
    assert not at.exception
    grid = at.dataframe[0].value
    assert grid.loc[code, "answer check"] == "tests" and grid.loc[worked, "answer check"] == "not a final answer"
    assert not any("not a short final answer" in w.value for w in at.warning)  # the code seed is shown first
    tests = next(t for t in at.text_area if t.label == "Tests")
    assert tests.value == PALINDROME["tests"]
    tests.input("assert is_palindrome('abba')\nassert is_palindrome('')")
    at = next(b for b in at.button if b.label == "Save this seed").click().run()
    assert not at.exception
    assert store.seeds.get_seed(code)["tests"] == "assert is_palindrome('abba')\nassert is_palindrome('')"
    next(s for s in at.selectbox if s.label == "Seed").set_value(worked).run()
    assert any("not a short final answer" in w.value for w in at.warning)  # really unusable: said


def reviewed_by_the_gate(store: Store) -> dict[str, int]:
    """Samples as the demo leaves them: one the gate approved automatically (its answer matches the reference), one
    it rejected automatically (its best path is path 2: path 1 has a wrong step, path 2 an answer no verifier could
    check), one pending without paths and one a person approved."""
    job = store.jobs.create_job("verify", {})
    made = {name: add_sample(store, f"{name} task", status="pending") for name in ("passed", "failed", "unverified")}
    made["by hand"] = add_sample(store, "by hand task", status="approved")
    scored_path(store, ("sample", made["passed"]), 0, [{"arithmetic": "correct"}, {"consistency": "outcome"}], job)
    scored_path(store, ("sample", made["failed"]), 0, [{"arithmetic": "correct"}, {"arithmetic": "incorrect"}], job)
    scored_path(store, ("sample", made["failed"]), 1,
                [{"arithmetic": "correct"}, {"arithmetic": "unverifiable", "rollout": "unverifiable"}], job)
    review_by_gate(store, [{"type": "sample", "id": made[name]} for name in ("passed", "failed")])
    return made


def test_an_automatic_decision_waits_for_a_person_and_a_persons_confirmation_is_recorded(store: Store):
    made = reviewed_by_the_gate(store)
    assert store.samples.get_sample(made["passed"])["status"] == "approved"
    assert store.review.latest_decisions([made["passed"]])[made["passed"]]["automatic"]
    queue = store.queue.query_sample_ids(**review.QueueFilter().kwargs())  # the default queue: what needs a human
    assert queue == [made["passed"], made["failed"], made["unverified"]]
    assert review.set_status(store, [made["passed"]], "approved") == 1  # the same status, now a person's
    assert not store.review.latest_decisions([made["passed"]])[made["passed"]]["automatic"]
    assert store.queue.query_sample_ids(**review.QueueFilter().kwargs()) == [made["failed"], made["unverified"]]
    assert review.set_status(store, [made["passed"]], "approved") == 0  # a person's decision is not repeated


def test_review_opens_on_what_needs_a_human_with_the_reason_in_sight_and_the_verifiers_path_numbers(store: Store):
    made = reviewed_by_the_gate(store)
    at = page("review").run()
    assert not at.exception
    assert any("3 samples in this queue (of 4): 1 pending, 1 rejected automatically, to check, 1 approved "
               "automatically, to confirm" in c.value for c in at.caption)
    assert at.subheader[0].value == f"Sample {made['passed']} · 1 of 3"
    assert any("Approved automatically by demo (automatic, by the gate)" in i.value and "Approve to confirm" in i.value
               for i in at.info)
    at = next(b for b in at.button if b.label == "Skip").click().run()
    assert at.subheader[0].value == f"Sample {made['failed']} · 2 of 3"
    assert any("Rejected automatically by demo" in w.value and "Approve to overrule" in w.value for w in at.warning)
    assert any(m.value.startswith("**Best reasoning path** (★ path 2 · job ") for m in at.markdown)
    [steps] = [d.value for d in at.dataframe if "decided by" in d.value]
    assert steps["decided by"].tolist() == ["arithmetic", "nobody"]  # as the Verifier page attributes them


def test_every_entropy_a_page_shows_is_in_bits_with_its_unit(store: Store):
    assert "bits" in TERMS["token entropy"].meaning and "bits" in TERMS["lexical entropy"].meaning
    assert all(METRIC_UNITS[name] == "bits" for name in METRIC_UNITS if "entropy" in name)
    sample = add_sample(store, "A task", status="pending")
    store.metrics.set_metrics("sample", sample, {"token_entropy_mean": 1.25, "lexical_entropy": 3.5, "distinct_2": 0.9})
    at = page("review").run()
    [metrics] = [d.value for d in at.dataframe if "metric" in d.value]
    units = dict(zip(metrics["metric"], metrics["unit"], strict=True))
    assert units == {"distinct_2": "", "lexical_entropy": "bits", "token_entropy_mean": "bits"}


@pytest.mark.parametrize("helper", sorted(p.name for p in (ROOT / "views").glob("_*.py") if p.name != "__init__.py"))
def test_importing_a_shared_page_helper_only_defines_names(helper: str):
    """Many script threads import these at once: a call at import (st.rerun() raises) would hand the others a
    half-made module. Whatever may rerun runs inside a function a page calls."""
    tree = ast.parse((ROOT / "views" / helper).read_text())
    calls = [ast.unparse(node)[:80] for node in tree.body
             if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant)]
    assert calls == []
