"""Verifier: sample reasoning paths, see every step's score, keep the best path, and overrule any verdict."""

import pandas as pd
import streamlit as st

from views._labelling import gold_panel, labelling_view, mark_path_gold
from views._shared import (
    bundled_model_note,
    bypass_cache_checkbox,
    empty_state,
    job_progress,
    page_header,
)
from workbench.core.glossary import explain
from workbench.core.jobs.queue import submit
from workbench.core.settings import reviewer_name, teacher_config
from workbench.core.teacher import supports_raw_completion
from workbench.core.wording import plural
from workbench.verify.audit import (
    EVIDENCE_MARK,
    FILTERS,
    OUTCOME_MARK,
    gate_word,
    heatmap_figure,
    matching,
    path_label,
    rollout_rows,
    step_rows,
    summarise,
    verifier_names,
)
from workbench.verify.job import expected_usage
from workbench.verify.reasoning import (
    AGGREGATIONS,
    DEFAULT_N,
    DEFAULT_TEMPERATURE,
    MAX_N,
    PASSED,
    STEP_RULES,
    UNVERIFIED,
    VerificationSettings,
    load_task,
    overrule_step,
    save_verification_settings,
    verification_settings,
)
from workbench.verify.reference_check import check_warning
from workbench.verify.verifiers import DEFAULT_VERIFIERS, DESCRIPTIONS, REGISTRY
from workbench.verify.verifiers.alignment import reference_solution_problem
from workbench.verify.verifiers.consistency import DEFAULT_MODE as DEFAULT_CONSISTENCY_MODE
from workbench.verify.verifiers.consistency import MODES
from workbench.verify.verifiers.evaluation import (
    EvalDataError,
    gate_figures,
    miss_kind,
    processbench_metrics,
    read_report,
    unverifiable_share,
)
from workbench.verify.verifiers.judge import MODES as JUDGE_MODES
from workbench.verify.verifiers.prm import STYLES
from workbench.verify.verifiers.rollout import DEFAULT_K, DEFAULT_MAX_STEPS, LABELS
from workbench.verify.verifiers.rollout import DEFAULT_MAX_TOKENS as DEFAULT_ROLLOUT_TOKENS
from workbench.verify.verifiers.sandbox import isolation

db = page_header(
    "Verifier",
    "Generation is easy; verification is hard. Sample N reasoning paths per task, score every step, keep the "
    "best path, and pass the task only when that path reaches the gate. Overrule any verdict you disagree with, "
    "or label the steps yourself, one task at a time.",
    "verifier_message",
)

counts = db.overview.counts()
if counts["seeds"] == 0 and counts["samples"] == 0:
    empty_state("No tasks yet. Load or import seeds on the Seeds page, then come back to sample reasoning paths.")
    st.stop()

if st.toggle("Label steps", key="verifier-labelling",
             help="Rate every step of one task at a time from the keyboard, as PRM800K's labellers did. Off: "
                  "sample paths, audit every verdict and overrule."):
    if counts["paths"] == 0:
        empty_state("No reasoning paths to label yet. Switch to Audit and start a reasoning job first.")
    else:
        labelling_view(db, verification_settings(db))
    st.stop()


# ---------------------------------------------------------------- start a job


def task_options(source: str, domain: str) -> dict[str, dict]:
    if source == "seeds":
        rows = db.seeds.list_seeds(domain=None if domain == "(all)" else domain)
        return {f"seed {r['id']} · {r['instruction'][:80]}": {"type": "seed", "id": r["id"]} for r in rows}
    return {f"sample {r['id']} · {r['instruction'][:80]}": {"type": "sample", "id": r["id"]} for r in db.samples.list_samples()}


