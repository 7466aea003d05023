"""Distributions: entropy and novelty by source and depth, the entropy frontier, and the student's and the teacher's
uncertainty per seed."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from views._analysis import METRIC_LABELS, show_analysis_jobs, show_missing_reasons
from views._shared import bypass_cache_checkbox, empty_state, page_header, stop_without_seeds
from workbench.analyse.job import submit_uncertainty
from workbench.core.glossary import explain
from workbench.core.jobs import queue
from workbench.core.wording import plural
from workbench.factory.overview import entropy_by_depth

DISTRIBUTION_METRICS = ["lexical_entropy", "token_entropy_mean", "novelty_seeds", "novelty_accepted",
                        "entropy_gain_parent", "entropy_gain_seed", "distinct_2", "compression_ratio"]
GROUPINGS = {"Source": "source", "Evolution depth": "depth"}
NON_NEGATIVE = {"lexical_entropy", "token_entropy_mean", "novelty_seeds", "novelty_accepted", "distinct_2",
                "compression_ratio"}
STRIP_FROM = 10  # a violin is drawn from this many values up; fewer are shown as points
PALETTE = px.colors.qualitative.T10  # one colour per group, the same in both charts


def group_label(group: object) -> str:
    """A group's name on the axis: depths as 'depth n' (0 = the seeds), sources as they are."""
    if isinstance(group, numbers.Real):
        return "depth 0 (seeds)" if group == 0 else f"depth {int(group)}"
    return str(group)


def padded(low: float, high: float, non_negative: bool) -> list[float]:
    """An axis range over [low, high] with 4% room on each side, never below 0 for a non-negative metric."""
    room = (high - low) * 0.04 or 0.5
    return [max(0.0, low - room) if non_negative else low - room, high + room]


def group_trace(name: str, values: np.ndarray, colour: str) -> go.Violin | go.Box:
    """A violin of a group's values, clipped to their range; for a small group a strip of its points."""
    if len(values) >= STRIP_FROM:
        return go.Violin(x=[name] * len(values), y=values, name=name, spanmode="hard", box_visible=True,
                         meanline_visible=True, points=False, line_color=colour)
    return go.Box(x=[name] * len(values), y=values, name=name, boxpoints="all", jitter=0.4, pointpos=0,
                  fillcolor="rgba(0,0,0,0)", line={"color": "rgba(0,0,0,0)"}, marker={"color": colour, "size": 7},
                  hoveron="points")


db = page_header(
    "Distributions",
    "The factory optimises for entropy gain, not token count: these charts show whether it gets it.",
    "distributions_message",
)

stop_without_seeds(db.analyse.item_count() > 0, "Nothing to measure yet. Add seeds on the Seeds page, then grow samples with Evolution or Magpie.")

show_analysis_jobs(db)

# ---------------------------------------------------------------- distributions

st.subheader("Entropy and novelty")
pick, group_pick = st.columns([3, 2])
metric = pick.selectbox("Metric", DISTRIBUTION_METRICS, format_func=METRIC_LABELS.get,
                        help=explain("lexical entropy", "token entropy", "novelty", "entropy gain", "distinct-2",
                                     "compression ratio"))
grouping = group_pick.radio("Group by", list(GROUPINGS), horizontal=True)
group_by = GROUPINGS[grouping]
histogram = pd.DataFrame(db.maps.metric_histogram(metric, group_by))
if histogram.empty:
    empty_state(f"No {METRIC_LABELS[metric].lower()} yet. Lexical and novelty metrics come from "
                "**Compute embeddings & metrics**; token entropy from the generating stages; entropy gains from evolution.")
    if st.button("Compute embeddings & metrics"):
        queue.submit(db, "analyse.embed", {"concurrency": 1})
        st.rerun()
