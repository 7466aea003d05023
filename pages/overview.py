"""Overview: the factory at a glance for stakeholders, live while jobs run."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._shared import empty_state, job_progress, store
from workbench.reasoning import verification_settings

st.title("Overview")
st.caption("Everything here is read from the store and refreshes every few seconds while jobs run.")
db = store()


def funnel_chart(stages: list[dict]) -> go.Figure:
    figure = go.Figure(
        go.Funnel(
            y=[s["stage"] for s in stages],
            x=[s["count"] for s in stages],
            textinfo="value",
            marker={"color": "#6C4AB6"},
        )
    )
    figure.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def frontier_chart(rows: list[dict]) -> go.Figure:
    frame = pd.DataFrame(rows)
    figure = go.Figure()
    figure.add_bar(x=frame["depth"], y=frame["mean_entropy_gain"], name="mean entropy gain (bits)", marker_color="#6C4AB6")
    figure.add_scatter(
        x=frame["depth"], y=frame["pass_rate"], name="verifier pass rate", yaxis="y2", mode="lines+markers",
        line={"color": "#E07A5F"},
    )
    figure.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="evolution depth",
        yaxis={"title": "entropy gain over parent"},
        yaxis2={"title": "pass rate", "overlaying": "y", "side": "right", "range": [0, 1]},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


@st.fragment(run_every=3.0)
def live_overview() -> None:
    settings = verification_settings(db)
    stages = db.funnel(settings.threshold)
    if stages[0]["count"] == 0:
        empty_state("Nothing in the factory yet. Load the sample seeds on the Seeds page, or build the demo project on Home.")
        return
    running = db.list_jobs(limit=5, statuses=["running", "queued"])
    for job in running:
        job_progress(job)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Funnel")
        st.plotly_chart(funnel_chart(stages), width="stretch", key="funnel")
    with right:
        st.subheader("Stage counts")
        frame = pd.DataFrame(stages)[["stage", "count"]]
        previous = frame["count"].shift(1)
        frame["rate"] = (frame["count"] / previous.where(previous > 0)).map(lambda r: "—" if pd.isna(r) else f"{r:.0%}")
        st.dataframe(frame, hide_index=True, width="stretch")
        st.caption(f"Gate: best path score >= {settings.threshold:g} ({settings.aggregation} of step scores).")

    st.subheader("Entropy gain by evolution depth")
    frontier = db.entropy_frontier(settings.threshold)
    if frontier:
        st.plotly_chart(frontier_chart(frontier), width="stretch", key="frontier")
    else:
        st.caption("No evolution metrics yet: run an evolution, then the embed job (Maps page).")

    rates, usage = st.columns(2)
    with rates:
        st.subheader("Verifier pass rates")
        verifiers = db.verifier_pass_rates()
        if verifiers:
            st.dataframe(
                pd.DataFrame(verifiers), hide_index=True, width="stretch",
                column_config={
                    "pass_rate": st.column_config.ProgressColumn("steps correct", min_value=0.0, max_value=1.0),
                    "unverifiable_rate": st.column_config.ProgressColumn("unverifiable", min_value=0.0, max_value=1.0),
                },
            )
        else:
            st.caption("No steps verified yet (Verifier page).")
    with usage:
        st.subheader("Tokens and cost")
        spent = db.usage_by_kind()
        if spent:
            frame = pd.DataFrame(spent)
            total_cost = frame["cost"].dropna().sum()
            st.metric("Tokens", f"{int(frame['prompt_tokens'].sum() + frame['completion_tokens'].sum()):,}")
            st.metric("Cost", f"${total_cost:,.4f}" if frame["cost"].notna().any() else "unknown (no prices)")
            st.dataframe(frame, hide_index=True, width="stretch")
        else:
            st.caption("No jobs have run yet.")


live_overview()
