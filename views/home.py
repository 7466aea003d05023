"""Home: what is in the store (the Overview's funnel numbers), the next step, the demo project, recent jobs."""

import re

import streamlit as st

from views._shared import bundled_model_note, empty_state, job_progress, store
from workbench.core.wording import plural
from workbench.factory.demo import passes_summary
from workbench.factory.job import KIND as DEMO_KIND
from workbench.factory.job import submit_demo
from workbench.factory.overview import STAGES, approved_beside_the_gate, next_step, overview_report

db = store()
DEFINITIONS = {stage.key: stage.definition for stage in STAGES}
APPROVED_HELP = ("Every sample approved in review (by a person, or automatically by the demo's gate review) that no "
                 "filter removed: what an export of approved samples takes. The Overview, Review and Export pages count "
                 "the same samples.")
NEXT_PAGES = {
    "seeds": ("views/seeds.py", "Go to Seeds", ":material/eco:"),
    "generate": ("views/evolution.py", "Go to Evolution", ":material/account_tree:"),
    "verify": ("views/verifier.py", "Go to Verifier", ":material/fact_check:"),
    "gate": ("views/verifier.py", "See the gate's decisions on Verifier", ":material/fact_check:"),
    "review": ("views/review.py", "Go to Review", ":material/rate_review:"),
    "export": ("views/export.py", "Go to Export", ":material/output:"),
    "done": ("views/overview.py", "See the Overview", ":material/monitoring:"),
}

st.title("Entropy Workbench")
st.caption("A factory for synthetic training data: curate gold seeds, evolve them, verify every step, ship what passes.")


def student_line(student: dict) -> None:
    """One line on the student: what the probe found, or that it has not run."""
    if student["student"] is None:
        st.caption(f"Student `{student['configured']}`: not probed yet. Probe it on the Seeds page to find what it "
                   "fails at; evolution then starts there.")
        return
    seeds, headroom = student["seeds"], student["headroom"]
    rate = "—" if seeds["pass_at_1"] is None else f"{seeds['pass_at_1']:.0%}"
    room = "not measured yet" if headroom["headroom"] is None else f"{headroom['headroom']:.0%}"
    st.caption(f"Student `{student['student']}`: pass@1 {rate} on {plural(seeds['probed'], 'probed seed')}, "
               f"failing {seeds['failed']:,} of them; headroom on the approved tasks {room}.")


def counts(report: dict) -> None:
    stages = {row["key"]: row for row in report["funnel"]}
    approved = report["approved"]
    columns = st.columns(4)
    columns[0].metric("Gold seeds", f"{report['seeds']:,}", help="Hand-curated tasks the factory grows samples from.")
    for column, key in zip(columns[1:3], ("kept", "gated"), strict=True):
        column.metric(stages[key]["stage"], f"{stages[key]['count']:,}", help=DEFINITIONS[key])
    columns[3].metric("Approved samples", f"{approved['total']:,}", help=APPROVED_HELP)
    if approved["total"] != approved["passed"]:
        st.caption(f"Of the {plural(approved['total'], 'approved sample')}, {approved['passed']:,} passed the gate; "
                   f"{approved_beside_the_gate(approved)} (see the Overview).")


