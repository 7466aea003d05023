"""AppTest runs of the Verifier page: empty states, starting a job, the audit view, filters and overrules."""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.json_server import json_server
from workbench.core.jobs import queue, runner
from workbench.core.settings import save_teacher_config, set_reviewer_name
from workbench.core.teacher import TeacherConfig
from workbench.store import Store
from workbench.verify.reasoning import VerificationSettings, save_verification_settings, verification_settings
from workbench.verify.verifiers import DEFAULT_VERIFIERS

TIMEOUT = 60
RIGHT = "Step 1: 25% of $80 = $20.\nStep 2: $80 - $20 = $60.\nStep 3: 10% of $60 = $6.\nStep 4: $60 - $6 = $54.\nAnswer: 54"
SLIP = "Step 1: 25% of $80 = $20.\nStep 2: $80 - $20 = $50.\nAnswer: 50"


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("views/verifier.py")
    return at


def reasoned_store(store: Store, text: str) -> int:
    """One seed with two paths scored by a new store's default verifiers, through the real job (teacher mocked)."""
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": text}))
    seed_id = store.seeds.insert_seeds([{"instruction": "A jacket costs $80, 25% off then 10% off. Final price?",
                                   "reference_answer": "54", "domain": "math"}])[0]
    job_id = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": seed_id}], "n": 2})
    runner.run_job(store, store.jobs.claim_job(job_id, 1))
    return seed_id


def texts(at: AppTest) -> str:
    return " ".join(e.value for kind in ("info", "success", "error", "caption") for e in getattr(at, kind))


def test_empty_store_points_to_the_seeds_page(db_path):
    at = page().run()
    assert not at.exception
    assert any("No tasks yet" in i.value for i in at.info)


def test_seeds_without_paths_offer_a_job_and_queue_it(store: Store):
    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?", "reference_answer": "42", "domain": "math"},
                        {"instruction": "Write a poem.", "domain": "writing"}])
    at = page().run()
    assert not at.exception
    assert any("No reasoning paths yet" in i.value for i in at.info)
    start = next(b for b in at.button if b.label == "Start reasoning job")
    assert start.disabled  # nothing chosen yet
    at.multiselect[0].select(at.multiselect[0].options[0]).run()
    at.number_input[0].set_value(3).run()
    at = next(b for b in at.button if b.label == "Start reasoning job").click().run()
    assert not at.exception
    job = store.jobs.list_jobs()[0]
    assert job["kind"] == "verify" and job["params"]["n"] == 3
    assert job["params"]["verifiers"] == list(DEFAULT_VERIFIERS)  # a new store's offline defaults
    assert job["params"]["tasks"] == [{"type": "seed", "id": 1}]
    assert "Started reason job" in texts(at)


def test_prm_without_a_path_is_refused_and_nothing_is_queued(store: Store):
    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?"}])
    at = page().run()
    at.multiselect[0].select(at.multiselect[0].options[0]).run()
    at.multiselect[1].select("prm").run()
    at = next(b for b in at.button if b.label == "Start reasoning job").click().run()
    assert not at.exception
    assert any("needs the directory" in e.value for e in at.error)
    assert store.jobs.list_jobs() == []


def test_audit_view_shows_heatmap_gate_and_steps(store: Store):
    reasoned_store(store, SLIP)
    at = page().run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    assert any(re.match(r"Fails the gate: best path \(path 1 · job \d+, score 0\.00: min over steps\) fails at the "
                        r"threshold 1: step 2 scores 0\.00, decided by arithmetic: false: `80 - 20 = 50`", e.value)
               for e in at.error)
    frames = [d.value for d in at.dataframe]
    steps = frames[1]
    assert list(steps["text"]) == ["25% of $80 = $20.", "$80 - $20 = $50.", "Answer: 50"]
    assert list(steps["arithmetic label"]) == ["correct", "incorrect", "incorrect"]
    # a calculation that holds is evidence; the answer checked against the reference is the outcome
    assert list(steps["arithmetic checks"]) == ["evidence", "evidence", "outcome"]
    assert list(steps["vouches for"]) == ["evidence", "evidence", "outcome"]
    # the job ran a new store's default verifiers: self-consistency checks the answer against the reference too
    assert list(steps["decided by"]) == ["arithmetic", "arithmetic", "arithmetic, consistency"]
    assert "80 - 20 is 60" in steps["arithmetic rationale"][1]


def test_lowering_the_threshold_and_the_rule_changes_the_gate(store: Store):
    reasoned_store(store, RIGHT)
    at = page().run()
    assert any(re.match(r"Passes the gate: best path \(path 1 · job \d+, score 1\.00: min over steps\) passes: its "
                        "outcome is verified by arithmetic", s.value) for s in at.success)
    assert "54" in [t.value for t in at.text]  # the task's reference answer, in "The task" expander
    at.selectbox[1].set_value("mean").run()
    assert not at.exception
    assert store.settings.get_setting("verification")["aggregation"] == "mean"


