"""Review: the queue of samples, one at a time (with keyboard shortcuts) or many at once; edits keep history.
Model text is shown as it is: code blocks as code (line breaks kept), prose as plain text, never as HTML."""

import dataclasses
import json

import pandas as pd
import streamlit as st

from views._contamination import show_benchmark_matches
from views._shared import (
    bundled_model_note,
    empty_state,
    job_progress,
    literal_markdown,
    show_model_text,
    store,
)
from workbench.core.glossary import explain
from workbench.core.metrics import METRIC_UNITS
from workbench.core.settings import reviewer_name
from workbench.core.wording import plural
from workbench.formats.job import save_upload, submit_import
from workbench.formats.record_files import upload_types
from workbench.formats.sample_import import SAMPLE_CONTAINERS, formats_read, preview
from workbench.review import decisions as review
from workbench.safety.job import submit_pii_scan
from workbench.safety.pii import (
    OPTIONAL_ENTITIES,
    PRESETS,
    STRICT_ENTITIES,
    PiiPolicy,
    allow_list,
    field_texts,
    findings_by_field,
    load_policy,
    mark_not_pii,
    ner_model_installed,
    save_policy,
    summary,
)
from workbench.store import StoreError

BULK_PAGE_SIZE = 200
ANY = "(any)"
STATUS_CHOICES = {review.NEEDS_HUMAN: "needs a human (pending, or decided automatically)", "pending": "pending",
                  "approved": "approved", "rejected": "rejected", ANY: ANY}

st.title("Review")
db = store()

if message := st.session_state.pop("review_message", None):
    st.success(message)


UPLOAD_TYPES = upload_types(SAMPLE_CONTAINERS)
ROLE_LABELS = {"system": "System", "developer": "Developer", "user": "User", "assistant": "Assistant", "tool": "Tool",
               "function": "Tool"}


@st.fragment(run_every=1.0)
def import_progress(job_id: int) -> None:
    """The import job while it runs; the whole page reruns once it ends (its result, the queue)."""
    job = db.jobs.get_job(job_id)
    if job["status"] in ("queued", "running", "paused"):
        job_progress(job)
    else:
        st.rerun()


def import_outcome() -> None:
    """The last import's progress, or what it imported, or every problem of a refused file."""
    job = db.jobs.get_job(st.session_state.get("import_job") or 0)
    if job is None:
        return
    if job["status"] in ("queued", "running", "paused"):
        import_progress(job["id"])
        return
    result = job["result"] or {}
    if "summary" in result:
        st.success(result["summary"] + " They await review.")
    else:
        st.error(result.get("error") or job["error"] or f"The import job ended {job['status']}.")
        if result.get("problems"):
            st.dataframe(pd.DataFrame({"problem": result["problems"]}), hide_index=True, width="stretch")


def upload_samples() -> None:
    st.caption(
        "Reads " + "; ".join(formats_read()) + ". JSONL, a JSON array, CSV or Parquet. The format is detected from the "
        "first row and every row must share it. Import is all or nothing: every problem names its line and field. "
        "Samples already in the store are skipped and listed. Step labels in the file are kept as human step labels."
    )
    upload = st.file_uploader("Samples file", type=UPLOAD_TYPES, key="samples-upload")
    if upload is None:
        import_outcome()
        return
    data = upload.getvalue()
    seen = preview(data, upload.name)
    if seen.format_label:
        st.markdown(f"Detected **{seen.format_label}** ({seen.container}). The first rows as they would be stored:")
    if seen.rows:
        st.dataframe(pd.DataFrame(seen.rows), hide_index=True, width="stretch")
    for problem in seen.problems:
        st.error(problem)
    if st.button("Import this file", type="primary", disabled=bool(seen.problems) or not seen.rows):
        st.session_state["import_job"] = submit_import(db, save_upload(db, data, upload.name), upload.name)
    import_outcome()


