"""Verifier: sample reasoning paths, see every step's score, keep the best path, and overrule any verdict."""

import pandas as pd
import streamlit as st

from pages._shared import bypass_cache_checkbox, empty_state, job_progress, store
from workbench.audit import (
    FILTERS,
    heatmap_figure,
    matching,
    path_label,
    step_rows,
    summarise,
    verifier_names,
)
from workbench.jobs import submit
from workbench.reasoning import (
    AGGREGATIONS,
    DEFAULT_N,
    DEFAULT_TEMPERATURE,
    MAX_N,
    VerificationSettings,
    overrule_step,
    save_verification_settings,
    verification_settings,
)
from workbench.settings import reviewer_name, teacher_config
from workbench.verifiers import DESCRIPTIONS, REGISTRY
from workbench.verifiers.prm import STYLES

st.title("Verifier")
st.caption(
    "Generation is easy; verification is hard. Sample N reasoning paths per task, score every step, keep the "
    "best path, and pass the task only when that path reaches the gate. Overrule any verdict you disagree with."
)
db = store()

if message := st.session_state.pop("verifier_message", None):
    st.success(message)

counts = db.counts()
if counts["seeds"] == 0 and counts["samples"] == 0:
    empty_state("No tasks yet. Load or import seeds on the Seeds page, then come back to sample reasoning paths.")
    st.stop()


# ---------------------------------------------------------------- start a job


def task_options(source: str, domain: str) -> dict[str, dict]:
    if source == "seeds":
        rows = db.list_seeds(domain=None if domain == "(all)" else domain)
        return {f"seed {r['id']} · {r['instruction'][:80]}": {"type": "seed", "id": r["id"]} for r in rows}
    return {f"sample {r['id']} · {r['instruction'][:80]}": {"type": "sample", "id": r["id"]} for r in db.list_samples()}


with st.expander("Sample and verify reasoning paths", expanded=counts["paths"] == 0):
    left, right = st.columns(2)
    source = left.radio("Tasks from", ["seeds", "samples"], horizontal=True)
    domain = right.selectbox("Seed domain", ["(all)", *db.seed_domains()], disabled=source != "seeds")
    options = task_options(source, domain)
    chosen = st.multiselect("Tasks", list(options), placeholder=f"choose from {len(options)} {source}")
    left, middle, right = st.columns(3)
    n_paths = left.number_input("Paths per task (N)", 1, MAX_N, DEFAULT_N)
    temperature = middle.slider("Temperature", 0.0, 2.0, DEFAULT_TEMPERATURE, 0.05)
    max_tokens = right.number_input("Max tokens per path", 32, 8192, 256, step=32)
    verifiers = st.multiselect("Verifiers", list(REGISTRY), default=["arithmetic"],
                               format_func=lambda name: f"{name}: {DESCRIPTIONS[name]}")
    judge_model = prm_path = prm_style = None
    if "judge" in verifiers:
        judge_model = st.text_input("Judge model (empty: the teacher)", placeholder=teacher_config(db).model)
    if "prm" in verifiers:
        prm_path = st.text_input("PRM directory (local path)")
        prm_style = st.selectbox("PRM style", STYLES,
                                 format_func=lambda s: {"qwen": "Qwen2.5-Math-PRM (<extra_0>)",
                                                        "shepherd": "Math-Shepherd (ки, +/-)"}[s])
    bypass = bypass_cache_checkbox()
    if st.button("Start reasoning job", type="primary", disabled=not chosen):
        if not verifiers:
            st.error("Choose at least one verifier.")
        elif "prm" in verifiers and not (prm_path or "").strip():
            st.error("The PRM verifier needs the directory of a local model.")
        else:
            params = {"tasks": [options[label] for label in chosen], "n": int(n_paths), "temperature": temperature,
                      "max_tokens": int(max_tokens), "verifiers": verifiers, "bypass_cache": bypass}
            params.update({k: v.strip() for k, v in {"judge_model": judge_model, "prm_path": prm_path}.items() if v and v.strip()})
            if prm_style:
                params["prm_style"] = prm_style
            job_id = submit(db, "reason", params, model=teacher_config(db).model)
            st.session_state["reason_job"] = job_id
            st.session_state["verifier_message"] = (
                f"Started reason job {job_id}: {len(chosen)} tasks x {int(n_paths)} paths."
            )
            st.rerun()