else:
    histogram["grp"] = histogram["grp"].map(group_label)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(histogram["grp"]))}
    value_range = padded(float(histogram["lo"].min()), float(histogram["hi"].max()), metric in NON_NEGATIVE)
    bars = go.Figure([
        go.Bar(x=(g["lo"] + g["hi"]) / 2, y=g["count"], width=(g["hi"] - g["lo"]).tolist(), name=name, opacity=0.65,
               marker_color=colours[name])
        for name, g in histogram.groupby("grp", sort=False)
    ])
    bars.update_layout(barmode="overlay", height=320, margin={"t": 30, "b": 10}, legend_title=grouping)
    bars.update_xaxes(title_text=METRIC_LABELS[metric], range=value_range)
    bars.update_yaxes(title_text="items", rangemode="tozero")
    values = pd.DataFrame(db.maps.metric_by_group(metric, group_by)).sort_values("grp", kind="stable")  # as the histogram
    spread = go.Figure([group_trace(name, group["value"].to_numpy(), colours.get(name, PALETTE[0]))
                        for name, group in values.groupby(values["grp"].map(group_label), sort=False)])
    spread.update_layout(height=320, margin={"t": 30, "b": 10}, showlegend=False, xaxis_title=grouping)
    spread.update_yaxes(title_text=METRIC_LABELS[metric], range=value_range)
    left, right = st.columns(2)
    left.plotly_chart(bars, width="stretch")
    right.plotly_chart(spread, width="stretch")
    shown = int(histogram["count"].sum())
    st.caption(f"{plural(shown, 'item')} (filtered samples left out); the right chart shows {len(values):,} of them: a violin "
               f"per group of {STRIP_FROM} or more, each point for smaller groups.")
    if group_by == "depth" and (no_depth := int(sum(db.maps.metric_histogram(metric, "source")["count"])) - shown):
        st.caption(f"{plural(no_depth, 'Magpie or imported sample')} without an evolution depth, left out of this grouping.")
show_missing_reasons(db, metric)

duplicates = db.analyse.near_duplicate_summary()
if duplicates:
    with st.expander(f"Near-duplicate groups: {len(duplicates)}{'+' if len(duplicates) == 50 else ''} "
                     "(cosine similarity at or above the near-duplicate threshold)"):
        st.dataframe(pd.DataFrame(duplicates), hide_index=True, width="stretch")

# ---------------------------------------------------------------- the entropy frontier

st.subheader("Entropy frontier")
st.caption("Per evolution depth: the mean lexical entropy (bits) an evolution step adds over its parent, against the share "
           "of the tasks the gate decided that it passed (as on the Overview; the gate's settings are on the Verifier "
           "page).", help=explain("entropy gain", "gate"))
frontier = pd.DataFrame(entropy_by_depth(db))
if frontier.empty:
    empty_state("No evolution yet. Run an evolution job, then **Compute embeddings & metrics** to measure entropy gains.")
else:
    chart = make_subplots(specs=[[{"secondary_y": True}]])
    chart.add_trace(go.Bar(x=frontier["depth"], y=frontier["mean_entropy_gain"], name="mean entropy gain (bits)",
                           customdata=frontier["nodes"], hovertemplate="depth %{x}: %{y:.3f} bits over %{customdata} nodes"))
    if frontier["pass_rate"].notna().any():
        chart.add_trace(go.Scatter(x=frontier["depth"], y=frontier["pass_rate"], name="verifier pass rate",
                                   mode="lines+markers", customdata=frontier["verified"],
                                   hovertemplate="depth %{x}: %{y:.0%} of %{customdata} decided"), secondary_y=True)
    chart.update_layout(height=340, margin={"t": 30, "b": 10})
    chart.update_xaxes(title_text="evolution depth (0 = seed)", tickmode="linear", tick0=0, dtick=1,
                       range=[frontier["depth"].min() - 0.6, frontier["depth"].max() + 0.6])
    chart.update_yaxes(title_text="mean entropy gain (bits)", secondary_y=False)
    chart.update_yaxes(title_text="pass rate", range=[0, 1.05], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%",
                       showgrid=False, secondary_y=True)
    st.plotly_chart(chart, width="stretch")
    if frontier["pass_rate"].isna().all():
        st.info("No verifier scores yet: the pass rate appears once the gate has decided tasks (Verifier page).")