with st.expander("Sample and verify reasoning paths", expanded=counts["paths"] == 0):
    left, right = st.columns(2)
    source = left.radio("Tasks from", ["seeds", "samples"], horizontal=True)
    domain = right.selectbox("Seed domain", ["(all)", *db.seeds.seed_domains()], disabled=source != "seeds")
    options = task_options(source, domain)
    chosen = st.multiselect("Tasks", list(options), placeholder=f"choose from {len(options)} {source}")
    left, middle, right = st.columns(3)
    n_paths = left.number_input("Paths per task (N)", 1, MAX_N, DEFAULT_N)
    temperature = middle.slider("Temperature", 0.0, 2.0, DEFAULT_TEMPERATURE, 0.05)
    max_tokens = right.number_input("Max tokens per path", 32, 8192, 256, step=32)
    verifiers = st.multiselect("Verifiers", list(REGISTRY), default=list(DEFAULT_VERIFIERS),
                               format_func=lambda name: f"{name}: {DESCRIPTIONS[name]}",
                               help=explain("rollout", "self-consistency", "unverifiable"))
    if "code" in verifiers and not (code_isolation := isolation()).complete:
        st.warning(f"Code verifier: {code_isolation.describe()}", icon=":material/warning:")
    judge_model = prm_path = prm_style = None
    verifier_options: dict = {}
    config = teacher_config(db)
    if "consistency" in verifiers:
        verifier_options["consistency_mode"] = st.radio(
            "Self-consistency score", MODES, horizontal=True, index=MODES.index(DEFAULT_CONSISTENCY_MODE),
            format_func=lambda m: {"share": "share of paths agreeing", "majority": "1/0 against the majority"}[m],
            help=explain("pseudo-reference"))
    if "rollout" in verifiers:
        left, middle, right = st.columns(3)
        verifier_options["rollout_k"] = int(left.number_input("Rollouts per step (K)", 1, 32, DEFAULT_K))
        verifier_options["rollout_max_steps"] = int(middle.number_input("Most steps rolled out per path", 1, 32,
                                                                        DEFAULT_MAX_STEPS))
        verifier_options["rollout_max_tokens"] = int(right.number_input("Most tokens per rollout", 16, 4096,
                                                                        DEFAULT_ROLLOUT_TOKENS, step=16))
        left, right = st.columns(2)
        verifier_options["rollout_label"] = left.radio(
            "Step label", LABELS, horizontal=True,
            format_func=lambda m: {"soft": "share reaching the answer", "any": "1 if any reaches it",
                                   "most": "1 if most reach it"}[m])
        verifier_options["rollout_skip_wrong_paths"] = right.checkbox(
            "Skip paths whose final answer already misses", help="Saves their rollouts; under 'min' such a path fails "
                                                                  "at its answer step anyway.")
        if config.uses_completion_prompts and not supports_raw_completion(config.model):
            st.warning(f"The teacher {config.model} is set up as a base model but its provider is chat-only: it cannot "
                       "continue a raw prompt, so neither paths nor rollouts can be sampled. Untick 'base model' in "
                       "Settings to have it continue each step by chat, or choose a raw-completion endpoint.")
        elif not config.uses_completion_prompts:
            st.caption(f"{config.model} is a chat model: each rollout asks it to continue the solution from the end "
                       "of the step prefix ('continue from here').")
    if "judge" in verifiers:
        left, right = st.columns(2)
        judge_model = left.text_input("Judge model (empty: the teacher)", placeholder=teacher_config(db).model)
        verifier_options["judge_mode"] = right.radio(
            "Judge mode", JUDGE_MODES, horizontal=True,
            format_func=lambda m: {"step": "yes/no per step", "critic": "critic: earliest wrong step per path"}[m],
            help="Per step: one call per step, P(yes) from logprobs. Critic (ProcessBench's protocol): one call per "
                 "path naming the earliest wrong paragraph in \\boxed{}; a reply in no known format is no verdict.")
    if "prm" in verifiers:
        prm_path = st.text_input("PRM directory (local path)")
        prm_style = st.selectbox("PRM style", STYLES,
                                 format_func=lambda s: {"qwen": "Qwen2.5-Math-PRM (<extra_0>)",
                                                        "shepherd": "Math-Shepherd (ки, +/-)"}[s])
    planned = {"tasks": [options[label] for label in chosen], "n": int(n_paths), "max_tokens": int(max_tokens),
               "verifiers": verifiers, **verifier_options}
    if chosen:
        usage = expected_usage(db, planned)
        text = (f"Expected at most: {usage['path_calls']:,} calls for the paths (≤ {usage['path_completion_tokens']:,} "
                f"completion tokens, ≈ {usage['path_prompt_tokens']:,} prompt tokens)")
        if "rollout" in verifiers:
            text += (f" and {usage['rollout_calls']:,} rollout calls (≤ {usage['rollout_completion_tokens']:,} "
                     f"completion tokens, ≈ {usage['rollout_prompt_tokens']:,} prompt tokens)")
        if "judge" in verifiers:
            text += ". The judge, assuming 6 steps a path: " + "; ".join(
                f"{'per step' if mode == 'step' else 'as a critic'} {usage[f'judge_{mode}_calls']:,} calls "
                f"(≤ {usage[f'judge_{mode}_completion_tokens']:,} completion tokens, "
                f"≈ {usage[f'judge_{mode}_prompt_tokens']:,} prompt tokens)" for mode in JUDGE_MODES)
        st.info(text + ".", icon=":material/calculate:")
    bypass = bypass_cache_checkbox()
    if st.button("Start reasoning job", type="primary", disabled=not chosen):
        if not verifiers:
            st.error("Choose at least one verifier.")
        elif "prm" in verifiers and not (prm_path or "").strip():
            st.error("The PRM verifier needs the directory of a local model.")
        else:
            params = {**planned, "temperature": temperature, "bypass_cache": bypass}
            params.update({k: v.strip() for k, v in {"judge_model": judge_model, "prm_path": prm_path}.items() if v and v.strip()})
            if prm_style:
                params["prm_style"] = prm_style
            job_id = submit(db, "verify", params, model=teacher_config(db).model)
            st.session_state["reason_job"] = job_id
            st.session_state["verifier_message"] = (
                f"Started reason job {job_id}: {plural(len(chosen), 'task')} x {plural(int(n_paths), 'path')}."
            )
            st.rerun()