total = db.queue.count_samples(status=None)
with st.expander("Import samples made elsewhere", expanded=total == 0 or "import_job" in st.session_state):
    upload_samples()
if total == 0:
    empty_state("No samples yet. Grow some on the Evolution or Magpie pages, or import a file above.")
    st.stop()
bundled_model_note(db.overview.sample_models(), "Samples in this store")

# ---------------------------------------------------------------- PII


@st.fragment(run_every=2.0)
def pii_panel() -> None:
    counts = db.samples.pii_counts()
    scans = [j for j in db.jobs.list_jobs(limit=5, kind="pii_scan") if j["status"] in ("queued", "running", "paused")]
    for job in scans:
        job_progress(job)
    columns = st.columns([2, 2, 2, 3])
    columns[0].metric("PII flagged", f"{counts['flagged']:,}")
    columns[1].metric("Clean", f"{counts['clean']:,}")
    columns[2].metric("Not scanned", f"{counts['unscanned']:,}")
    if counts["unscanned"] and not scans and columns[3].button(f"Scan {plural(counts['unscanned'], 'sample')} for PII"):
        submit_pii_scan(db)
        st.rerun()
    if not ner_model_installed():
        st.warning(
            "PII: the spaCy NER model is not installed, so scans use the pattern recognisers alone: emails, phones, "
            "cards, IBANs, SSNs, IPs and keys are found, but person names and locations are NOT."
        )
    else:
        scanned = db.queue.query_samples(limit=1, status=None, pii="flagged") + db.queue.query_samples(limit=1, status=None, pii="clean")
        for sample in scanned[:1]:
            if sample["pii"].get("engine") == "patterns":
                st.warning(f"PII: the last scans ran with {sample['pii']['note']}.")


PRESET_LABELS = {**PRESETS, "custom": "custom rules (below)"}


def policy_form() -> None:
    policy = load_policy(db)
    st.caption(f"Now: {policy.describe()}")
    with st.form("pii-policy"):
        preset = st.radio("Policy", list(PRESET_LABELS), index=list(PRESET_LABELS).index(policy.preset),
                          format_func=PRESET_LABELS.get, horizontal=True)
        entities = st.multiselect("Custom: look for", list(dict.fromkeys([*STRICT_ENTITIES, *OPTIONAL_ENTITIES])),
                                  default=list(policy.entities))
        left, right = st.columns(2)
        min_words = left.number_input("Custom: a person's name counts from this many words", 1, 5, policy.person_min_words)
        every_name = right.checkbox("Custom: every person's name counts, not only in personal records",
                                    value=policy.names == "all")
        saved = st.form_submit_button("Save the PII rules")
    if saved:
        chosen = (PiiPolicy.from_preset(preset) if preset != "custom" else
                  PiiPolicy(tuple(entities), policy.score_threshold, int(min_words), "all" if every_name else "records",
                            "custom").named())
        forgotten = save_policy(db, chosen)
        st.session_state["review_message"] = (
            f"PII rules saved; {plural(forgotten, 'scan')} forgotten, made again before export." if forgotten
            else "The PII rules are unchanged."
        )
        st.rerun()


with st.expander("PII scan", expanded=db.samples.pii_counts()["unscanned"] > 0):
    st.caption(
        f"Policy: {load_policy(db).describe()} presidio finds the identifiers (cards Luhn-checked) and, with the bundled "
        "spaCy model, people's names; role placeholders such as [Tenant] never count. Each flagged sample says why below "
        "its text; **Not PII** there clears a finding everywhere and later scans skip it. Scans run in the worker."
    )
    pii_panel()
    st.caption("Change what the scan looks for under **PII rules** at the bottom of this page.")

# ---------------------------------------------------------------- filters

