"""Review: the queue of samples, one at a time (with keyboard shortcuts) or many at once; edits keep history."""

import pandas as pd
import streamlit as st

from pages._shared import bundled_model_note, empty_state, job_progress, store
from workbench import review
from workbench.pii import findings_by_field, ner_model_installed, submit_scan, summary
from workbench.sample_import import SampleImportError, import_samples
from workbench.settings import reviewer_name
from workbench.store import StoreError

BULK_PAGE_SIZE = 200
ANY = "(any)"

st.title("Review")
db = store()

if message := st.session_state.pop("review_message", None):
    st.success(message)


def upload_samples() -> None:
    st.caption(
        "JSONL, one sample per line: `instruction`, `output`, optional `steps` (list of texts, stored as a reasoning "
        "path), `source`, `metadata`, `tags`. Import is all or nothing; every problem names its line."
    )
    upload = st.file_uploader("Samples file", type=["jsonl", "ndjson"], key="samples-upload")
    if upload is not None and st.button("Import samples"):
        try:
            ids = import_samples(db, upload.getvalue(), upload.name)
        except SampleImportError as exc:
            st.error(str(exc))
        else:
            st.session_state["review_message"] = f"Imported {len(ids)} samples from {upload.name}; they await review."
            st.rerun()


total = db.count_samples(status=None)
with st.expander("Import samples made elsewhere", expanded=total == 0):
    upload_samples()
if total == 0:
    empty_state("No samples yet. Grow some on the Evolution or Magpie pages, or import a JSONL file above.")
    st.stop()
bundled_model_note(db.sample_models(), "Samples in this store")

# ---------------------------------------------------------------- PII


@st.fragment(run_every=2.0)
def pii_panel() -> None:
    counts = db.pii_counts()
    scans = [j for j in db.list_jobs(limit=5, kind="pii_scan") if j["status"] in ("queued", "running", "paused")]
    for job in scans:
        job_progress(job)
    columns = st.columns([2, 2, 2, 3])
    columns[0].metric("PII flagged", f"{counts['flagged']:,}")
    columns[1].metric("Clean", f"{counts['clean']:,}")
    columns[2].metric("Not scanned", f"{counts['unscanned']:,}")
    if counts["unscanned"] and not scans and columns[3].button(f"Scan {counts['unscanned']:,} samples for PII"):
        submit_scan(db)
        st.rerun()
    if not ner_model_installed():
        st.warning(
            "PII: the spaCy NER model is not installed, so scans use the pattern recognisers alone: emails, phones, "
            "cards, IBANs, SSNs, IPs and keys are found, but person names and locations are NOT."
        )
    else:
        scanned = db.query_samples(limit=1, status=None, pii="flagged") + db.query_samples(limit=1, status=None, pii="clean")
        for sample in scanned[:1]:
            if sample["pii"].get("engine") == "patterns":
                st.warning(f"PII: the last scans ran with {sample['pii']['note']}.")


with st.expander("PII scan", expanded=db.pii_counts()["unscanned"] > 0):
    st.caption(
        "presidio finds emails, phone numbers, credit-card numbers (Luhn-checked), IBANs, US SSNs, IP addresses, API "
        "keys and secrets, and (with the bundled spaCy model) person names and locations. Scans run in the worker."
    )
    pii_panel()

# ---------------------------------------------------------------- filters

map_ids = db.map_selection_ids()  # stored by the Maps page when points are selected there
with st.expander("Filters", expanded=False):
    row = st.columns(4)
    status = row[0].selectbox("Status", ["pending", "approved", "rejected", ANY])
    sources = row[1].multiselect("Source", db.sample_sources())
    operators = row[2].multiselect("Operator", db.sample_operators())
    tags = row[3].multiselect("Tags", db.sample_tags())
    row = st.columns(4)
    depth = row[0].slider("Evolution depth", 0, 10, (0, 10))
    score = row[1].slider("Best path score", 0.0, 1.0, (0.0, 1.0), 0.05)
    novelty = row[2].slider("Novelty vs seeds at least", 0.0, 1.0, 0.0, 0.05)
    pii_filter = row[3].selectbox("PII", [ANY, "flagged", "clean", "unscanned"])
    search = st.text_input("Search", placeholder="text in instruction or answer")
    use_map = bool(map_ids) and st.checkbox(f"Only the {len(map_ids or [])} samples selected on the map", value=True)