@st.fragment(run_every=2.0)
def live_jobs() -> None:
    active = db.jobs.list_jobs(limit=10, kind="verify", statuses=["queued", "running", "paused"])
    for job in active:
        job_progress(job)
    watched = st.session_state.get("reason_job")
    if watched is not None and not any(j["id"] == watched for j in active):
        st.session_state.pop("reason_job")
        st.rerun()  # the job ended: redraw the whole page with its paths


live_jobs()


# ---------------------------------------------------------------- gate settings

settings = verification_settings(db)
st.caption("The gate passes a task only when its best path's outcome is verified (the reference answer, the tests, "
           "or a self-consistency majority at the margin) and no verifier found a step wrong. Arithmetic that holds "
           "is evidence, not a verified step: a path nothing else checked is unverified.")
left, middle, right, last = st.columns(4)
aggregation = left.selectbox("Best path by", AGGREGATIONS, index=AGGREGATIONS.index(settings.aggregation),
                             help=explain("path score", "best path") + "\n\nHow paths are ranked (passed before unverified before failed): a path score from "
                                  "its steps (the weakest step: min; all together: product; the last step; the "
                                  "mean), or the verifier-weighted vote (vote, DIVERSE: each path votes for its "
                                  "answer with the product of its judged step scores).")
threshold = middle.slider("A step is wrong under", 0.0, 1.0, settings.threshold, 0.05,
                          help="A counted verdict under this score finds its step wrong, and the path fails. 1.0: "
                               "any doubt fails it.")
margin = right.slider("Self-consistency margin", 0.0, 1.0, settings.margin, 0.05,
                      help="Without a reference answer or tests, the paths' majority answer verifies an outcome only "
                           "when it leads the runner-up by this share of all paths (0.5: 3 of 4 against 1).")