def test_overrule_changes_path_score_and_gate_and_records_who(store: Store):
    seed_id = reasoned_store(store, SLIP)
    set_reviewer_name(store, "ada")
    # mark both false steps of the first (best) path correct
    path = store.verify.reasoning_paths_nested()[("seed", seed_id)][0]
    for step in path["steps"][1:]:
        at = page().run()
        next(s for s in at.selectbox if s.label == "Step").set_value(step["id"])
        next(r for r in at.radio if r.label == "Your label").set_value("correct")
        next(t for t in at.text_input if t.label == "Reason").input("checked by hand")
        at = next(b for b in at.button if b.label == "Overrule as ada").click().run()
        assert not at.exception
    assert "the task passes the gate" in texts(at)
    assert store.metrics.get_metrics("seed", seed_id)["best_path_score"] == 1.0
    history = store.verify.step_overrule_history(path["steps"][2]["id"])
    assert history[0]["reviewer"] == "ada" and history[0]["reason"] == "checked by hand"


def test_overrule_without_a_reason_is_refused(store: Store):
    reasoned_store(store, SLIP)
    at = page().run()
    at = next(b for b in at.button if b.label.startswith("Overrule as")).click().run()
    assert not at.exception
    assert any("give a reason" in e.value for e in at.error)
    assert store.conn.execute("SELECT count(*) FROM step_overrules").fetchone()[0] == 0


def test_filters_narrow_the_task_list(store: Store):
    from workbench.verify.reasoning import VerificationSettings, overrule_step

    seed_id = reasoned_store(store, SLIP)
    other = store.seeds.insert_seeds([{"instruction": "Another task", "reference_answer": "1"}])[0]
    job_id = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": other}], "n": 1})
    runner.run_job(store, store.jobs.claim_job(job_id, 1))
    step = store.verify.reasoning_paths_nested()[("seed", seed_id)][0]["steps"][0]
    overrule_step(store, step["id"], "incorrect", "the premise is wrong", "ada", VerificationSettings())
    at = page().run()
    assert list(at.dataframe[0].value["task"]) == [f"seed:{seed_id}", f"seed:{other}"]
    pills = at.get("button_group")[0]
    at = pills.set_value(["overruled"]).run()
    assert not at.exception
    assert list(at.dataframe[0].value["task"]) == [f"seed:{seed_id}"]
    at = at.get("button_group")[0].set_value(["overruled", "disagreements"]).run()
    assert any("No task matches" in i.value for i in at.info)


def planned_job(store: Store, reply: str, verifier: str) -> AppTest:
    """The page with one seed chosen, N = 2 paths and `verifier` added to the default verifiers (teacher mocked)."""
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": reply}))
    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?", "domain": "math"}])
    at = page().run()
    at.multiselect[0].select(at.multiselect[0].options[0]).run()
    at.number_input[0].set_value(2).run()  # N = 2 paths
    at = at.multiselect[1].select(verifier).run()
    assert not at.exception
    return at


def test_rollout_options_show_the_expected_budget_and_reach_the_job(store: Store):
    at = planned_job(store, "Answer: 1", "rollout")
    next(n for n in at.number_input if n.label == "Rollouts per step (K)").set_value(3).run()
    next(n for n in at.number_input if n.label == "Most steps rolled out per path").set_value(2).run()
    next(n for n in at.number_input if n.label == "Most tokens per rollout").set_value(64).run()
    # 1 task x 2 paths x 2 steps x K=3 = 12 rollout calls of at most 64 tokens
    assert any("12 rollout calls (≤ 768 completion tokens" in i.value for i in at.info)
    assert any("continue the solution from the end of the step prefix" in c.value for c in at.caption)
    at = next(b for b in at.button if b.label == "Start reasoning job").click().run()
    params = store.jobs.list_jobs()[0]["params"]
    assert params["verifiers"] == [*DEFAULT_VERIFIERS, "rollout"]
    assert (params["rollout_k"], params["rollout_max_steps"], params["rollout_max_tokens"]) == (3, 2, 64)
    assert params["consistency_mode"] == "majority" and params["rollout_label"] == "soft"


def test_a_base_model_on_a_chat_only_provider_is_told_why_rollouts_cannot_run(store: Store):
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", base_model=True))
    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?"}])
    at = page().run()
    at.multiselect[1].select("rollout").run()
    assert any("cannot continue a raw prompt" in w.value for w in at.warning)


