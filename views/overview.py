"""Overview: the factory at a glance for stakeholders, live while jobs run."""

import textwrap

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views._shared import bundled_model_note, empty_state, format_seconds, job_progress, store
from workbench.core.glossary import explain
from workbench.core.wording import plural
from workbench.factory.overview import approved_beside_the_gate, overview_report

st.title("Overview")
st.caption(
    "Everything here is read from the store and refreshes every few seconds while jobs run. "
    "`workbench overview --json` prints the same numbers."
)
db = store()


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def funnel_chart(funnel: list[dict]) -> go.Figure:
    """Each stage a subset of the one before; hovering a stage shows what it counts."""
    labels = [row["stage"] for row in funnel]
    text = [f"{row['count']:,}" + (f" · {percent(row['rate'])} of the stage before" if row["rate"] is not None else "")
            for row in funnel]
    definitions = ["<br>".join(textwrap.wrap(row["definition"], 60)) for row in funnel]
    figure = go.Figure(
        go.Funnel(
            y=labels, x=[row["count"] for row in funnel], textinfo="none",
            customdata=definitions, hovertemplate="<b>%{y}</b>: %{x:,}<br>%{customdata}<extra></extra>",
            marker={"color": "#6C4AB6"}, connector={"fillcolor": "#E4DCF5"},
        )
    )
    for label, value in zip(labels, text, strict=True):  # beside the bars, so that an empty stage still reads 0
        figure.add_annotation(x=1.0, xref="paper", xanchor="left", y=label, text=value, showarrow=False)
    figure.update_layout(height=380, margin={"l": 10, "r": 220, "t": 10, "b": 10})
    return figure


def frontier_chart(rows: list[dict]) -> go.Figure:
    """Mean entropy gain (bars, left axis) and the share of decided tasks passing the gate (line, right axis,
    0-100%) per integer depth."""
    frame = pd.DataFrame(rows)
    depths = [int(d) for d in frame["depth"]]
    figure = go.Figure()
    figure.add_bar(x=depths, y=frame["mean_entropy_gain"], name="mean entropy gain over the parent (bits)",
                   marker_color="#6C4AB6")
    figure.add_scatter(x=depths, y=frame["pass_rate"], name="share passing the gate", yaxis="y2", mode="lines+markers",
                       line={"color": "#E07A5F"}, connectgaps=False)
    figure.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "evolution depth (0 = the seeds)", "tickmode": "array", "tickvals": depths,
               "range": [min(depths) - 0.6, max(depths) + 0.6]},
        yaxis={"title": "entropy gain (bits)", "zeroline": True},
        yaxis2={"title": "passed the gate", "overlaying": "y", "side": "right", "range": [0, 1.02], "showgrid": False,
                "tickvals": [0, 0.25, 0.5, 0.75, 1.0], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def usage_table(usage: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Job kind": row["kind"],
                "Prompt tokens": row["prompt_tokens"],
                "Completion tokens": row["completion_tokens"],
                "Cost": "unknown (no price)" if row["cost"] is None else f"${row['cost']:,.4f}",
                "Worker time": format_seconds(row["elapsed_s"]),
            }
            for row in usage
        ]
    )


def reason_table(reasons: list[dict], heading: str) -> None:
    if reasons:
        st.dataframe(pd.DataFrame([{heading: r["reason"], "Samples": r["count"]} for r in reasons]), hide_index=True,
                     width="stretch")


