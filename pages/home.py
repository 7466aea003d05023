"""Home: what is in the store, the factory pipeline, recent jobs."""

import streamlit as st

from pages._shared import empty_state, job_progress, store
from workbench.demo import submit_demo

db = store()
counts = db.counts()

st.title("Entropy Workbench")
st.caption("A factory for synthetic training data: curate gold seeds, evolve them, verify every step, ship what passes.")

columns = st.columns(4)
for column, (label, key) in zip(
    columns, [("Seeds", "seeds"), ("Jobs", "jobs"), ("Samples", "samples"), ("Approved", "approved")], strict=True
):
    column.metric(label, f"{counts[key]:,}")

st.subheader("The factory")
PIPELINE = """
digraph {
  rankdir=LR; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#EEE8FA", color="#6C4AB6", fontname="sans-serif"];
  seed [label="Gold seeds"]; evolve [label="Evolve\\n(Evol-Instruct, Magpie)"];
  reason [label="Reason\\n(N paths)"]; verify [label="Verify\\n(step scores)"]; gate [label="Gate\\n(best path)"];
  review [label="Review"]; export [label="Export"];
  seed -> evolve -> reason -> verify -> gate -> review -> export;
}
"""
st.graphviz_chart(PIPELINE, width="stretch")

if counts["seeds"] == 0:
    empty_state("The store is empty. Start on the Seeds page: load the sample seeds with one click, or import your own.")
    st.page_link("pages/seeds.py", label="Go to Seeds", icon=":material/eco:")
if counts["samples"] == 0:
    st.subheader("Demo project")
    st.caption(
        "One click runs the real pipeline, small, on the configured teacher (the bundled model by default): "
        "a few shipped seeds are evolved, Magpie writes questions, reasoning paths are sampled and verified, "
        "everything is embedded and mapped, and samples are reviewed by the gate. A few minutes on 2 cores."
    )
    if st.button("Build the demo project", type="primary"):
        job_id = submit_demo(db)
        st.success(f"Demo job {job_id} queued; follow it below or on the Jobs page.")



@st.fragment(run_every=2.0)
def recent_jobs() -> None:
    st.subheader("Recent jobs")
    jobs = db.list_jobs(limit=6)
    if not jobs:
        empty_state("No jobs yet. Jobs run in the background worker; their progress shows here.")
    for job in jobs:
        job_progress(job)


recent_jobs()