queue_filter = review.QueueFilter(
    status=None if status == ANY else status,
    sources=sources,
    operators=operators,
    depth_min=None if depth[0] == 0 else depth[0],
    depth_max=None if depth[1] == 10 else depth[1],
    score_min=None if score[0] == 0.0 else score[0],
    score_max=None if score[1] == 1.0 else score[1],
    novelty_min=novelty or None,
    pii=None if pii_filter == ANY else pii_filter,
    tags=tags,
    ids=list(map_ids) if use_map else None,
    search=search,
)
queue = db.query_sample_ids(**queue_filter.kwargs())
st.caption(f"{len(queue):,} samples in this queue (of {total:,}). Reviewer: **{reviewer_name(db)}** (change it in Settings).")
if map_ids and not use_map:
    st.caption(f"{len(map_ids)} samples are selected on the Maps page; tick the filter to review only them.")

view = st.segmented_control("View", ["Focus", "Bulk"], default="Focus", key="review-view")

# ---------------------------------------------------------------- focus view


def current_id() -> int | None:
    """The queue's first sample at or after the remembered position, wrapping to the start."""
    wanted = st.session_state.get("focus_id", 0)
    return next((i for i in queue if i >= wanted), queue[0] if queue else None)


def advance(sample_id: int) -> None:
    st.session_state["focus_id"] = sample_id + 1
    st.session_state.pop("editing", None)


def show_sample(details: dict) -> None:
    sample = details["sample"]
    found = findings_by_field(sample["pii"])
    if found:
        st.warning(f"PII found: {summary(sample['pii'])} (in {', '.join(sorted(found))}).", icon=":material/lock:")
    elif sample["pii"] is None:
        st.caption("Not scanned for PII yet.")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Instruction**")
        st.container(border=True).markdown(sample["instruction"])
        st.markdown("**Answer**")
        st.container(border=True).markdown(sample["output"] or "_(no answer)_")
        path = details["path"]
        if path:
            st.markdown(f"**Best reasoning path** (path {path['id']})")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "step": s["idx"] + 1,
                            "text": s["text"],
                            "score": s["score"],
                            "verifier": s["verifier"],
                            "overruled": s["overrule"]["label"] if s["overrule"] else None,
                            "rating": s["rating"],
                        }
                        for s in path["steps"]
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f")},
            )
        else:
            st.caption("No reasoning path for this sample.")
    with right:
        st.markdown("**Lineage**")
        seed = details["seed"]
        chain = " → ".join(c["operator"] for c in details["chain"]) or "—"
        lines = [
            f"- source: `{sample['source']}`" + (f" (from {sample['metadata']['origin']})" if sample["metadata"].get("origin") else ""),
            f"- seed: {('#' + str(seed['id']) + ' ' + seed['instruction'][:80]) if seed else '—'}",
            f"- chain: {chain}",
            f"- best path: {('#' + str(details['path']['id'])) if details['path'] else '—'}",
            f"- teacher: `{sample['model'] or '—'}`",
            f"- status: **{sample['status']}**; tags: {', '.join(sample['tags']) or '—'}",
        ]
        st.markdown("\n".join(lines))
        if details["metrics"]:
            st.markdown("**Metrics**")
            st.dataframe(
                pd.DataFrame([{"metric": k, "value": v} for k, v in sorted(details["metrics"].items())]),
                hide_index=True,
                width="stretch",
            )
        if details["history"]:
            with st.expander(f"History ({len(details['history'])})"):
                for entry in details["history"]:
                    st.caption(
                        f"{pd.Timestamp(entry['created_at'], unit='s'):%Y-%m-%d %H:%M} · {entry['reviewer']} · "
                        f"{entry['action']}: {entry['before']} → {entry['after']}"
                    )
        if sample["original_instruction"] or sample["original_output"]:
            with st.expander("Original (before edits)"):
                st.markdown(sample["original_instruction"] or sample["instruction"])
                st.markdown("---")
                st.markdown(sample["original_output"] or sample["output"] or "")


def edit_form(sample: dict) -> None:
    with st.form(f"edit-{sample['id']}"):
        instruction = st.text_area("Instruction", value=sample["instruction"], height=150)
        output = st.text_area("Answer", value=sample["output"] or "", height=200)
        note = st.text_input("Note (why)", value="")
        save, cancel = st.columns(2)
        saved = save.form_submit_button("Save edit", type="primary")
        cancelled = cancel.form_submit_button("Cancel")
    if cancelled:
        st.session_state.pop("editing", None)
        st.rerun()
    if saved:
        try:
            changed = review.edit(db, sample["id"], instruction, output, note or None)
        except StoreError as exc:
            st.error(f"Not saved: {exc}")
            return
        st.session_state.pop("editing", None)
        if changed:
            submit_scan(db, scope="unscanned", ids=[sample["id"]])
            st.session_state["review_message"] = f"Saved the edit of sample {sample['id']}; the original is kept. Rescanning it for PII."
        st.rerun()


