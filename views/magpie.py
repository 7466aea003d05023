"""Magpie: the model writes its own queries from its pre-query template, then answers them; watch them land live."""

import pandas as pd
import streamlit as st

from views._shared import (
    bundled_model_note,
    bypass_cache_checkbox,
    empty_state,
    job_progress,
    page_header,
)
from workbench.core.settings import teacher_config
from workbench.core.teacher import TeacherError
from workbench.core.wording import plural
from workbench.magpie.engine import (
    ChatTemplate,
    TemplateError,
    all_templates,
    chat_only_error,
    delete_custom_template,
    detect_template,
    language_languages,
    save_custom_template,
    summarise_reasons,
)
from workbench.magpie.job import KIND, default_options, submit_magpie


def escaped(value: str) -> str:
    """Newlines shown as \\n, as the custom-template fields take them."""
    return value.replace("\n", "\\n")


def unescaped(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\t", "\t")


db = page_header(
    "Magpie",
    "Self-synthesis without seed prompts: the model gets only the head of its own chat template, up to a user "
    "turn, writes the user's query, then answers it in the full template. Needs a model that takes raw prompts.",
    "magpie_message",
)

saved = teacher_config(db)
model = st.text_input(
    "Teacher model", value=saved.model, help="Defaults to the teacher in Settings; the base URL and limits come from there."
)
config = teacher_config(db, {"model": model.strip() or saved.model})
chat_only = chat_only_error(config)
if chat_only:
    st.error(f"Magpie needs raw text completion, which this model cannot do. {chat_only}", icon=":material/block:")

templates = all_templates(db)
detected, how = detect_template(config.model)
names = list(templates)
template_name = st.selectbox(
    "Chat template",
    names,
    index=names.index(detected) if detected in names else 0,
    format_func=lambda n: f"{n} — {templates[n].description}" if templates[n].description else n,
)
st.caption(f"Detected: **{detected}** ({how})." if detected else "Could not detect the template: choose it.")
template = templates[template_name]

defaults = default_options(config)
with st.form("magpie-options"):
    left, middle, right = st.columns(3)
    n = left.number_input("Samples", 1, 100_000, defaults["n"])
    turns = middle.number_input("Turns per conversation", 1, 10, defaults["turns"])
    concurrency = right.number_input("Concurrent samples", 1, 512, defaults["concurrency"])
    system = st.text_area(
        "System prompt (optional)",
        placeholder="e.g. You are an expert mathematician. Users ask you hard competition problems.",
        help="Steers the queries toward a domain. Families without a system role get it at the start of the user turn.",
    )
    st.markdown("**Queries** (step 1) and **answers** (step 2)")
    left, middle, right = st.columns(3)
    query_temperature = left.slider("Query temperature", 0.0, 2.0, defaults["query_temperature"], 0.05)
    query_top_p = middle.slider("Query top-p", 0.05, 1.0, defaults["query_top_p"], 0.05)
    answer_temperature = right.slider("Answer temperature", 0.0, 2.0, defaults["answer_temperature"], 0.05)
    max_query_tokens = left.number_input("Max query tokens", 8, 8192, defaults["max_query_tokens"], step=8)
    max_answer_tokens = middle.number_input("Max answer tokens", 8, 32768, defaults["max_answer_tokens"], step=8)
    single_line = right.checkbox(
        "Stop each query at its first newline", value=defaults["single_line"], help="For single-line questions."
    )
    with st.expander("Base-model aids and filters"):
        left, middle, right = st.columns(3)
        primer = left.number_input(
            "Primer examples", 0, 12, defaults["primer_examples"],
            help="Example exchanges in the model's own format before the pre-query. Base models need them "
            "(bare, they write code or noise); aligned chat models should get 0 (pure Magpie).",
        )
        entropy_cut = middle.number_input(
            "Cut a turn at entropy above (bits, 0 = off)", 0.0, 20.0, float(defaults["entropy_cut"] or 0.0), 0.5,
            help="A base model that cannot emit its end-of-turn token samples from a flat distribution once its turn "
            "is over; the text is cut before that token. Needs per-token entropy from the backend.",
        )
        add_bos = right.checkbox("Write the BOS token into the prompt", help="Leave off when the server adds it.")
        filters = dict(defaults["filters"])
        languages = ["any", *language_languages()]
        language = left.selectbox("Target language", languages, index=languages.index(filters["language"]))
        similarity = middle.slider("Near-duplicate similarity (%)", 50.0, 100.0, filters["near_duplicate_similarity"], 1.0)
        min_chars = right.number_input("Min query characters", 0, 1000, filters["min_chars"])
        max_chars = right.number_input("Max query characters", 10, 100_000, filters["max_chars"])
        min_answer_chars = left.number_input(
            "Min letters or digits in an answer", 0, 1000, filters["min_answer_chars"],
            help="An answer with fewer is near-empty (a lone quote mark, \"A.\") and is dropped.",
        )
        st.caption("Always dropped, each reason counted: empty or near-empty answers, queries and answers that stop "
                   "mid-sentence, generations cut off by the token limit, template leakage, other languages, "
                   "answers that repeat the query, duplicates of seeds and samples.")
    bypass = bypass_cache_checkbox()
    start = st.form_submit_button("Start Magpie job", type="primary", disabled=bool(chat_only))

st.caption("Pre-query template sent in step 1 (before any primer; \\n is a newline):")
st.code(escaped(template.pre_query(system.strip() or None, add_bos=True)) or "(empty)", language=None)

if start:
    filters.update(
        language=None if language == "any" else language,
        near_duplicate_similarity=similarity,
        min_chars=int(min_chars),
        max_chars=int(max_chars),
        min_answer_chars=int(min_answer_chars),
    )
    options = {
        "n": int(n), "turns": int(turns), "concurrency": int(concurrency), "system": system.strip(),
        "query_temperature": query_temperature, "query_top_p": query_top_p, "answer_temperature": answer_temperature,
        "max_query_tokens": int(max_query_tokens), "max_answer_tokens": int(max_answer_tokens),
        "single_line": single_line, "primer_examples": int(primer), "entropy_cut": entropy_cut or None,
        "add_bos": add_bos, "filters": filters, "bypass_cache": bypass,
    }
    try:
        job_id = submit_magpie(db, config, template, options)
    except TeacherError as exc:
        st.error(f"Magpie needs raw text completion. {exc}")
    else:
        st.session_state["magpie_job"] = job_id
        st.session_state["magpie_message"] = f"Queued Magpie job {job_id}: {plural(int(n), 'sample')} from {config.model}."
        st.rerun()

with st.expander("Custom templates"):
    st.caption("Write a newline as \\n. `{system}` marks where the system prompt goes.")
    custom = {name: t for name, t in templates.items() if not t.builtin}
    base = template.to_dict()

    with st.form("custom-template"):
        st.caption(f"Starts from the selected template ({template.name}).")
        name = st.text_input("Name")
        left, right = st.columns(2)
        values = {
            key: column.text_input(label, value=escaped(base[key]))
            for key, label, column in [
                ("user_start", "User turn start (the pre-query template)", left),
                ("user_end", "User turn end", right),
                ("assistant_start", "Assistant turn start", left),
                ("assistant_end", "Assistant turn end", right),
                ("system_turn", "System turn (empty: no system role)", left),
                ("system_in_user", "System text in the first user turn", right),
                ("bos", "BOS token", left),
                ("default_system", "Default system prompt", right),
            ]
        }
        stops = st.text_input("Stop strings (comma-separated)", value=", ".join(escaped(s) for s in base["stop"]))
        if st.form_submit_button("Save template"):
            fields = {key: unescaped(value) for key, value in values.items()}
            stop = tuple(unescaped(s.strip()) for s in stops.split(",") if s.strip())
            try:
                save_custom_template(db, ChatTemplate(name=name.strip(), stop=stop, **fields))
            except TemplateError as exc:
                st.error(str(exc))
            else:
                st.session_state["magpie_message"] = f"Saved the custom template {name.strip()!r}."
                st.rerun()
    if custom:
        doomed = st.selectbox("Delete a custom template", ["—", *custom])
        if doomed != "—" and st.button(f"Delete {doomed}"):
            delete_custom_template(db, doomed)
            st.session_state["magpie_message"] = f"Deleted the custom template {doomed!r}."
            st.rerun()

st.subheader("Runs")
jobs = db.jobs.list_jobs(limit=50, kind=KIND)
if not jobs:
    empty_state("No Magpie runs yet. Choose the options above and start one: samples appear here as they are written.")
    st.stop()
job_ids = [j["id"] for j in jobs]
chosen = st.session_state.get("magpie_job")
job_id = st.selectbox(
    "Run", job_ids, index=job_ids.index(chosen) if chosen in job_ids else 0,
    format_func=lambda i: next(f"Job {j['id']} · {j['model']} · {plural(int(j['params'].get('n') or 0), 'sample')}"
                               for j in jobs if j["id"] == i),
)


@st.fragment(run_every=2.0)
def live_run() -> None:
    job = db.jobs.get_job(job_id)
    if job is None:
        st.warning(f"Job {job_id} no longer exists.")
        return
    job_progress(job)
    if job["status"] == "failed" and job["error"]:
        st.error(job["error"].splitlines()[0])
    bundled_model_note([job["model"]], "These queries and answers")
    counts = db.samples.job_filter_counts(job_id)
    kept = counts.get("kept", 0)
    columns = st.columns(4)
    columns[0].metric("Samples written", sum(counts.values()))
    columns[1].metric("Kept", kept)
    columns[2].metric("Filtered", sum(counts.values()) - kept)
    columns[3].metric("Failed units", job["failed_units"])
    samples = db.samples.job_samples(job_id)
    if not samples:
        empty_state("No samples yet: each one appears as soon as its query and answer are written.", icon=":material/hourglass_empty:")
        return
    reasons = summarise_reasons(counts)
    if reasons:
        st.markdown("**Why samples were dropped**")
        st.dataframe(pd.DataFrame([{"Reason": reason, "Samples": count} for reason, count in reasons.items()]),
                     hide_index=True, width="content")
    table = pd.DataFrame(
        [
            {
                "id": s["id"],
                "kept": s["filter_reason"] is None,
                "reason": s["filter_reason"] or "",
                "query": s["instruction"],
                "answer": s["output"],
                "entropy": s["token_entropy_mean"],
                "turns": len([m for m in s["turns"] or [] if m["role"] == "user"]),
            }
            for s in samples
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "kept": st.column_config.CheckboxColumn("Kept", width="small"),
            "query": st.column_config.TextColumn("Query", width="large"),
            "answer": st.column_config.TextColumn("Answer", width="large"),
            "reason": st.column_config.TextColumn("Why dropped", width="medium"),
            "turns": st.column_config.NumberColumn("Turns", width="small"),
            "entropy": st.column_config.NumberColumn(
                "Entropy (bits)", format="%.2f", width="small",
                help=f"mean token entropy of the sample; {samples[0]['entropy_source'] or 'not available'}",
            ),
        },
    )


live_run()
st.page_link("views/jobs.py", label="Pause, resume or cancel on the Jobs page", icon=":material/work_history:")