@st.fragment(run_every=2.0)
def live_jobs() -> None:
    active = db.list_jobs(limit=10, kind="reason", statuses=["queued", "running", "paused"])
    for job in active:
        job_progress(job)
    watched = st.session_state.get("reason_job")
    if watched is not None and not any(j["id"] == watched for j in active):
        st.session_state.pop("reason_job")
        st.rerun()  # the job ended: redraw the whole page with its paths


live_jobs()


# ---------------------------------------------------------------- gate settings

settings = verification_settings(db)
left, right = st.columns(2)
aggregation = left.selectbox("Path score", AGGREGATIONS, index=AGGREGATIONS.index(settings.aggregation),
                             help="How step scores become a path score: the weakest step (min), all together "
                                  "(product), the last step, or the mean.")
threshold = right.slider("Gate threshold", 0.0, 1.0, settings.threshold, 0.05,
                         help="A task passes when its best path reaches this score. 1.0: only perfect reasoning.")
if (aggregation, threshold) != (settings.aggregation, settings.threshold):
    settings = VerificationSettings(aggregation, threshold)
    save_verification_settings(db, settings)

nested = db.reasoning_paths_nested()
if not nested:
    empty_state("No reasoning paths yet. Choose tasks above and start a reasoning job; paths appear here as they finish.")
    st.stop()

summaries = summarise(nested, db.reasoning_task_titles(nested), settings)
passed = sum(s.verdict.passed for s in summaries)
st.caption(f"{len(summaries)} tasks with paths · {passed} pass the gate · {len(summaries) - passed} gated out")


# ---------------------------------------------------------------- task list and filters

wanted = st.pills("Only tasks where", list(FILTERS), selection_mode="multi",
                  help="; ".join(f"{k}: {v}" for k, v in FILTERS.items()))
shown = matching(summaries, wanted or [])
if not shown:
    empty_state("No task matches these filters.")
    st.stop()

overview = pd.DataFrame([
    {"task": s.key, "instruction": s.title, "paths": len(s.paths), "best score": s.verdict.best_score,
     "gate": "passes" if s.verdict.passed else "gated out", "flags": ", ".join(sorted(s.flags - {"gated out"}))}
    for s in shown
])
st.dataframe(overview, hide_index=True, width="stretch",
             column_config={"best score": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")})

by_key = {s.key: s for s in shown}
task_key = st.selectbox("Task", list(by_key), format_func=lambda k: f"{k} · {by_key[k].title[:90]}")
summary = by_key[task_key]
verdict = summary.verdict

best = "—" if verdict.best_score is None else f"{verdict.best_score:.2f}"
decision = f"best path {best} vs threshold {verdict.threshold:g} ({verdict.aggregation} over steps)"
if verdict.passed:
    st.success(f"Passes the gate: {decision}.")
else:
    st.error(f"Gated out: {decision}.")


# ---------------------------------------------------------------- heatmap and path detail

event = st.plotly_chart(heatmap_figure(summary), key=f"heatmap-{task_key}", on_select="rerun",
                        selection_mode="points", width="stretch")
st.caption("Colour = step score (red 0, yellow 0.5, green 1) · ★ and the blue frame = best path · "
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
rows = pd.DataFrame(step_rows(path, names))
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
        gate = "passes the gate" if after.passed else "is gated out"
        st.session_state["verifier_message"] = (
            f"Step {steps_by_id[step_id]['idx'] + 1} overruled as {label}. Path score now "
            f"{after.path_scores[path_id]:.2f}; the task {gate} (best {after.best_score:.2f})."
        )
        st.rerun()

history = db.step_overrule_history(step_id) if path["steps"] else []
if history:
    st.caption("Overrules of this step, oldest first:")
    st.dataframe(pd.DataFrame(history)[["label", "reason", "reviewer", "created_at"]].assign(
        created_at=lambda f: pd.to_datetime(f["created_at"], unit="s")), hide_index=True, width="stretch")