def focus_view() -> None:
    sample_id = current_id()
    if sample_id is None:
        empty_state("Nothing in this queue. Change the filters, or pick another status.")
        return
    position = queue.index(sample_id) + 1
    st.subheader(f"Sample {sample_id} · {position:,} of {len(queue):,}")
    buttons = st.columns(5)
    if buttons[0].button("Approve", icon=":material/check:", shortcut="A", type="primary", width="stretch"):
        review.set_status(db, [sample_id], "approved")
        advance(sample_id)
        st.session_state["review_message"] = f"Approved sample {sample_id}."
        st.rerun()
    if buttons[1].button("Reject", icon=":material/close:", shortcut="X", width="stretch"):
        review.set_status(db, [sample_id], "rejected")
        advance(sample_id)
        st.session_state["review_message"] = f"Rejected sample {sample_id}."
        st.rerun()
    if buttons[2].button("Skip", icon=":material/skip_next:", shortcut="S", width="stretch"):
        advance(sample_id)
        st.rerun()
    if buttons[3].button("Edit", icon=":material/edit:", shortcut="E", width="stretch"):
        st.session_state["editing"] = sample_id
    if buttons[4].button("Reopen", icon=":material/undo:", width="stretch", disabled=db.get_sample(sample_id)["status"] == "pending"):
        review.set_status(db, [sample_id], "pending")
        st.rerun()
    st.caption("Keyboard: **A** approve · **X** reject · **S** skip · **E** edit (when no text field has the focus).")
    details = review.focus_details(db, sample_id)
    if st.session_state.get("editing") == sample_id:
        edit_form(details["sample"])
    show_sample(details)


# ---------------------------------------------------------------- bulk view


def bulk_view() -> None:
    if not queue:
        empty_state("Nothing in this queue. Change the filters, or pick another status.")
        return
    pages = (len(queue) - 1) // BULK_PAGE_SIZE + 1
    page = st.number_input(f"Page (of {pages})", 1, pages, 1) if pages > 1 else 1
    rows = db.query_samples(limit=BULK_PAGE_SIZE, offset=(page - 1) * BULK_PAGE_SIZE, **queue_filter.kwargs())
    select_all = st.checkbox(f"Select all {len(rows)} on this page")
    frame = pd.DataFrame(
        [
            {
                "select": select_all,
                "id": r["id"],
                "status": r["status"],
                "source": r["source"],
                "operator": r["operator"],
                "depth": r["depth"],
                "best score": r["best_path_score"],
                "novelty": r["novelty"],
                "PII": summary(r["pii"]) if r["pii"] else "not scanned",
                "tags": ", ".join(r["tags"]),
                "instruction": r["instruction"][:200],
            }
            for r in rows
        ]
    )
    edited = st.data_editor(
        frame,
        key=f"bulk-{page}-{select_all}-{len(queue)}",
        hide_index=True,
        width="stretch",
        disabled=[c for c in frame.columns if c != "select"],
        column_config={"select": st.column_config.CheckboxColumn("select", width="small")},
    )
    chosen = [int(i) for i in edited.loc[edited["select"], "id"]]
    everything = st.checkbox(f"Apply to all {len(queue):,} samples matching the filters (not only the ticked ones)")
    targets = queue if everything else chosen
    st.caption(f"{len(targets):,} samples selected.")
    actions = st.columns(4)
    for column, (label, status) in zip(actions, (("Approve", "approved"), ("Reject", "rejected"), ("Reset to pending", "pending")), strict=False):
        if column.button(f"{label} {len(targets):,}", disabled=not targets, key=f"bulk-{status}"):
            changed = review.set_status(db, targets, status)
            st.session_state["review_message"] = f"{label}: {changed} samples."
            st.rerun()
    tag_text = actions[3].text_input("Tags (comma-separated)", key="bulk-tags")
    new_tags = [t.strip() for t in tag_text.split(",") if t.strip()]
    add, remove = actions[3].columns(2)
    if add.button("Add tags", disabled=not (targets and new_tags)):
        review.tag(db, targets, new_tags)
        st.session_state["review_message"] = f"Tagged {len(targets)} samples with {', '.join(new_tags)}."
        st.rerun()
    if remove.button("Remove tags", disabled=not (targets and new_tags)):
        review.untag(db, targets, new_tags)
        st.session_state["review_message"] = f"Removed {', '.join(new_tags)} from {len(targets)} samples."
        st.rerun()


if view == "Bulk":
    bulk_view()
else:
    focus_view()
