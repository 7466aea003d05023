"""Student: where the model the data is for stands. The frontier (every probed seed by the student's pass rate and
its uncertainty, with a box or lasso selection into an evolution job) and the headroom on the approved tasks."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from views._probes import latest_probe, percent
from views._shared import empty_state, page_header, stop_without_seeds
from workbench.core.settings import teacher_config
from workbench.core.wording import plural
from workbench.evolve.engine import load_operators
from workbench.evolve.job import EvolveParams, submit_evolve
from workbench.student.frontier import frontier_points
from workbench.student.job import submit_probe
from workbench.student.report import student_summary
from workbench.student.settings import models_line

PALETTE = px.colors.qualitative.T10

db = page_header(
    "Student",
    "The student is the model the data is for. The factory starts where it fails or is unsure (the frontier) "
    "and ends by measuring what the approved data can still teach it (the headroom).",
    "student_message",
)
stop_without_seeds(db.overview.counts()["seeds"] > 0, "No seeds yet: load or import seeds, then probe the student on them.")

summary = student_summary(db)
st.caption(models_line(db, summary["student"] or summary["configured"]) + " Change the student in Settings.")


def figures() -> None:
    seeds, headroom, known = summary["seeds"], summary["headroom"], summary["known_failures"]
    probed, passed, failures, room = st.columns(4)
    probed.metric("Seeds probed", f"{seeds['probed']:,}",
                  help=f"{plural(summary['seeds_not_probeable'], 'seed')} cannot be probed (no reference answer or tests)")
    passed.metric("Student pass@1 on the seeds", percent(seeds["pass_at_1"]),
                  help="the share of its attempts that were right, averaged over the probed seeds")
    failures.metric("Known failures, all seeds", f"{known['probe'] + known['manual']:,}",
                    help=f"Seeds marked as known failures, probed or not: {known['probe']:,} by a probe, "
                         f"{known['manual']:,} by hand or in the seed file (a probed seed already marked by hand "
                         "keeps that mark).")
    room.metric("Headroom", percent(headroom["headroom"]),
                help=f"the share of the probed approved tasks the student fails ({headroom['failed']:,} of "
                     f"{headroom['probed']:,})")


figures()

# ---------------------------------------------------------------- the frontier

st.subheader("The frontier")
st.caption("Every probed seed by the student's pass rate (the share of its attempts that were right, in its latest "
           "probe) and its uncertainty (a rank among the seeds measured: token entropy and disagreement of its "
           "answers). Top left: it fails and is unsure, where new data teaches it most. Points are spread a little "
           "sideways so that equal ones stay apart; hover one for its exact figures. Draw a box or lasso to evolve "
           "the seeds inside.")
student, points, unplaced = frontier_points(db)


def spread(seed_ids: pd.Series) -> pd.Series:
    """A small fixed sideways offset per seed (at most 0.03 of the pass-rate axis), so that seeds with the same pass
    rate and uncertainty do not hide one another; the hover gives the exact values."""
    return (seed_ids * 2654435761 % 1000 / 1000 - 0.5) * 0.06


def frontier_chart(frame: pd.DataFrame) -> go.Figure:
    """One trace per domain; a known failure is a diamond. customdata holds the seed id."""
    figure = go.Figure()
    frame = frame.assign(domain=frame["domain"].fillna("(no domain)"))
    for number, (domain, group) in enumerate(frame.groupby("domain", sort=True)):
        figure.add_scatter(
            x=group["pass_rate"] + spread(group["id"]), y=group["uncertainty"], mode="markers", name=domain,
            customdata=group["id"],
            marker={"size": 11, "color": PALETTE[number % len(PALETTE)], "opacity": 0.85,
                    "symbol": ["diamond" if f else "circle" for f in group["known_failure"]],
                    "line": {"width": 1, "color": "#fff"}},
            text=[f"{c} of {a} right ({c / a:.0%})" for c, a in zip(group["correct"], group["attempts"], strict=True)],
            hovertext=group["instruction"].str.slice(0, 100),
            hovertemplate="<b>seed %{customdata}</b>: %{text}, uncertainty %{y:.2f}<br>%{hovertext}"
                          "<extra>%{fullData.name}</extra>",
        )
    figure.update_layout(
        height=480, dragmode="lasso", margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "student pass rate (right attempts / attempts)", "range": [-0.05, 1.05], "tickformat": ".0%"},
        yaxis={"title": "student uncertainty (rank among measured seeds)", "range": [-0.02, 1.05]},
        legend={"title": {"text": "domain"}, "orientation": "h", "y": -0.2},
    )
    return figure


def evolve_form(seed_ids: list[int]) -> None:
    operators = load_operators(db)
    with st.form("frontier-evolve"):
        left, right = st.columns(2)
        depth = left.slider("Depth", 1, 6, 3, help="evolution steps per chain")
        chosen_ops = right.multiselect("Operators", list(operators), default=list(operators))
        start = st.form_submit_button(f"Evolve the {plural(len(seed_ids), 'selected seed')}", type="primary")
    if not start:
        return
    config = teacher_config(db)
    choice = {"choice": "selected on the frontier", "student": student, "seeds": seed_ids}
    try:
        job_id = submit_evolve(db, EvolveParams(seeds=seed_ids, operators=chosen_ops, depth=depth,
                                                concurrency=config.concurrency, seed_choice=choice))
    except ValueError as exc:
        st.error(str(exc))
        return
    st.session_state["evol_job"] = job_id  # the Evolution page opens on it
    st.session_state["student_message"] = (f"Evolution job {job_id} queued on {plural(len(seed_ids), 'seed')} "
                                           f"selected on the frontier; watch it on the Evolution page.")
    st.rerun()


if not points:
    empty_state("No seed on the frontier yet: probe the student on the Seeds page (it measures the pass rate and the "
                "uncertainty of each seed it can check).")
    st.page_link("views/seeds.py", label="Go to Seeds", icon=":material/eco:")
else:
    event = st.plotly_chart(frontier_chart(pd.DataFrame(points)), key="frontier", on_select="rerun",
                            selection_mode=("box", "lasso"), config={"displaylogo": False})
    selected = list(dict.fromkeys(int(p["customdata"]) for p in (event.selection.points if event else []) or []
                                  if p.get("customdata") is not None))
    if selected:
        by_id = {p["id"]: p for p in points}
        failures = sum(by_id[i]["known_failure"] for i in selected)
        st.caption(f"{plural(len(selected), 'seed')} selected ({failures:,} known failures): "
                   f"{', '.join(map(str, selected[:30]))}{' ...' if len(selected) > 30 else ''}.")
        evolve_form(selected)
        st.page_link("views/evolution.py", label="Go to Evolution", icon=":material/account_tree:")
    else:
        st.caption(f"{plural(len(points), 'seed')} on the frontier. Draw a box or lasso around seeds to evolve them.")
if unplaced:
    reasons = pd.DataFrame(unplaced).groupby("reason").size().reset_index(name="seeds")
    with st.expander(f"{plural(len(unplaced), 'seed')} not on the frontier, and why"):
        st.dataframe(reasons, hide_index=True, width="stretch")

# ---------------------------------------------------------------- headroom

st.subheader("Headroom")
st.caption("After the factory: the student is probed on the approved tasks whose answer is verified (a reference "
           "answer, tests, or a majority answer that passed the gate). The share it fails is the dataset's headroom: "
           "what the data can teach that the student does not know yet.")
if st.button("Probe the student on the approved tasks"):
    try:
        job_id = submit_probe(db, "approved")
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["student_message"] = f"Probe job {job_id} queued on the approved tasks."
        st.rerun()


@st.fragment(run_every=2.0)
def live_headroom() -> None:
    job = latest_probe(db, "approved")
    if job is None:
        return
    result = job["result"] or {}
    st.caption(f"Last probe of the approved tasks: job {job['id']}, student `{job['student']}`, "
               f"{plural(result.get('probed', 0), 'task')} probed, {len(result.get('failed', [])):,} failed.")
    if result.get("not_probed"):
        with st.expander(f"{plural(len(result['not_probed']), 'approved task')} not probed, and why"):
            st.dataframe(pd.DataFrame(result["not_probed"]), hide_index=True, width="stretch")


live_headroom()
if summary["by_domain"]:
    st.markdown("**Per domain**")
    st.dataframe(
        pd.DataFrame([{"domain": row["domain"], "seeds probed": row["seeds_probed"],
                       "student pass@1 on the seeds": percent(row["seeds_pass_at_1"]),
                       "approved tasks probed": row["approved_probed"],
                       "headroom (share failed)": percent(row["headroom"])} for row in summary["by_domain"]]),
        hide_index=True, width="stretch",
    )