map_ids = db.analyse.map_selection_ids()  # stored by the Maps page when points are selected there
with st.expander("Filters", expanded=False):
    row = st.columns(4)
    status = row[0].selectbox("Status", list(STATUS_CHOICES), format_func=STATUS_CHOICES.get,
                              help="Needs a human: the pending samples, and those an automatic review (the demo's "
                                   "gate) approved or rejected, until a person approves or rejects them.")
    sources = row[1].multiselect("Source", db.queue.sample_sources())
    operators = row[2].multiselect("Operator", db.queue.sample_operators())
    tags = row[3].multiselect("Tags", db.queue.sample_tags())
    row = st.columns(4)
    depth = row[0].slider("Evolution depth", 0, 10, (0, 10))
    score = row[1].slider("Best path score", 0.0, 1.0, (0.0, 1.0), 0.05)
    novelty = row[2].slider("Novelty vs seeds at least", 0.0, 1.0, 0.0, 0.05)
    pii_filter = row[3].selectbox("PII", [ANY, "flagged", "clean", "unscanned"])
    search = st.text_input("Search", placeholder="text in instruction or answer")
    use_map = bool(map_ids) and st.checkbox(f"Only the {plural(len(map_ids or []), 'sample')} selected on the map", value=True)

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
queue = db.queue.query_sample_ids(**queue_filter.kwargs())
def queue_caption() -> str:
    """How many samples the queue holds (of all), and, for the needs-a-human queue, of which kind."""
    text = f"{plural(len(queue), 'sample')} in this queue (of {total:,})"
    if queue_filter.status == review.NEEDS_HUMAN and queue:
        by_status = db.queue.count_samples_by_status(**queue_filter.kwargs())
        kinds = [f"{by_status[key]:,} {label}" for key, label in (
            ("pending", "pending"), ("rejected", "rejected automatically, to check"),
            ("approved", "approved automatically, to confirm")) if by_status.get(key)]
        text += ": " + ", ".join(kinds)
    return text + f". Reviewer: **{reviewer_name(db)}** (change it in Settings)."


st.caption(queue_caption())
in_store = db.queue.count_samples_by_status(status=None)
st.caption("In the store (samples no filter removed): " + ", ".join(
    f"{in_store.get(key, 0):,} {key}" for key in ("approved", "rejected", "pending"))
    + ". Approved is what Home, the Overview and Export count as approved samples.")
if map_ids and not use_map:
    st.caption(f"{plural(len(map_ids), 'sample')} selected on the Maps page; tick the filter to review only them.")

view = st.segmented_control("View", ["Focus", "Bulk"], default="Focus", key="review-view")

# ---------------------------------------------------------------- focus view


def current_id() -> int | None:
    """The queue's first sample at or after the remembered position, wrapping to the start."""
    wanted = st.session_state.get("focus_id", 0)
    return next((i for i in queue if i >= wanted), queue[0] if queue else None)


def advance(sample_id: int) -> None:
    st.session_state["focus_id"] = sample_id + 1
    st.session_state.pop("editing", None)


def show_turns(turns: list[dict]) -> None:
    for index, turn in enumerate(turns):
        box = st.container(border=True)
        box.caption(f"{ROLE_LABELS.get(turn['role'], turn['role'])} · turn {index + 1}")
        if turn.get("content") or not turn.get("tool_calls"):
            show_model_text(box, turn.get("content"))
        if turn.get("tool_calls"):
            box.code(json.dumps(turn["tool_calls"], indent=2, ensure_ascii=False), language="json")


def show_exchange(instruction: str, input_text: str | None, output: str | None) -> None:
    st.markdown("**Instruction**")
    show_model_text(st.container(border=True), instruction)
    if input_text:
        st.markdown("**Input**")
        show_model_text(st.container(border=True), input_text)
    st.markdown("**Answer**")
    show_model_text(st.container(border=True), output, empty="(no answer)")


