"""Seeds: import, browse, edit and delete the gold seeds everything else grows from."""

import pandas as pd
import streamlit as st

from pages._shared import empty_state, store
from workbench.seeds import SeedImportError, import_seeds, load_sample_seeds
from workbench.store import StoreError

st.title("Gold seeds")
st.caption("Hand-curated instructions the factory evolves. Mark the ones the current model fails at as known failures.")
db = store()

if message := st.session_state.pop("seeds_message", None):
    st.success(message)

if db.counts()["seeds"] == 0:
    empty_state("No seeds yet. Load the ~100 sample seeds that ship with the app, or import your own below.")
    if st.button("Load sample seeds", type="primary"):
        ids = load_sample_seeds(db)
        st.session_state["seeds_message"] = f"Loaded {len(ids)} sample seeds."
        st.rerun()

with st.expander("Import seeds", expanded=db.counts()["seeds"] == 0):
    upload_tab, paste_tab = st.tabs(["Upload a file", "Paste"])
    with upload_tab:
        st.caption(
            "CSV, JSONL, JSON array or plain text (one seed per line). Fields: instruction (required), "
            "reference_answer, domain, tags, notes, known_failure, tests. Import is all or nothing."
        )
        upload = st.file_uploader("Seed file", type=["csv", "tsv", "jsonl", "ndjson", "json", "txt"])
        if upload is not None and st.button("Import file"):
            try:
                ids = import_seeds(db, upload.getvalue(), upload.name)
            except SeedImportError as exc:
                st.error(str(exc))
            else:
                st.session_state["seeds_message"] = f"Imported {len(ids)} seeds from {upload.name}."
                st.rerun()
    with paste_tab:
        pasted = st.text_area("One seed per line, or JSON / JSONL", height=150)
        if st.button("Import pasted seeds", disabled=not pasted.strip()):
            try:
                ids = import_seeds(db, pasted, "pasted text")
            except SeedImportError as exc:
                st.error(str(exc))
            else:
                st.session_state["seeds_message"] = f"Imported {len(ids)} pasted seeds."
                st.rerun()

total = db.counts()["seeds"]
if total == 0:
    st.stop()

filters = st.columns([3, 2, 2, 2])
search = filters[0].text_input("Search", placeholder="text in instruction, answer or notes")
domain = filters[1].selectbox("Domain", ["(all)", *db.seed_domains()])
tag = filters[2].selectbox("Tag", ["(all)", *db.seed_tags()])
flag = filters[3].selectbox("Known failure", ["(all)", "yes", "no"])
seeds = db.list_seeds(
    search=search,
    domain=None if domain == "(all)" else domain,
    tag=None if tag == "(all)" else tag,
    known_failure=None if flag == "(all)" else flag == "yes",
)
st.caption(f"{len(seeds)} of {total} seeds shown. Edit cells in place, then save.")

EDITABLE = ["instruction", "reference_answer", "domain", "tags", "notes", "known_failure"]
frame = pd.DataFrame(seeds, columns=["id", *EDITABLE]).set_index("id")
frame["tags"] = frame["tags"].apply(lambda tags: ", ".join(tags))
frame.insert(0, "delete", False)
edited = st.data_editor(
    frame,
    key=f"seed-editor-{search}-{domain}-{tag}-{flag}",
    width="stretch",
    num_rows="fixed",
    column_config={
        "delete": st.column_config.CheckboxColumn("Delete", help="mark for deletion", width="small"),
        "instruction": st.column_config.TextColumn("Instruction", width="large", required=True),
        "reference_answer": st.column_config.TextColumn("Reference answer"),
        "tags": st.column_config.TextColumn("Tags", help="comma-separated"),
        "known_failure": st.column_config.CheckboxColumn("Known failure"),
    },
)

changes: dict[int, dict] = {}
for seed_id, row in edited.drop(columns=["delete"]).iterrows():
    before = frame.loc[seed_id]
    diff = {
        column: row[column]
        for column in EDITABLE
        if not (pd.isna(row[column]) and pd.isna(before[column])) and row[column] != before[column]
    }
    if "tags" in diff:
        diff["tags"] = [t.strip() for t in str(diff["tags"] or "").split(",") if t.strip()]
    if diff:
        changes[int(seed_id)] = diff
to_delete = [int(i) for i in edited.index[edited["delete"]]]

save, delete = st.columns(2)
if save.button(f"Save {len(changes)} edited seeds", disabled=not changes, type="primary"):
    try:
        db.update_seeds(changes)
    except StoreError as exc:
        st.error(f"Nothing was saved: {exc}")
    else:
        st.session_state["seeds_message"] = f"Saved {len(changes)} seeds."
        st.rerun()

if to_delete:
    with delete.popover(f"Delete {len(to_delete)} seeds", width="stretch"):
        st.warning(f"Delete {len(to_delete)} seeds and everything evolved from them? This cannot be undone.")
        if st.button("Yes, delete", type="primary"):
            removed = db.delete_seeds(to_delete)
            st.session_state["seeds_message"] = f"Deleted {removed} seeds."
            st.rerun()
