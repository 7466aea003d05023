"""Export: write approved samples in a training format (chat, stepwise or preference pairs), with PII handling,
the 30/70 mix and a dataset card. What ships is what was verified: the assistant message is the reasoning path that
passed the gate, else the sample's own answer marked unverified (or left out, on request).

The export runs as a job: it scans the samples it takes that were never scanned for PII (with progress),
then writes; the page follows it live."""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views._shared import empty_state, job_progress, store
from workbench.core.env import export_dir
from workbench.core.glossary import SEED_ARTICLE, explain
from workbench.core.wording import plural
from workbench.export.engine import (
    EXTENSIONS,
    FORMATS,
    PREFERENCE,
    STEPWISE,
    ExportError,
    ExportOptions,
    card_path,
    existing_targets,
    preview_card,
    resolve_target,
)
from workbench.export.job import submit_export
from workbench.export.preference_pairs import (
    POLICIES,
    POLICY_LABELS,
    PairingSettings,
    load_pairing,
    save_pairing,
)
from workbench.formats.job import save_upload
from workbench.formats.reasoning_traces import DEFAULT_TAGS, check_tags
from workbench.formats.record_files import upload_types
from workbench.formats.sample_import import SAMPLE_CONTAINERS
from workbench.review import mix
from workbench.safety.pii import load_policy

FORMAT_LABELS = {
    "openai": "OpenAI chat JSONL (messages)",
    "sharegpt": "ShareGPT (conversations)",
    "alpaca": "Alpaca (instruction / input / output)",
    "trl-stepwise": "TRL stepwise supervision (prompt / completions / labels)",
    "prm800k": "PRM800K-style step ratings (-1 / 0 / +1)",
    "parquet": "Parquet",
    "dpo": "Preference pairs: TRL DPO, standard (prompt / chosen / rejected text)",
    "dpo-conversational": "Preference pairs: TRL DPO, conversational (messages)",
    "kto": "Preference pairs: TRL KTO, unpaired (prompt / completion / label)",
    "kto-conversational": "Preference pairs: TRL KTO, unpaired, conversational",
    "sharegpt-preference": "Preference pairs: LLaMA-Factory ShareGPT (conversations / chosen / rejected)",
    "openai-preference": "Preference pairs: OpenAI preference fine-tuning (input / preferred_output / non_preferred_output)",
}
TRACES = {None: "no trace apart (the steps in the message)", "r1": "R1-style: <think> tags in the message",
          "separate": "OpenAI-style: a separate reasoning_content field"}
TEXT_ONLY = ("sharegpt", "alpaca", "dpo", "kto", "sharegpt-preference")

st.title("Export")
db = store()
root = export_dir()
st.caption(f"Files are written to the export folder `{root}` (set `WORKBENCH_EXPORT_DIR` to change it).")

if db.queue.count_samples(status=None) == 0:
    empty_state("Nothing to export yet: there are no samples. Generate or import some, then approve them on the Review page.")
    st.stop()

left, right = st.columns(2)
fmt = left.selectbox("Format", FORMATS, format_func=FORMAT_LABELS.get)
status_choice = right.radio("Samples", ["approved", "all"], horizontal=True, format_func=lambda s: f"{s} samples")
status = None if status_choice == "all" else status_choice
left, middle, right = st.columns(3)
lineage = left.checkbox("Lineage columns", help="seed, evolution chain, best path, verifiers, reviewer, teacher model")
metrics = middle.checkbox("Metric columns", help="entropies, novelty, scores of each sample")
pii_mode = right.radio(
    "PII", ["block", "redact"], horizontal=True,
    format_func={"block": "leave flagged samples out", "redact": "redact to <TYPE> placeholders"}.get,
)

strip_calculator = st.checkbox(
    "Strip GSM8K calculator annotations", help="Removes `<<48/2=24>>` from every exported text: "
    "'48/2 = <<48/2=24>>24 clips' becomes '48/2 = 24 clips'.")
st.caption(f"PII policy: {load_policy(db).describe()} Change it on the Review page.")

# ---------------------------------------------------------------- what each row teaches