def why_flagged(sample: dict) -> None:
    """Each finding of a flagged sample: what was found where, why it counts, and a "Not PII" button."""
    texts = field_texts(db, [sample["id"]]).get(sample["id"], {})
    with st.expander(f"Why it is flagged ({plural(len(sample['pii']['findings']), 'finding')})", expanded=True):
        for index, finding in enumerate(sample["pii"]["findings"]):
            found = texts.get(finding["field"], "")[finding["start"] : finding["end"]]
            left, right = st.columns([6, 1])
            left.markdown(f"**{finding['entity']}** in `{finding['field']}`: {finding.get('why') or 'looked for under the rules'}")
            left.code(found or "(the text changed since the scan)", language=None)
            if right.button("Not PII", key=f"not-pii-{sample['id']}-{index}", disabled=not found,
                            help="Add this text to the allow-list: it is cleared from every sample now, and later scans skip it."):
                try:
                    changed = mark_not_pii(db, sample["id"], finding, reviewer_name(db))
                except ValueError as exc:
                    st.error(str(exc))
                    return
                st.session_state["review_message"] = (f"Marked {finding['entity']} {found!r} as not PII: cleared from "
                                                      f"{plural(changed, 'sample')}; later scans skip it.")
                st.rerun()


GATE_SAYS = {"passed": "passes the gate", "unverified": "is unverified (nothing verified its outcome)",
             "failed": "fails the gate"}


def decision_line(details: dict) -> None:
    """Who decided on the sample and why, in plain sight: an automatic decision asks for a person's; then the gate's
    verdict, when it adds to the decision's own reason."""
    decision, gate = details["decision"], details["gate"]
    if decision is not None:
        when = pd.Timestamp(decision["created_at"], unit="s").strftime("%Y-%m-%d %H:%M UTC")
        head = f"{decision['status'].capitalize()} {'automatically ' if decision['automatic'] else ''}by " \
               f"{decision['reviewer']} ({when})"
        note = (decision["note"] or "").strip()
        reason = f": {literal_markdown(note)}{'' if note.endswith(('.', '!', '?')) else '.'}" if note else "."
        if decision["automatic"]:
            ask = (" Approve to confirm it, or Reject." if decision["status"] == "approved"
                   else " Reject to confirm it, or Approve to overrule it.")
            show = st.info if decision["status"] == "approved" else st.warning
            show(head + reason + ask, icon=":material/smart_toy:")
        else:
            st.caption(head + reason)
    if gate is not None:
        verdict = gate["verdict"]
        said = f"{GATE_SAYS[verdict.status]}: {verdict.reason}"
        if decision is None or verdict.reason not in (decision["note"] or ""):
            st.caption(f"The gate now: this sample {literal_markdown(said)}.", help=explain("gate", "best path", "decided by"))