def gate_story(report: dict) -> None:
    gate = report["gate"]
    st.subheader("The gate")
    st.caption(
        "A sample passes only when its best reasoning path's outcome is verified (its final answer matches the "
        f"reference answer, its tests pass, or a self-consistency majority leads by at least {gate['margin']:.0%} of "
        f"the paths) and no verifier found a step wrong (a score under {gate['threshold']:g}). A sample nothing "
        "verified is unverified, not passed; one with a step found wrong, or no final answer, fails. Every sample "
        f"is counted under its reason. Best path by {gate['selection_rule']}.",
        help=explain("gate", "best path", "path score"),
    )
    decided, passed, unverified, failed = st.columns(4)
    decided.metric("Samples decided by the gate", f"{gate['decided']:,}",
                   help="Samples no filter removed whose reasoning paths the gate decided (the funnel's 'Decided by the "
                        "gate'); seeds are counted apart, below.")
    passed.metric("Passed", f"{gate['passed']:,}")
    unverified.metric("Unverified", f"{gate['unverified']:,}", help="Nothing verified the best path's outcome.")
    failed.metric("Failed", f"{gate['failed']:,}", help="A verifier or a person found a step wrong, or no final answer.")
    reason_table(gate["unverified_reasons"], "Why they are unverified")
    reason_table(gate["failure_reasons"], "Why they failed")
    review = gate["review_of_passed"]
    if gate["passed"]:
        st.caption(
            f"Of the {plural(gate['passed'], 'sample')} that passed: {review.get('approved', 0):,} approved, "
            f"{review.get('rejected', 0):,} rejected in review, {review.get('pending', 0):,} waiting for review."
        )
    seeds, removed = gate["seeds"], gate["removed_samples"]
    if seeds["decided"]:
        st.caption(
            f"Counted above: samples. The teacher was also checked on {plural(seeds['decided'], 'gold seed')}: "
            f"{seeds['passed']:,} passed the gate, {seeds['unverified']:,} unverified, {seeds['failed']:,} failed (a seed "
            "that fails shows what the teacher cannot solve). The Verifier page lists seeds and samples together."
        )
    if removed["decided"]:
        st.caption(f"Not counted above: {plural(removed['decided'], 'sample')} the gate decided before a filter removed "
                   f"{'it' if removed['decided'] == 1 else 'them'} ({removed['passed']:,} passed, "
                   f"{removed['unverified']:,} unverified, {removed['failed']:,} failed).")
    if not gate["decided"]:
        st.caption("No sample verified yet: sample and score reasoning paths on the Verifier page.")


def student_story(student: dict) -> None:
    """The student: seeds probed, its pass@1 on them and the headroom on the approved tasks, overall and per domain."""
    st.subheader("The student")
    if student["student"] is None:
        st.caption(f"The student (`{student['configured']}`, the model the data is for) has not been probed yet: probe "
                   "it on the Seeds page to find what it fails at, and on the Student page to measure the headroom.")
        return
    same = " It is also the teacher." if student["same_as_teacher"] else ""
    st.caption(f"`{student['student']}`, the model the data is for.{same} The headroom is the share of the probed "
               "approved tasks it fails: what the data can teach it that it does not know yet.")
    seeds, headroom = student["seeds"], student["headroom"]
    probed, passed, room = st.columns(3)
    probed.metric("Seeds probed", f"{seeds['probed']:,}")
    passed.metric("Student pass@1 on the seeds", percent(seeds["pass_at_1"]))
    room.metric("Headroom on the approved tasks", percent(headroom["headroom"]),
                help=f"fails {headroom['failed']:,} of {plural(headroom['probed'], 'probed approved task')}")
    if student["by_domain"]:
        st.dataframe(pd.DataFrame([
            {"Domain": row["domain"], "Seeds probed": row["seeds_probed"],
             "Student pass@1 on the seeds": percent(row["seeds_pass_at_1"]), "Approved tasks probed": row["approved_probed"],
             "Headroom": percent(row["headroom"])} for row in student["by_domain"]]), hide_index=True, width="stretch")


