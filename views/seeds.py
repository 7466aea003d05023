"""Seeds: import, browse, edit and delete the gold seeds everything else grows from."""

import pandas as pd
import streamlit as st

from views._probes import probe_column, probe_section, student_evidence
from views._shared import empty_state, literal_markdown, page_header
from workbench.core.glossary import explain
from workbench.core.wording import plural
from workbench.formats.record_files import upload_types
from workbench.seeds.engine import (
    SeedImportError,
    describe_origin,
    edit_seeds,
    import_seeds,
    load_sample_seeds,
)
from workbench.store import StoreError
from workbench.verify.reference_check import check_kind, check_warning, has_tests
from workbench.verify.verifiers.alignment import reference_solution_problem

FORMATS_HELP = (
    "CSV, TSV, JSONL, JSON, TXT (one seed per line) or Parquet. Read by their fields: Self-Instruct seed tasks "
    "(one seed per instance), Alpaca (instruction/input/output), Dolly (instruction/context/response/category), "
    "GSM8K (question/answer with #### n), MATH (problem/solution with \\boxed{}), or plain fields: instruction "
    "(required), input, reference_answer, reference_solution, domain, tags, notes, known_failure, tests. "
    "A malformed row refuses the whole file; duplicates are skipped and reported."
)
MAX_ROWS = 1000  # rows in the grid at once (an imported public dataset may hold 50k seeds)


@st.cache_data(max_entries=10_000, show_spinner=False)
def checker_note(reference: str | None, tests: str | None) -> str | None:
    return check_warning(reference, tests)


def show_import_error(error: SeedImportError) -> None:
    """The refusal, then every problem as its own list item."""
    st.error(f"{literal_markdown(error.header)}\n\n" + "\n".join(f"- {literal_markdown(line)}" for line in error.shown_problems()))


def run_import(data: bytes | str, name: str) -> None:
    try:
        result = import_seeds(db, data, name)
    except SeedImportError as exc:
        show_import_error(exc)
    else:
        st.session_state["seeds_import_result"] = result.lines()
        st.rerun()


db = page_header(
    "Gold seeds",
    "Hand-curated instructions the factory evolves. Probe the student to find the ones it fails at (known "
    "failures by probe), or tick them by hand.",
    "seeds_message",
)
if lines := st.session_state.pop("seeds_import_result", None):
    st.success(lines[0])
    if lines[1:]:
        st.info("\n".join(f"- {literal_markdown(line)}" for line in lines[1:]))

if db.overview.counts()["seeds"] == 0:
    empty_state("No seeds yet. Load the ~100 sample seeds that ship with the app, or import your own below.")
    if st.button("Load sample seeds", type="primary"):
        ids = load_sample_seeds(db)
        st.session_state["seeds_message"] = f"Loaded {plural(len(ids), 'sample seed')}."
        st.rerun()

with st.expander("Import seeds", expanded=db.overview.counts()["seeds"] == 0):
    upload_tab, paste_tab = st.tabs(["Upload a file", "Paste"])
    with upload_tab:
        st.caption(FORMATS_HELP)
        upload = st.file_uploader("Seed file", type=upload_types())
        if upload is not None and st.button("Import file"):
            run_import(upload.getvalue(), upload.name)
    with paste_tab:
        pasted = st.text_area("One seed per line, or JSON / JSONL", height=150)
        if st.button("Import pasted seeds", disabled=not pasted.strip()):
            run_import(pasted, "pasted text")

total = db.overview.counts()["seeds"]
if total == 0:
    st.stop()


probe_section(db, total)