def show_sample(details: dict) -> None:
    decision_line(details)
    sample = details["sample"]
    found = findings_by_field(sample["pii"])
    if found:
        st.warning(f"PII found: {summary(sample['pii'])} (in {', '.join(sorted(found))}).", icon=":material/lock:")
        why_flagged(sample)
    elif sample["pii"] is None:
        st.caption("Not scanned for PII yet.")
    ignored = (sample["pii"] or {}).get("ignored") or []
    if ignored:
        texts = [f"{hit['entity']} ({hit['reason']})" for hit in ignored[:10]]
        more = f"; and {len(ignored) - 10:,} more" if len(ignored) > 10 else ""
        st.caption(f"Not counted as PII under the PII rules: {'; '.join(texts)}{more}.")
    left, right = st.columns([3, 2])
    with left:
        if details["conversation"]:
            st.markdown(f"**Conversation** ({plural(len(details['turns']), 'turn')})")
            show_turns(details["turns"])
            if sample.get("input"):
                st.markdown("**Input** (from the seed, with the first user turn)")
                show_model_text(st.container(border=True), sample["input"])
        else:
            show_exchange(sample["instruction"], sample.get("input"), sample["output"])
        gate = details["gate"]
        if gate:
            st.markdown(f"**Best reasoning path** ({gate['label']}, as on the Verifier page)")
            st.dataframe(
                pd.DataFrame(gate["steps"], columns=["step", "score", "decided by", "rating", "text", "overrule"]),
                hide_index=True,
                width="stretch",
                column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f"),
                               "text": st.column_config.TextColumn("text", width="large"),
                               "rating": st.column_config.NumberColumn("rating", help="PRM800K's -1 / 0 / +1")},
            )
        else:
            st.caption("No reasoning path for this sample.")
        if details["pairs"]:
            with st.expander(f"Preference pairs ({len(details['pairs'])})"):
                for pair in details["pairs"]:
                    if pair["rejected"]:
                        chosen = "the sample's reply is the chosen one" if pair["chosen"] else "labelled undesirable"
                        st.caption(f"{pair['kind']} pair #{pair['id']} ({chosen}); the rejected reply:")
                        show_turns(pair["rejected"])
                    else:
                        st.caption(f"{pair['kind']} row #{pair['id']}: the sample's reply is labelled desirable")
    with right:
        show_benchmark_matches(db, "sample", sample["id"])
        st.markdown("**Lineage**")
        seed = details["seed"]
        chain = " → ".join(c["operator"] for c in details["chain"]) or "—"
        origin = sample["metadata"].get("origin")
        imported = sample["metadata"].get("imported_from")
        lineage = pd.DataFrame(
            [
                ("source", sample["source"] + (f" (from {origin})" if origin else "")),
                ("imported from", f"{imported['file']}, {imported['where']} ({imported['format']})" if imported else None),
                ("seed", f"#{seed['id']} {seed['instruction'][:80]}" if seed else None),
                ("chain", chain),
                ("best path", details["gate"]["label"] if details["gate"] else None),
                ("teacher", sample["model"]),
                ("status", sample["status"]),
                ("tags", ", ".join(sample["tags"]) or None),
            ],
            columns=["lineage", "value"],
        ).dropna()
        st.dataframe(lineage, hide_index=True, width="stretch")
        if details["metrics"]:
            st.markdown("**Metrics**")
            st.dataframe(
                pd.DataFrame([{"metric": k, "value": v, "unit": METRIC_UNITS.get(k, "")}
                              for k, v in sorted(details["metrics"].items())]),
                hide_index=True,
                width="stretch",
            )
        if details["history"]:
            with st.expander(f"History ({len(details['history'])})"):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"when": pd.Timestamp(entry["created_at"], unit="s"), "who": entry["reviewer"],
                             "action": entry["action"], "before": json.dumps(entry["before"], ensure_ascii=False),
                             "after": json.dumps(entry["after"], ensure_ascii=False), "note": entry["note"]}
                            for entry in details["history"]
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                )
        if details["original_turns"]:
            with st.expander("Original conversation (before edits)"):
                show_turns(details["original_turns"])
        elif sample["original_instruction"] or sample["original_output"]:
            with st.expander("Original (before edits)"):
                show_exchange(sample["original_instruction"] or sample["instruction"], None,
                              sample["original_output"] or sample["output"])


def edit_form(details: dict) -> None:
    sample = details["sample"]
    conversation = details["conversation"]
    with st.form(f"edit-{sample['id']}"):
        if conversation:
            texts = {
                index: st.text_area(f"{ROLE_LABELS.get(turn['role'], turn['role'])} · turn {index + 1}",
                                    value=turn.get("content") or "", height=120)
                for index, turn in enumerate(details["turns"])
                if turn.get("content") is not None
            }
        else:
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
            if conversation:
                changed = review.edit_turns(db, sample["id"], texts, note or None)
            else:
                changed = review.edit(db, sample["id"], instruction, output, note or None)
        except StoreError as exc:
            st.error(f"Not saved: {exc}")
            return
        st.session_state.pop("editing", None)
        if changed:
            submit_pii_scan(db, scope="unscanned", ids=[sample["id"]])
            st.session_state["review_message"] = f"Saved the edit of sample {sample['id']}; the original is kept. Rescanning it for PII."
        st.rerun()