answer, unverified, pairing = "verified", "keep", None
if fmt in PREFERENCE:
    saved = load_pairing(db)
    with st.container(border=True):
        st.markdown("**Preference pairs from the gate**")
        left, middle, right = st.columns([3, 1, 2])
        policy = left.selectbox("Pairing policy", POLICIES, index=POLICIES.index(saved.policy), format_func=POLICY_LABELS.get,
                                help="For each task with a path that passed the gate and a path that failed.")
        cap = middle.number_input("Cap per task", 1, 64, saved.max_per_task, help="At most this many pairs of each kind per task.")
        step_pairs = right.checkbox("Step-DPO step pairs", value=saved.step_pairs,
                                    help="From each path's first wrong step (a verifier's or a person's label): a correct "
                                    "step after the same steps (a person's fix, a passing path's step, or a rollout that "
                                    "reached the reference) against the wrong one.")
        chosen = PairingSettings(policy, int(cap), step_pairs)
        if chosen != saved:
            save_pairing(db, chosen)
        pairing = {"policy": chosen.policy, "max_per_task": chosen.max_per_task, "step_pairs": chosen.step_pairs}
        imported = db.export.preference_pair_count(status)
        st.caption((f"{plural(imported, 'pair')} imported from files will be written too. " if imported else
                    "No pairs were imported from files. ") + "Each pair's lineage says why its rejected path failed "
                   "(the verifier and the step).")
elif fmt not in STEPWISE:
    left, right = st.columns(2)
    answer = left.radio("Assistant message", ["verified", "original"], horizontal=False, format_func={
        "verified": "the reasoning path that passed the gate (else the sample's own answer, marked unverified)",
        "original": "the sample's own answer (verified only when it is such a path)"}.get)
    unverified = right.radio("Unverified answers", ["keep", "leave_out"], format_func={
        "keep": "ship them, marked unverified in the lineage", "leave_out": "leave them out (counted)"}.get)
trace_options = [None, "r1"] if fmt in TEXT_ONLY else list(TRACES)
left, right = st.columns([2, 1])
trace = left.selectbox("Reasoning traces", trace_options, format_func=TRACES.get,
                       help="A verified path's steps before its final answer become the trace; stored traces are "
                       "rewritten in the chosen style.", disabled=fmt in STEPWISE)
tags = DEFAULT_TAGS
if trace == "r1":
    tag_text = right.text_input("Trace tags", value=" ".join(db.settings.get_setting("export_trace_tags") or DEFAULT_TAGS),
                                help="The opening and closing tag, separated by a space.")
    try:
        tags = check_tags(tuple(tag_text.split(" ", 1))) if " " in tag_text.strip() else check_tags((tag_text, ""))
        db.settings.set_setting("export_trace_tags", list(tags))
    except ValueError as exc:
        st.error(str(exc))
        tags = DEFAULT_TAGS

contaminated_n = len(db.safety.contaminated_sample_ids())
allow_contaminated = bool(contaminated_n) and st.checkbox(
    f"Let the {plural(contaminated_n, 'sample')} matching a benchmark item through",
    help="The decontamination scan (Decontamination page) matched these samples to a benchmark test item; they are "
    "left out by default. The dataset card lists them either way.")

counts = db.samples.pii_counts(status)
available = counts["clean"] + (counts["flagged"] if pii_mode == "redact" else 0)


@st.fragment(run_every=2.0)
def pii_caption() -> None:
    """The PII counts, live: a scan (this export's, or one started on Review) changes them while the page is open."""
    live = db.samples.pii_counts(status)
    scanning = [j for j in db.jobs.list_jobs(limit=5) if j["kind"] in ("pii_scan", "export") and j["status"] in ("queued", "running")]
    st.caption(
        f"{plural(live['clean'] + live['flagged'] + live['unscanned'], (status + ' sample') if status else 'sample')}: "
        f"{live['clean']:,} clean, "
        f"{live['flagged']:,} with PII ({'left out' if pii_mode == 'block' else 'redacted'}), "
        f"{live['unscanned']:,} not scanned"
        + (" (being scanned now)." if live["unscanned"] and scanning
           else " (the export scans them first)." if live["unscanned"] else ".")
    )


