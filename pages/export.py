"""Export: write approved samples in a training format, with PII handling, the 30/70 mix and a dataset card."""

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._shared import empty_state, job_progress, store
from workbench import mix
from workbench.env import export_dir
from workbench.export import (
    EXTENSIONS,
    FORMATS,
    ExportError,
    ExportOptions,
    export,
    preview_card,
    resolve_target,
)
from workbench.pii import submit_scan

FORMAT_LABELS = {
    "openai": "OpenAI chat JSONL (messages)",
    "sharegpt": "ShareGPT (conversations)",
    "alpaca": "Alpaca (instruction / input / output)",
    "trl-stepwise": "TRL stepwise supervision (prompt / completions / labels)",
    "prm800k": "PRM800K-style step ratings (-1 / 0 / +1)",
    "parquet": "Parquet",
}

st.title("Export")
db = store()
root = export_dir()
st.caption(f"Files are written to the export folder `{root}` (set `WORKBENCH_EXPORT_DIR` to change it).")

if db.count_samples(status=None) == 0:
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

counts = db.pii_counts(status)
available = counts["clean"] + (counts["flagged"] if pii_mode == "redact" else 0)
st.caption(
    f"{counts['clean'] + counts['flagged'] + counts['unscanned']:,} {status or ''} samples: {counts['clean']:,} clean, "
    f"{counts['flagged']:,} with PII ({'left out' if pii_mode == 'block' else 'redacted'}), "
    f"{counts['unscanned']:,} not scanned."
)


@st.fragment(run_every=2.0)
def scan_progress() -> None:
    active = [j for j in db.list_jobs(limit=5, kind="pii_scan") if j["status"] in ("queued", "running", "paused")]
    for job in active:
        job_progress(job)
    unscanned = db.pii_counts(status)["unscanned"]
    if unscanned and not active:
        st.warning(f"{unscanned:,} samples have not been scanned for PII; every sample is scanned before export.")
        if st.button(f"Scan {unscanned:,} samples for PII"):
            submit_scan(db)
            st.rerun()
    elif not unscanned and active:
        st.rerun()


if counts["unscanned"]:
    scan_progress()

# ---------------------------------------------------------------- the 30/70 mix and the planner

natural = None
with st.expander("Mix with natural data (the 30/70 rule)"):
    st.caption(
        "Upload a human-written dataset (JSONL, CSV or Parquet with instruction/output, or chat `messages`). The export "
        "then mixes synthetic and natural rows at the ratio below, shuffled with the recorded seed."
    )
    upload = st.file_uploader("Natural dataset", type=["jsonl", "ndjson", "csv", "parquet"], key="natural-upload")
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
            f"{len(natural.rows):,} natural rows loaded. The mix will hold {synthetic_n:,} synthetic + {natural_n:,} "
            f"natural = {synthetic_n + natural_n:,} rows ({ratio:.0%} synthetic)."
        )

with st.expander("Planner: the article's rectified-scaling heuristic"):
    st.caption(
        "The seed article's heuristic, **I = C · (D_nat + α · D_syn · E)**: useful information grows with natural data, "
        "and with synthetic data discounted by α and weighted by its entropy E. It is the article's rule of thumb, "
        "not a fitted scaling law. Here E = mean lexical entropy of the synthetic samples / that of the natural data."
    )
    facts_metrics = {m["name"]: m for m in db.dataset_facts(status)["metrics"]}
    synthetic_entropy = facts_metrics.get("lexical_entropy", {}).get("mean")
    natural_entropy = mix.mean_entropy(natural.rows) if natural else None
    e = mix.entropy_factor(synthetic_entropy, natural_entropy)
    left, middle, right = st.columns(3)
    d_nat = left.number_input("D_nat (natural rows)", 0, 10**9, len(natural.rows) if natural else 1000)
    alpha = middle.slider("α (synthetic discount)", 0.0, 1.0, 0.5, 0.05)
    c = right.number_input("C (scale)", 0.0, 1e6, 1.0)
    source_note = (
        f"E = {synthetic_entropy:.2f} / {natural_entropy:.2f} bits = {e:.2f}" if synthetic_entropy and natural_entropy
        else "E = 1.00 (needs measured lexical entropy of the synthetic samples and a natural file)"
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
write_card = st.checkbox("Write the dataset card (README.md) beside the file", value=True)
options = ExportOptions(
    fmt=fmt, status=status, lineage=lineage, metrics=metrics, pii=pii_mode, natural=natural,
    synthetic_ratio=ratio, seed=int(seed), card=write_card, license=license_id.strip() or "other",
)

target = None
try:
    target = resolve_target(name, root)
except ExportError as exc:
    st.error(str(exc))
existing = [p for p in (target, target.parent / "README.md" if target and write_card else None) if p and p.exists()]
overwrite = False
if existing:
    st.warning("Already there: " + ", ".join(f"`{p.name}`" for p in existing) + ".")
    overwrite = st.checkbox("Overwrite the existing file(s)")
options.overwrite = overwrite

with st.expander("Dataset card preview"):
    st.code(preview_card(db, options, target.name if target else name), language="markdown")

if st.button("Export", type="primary", disabled=target is None or (bool(existing) and not overwrite)):
    with st.spinner("Exporting..."):
        try:
            result = export(db, options, name, root)
        except (ExportError, ValueError) as exc:
            st.error(f"Nothing was written: {exc}")
        else:
            st.session_state["last_export"] = {
                "path": str(result.path), "card_path": str(result.card_path) if result.card_path else None,
                "summary": (
                    f"Wrote {result.written:,} rows to `{result.path}`: {result.synthetic:,} synthetic"
                    + (f" + {result.natural:,} natural (seed {result.seed})" if result.natural else "")
                    + f"; {result.blocked:,} left out for PII, {result.redacted:,} redacted"
                    + (f", {result.skipped_unrated:,} skipped without rated steps" if result.skipped_unrated else "")
                    + "."
                ),
            }

last = st.session_state.get("last_export")
if last:
    st.success(last["summary"])
    path = Path(last["path"])
    buttons = st.columns(2)
    if path.exists():
        buttons[0].download_button(f"Download {path.name}", data=path.read_bytes, file_name=path.name, icon=":material/download:", on_click="ignore")
    if last["card_path"] and Path(last["card_path"]).exists():
        card_path = Path(last["card_path"])
        buttons[1].download_button("Download README.md", data=card_path.read_bytes, file_name="README.md", on_click="ignore")

exports = db.list_exports(limit=20)
if exports:
    st.subheader("Past exports")
    st.dataframe(
        pd.DataFrame(
            [
                {"id": e["id"], "format": e["format"], "path": e["path"], "samples": e["n_samples"],
                 "natural": e["options"].get("natural"), "PII": e["options"].get("pii"),
                 "when": pd.Timestamp(e["created_at"], unit="s")}
                for e in exports
            ]
        ),
        hide_index=True,
        width="stretch",
    )
