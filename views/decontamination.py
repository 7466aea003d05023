"""Decontamination: register benchmark test sets, scan every seed and sample for their items, see the hits."""

import pandas as pd
import streamlit as st

from views._shared import empty_state, job_progress, page_header
from workbench.core.embeddings import model_name
from workbench.core.wording import plural
from workbench.formats.record_files import upload_types
from workbench.formats.sample_import import SAMPLE_CONTAINERS
from workbench.safety.benchmark_sets import BenchmarkError, file_fields, register_benchmark
from workbench.safety.decontamination import Settings
from workbench.safety.job import KIND, last_scan, load_settings, save_settings, submit_decontam_scan

UPLOAD_TYPES = upload_types(SAMPLE_CONTAINERS)
LIKELY_FIELDS = ("question", "problem", "prompt", "instruction", "input", "text", "query")

db = page_header(
    "Decontamination",
    "Keep benchmark test items out of the training data. Register a benchmark's test set, then scan: every seed and "
    "sample is checked for each item by word n-gram overlap (13-grams by default, as in the GPT-3 and Llama 2 "
    "recipes) and by embedding similarity. Matches are shown on Review beside the benchmark item, and exports leave "
    "them out unless you let them through.",
    "decontam_message",
)

# ---------------------------------------------------------------- register


def register_form() -> None:
    upload = st.file_uploader("Benchmark file (JSONL, JSON array, CSV or Parquet)", type=UPLOAD_TYPES, key="benchmark-upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        fields = file_fields(data, upload.name)
    except BenchmarkError as exc:
        st.error(str(exc))
        return
    default = next((fields.index(f) for f in LIKELY_FIELDS if f in fields), 0)
    left, right = st.columns(2)
    field = left.selectbox("Text field", fields, index=default, help="the field that holds each test item's text")
    name = right.text_input("Name", value=upload.name.rsplit(".", 1)[0])
    if st.button("Register this benchmark", type="primary"):
        try:
            benchmark = register_benchmark(db, data, upload.name, field, name)
        except BenchmarkError as exc:
            st.error(str(exc))
            return
        st.session_state["decontam_message"] = (
            f"Registered {benchmark.name}: {plural(benchmark.n_items, 'item')} from field '{benchmark.field}'. "
            "Scan below to check the seeds and samples against it."
        )
        st.rerun()


benchmarks = db.safety.list_benchmarks()
with st.expander("Register a benchmark", expanded=not benchmarks):
    register_form()

if not benchmarks:
    empty_state("No benchmark registered yet. Upload a test set above (GSM8K's test.jsonl with the field `question`, "
                "for example).")
    st.stop()

st.subheader("Benchmarks")
st.dataframe(
    pd.DataFrame([{"name": b["name"], "items": b["n_items"], "field": b["field"], "file": b["file"],
                   "flagged": b["flagged"], "added": pd.Timestamp(b["created_at"], unit="s")} for b in benchmarks]),
    hide_index=True, width="stretch",
)
left, right = st.columns([3, 1])
doomed = left.selectbox("Remove a benchmark", [b["name"] for b in benchmarks], index=None, placeholder="choose one")
if right.button("Remove", disabled=doomed is None):
    db.safety.delete_benchmark(doomed)
    st.session_state["decontam_message"] = f"Removed {doomed} and its matches."
    st.rerun()

# ---------------------------------------------------------------- scan


@st.fragment(run_every=1.0)
def scan_progress(job_id: int) -> None:
    job = db.jobs.get_job(job_id)
    if job["status"] in ("queued", "running", "paused"):
        job_progress(job)
    else:
        st.rerun()


st.subheader("Scan")
saved = load_settings(db)
running = [j for j in db.jobs.list_jobs(limit=5, kind=KIND) if j["status"] in ("queued", "running", "paused")]
unembedded = db.safety.decontam_unembedded_count(model_name(db))
with st.form("decontam-scan"):
    left, middle, right = st.columns(3)
    ngram = left.number_input("N-gram size (words)", 1, 50, saved.ngram,
                              help="13 in the GPT-3 and Llama 2 recipes; items shorter than this match as a whole")
    min_overlap = middle.slider("Flag at n-gram overlap", 0.05, 1.0, float(saved.min_overlap), 0.05,
                                help="the share of a benchmark item's n-grams found in the seed or sample")
    min_similarity = right.slider("Flag at cosine similarity", 0.5, 1.0, float(saved.min_similarity), 0.01,
                                  help="of the seed's or sample's task text and the benchmark item (embeddings)")
    similarity = st.checkbox(
        "Compare meanings too (embedding similarity)", value=True,
        help="Vectors come from the store's embedding cache; texts without one are embedded first"
        + (f" ({plural(unembedded, 'text')} now)." if unembedded else " (all are cached now)."),
    )
    start = st.form_submit_button("Save and scan", type="primary", disabled=bool(running))
if start:
    try:
        settings = Settings(int(ngram), float(min_overlap), float(min_similarity))
        save_settings(db, settings)
        st.session_state["decontam_job"] = submit_decontam_scan(db, settings, similarity=similarity)
    except ValueError as exc:
        st.error(str(exc))
for job in running:
    scan_progress(job["id"])
job = db.jobs.get_job(st.session_state.get("decontam_job") or 0)
if job is not None and job["status"] in ("failed", "cancelled"):
    st.error(f"The scan (job {job['id']}) {job['status']}: {job['error'] or 'see the Jobs page'}")

scan = last_scan(db)
if scan is None:
    empty_state("Not scanned yet: press **Save and scan**.")
    st.stop()
settings = scan["settings"]
st.caption(
    f"Last scan {pd.Timestamp(scan['at'], unit='s'):%Y-%m-%d %H:%M} UTC against {', '.join(scan['benchmarks'])}: "
    f"{settings['ngram']}-grams, overlap >= {settings['min_overlap']:g}"
    + (f", cosine >= {settings['min_similarity']:g}" if scan["similarity"] else ", no embedding check")
    + (f"; {plural(scan['without_vector'], 'text')} had no vector (n-grams only)" if scan.get("without_vector") else "")
    + "."
)
if changed := db.review.samples_changed_since(scan["at"]):
    st.warning(f"{plural(changed, 'sample')} {'was' if changed == 1 else 'were'} created or edited after the last scan: "
               "they are not checked yet. Scan again.")

# ---------------------------------------------------------------- hits

hits = db.safety.contamination_hits()
st.subheader(f"Matches ({plural(len({(h['item_type'], h['item_id']) for h in hits}), 'seed or sample', 'seeds and samples')})")
if not hits:
    empty_state("No seed or sample matches a benchmark item.")
    st.stop()
st.dataframe(
    pd.DataFrame([{"type": h["item_type"], "id": h["item_id"], "benchmark": h["benchmark"], "item": h["item_index"] + 1,
                   "n-gram overlap": h["ngram_overlap"], "cosine": h["similarity"], "benchmark item": h["match"]}
                  for h in hits]),
    hide_index=True, width="stretch",
    column_config={"n-gram overlap": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
                   "cosine": st.column_config.NumberColumn(format="%.3f")},
)
st.caption("Each sample's match is shown on Review beside its text. Exports leave matching samples out unless you "
           "let them through on the Export page; the dataset card lists them.")