pii_caption()

# ---------------------------------------------------------------- the 30/70 mix and the planner

natural = None
with st.expander("Mix with natural data (the 30/70 rule)"):
    st.caption(
        "Upload a human-written dataset (JSONL, CSV or Parquet with instruction/output, or chat `messages`). The export "
        "then mixes synthetic and natural rows at the ratio below, shuffled with the recorded seed.",
        help=explain("30/70 rule"),
    )
    upload = st.file_uploader("Natural dataset", type=upload_types(SAMPLE_CONTAINERS), key="natural-upload")
    if upload is not None:
        try:
            natural = mix.load_natural(upload.getvalue(), upload.name)
        except mix.NaturalDataError as exc:
            st.error(str(exc))
    left, right = st.columns(2)
    ratio = left.slider("Synthetic share", 0.05, 0.95, mix.DEFAULT_SYNTHETIC_RATIO, 0.05)
    seed = right.number_input("Shuffle seed (recorded)", 0, 2**31 - 1, 42)
    if natural is not None:
        synthetic_n, natural_n = mix.mix_counts(available, len(natural.rows), ratio)
        st.info(
            f"{plural(len(natural.rows), 'natural row')} loaded. The mix will hold {synthetic_n:,} synthetic + {natural_n:,} "
            f"natural = {plural(synthetic_n + natural_n, 'row')} ({ratio:.0%} synthetic)."
        )