def demo_section(report: dict) -> None:
    """The one-click demo: offered on a store with nothing generated, followed live while it runs."""
    [demo] = db.jobs.list_jobs(limit=1, kind=DEMO_KIND) or [None]
    if demo is not None and demo["status"] in ("queued", "running", "paused"):
        st.subheader("Demo project")
        st.caption("The demo runs each stage as its own job: evolve, Magpie, reason and verify, embed, map, review.")
        job_progress(demo)
        return
    if demo is None and report["funnel"][0]["count"] == 0:
        st.subheader("Demo project")
        st.caption(
            "One click runs the real pipeline, small, on the configured teacher (the bundled model by default): "
            "a few shipped seeds are evolved, Magpie writes questions, reasoning paths are sampled and verified, "
            "everything is embedded and mapped, and samples are reviewed by the gate. A few minutes on 2 cores. "
            "The bundled model is a 270M base model: it shows the pipeline, not the quality a real teacher gives, "
            "so expect the filters and the gate to reject most of what it writes, each with its reason. Beside them "
            "the demo asks three tasks chosen because the bundled model can solve them (What is 2 + 2?, What is "
            "2 * 3?, a Python `add(a, b)` with tests): what passes is checked against their reference answers and "
            "tests. If the model solves none, the demo says so."
        )
        if st.button("Build the demo project", type="primary"):
            submit_demo(db)
            st.rerun()  # its progress shows here at once
    elif demo is not None and demo["status"] == "done":
        st.success("The demo project is built. Follow the next step above, or walk the pages in the sidebar.",
                   icon=":material/check_circle:")
        demo_outcome(demo["result"] or {})
    elif demo is not None:
        st.warning(f"The demo job {demo['id']} ended {demo['status']}; see the Jobs page for what happened.")


def plain(text: str) -> str:
    """Text shown as written inside Markdown: every character Markdown (or Streamlit's LaTeX, `$`) would read escaped."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", " ".join(text.split()))


def demo_outcome(result: dict) -> None:
    """What the demo's gate passed, and what checked it, beside the first rejections with their reasons."""
    st.markdown(f"**Demo outcome:** {passes_summary(result)}")
    passes, rejections = result.get("passes") or [], result.get("rejections") or []
    if passes:
        st.dataframe([{"task": p["task"], "question": p["instruction"],
                       "checked against": p["checked_against"].replace("_", " ")} for p in passes],
                     hide_index=True, width="stretch")
    if rejections:
        st.caption(f"Rejected by the gate ({plural(result.get('rejected', len(rejections)), 'sample')} in all; the "
                   "first shown with the gate's reason; the Review page has every one):")
        st.markdown("\n".join(f"- **Sample {r['sample']}** ({r['status']}), “{plain(r['instruction'][:80])}”: "
                               f"{plain(r['reason'])}" for r in rejections))


@st.fragment(run_every=2.0)
def live_home() -> None:
    report = overview_report(db)
    counts(report)
    student_line(report["student"])
    bundled_model_note(report["sample_models"], "The samples in this store")
    step, message = next_step(report)
    if step == "seeds":
        empty_state("The store is empty. Start on the Seeds page: load the sample seeds with one click, or import your own.")
    else:
        st.markdown(f"**Next step:** {message}")
    path, label, icon = NEXT_PAGES[step]
    st.page_link(path, label=label, icon=icon)
    demo_section(report)
    st.subheader("Recent jobs")
    jobs = db.jobs.list_jobs(limit=6)
    if not jobs:
        empty_state("No jobs yet. Jobs run in the background worker; their progress shows here.")
    for job in jobs:
        job_progress(job)


live_home()

st.subheader("The factory")
st.caption("It begins where the student, the model the data is for, fails or is unsure, and ends by measuring what "
           "the approved data can still teach it.")
PIPELINE = """
digraph {
  rankdir=LR; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#EEE8FA", color="#6C4AB6", fontname="sans-serif"];
  student [label="Student's failures\\nand uncertainty\\n(probe the gold seeds)", fillcolor="#FBE3D6", color="#C0562F"];
  evolve [label="Evolve the frontier\\n(Evol-Instruct, Magpie)"];
  reason [label="Reason\\n(N paths)"]; verify [label="Verify\\n(step scores)"]; gate [label="Gate\\n(best path)"];
  review [label="Review"]; export [label="Export"];
  headroom [label="Headroom\\n(probe the approved tasks)", fillcolor="#FBE3D6", color="#C0562F"];
  student -> evolve -> reason -> verify -> gate -> review -> export;
  review -> headroom [style=dashed];
}
"""
st.graphviz_chart(PIPELINE, width="stretch")