filters = st.columns([3, 2, 2, 2])
search = filters[0].text_input("Search", placeholder="text in instruction, input, answer or notes")
domain = filters[1].selectbox("Domain", ["(all)", *db.seeds.seed_domains()])
tag = filters[2].selectbox("Tag", ["(all)", *db.seeds.seed_tags()])
flag = filters[3].selectbox("Known failure", ["(all)", "yes", "no"])
seeds = db.seeds.list_seeds(
    search=search,
    domain=None if domain == "(all)" else domain,
    tag=None if tag == "(all)" else tag,
    known_failure=None if flag == "(all)" else flag == "yes",
    limit=MAX_ROWS + 1,
)
shown = (f"The first {MAX_ROWS:,} matching seeds of {total:,} are shown: search or filter to find the others."
         if len(seeds) > MAX_ROWS else f"{len(seeds):,} of {plural(total, 'seed')} shown.")
seeds = seeds[:MAX_ROWS]
st.caption(f"{shown} Edit cells in place, then save; open one seed below to edit long texts and its worked solution.")

EDITABLE = ["instruction", "input", "reference_answer", "domain", "tags", "notes", "known_failure"]
SHOWN_ONLY = ["delete", "answer check", "failure source", "student"]
probe_student, student_column = probe_column(db, seeds)
frame = pd.DataFrame(seeds, columns=["id", *EDITABLE]).set_index("id")
frame["tags"] = frame["tags"].apply(lambda tags: ", ".join(tags))
frame.insert(0, "delete", False)
frame.insert(frame.columns.get_loc("reference_answer") + 1, "answer check",
             [check_kind(seed["reference_answer"], seed["tests"]) for seed in seeds])
frame["failure source"] = [seed["known_failure_source"] or "" for seed in seeds]
frame["student"] = student_column
edited = st.data_editor(
    frame,
    key=f"seed-editor-{search}-{domain}-{tag}-{flag}",
    width="stretch",
    num_rows="fixed",
    disabled=["answer check", "failure source", "student"],
    column_config={
        "delete": st.column_config.CheckboxColumn("Delete", help="mark for deletion", width="small"),
        "instruction": st.column_config.TextColumn("Instruction", width="medium", required=True),
        "input": st.column_config.TextColumn("Input", width="medium", help="the context the instruction works on (optional)"),
        "reference_answer": st.column_config.TextColumn("Reference answer", width="medium",
                                                        help=explain("reference answer")),
        "answer check": st.column_config.TextColumn(
            "Answer check",
            help="tests: a code task, checked by running its tests (edit them below, under One seed in full); ok: a "
                 "path's stated final answer is compared with the reference as a number or formula; as text: compared "
                 "as words (case and articles aside); not a final answer: a worked solution, code or long text without "
                 "tests, so nothing is compared with it and other verifiers decide"),
        "domain": st.column_config.TextColumn("Domain"),
        "tags": st.column_config.TextColumn("Tags", help="comma-separated"),
        "notes": st.column_config.TextColumn("Notes"),
        "known_failure": st.column_config.CheckboxColumn(
            "Known failure", help="a seed the student fails at: set by the probe, or ticked by hand"),
        "failure source": st.column_config.TextColumn(
            "Failure source", help="probe: the student's pass rate in its latest probe was at most the threshold; "
                                   "manual: ticked by hand (it stays, whatever a probe finds)"),
        "student": st.column_config.TextColumn(
            "Student", help=f"the student's correct attempts in its latest probe (`{probe_student}`)"
            if probe_student else "the student's correct attempts, once it is probed"),
    },
)

changes: dict[int, dict] = {}
for seed_id, row in edited.drop(columns=SHOWN_ONLY).iterrows():
    before = frame.loc[seed_id]
    diff = {
        column: row[column]
        for column in EDITABLE
        if not (pd.isna(row[column]) and pd.isna(before[column])) and row[column] != before[column]
    }
    if "tags" in diff:
        diff["tags"] = [t.strip() for t in str(diff["tags"] or "").split(",") if t.strip()]
    diff = {k: None if not isinstance(v, list) and pd.isna(v) else v for k, v in diff.items()}
    if diff:
        changes[int(seed_id)] = diff
to_delete = [int(i) for i in edited.index[edited["delete"]]]