with st.expander("Planner: the rectified-scaling heuristic (a rule of thumb, not a fitted law)"):
    st.caption(
        f"From {SEED_ARTICLE}, the article this workbench started from: **I = C · (D_nat + α · D_syn · E)**. "
        "Useful information grows with natural data, and with synthetic data discounted by α and weighted by its "
        "entropy E. It is the article's rule of thumb, not a fitted scaling law. Here E = mean lexical entropy of "
        "the synthetic samples / that of the natural data.",
        help=explain("rectified-scaling heuristic", "lexical entropy"),
    )
    facts_metrics = {m["name"]: m for m in db.export.dataset_facts(db.samples.export_sample_ids(status, exclude_flagged=pii_mode == "block"))["metrics"]}
    synthetic_entropy = facts_metrics.get("lexical_entropy", {}).get("mean")
    natural_entropy = mix.mean_entropy(natural.rows) if natural else None
    e = mix.entropy_factor(synthetic_entropy, natural_entropy)
    left, middle, right = st.columns(3)
    d_nat = left.number_input("D_nat (natural rows)", 0, 10**9, len(natural.rows) if natural else 1000)
    alpha = middle.slider("α (synthetic discount)", 0.0, 1.0, 0.5, 0.05)
    c = right.number_input("C (scale)", 0.0, 1e6, 1.0)
    source_note = (
        f"E = {synthetic_entropy:.2f} / {natural_entropy:.2f} bits = {e:.2f}" if synthetic_entropy and natural_entropy
        else "E is taken as 1.00 until both are measured: the lexical entropy of the synthetic samples and a natural file"
    )
    st.caption(source_note)
    d_syn = list(range(0, max(available, 10) * 2 + 1, max(1, available // 25 or 1)))
    figure = go.Figure(go.Scatter(x=d_syn, y=[mix.rectified_information(d_nat, d, e, alpha, c) for d in d_syn], name="I"))
    figure.add_vline(x=available, line_dash="dot", annotation_text=f"available: {available:,}")
    figure.update_layout(height=280, margin={"t": 20, "b": 40}, xaxis_title="D_syn (synthetic rows)", yaxis_title="I")
    st.plotly_chart(figure, width="stretch")
    st.metric("I at the available synthetic rows", f"{mix.rectified_information(d_nat, available, e, alpha, c):,.1f}")

# ---------------------------------------------------------------- target, card, export

left, right = st.columns([3, 1])
name = left.text_input("File name (inside the export folder)", value=f"dataset-{fmt}{EXTENSIONS[fmt]}")
license_id = right.text_input("License (card)", value="other")
options = ExportOptions(
    fmt=fmt, status=status, lineage=lineage, metrics=metrics, pii=pii_mode, natural=natural,
    synthetic_ratio=ratio, seed=int(seed), card=True, license=license_id.strip() or "other", strip_calculator=strip_calculator,
    contaminated="allow" if allow_contaminated else "block", answer=answer, unverified=unverified, trace=trace,
    trace_tags=tags, pairing=pairing,
)
def just_written() -> set[Path]:
    """The files the last export of this session wrote (its file and its card), once it succeeded."""
    job = db.jobs.get_job(st.session_state.get("export_job") or 0)
    result = (job or {}).get("result") or {}
    if job is None or job["status"] != "done" or "summary" not in result:
        return set()
    return {Path(p).resolve() for p in (result.get("path"), result.get("card_path")) if p}


target, existing, refused = None, [], False
try:
    target = resolve_target(name, root)
    options.card = st.checkbox(f"Write the dataset card ({card_path(target).name}) beside the file", value=True)
    existing = existing_targets(target, options.card)
except ExportError as exc:
    st.error(str(exc))
    refused = True
ours = just_written()
others = [p for p in existing if p.resolve() not in ours]
overwrite = False
if others:
    st.warning("Already there: " + ", ".join(f"`{p.name}`" for p in others) + ".")
    overwrite = st.checkbox("Overwrite the existing file(s)")
elif existing:  # the files the export below just wrote: no warning about its own work
    overwrite = True
    st.caption(" and ".join(f"`{p.name}`" for p in existing) + " were written by the export below; exporting again "
               "replaces them.")
options.overwrite = overwrite

with st.expander("Dataset card preview"):
    st.code(preview_card(db, options, target.name if target else name), language="markdown")

job_running = any(j["status"] in ("queued", "running") for j in db.jobs.list_jobs(limit=5, kind="export"))
if st.button("Export", type="primary", disabled=refused or (bool(existing) and not overwrite) or job_running):
    natural_path = save_upload(db, upload.getvalue(), upload.name) if natural is not None else None
    try:
        st.session_state["export_job"] = submit_export(db, options, name, root, natural_path)
    except ExportError as exc:
        st.error(f"Nothing was written: {exc}")


@st.fragment(run_every=1.0)
def export_progress(job_id: int) -> None:
    """The export job while it runs (its PII scan, then the write); the whole page reruns once it ends."""
    job = db.jobs.get_job(job_id)
    if job["status"] in ("queued", "running", "paused"):
        st.caption("Scanning the samples never scanned for PII, then writing the file.")
        job_progress(job)
    else:
        st.rerun()  # the whole page: the result, the download buttons, the caption and the past exports


def export_outcome() -> None:
    job = db.jobs.get_job(st.session_state.get("export_job") or 0)
    if job is None:
        return
    if job["status"] in ("queued", "running", "paused"):
        export_progress(job["id"])
        return
    result = job["result"] or {}
    if "summary" not in result:
        st.error(f"Nothing was written: {result.get('error') or job['error'] or 'the export job ' + job['status']}")
        return
    st.success(result["summary"])
    path = Path(result["path"])
    buttons = st.columns(2)
    if path.exists():
        buttons[0].download_button(f"Download {path.name}", data=path.read_bytes, file_name=path.name,
                                   icon=":material/download:", on_click="ignore")
    card = Path(result["card_path"]) if result.get("card_path") else None
    if card and card.exists():
        buttons[1].download_button(f"Download {card.name}", data=card.read_bytes, file_name=card.name, on_click="ignore")


export_outcome()

exports = db.export.list_exports(limit=20)
if exports:
    st.subheader("Past exports")
    st.dataframe(
        pd.DataFrame(
            [
                {"id": e["id"], "format": e["format"], "path": e["path"], "samples": e["n_samples"],
                 "natural": e["options"].get("natural") or 0, "PII": e["options"].get("pii"),
                 "when (UTC)": pd.Timestamp(e["created_at"], unit="s").strftime("%Y-%m-%d %H:%M")}
                for e in exports
            ]
        ),
        hide_index=True,
        width="stretch",
    )