@st.fragment(run_every=3.0)
def live_overview() -> None:
    report = overview_report(db)
    funnel = report["funnel"]
    if funnel[0]["count"] == 0:
        for job in db.jobs.list_jobs(limit=5, statuses=["running", "queued"]):
            job_progress(job)
        if report["seeds"] == 0:
            empty_state("Nothing in the factory yet. Load the sample seeds on the Seeds page, or build the demo project "
                        "on Home.")
        else:
            empty_state(f"{plural(report['seeds'], 'gold seed')}, nothing made from them yet: evolve them on the "
                        "Evolution page, let Magpie write questions, or build the demo project on Home.")
        return
    for job in db.jobs.list_jobs(limit=5, statuses=["running", "queued"]):
        job_progress(job)
    bundled_model_note(report["sample_models"], "The samples counted here")
    st.caption(f"From {plural(report['seeds'], 'gold seed')}.")

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Funnel")
        st.plotly_chart(funnel_chart(funnel), width="stretch", key="funnel")
    with right:
        st.subheader("Stage counts")
        table = pd.DataFrame(
            [{"stage": r["stage"], "count": r["count"], "of the stage before": percent(r["rate"])} for r in funnel]
        )
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption("Each stage counts a subset of the stage before, so the funnel only narrows. "
                   "Hover a stage of the funnel to read what it counts.")
        with st.expander("What each stage counts"):
            st.markdown("\n".join(f"- **{r['stage']}**: {r['definition']}" for r in funnel))
        approved, outside = report["approved"], report["outside_funnel"]
        st.metric("Approved samples in all", f"{approved['total']:,}",
                  help="Every sample approved in review that no filter removed, whether or not it passed the gate: "
                       "what an export of approved samples takes (Home, Review and Export count the same).")
        if outside["approved"]:
            st.caption(f"Beside the funnel: {approved_beside_the_gate(approved)}.")
        if outside["exported"]:
            st.caption(f"Beside the funnel: {plural(outside['exported'], 'sample')} exported without passing the gate "
                       "and being approved (an export of all samples, or approved later rejected).")

    gate_story(report)
    student_story(report["student"])

    st.subheader("Entropy gain by evolution depth", help=explain("entropy gain"))
    if report["entropy_by_depth"]:
        st.plotly_chart(frontier_chart(report["entropy_by_depth"]), width="stretch", key="frontier")
    else:
        st.caption("No evolution metrics yet: run an evolution, then the embed job (Maps page).")

    st.subheader("Verifier pass rates", help=explain("unverifiable"))
    if report["verifiers"]:
        st.dataframe(
            pd.DataFrame(report["verifiers"]), hide_index=True, width="stretch",
            column_config={
                "verifier": st.column_config.TextColumn("Verifier"),
                "checks": st.column_config.TextColumn(
                    "Vouches for", help="outcome: the final result against ground truth; step: the step's logic was "
                                        "judged; evidence: something in the step holds (its arithmetic), which does "
                                        "not verify the step"),
                "steps": st.column_config.NumberColumn("Steps scored"),
                "checked": st.column_config.NumberColumn(
                    "Steps it could check", help="The scored steps it did not abstain on as unverifiable."),
                "pass_rate": st.column_config.ProgressColumn(
                    "Correct, of the steps it could check", min_value=0.0, max_value=1.0, format="percent",
                    help="Steps it judged correct (score at least 0.5) among the steps it could check; an abstention "
                         "is not counted as wrong. Empty when it could check none."),
                "unverifiable_rate": st.column_config.ProgressColumn(
                    "Unverifiable, of the steps scored", min_value=0.0, max_value=1.0, format="percent",
                    help="Steps it abstained on: nothing it could check (no arithmetic, no code, no reference)."),
            },
        )
    else:
        st.caption("No steps verified yet (Verifier page).")

    st.subheader("Tokens and cost")
    if report["usage"]:
        frame = usage_table(report["usage"])
        costs = [row["cost"] for row in report["usage"]]
        tokens, cost, _ = st.columns(3)
        tokens.metric("Tokens", f"{int(frame['Prompt tokens'].sum() + frame['Completion tokens'].sum()):,}")
        known = sum(c for c in costs if c is not None)
        if None in costs:
            cost.metric("Cost", f"≥ ${known:,.4f}" if known else "unknown",
                        help="Some jobs made model calls the provider gave no price for (marked unknown below).")
        else:
            cost.metric("Cost", f"${known:,.4f}")
        st.dataframe(frame, hide_index=True, width="stretch")
        st.caption("Worker time of a demo job includes the stage jobs it ran.")
    else:
        st.caption("No jobs have run yet.")


live_overview()