def save(edits: dict[int, dict], message: str) -> None:
    try:
        edit_seeds(db, edits)
    except (StoreError, ValueError) as exc:
        st.error(f"Nothing was saved: {exc}")
    else:
        st.session_state["seeds_message"] = message
        st.rerun()


save_column, delete_column = st.columns(2)
if save_column.button(f"Save {plural(len(changes), 'edited seed')}" if changes else "Save edited seeds", disabled=not changes, type="primary"):
    save(changes, f"Saved {plural(len(changes), 'seed')}.")

if to_delete:
    with delete_column.popover(f"Delete {plural(len(to_delete), 'seed')}", width="stretch"):
        st.warning(f"Delete {plural(len(to_delete), 'seed')} and everything evolved from them? This cannot be undone.")
        if st.button("Yes, delete", type="primary"):
            removed = db.seeds.delete_seeds(to_delete)
            st.session_state["seeds_message"] = f"Deleted {plural(removed, 'seed')}."
            st.rerun()


# ---------------------------------------------------------------- one seed in full

if not seeds:
    st.stop()
st.subheader("One seed in full")
by_id = {seed["id"]: seed for seed in seeds}
seed_id = st.selectbox("Seed", list(by_id), format_func=lambda i: f"{i} · {by_id[i]['instruction'][:90]}")
seed = by_id[seed_id]
origin = seed["origin"]
st.caption(literal_markdown(describe_origin(origin)))
if origin.get("extra"):
    with st.expander("Other fields of the record (kept, not used)"):
        st.json(origin["extra"])


student_evidence(db, probe_student, seed)
if note := checker_note(seed["reference_answer"], seed["tests"]):
    st.warning(literal_markdown(note), icon=":material/rule:")  # the note quotes the reference and says who decides instead
if note := reference_solution_problem(seed["reference_solution"]):
    st.warning(literal_markdown(note), icon=":material/rule:")
with st.form(f"seed-detail-{seed_id}"):
    instruction = st.text_area("Instruction", seed["instruction"], height=100, key=f"seed-{seed_id}-instruction")
    input_text = st.text_area("Input", seed["input"] or "", height=100, key=f"seed-{seed_id}-input",
                              help="The context the instruction works on (Alpaca's input). Every prompt built from "
                                   "this seed shows it after the instruction.")
    # a reference over several lines (code, a worked answer) gets a text area: a one-line box would join its lines
    answer_box = st.text_area if "\n" in (seed["reference_answer"] or "") else st.text_input
    code_task = has_tests(seed["tests"]) or seed["domain"] == "code"
    answer = answer_box("Reference answer", seed["reference_answer"] or "", key=f"seed-{seed_id}-answer",
                        help="The final answer a path's own final answer is compared with." + (
                            " This is a code task: its tests below are its reference; code here is shown to "
                            "reviewers, never compared." if code_task else ""))
    solution = st.text_area("Reference solution", seed["reference_solution"] or "", height=160,
                            key=f"seed-{seed_id}-solution",
                            help="A worked solution (optional). When the reference answer is empty, its final answer "
                                 "(#### 42, \\boxed{42}, Answer: 42) is read from it on save.")
    tests = st.text_area("Tests", seed["tests"] or "", height=160 if code_task else 68, key=f"seed-{seed_id}-tests",
                         placeholder="assert is_palindrome('abba')",
                         help="Python that checks a path's code (assert statements; they call the names the task "
                              "asks for). The code verifier runs them in a sandbox: for a code task they are the "
                              "reference. Leave empty for other tasks.")
    submitted = st.form_submit_button("Save this seed")
if submitted:
    entered = {"instruction": instruction, "input": input_text, "reference_answer": answer,
               "reference_solution": solution, "tests": tests}
    edit = {k: v for k, v in entered.items() if (v or None) != (seed[k] or None)}
    if edit:
        save({seed_id: edit}, f"Saved seed {seed_id}.")
    else:
        st.info("Nothing changed.")