def show_empty_queue() -> None:
    """An empty queue says where the samples are: in the other statuses (after a review, or the demo's), or
    outside these filters."""
    elsewhere = {other: db.queue.count_samples(**dataclasses.replace(queue_filter, status=other).kwargs())
                 for other in ("pending", "approved", "rejected") if other != queue_filter.status}
    if queue_filter.status is not None and any(elsewhere.values()):
        found = ", ".join(f"{n:,} {other}" for other, n in elsewhere.items() if n)
        what = ("Nothing here needs a human" if queue_filter.status == review.NEEDS_HUMAN
                else f"No {queue_filter.status} sample here")
        empty_state(f"{what}; with these filters: {found}. Pick that status under **Filters** to see them.")
    else:
        empty_state("Nothing in this queue. Change the filters, or pick another status.")


def focus_view() -> None:
    sample_id = current_id()
    if sample_id is None:
        show_empty_queue()
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
    if buttons[4].button("Reopen", icon=":material/undo:", width="stretch", disabled=db.samples.get_sample(sample_id)["status"] == "pending"):
        review.set_status(db, [sample_id], "pending")
        st.rerun()
    st.caption("Keyboard: **A** approve · **X** reject · **S** skip · **E** edit (when no text field has the focus).")
    details = review.focus_details(db, sample_id)
    if st.session_state.get("editing") == sample_id:
        edit_form(details)
    show_sample(details)


# ---------------------------------------------------------------- bulk view


def bulk_view() -> None:
    if not queue:
        show_empty_queue()
        return
    pages = (len(queue) - 1) // BULK_PAGE_SIZE + 1
    page = st.number_input(f"Page (of {pages})", 1, pages, 1) if pages > 1 else 1
    rows = db.queue.query_samples(limit=BULK_PAGE_SIZE, offset=(page - 1) * BULK_PAGE_SIZE, **queue_filter.kwargs())
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
    everything = st.checkbox(f"Apply to all {plural(len(queue), 'sample')} matching the filters (not only the ticked ones)")
    targets = queue if everything else chosen
    st.caption(f"{plural(len(targets), 'sample')} selected.")
    actions = st.columns(4)
    for column, (label, status) in zip(actions, (("Approve", "approved"), ("Reject", "rejected"), ("Reset to pending", "pending")), strict=False):
        if column.button(f"{label} {len(targets):,}", disabled=not targets, key=f"bulk-{status}"):
            changed = review.set_status(db, targets, status)
            st.session_state["review_message"] = f"{label}: {plural(changed, 'sample')}."
            st.rerun()
    tag_text = actions[3].text_input("Tags (comma-separated)", key="bulk-tags")
    new_tags = [t.strip() for t in tag_text.split(",") if t.strip()]
    add, remove = actions[3].columns(2)
    if add.button("Add tags", disabled=not (targets and new_tags)):
        review.tag(db, targets, new_tags)
        st.session_state["review_message"] = f"Tagged {plural(len(targets), 'sample')} with {', '.join(new_tags)}."
        st.rerun()
    if remove.button("Remove tags", disabled=not (targets and new_tags)):
        review.untag(db, targets, new_tags)
        st.session_state["review_message"] = f"Removed {', '.join(new_tags)} from {plural(len(targets), 'sample')}."
        st.rerun()


if view == "Bulk":
    bulk_view()
else:
    focus_view()

with st.expander("PII rules"):
    policy_form()
    allowed = allow_list(db)
    if allowed:
        st.markdown(f"**Marked not PII** ({plural(len(allowed), 'text')})")
        st.dataframe(pd.DataFrame([{"entity": e["entity"], "text": e["text"], "by": e["reviewer"],
                                    "when (UTC)": pd.Timestamp(e["at"], unit="s").strftime("%Y-%m-%d %H:%M"),
                                    "sample": e["sample_id"]} for e in allowed]), hide_index=True, width="stretch")