# ---------------------------------------------------------------- uncertainty

ROLE_NAMES = {"student": "Student (the model the data is for)", "teacher": "Teacher (the model writing the data)"}

st.subheader("Uncertainty per seed")
st.caption("Seeds a model is least sure about are the best places to grow data (uncertainty sampling): k sampled "
           "answers per seed, the mean token entropy of their tokens and their semantic disagreement (entropy over "
           "clusters of equivalent answers), both in bits; uncertainty is the mean percentile rank of the two. "
           "The student's uncertainty shows where the model you train is unsure, so new data there teaches it "
           "most; the teacher's own uncertainty shows where the model writing the data is unsure, so its answers "
           "there need the most checking. A probe of the student (Seeds page) measures the student's too.",
           help=explain("uncertainty sampling", "semantic disagreement"))
with st.form("uncertainty"):
    role_column, k_column, tokens_column, temperature_column = st.columns(4)
    role = role_column.radio("Whose uncertainty", list(ROLE_NAMES), format_func=ROLE_NAMES.__getitem__)
    k = k_column.number_input("Answers per seed (k)", 2, 20, 5)
    max_tokens = tokens_column.number_input("Max tokens per answer", 8, 4096, 128)
    temperature = temperature_column.slider("Temperature", 0.1, 2.0, 0.8, 0.1)
    bypass = bypass_cache_checkbox()
    if st.form_submit_button(f"Measure uncertainty of all {plural(db.overview.counts()['seeds'], 'seed')}"):
        try:
            job_id = submit_uncertainty(db, {"role": role, "k": int(k), "max_tokens": int(max_tokens),
                                             "temperature": temperature, "concurrency": 2, "bypass_cache": bypass})
        except ValueError as exc:
            st.error(str(exc))
        else:
            job = db.jobs.get_job(job_id)
            st.session_state["distributions_message"] = (
                f"Uncertainty job queued: the {role}, `{job['student'] or job['model']}`, k = {k}.")
            st.rerun()
shown_role = st.radio("Rank by", list(ROLE_NAMES), format_func=lambda r: f"the {r}'s uncertainty", horizontal=True,
                      key="uncertainty-rank-role")
ranking = pd.DataFrame(db.analyse.seed_uncertainty_ranking(limit=200, role=shown_role))
if ranking.empty:
    empty_state(f"No {shown_role} uncertainty measured yet: queue the job above (the bundled model takes a few seconds "
                "per answer)" + (", or probe the student on the Seeds page." if shown_role == "student" else "."))
else:
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    other = "teacher" if shown_role == "student" else "student"
    st.dataframe(
        ranking.drop(columns=["uncertainty"]), hide_index=True, width="stretch",
        column_order=["rank", "id", "domain", f"{shown_role}_uncertainty", "token_entropy", "semantic_disagreement",
                      f"{other}_uncertainty", "token_entropy_source", "instruction"],
        column_config={
            "student_uncertainty": st.column_config.ProgressColumn("student uncertainty", min_value=0, max_value=1,
                                                                   format="%.2f"),
            "teacher_uncertainty": st.column_config.ProgressColumn("teacher uncertainty", min_value=0, max_value=1,
                                                                   format="%.2f"),
            "token_entropy": st.column_config.NumberColumn(f"{shown_role} token entropy (bits)", format="%.3f"),
            "token_entropy_source": "entropy source",
            "semantic_disagreement": st.column_config.NumberColumn(f"{shown_role} semantic disagreement (bits)",
                                                                   format="%.3f"),
            "instruction": st.column_config.TextColumn("instruction", width="large"),
        },
    )