def test_pseudo_reference_rollouts_and_decisions_are_shown(store: Store):
    from tests.verify.test_reasoning_job import LABEL_FREE, PENCIL, PencilServer, pencil_teacher

    with json_server(PencilServer()) as server:
        pencil_teacher(store, server.url)
        task = store.samples.insert_sample({"source": "import", "instruction": PENCIL})
        job_id = queue.submit(store, "verify", {"tasks": [{"type": "sample", "id": task}], **LABEL_FREE})
        runner.run_job(store, store.jobs.claim_job(job_id, 1))
    save_verification_settings(store, VerificationSettings(margin=LABEL_FREE["margin"]))
    at = page().run()
    assert not at.exception
    assert any("Pseudo-reference (job 1): 31 — the majority final answer of 2/3 paths (self-consistency), "
               "not a checked answer." in c.value for c in at.caption)
    steps = at.dataframe[1].value
    assert list(steps["decided by"]) == ["arithmetic, rollout", "arithmetic, rollout", "consistency"]
    assert any(c.value.startswith("Why 1.00? 4 of 4 rollouts from this step reach the pseudo-reference '31'")
               for c in at.caption)
    rollouts = at.dataframe[2].value
    assert list(rollouts["k"]) == [1, 2, 3, 4] and set(rollouts["final answer"]) == {"31"}
    assert list(rollouts["reaches the target"]) == [True] * 4


def test_a_verify_eval_report_lists_its_misses(store: Store):
    from tests.verify.test_verifiers_eval import FIXTURE
    from workbench.verify.verifiers import get_verifier
    from workbench.verify.verifiers.evaluation import evaluate, read_processbench

    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?"}])
    _, reports = evaluate([get_verifier("arithmetic")], read_processbench(FIXTURE))
    content = "".join(json.dumps(r) + "\n" for r in reports).encode()
    at = page().run()
    at.file_uploader[0].upload("report.jsonl", content, "application/json").run()
    assert not at.exception
    assert any("acc_err 0.714" in c.value and "f1 0.833" in c.value and "unverifiable_share" in c.value
               for c in at.caption)
    # the gate's figures, as `verify-eval --json` prints them: one path and no reference: nothing passes
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Passed the gate"], metrics["Gate precision"], metrics["Gate yield"]) == ("0", "—", "0.000")
    misses = at.dataframe[0].value
    assert len(misses) == 2 and set(misses["miss"]) == {"missed error"}
    assert "rationales" in at.dataframe[1].value.columns


def test_a_file_that_is_not_a_report_is_refused_on_the_page(store: Store):
    store.seeds.insert_seeds([{"instruction": "What is 6 * 7?"}])
    at = page().run()
    at.file_uploader[0].upload("labels.jsonl", b'{"id": 1, "problem": "p"}\n', "application/json").run()
    assert not at.exception
    assert any("not a verify-eval report line" in e.value for e in at.error)


def test_a_reference_that_cannot_be_compared_says_so(store: Store):
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": RIGHT}))
    seed_id = store.seeds.insert_seeds([{"instruction": "List the customers with no orders.", "domain": "data_analysis",
                                   "reference_answer": "SELECT c.id\nFROM customers AS c\nWHERE NOT EXISTS (...)"}])[0]
    job_id = queue.submit(store, "verify", {"tasks": [{"type": "seed", "id": seed_id}], "n": 1,
                                           "verifiers": ["consistency"]})
    runner.run_job(store, store.jobs.claim_job(job_id, 1))
    at = page().run()
    assert not at.exception
    assert any("is not a short final answer" in w.value and "SELECT c.id" in w.value for w in at.warning)


def test_the_judges_two_modes_show_their_expected_cost_and_the_mode_reaches_the_job(store: Store):
    at = planned_job(store, "\\boxed{-1}", "judge")
    # 2 paths of about 6 steps: 12 calls per step, 2 as a critic
    assert any("per step 12 calls" in i.value and "as a critic 2 calls" in i.value for i in at.info)
    next(r for r in at.radio if r.label == "Judge mode").set_value("critic").run()
    at = next(b for b in at.button if b.label == "Start reasoning job").click().run()
    assert store.jobs.list_jobs()[0]["params"]["judge_mode"] == "critic"


def test_gate_settings_on_the_page_are_saved_and_decide_the_tasks_again(store: Store):
    reasoned_store(store, RIGHT)
    at = page().run()
    next(s for s in at.slider if s.label == "Self-consistency margin").set_value(0.75).run()
    next(r for r in at.radio if r.label == "Step rule").set_value("consensus").run()
    next(s for s in at.selectbox if s.label == "Best path by").set_value("vote").run()
    assert not at.exception
    assert verification_settings(store) == VerificationSettings("vote", 1.0, 0.75, "consensus")
    assert store.verify.gate_verdict("seed", 1)["status"] == "passed"  # decided again: the reference still verifies it