step_rule = last.radio("Step rule", STEP_RULES, index=STEP_RULES.index(settings.step_rule),
                       format_func=lambda r: {"strictest": "strictest verdict",
                                              "consensus": "consensus (rollouts = judge)"}[r],
                       help="Consensus filtering (Zhang et al. 2025): rollouts and the judge count on a step only "
                            "where they agree; their disagreements wait for a person (labelling queue: consensus).")
chosen_settings = VerificationSettings(aggregation, threshold, margin, step_rule)
if chosen_settings != settings:
    settings = chosen_settings
    decided = save_verification_settings(db, settings)
    st.toast(f"Gate settings saved; {plural(decided, 'task')} decided again.")

with st.expander("Gold tasks for the labelling queue, and each labeller's accuracy"):
    gold_panel(db)

with st.expander("Check a verifier against your own labels (verify-eval report)"):
    st.caption("Run `workbench verify-eval LABELS.jsonl --verifier arithmetic,rollout --report report.jsonl` on a "
               "ProcessBench-format file ({id, problem, steps, label}), then load the report here to see the misses.")
    uploaded = st.file_uploader("verify-eval report (JSONL)", type=["jsonl", "json", "txt"])
    if uploaded is not None:
        try:
            reports = read_report(uploaded.getvalue().decode("utf-8-sig").splitlines())
        except (EvalDataError, UnicodeDecodeError) as exc:
            st.error(f"Cannot read {uploaded.name}: {exc}")
        else:
            metrics = processbench_metrics([r["label"] for r in reports], [r["predicted"] for r in reports])
            metrics["unverifiable_share"] = unverifiable_share(reports)
            shown_metrics = {k: "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else v) for k, v in metrics.items()}
            st.caption(" · ".join(f"{k} {v}" for k, v in shown_metrics.items()))
            if all("gate" in r for r in reports):
                gate = gate_figures(reports)
                passed_col, precision_col, yield_col, rest_col = st.columns(4)
                passed_col.metric("Passed the gate", f"{gate['passed']:,}",
                                  help=f"{gate['passed_correct']:,} of them correct (label -1)")
                precision_col.metric("Gate precision", "—" if gate["precision"] is None else f"{gate['precision']:.3f}",
                                     help="Correct items among those that passed (— when none passed).")
                yield_col.metric("Gate yield", "—" if gate["yield"] is None else f"{gate['yield']:.3f}",
                                 help="Share of the correct items (label -1) that pass.")
                rest_col.metric("Unverified · failed", f"{gate['unverified']:,} · {gate['failed']:,}")
            else:
                st.caption("This report predates the gate's decisions: run verify-eval again for precision and yield.")
            misses = [r for r in reports if miss_kind(r)]
            if not misses:
                st.success(f"No misses: the prediction matches the label on all {len(reports)} items.")
            else:
                st.dataframe(pd.DataFrame([
                    {"id": r.get("id"), "miss": miss_kind(r), "label (earliest wrong step)": r["label"],
                     "predicted": r["predicted"]} for r in misses
                ]), hide_index=True, width="stretch")
                picked = st.selectbox("Miss", range(len(misses)),
                                      format_func=lambda i: f"{misses[i].get('id')} · {miss_kind(misses[i])}")
                st.dataframe(pd.DataFrame([
                    {"step": step["index"] + 1, "text": step["text"], "score": step["score"],
                     "decided by": step.get("decided_by"),
                     "rationales": " | ".join(f"{name}: {v['rationale']}" for name, v in step["verdicts"].items())}
                    for step in misses[picked]["steps"]
                ]), hide_index=True, width="stretch")

nested = db.verify.reasoning_paths_nested()
if not nested:
    empty_state("No reasoning paths yet. Choose tasks above and start a reasoning job; paths appear here as they finish.")
    st.stop()

summaries = summarise(nested, db.verify.reasoning_task_titles(nested), settings)


def decisions_line(tasks: int, decided: dict[str, dict[str, int]]) -> str:
    """How many tasks have paths, and the gate's stored decisions on them by kind (store.overview.gate_counts: the Overview
    counts the samples alike)."""
    parts = [f"{kind} {counts['decided']:,} ({counts['passed']:,} passed, {counts['unverified']:,} unverified, "
             f"{counts['failed']:,} failed)" for kind, counts in decided.items() if counts["decided"]]
    return (f"{plural(tasks, 'task')} with reasoning paths. The gate decided: " + ("; ".join(parts) or "none yet")
            + ". Samples are counted as on the Overview (those no filter removed); unverified: nothing verified the "
              "outcome.")


st.caption(decisions_line(len(summaries), db.overview.gate_counts()))


# ---------------------------------------------------------------- task list and filters

wanted = st.pills("Only tasks where", list(FILTERS), selection_mode="multi",
                  help="; ".join(f"{k}: {v}" for k, v in FILTERS.items()))
shown = matching(summaries, wanted or [])
if not shown:
    empty_state("No task matches these filters.")
    st.stop()

overview = pd.DataFrame([
    {"task": s.key, "instruction": s.title, "paths": len(s.paths), "best score": s.verdict.best_score,
     "gate": gate_word(s.verdict), "flags": ", ".join(sorted(s.flags - {"gated out", "unverified"}))}
    for s in shown
])
st.dataframe(overview, hide_index=True, width="stretch",
             column_config={"best score": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")})

by_key = {s.key: s for s in shown}
task_key = st.selectbox("Task", list(by_key), format_func=lambda k: f"{k} · {by_key[k].title[:90]}")
summary = by_key[task_key]
verdict = summary.verdict
with st.expander("The task: problem, input and reference"):
    try:
        task = load_task(db, summary.task_type, summary.task_id)
    except LookupError as exc:
        st.warning(f"{exc} (deleted since its paths were sampled).")
    else:
        st.text(task.problem)
        if task.input:
            st.caption("Input")
            st.text(task.input)
        st.caption("Reference answer")
        st.text(task.reference_answer or "(none)")
        if note := check_warning(task.reference_answer, task.tests):
            st.warning(note, icon=":material/rule:")
        if task.reference_solution:
            st.caption("Reference solution")
            st.text(task.reference_solution)
            if note := reference_solution_problem(task.reference_solution):
                st.warning(note, icon=":material/rule:")

bundled_model_note([p["model"] for p in summary.paths], "These reasoning paths")
if verdict.status == PASSED:
    st.success(f"Passes the gate: {verdict.reason}.")
elif verdict.status == UNVERIFIED:
    st.warning(f"Unverified: {verdict.reason}.", icon=":material/help:")
else:
    st.error(f"Fails the gate: {verdict.reason}.")

for pseudo in db.verify.pseudo_references(summary.task_type, summary.task_id):
    st.caption(f"Pseudo-reference (job {pseudo['job_id']}): {pseudo['answer']} — the majority final answer of "
               f"{pseudo['votes']}/{pseudo['voters']} paths (self-consistency), not a checked answer.")


# ---------------------------------------------------------------- heatmap and path detail

event = st.plotly_chart(heatmap_figure(summary), key=f"heatmap-{task_key}", on_select="rerun",
                        selection_mode="points", width="stretch")
st.caption(f"Colour = step score (red 0, yellow 0.5, green 1) · ★ and the blue frame = best path · {OUTCOME_MARK} the "
           f"outcome is checked here · {EVIDENCE_MARK} only evidence (e.g. arithmetic holds: not a verified step) · "
           "✎ overruled · ≠ verifiers disagree. Hover a cell for the step and every rationale; click it to open its path.")

paths_by_id = {p["id"]: p for p in summary.paths}
points = event.selection.points if event and event.selection else []
clicked = points[0]["customdata"] if points and points[0].get("customdata") else None
path_key = f"verifier-path-{task_key}"
if clicked and st.session_state.get(f"{path_key}-clicked") != clicked:
    st.session_state[f"{path_key}-clicked"] = clicked
    st.session_state[path_key] = int(clicked[0])
if st.session_state.get(path_key) not in paths_by_id:
    st.session_state[path_key] = verdict.best_path_id
path_id = st.selectbox("Path", list(paths_by_id), key=path_key,
                       format_func=lambda i: f"{path_label(paths_by_id[i], verdict)} · score {verdict.path_scores[i]:.2f}")
path = paths_by_id[path_id]
names = verifier_names(summary.paths)
rows = pd.DataFrame(step_rows(path, names, settings))
config = {"score": st.column_config.ProgressColumn("step score", min_value=0.0, max_value=1.0, format="%.2f"),
          "text": st.column_config.TextColumn("step", width="medium"),
          "flags": st.column_config.TextColumn("flags", width="small")}
for name in names:
    config[f"{name} score"] = st.column_config.NumberColumn(f"{name}", format="%.2f")
    config[f"{name} rationale"] = st.column_config.TextColumn(f"{name} rationale", width="large")
st.dataframe(rows, hide_index=True, width="stretch", column_config=config)
if path.get("final_answer"):
    st.caption(f"Final answer stated: {path['final_answer']} · model {path['model']}")
with st.expander("Full path text"):
    st.text(path["text"])


# ---------------------------------------------------------------- rollouts: why this score?

rolled = {s["id"]: s for s in path["steps"] if "rollout" in s["scores"]}
kept = db.verify.rollout_counts(rolled)
if kept:
    st.subheader("Rollouts of a step")
    rolled_id = st.selectbox(
        "Step", [i for i in rolled if i in kept], key=f"rollouts-{path_id}",
        format_func=lambda i: f"step {rolled[i]['idx'] + 1} · rollout score {rolled[i]['scores']['rollout']['score']:.2f}"
                              f" · {rolled[i]['text'][:70]}")
    rollout_verdict = rolled[rolled_id]["scores"]["rollout"]
    st.caption(f"Why {rollout_verdict['score']:.2f}? {rollout_verdict['rationale']}")
    st.dataframe(pd.DataFrame(rollout_rows(rollout_verdict, db.verify.stored_rollouts(rolled_id))), hide_index=True,
                 width="stretch", column_config={"continuation": st.column_config.TextColumn(width="large")})


# ---------------------------------------------------------------- overrule

st.subheader("Overrule a step")
reviewer = reviewer_name(db)
steps_by_id = {s["id"]: s for s in path["steps"]}
with st.form(f"overrule-{path_id}"):
    step_id = st.selectbox("Step", list(steps_by_id),
                           format_func=lambda i: f"step {steps_by_id[i]['idx'] + 1}: {steps_by_id[i]['text'][:90]}")
    label = st.radio("Your label", ["correct", "incorrect", "neutral"], horizontal=True)
    reason = st.text_input("Reason", placeholder="why the verifier is wrong (kept with your name and the time)")
    submitted = st.form_submit_button(f"Overrule as {reviewer}")
if submitted:
    try:
        after = overrule_step(db, step_id, label, reason, reviewer, settings)
    except (ValueError, LookupError) as exc:
        st.error(str(exc))
    else:
        gate = {"passed": "passes the gate", "unverified": "is unverified"}.get(after.status, "fails the gate")
        st.session_state["verifier_message"] = (
            f"Step {steps_by_id[step_id]['idx'] + 1} overruled as {label}. Path score now "
            f"{after.path_scores[path_id]:.2f}; the task {gate} (best {after.best_score:.2f})."
        )
        st.rerun()

history = db.verify.step_overrule_history(step_id) if path["steps"] else []
if history:
    st.caption("Overrules of this step, oldest first:")
    st.dataframe(pd.DataFrame(history)[["label", "reason", "reviewer", "created_at"]].assign(
        created_at=lambda f: pd.to_datetime(f["created_at"], unit="s")), hide_index=True, width="stretch")

if path["steps"]:
    if db.labelling.is_gold_path(path_id):
        st.caption("This path is a gold task: the labelling queue mixes it in, unmarked, to check labellers.")
    elif st.button("Make this path a gold task", icon=":material/workspace_premium:",
                   help="Its steps' latest labels become the known ratings the labelling queue checks labellers "
                        "against. Every step needs a label."):
        mark_path_gold(db, path_id)
