"""Calibration: people's step labels against the verifiers, and the gate threshold they suggest."""

import pandas as pd
import streamlit as st

from views._shared import empty_state, store
from workbench.core.wording import plural
from workbench.verify.calibration import COMBINED, CalibrationError, apply_threshold, calibrate, fmt

st.title("Calibration")
st.caption(
    "How far people agree on step labels, how far each verifier agrees with them, and the gate threshold at "
    "which a verifier finds the errors people found. `workbench calibrate --json` prints the same numbers."
)
db = store()
report = calibrate(db)

if not report["labellers"]:
    empty_state("No step has a human label yet. Label steps on the Verifier page (or import PRM800K or "
                "ProcessBench files with their ratings); the comparison with the verifiers appears here.")
    st.stop()

# ---------------------------------------------------------------- people with people

st.subheader("Agreement between people")
shared = report["agreement"]
left, right = st.columns([1, 2])
kappa_name = {"cohen": "Cohen's kappa", "fleiss": "Fleiss' kappa"}.get(shared["method"], "Kappa")
left.metric(kappa_name, fmt(shared["kappa"]), help="1 = full agreement, 0 = what chance gives. Cohen's kappa "
            "(Cohen 1960) for two labellers, Fleiss' kappa (Fleiss 1971) for more, on the steps labelled by two or "
            "more people.")
left.caption(shared["note"])
right.dataframe(pd.DataFrame([{"Labeller": row["name"], "Steps labelled": row["steps"]} for row in report["labellers"]]),
                hide_index=True, width="stretch")
if shared["n_labellers"] > 2 and shared["pairs"]:
    with st.expander("Every pair of labellers (Cohen's kappa)"):
        st.dataframe(pd.DataFrame([
            {"Labellers": " / ".join(p["labellers"]), "Shared steps": p["n_steps"],
             "Same label": "—" if p["observed_agreement"] is None else f"{p['observed_agreement']:.0%}",
             "Kappa": fmt(p["kappa"])} for p in shared["pairs"]
        ]), hide_index=True, width="stretch")
st.caption(f"A step's human label is the {report['consensus_rule']} "
           f"({plural(report.get('tied_steps', 0), 'tied step')}).")

# ---------------------------------------------------------------- verifiers with people

st.subheader("Verifiers against people")
rows = {**report["verifiers"], **({f"{COMBINED} (the gate)": report[COMBINED]} if report[COMBINED] else {})}
if not rows:
    empty_state("No verifier has scored the labelled steps yet: score their paths on the Verifier page.")
    st.stop()

threshold = report["threshold"]
st.caption(
    f"Today's gate threshold is {threshold:g} ({report['aggregation']} of step scores): "
    f"{report['passes_current']:,} of {plural(report['tasks_verified'], 'verified task')} pass. A step scoring below "
    f"a threshold counts as flagged. F1 is ProcessBench's (the harmonic mean of the accuracy on paths people found "
    f"an error in and on paths they found none in), on {plural(report['n_paths'] - report['n_paths_undetermined'], 'labelled path')}."
)
if report["n_paths_undetermined"]:
    st.caption(f"{plural(report['n_paths_undetermined'], 'labelled path')} left out of F1: a step before the first "
               "error (or any step, with no error) has no human label.")
st.dataframe(pd.DataFrame([
    {"Verifier": name, "Steps": row["n_steps"], "Paths": row["n_paths"], "Kappa now": fmt(row["kappa"]),
     "F1 now": fmt(row["f1"]), "Suggested threshold": fmt(row["suggested_threshold"]),
     "F1 at suggested": fmt(row["f1_suggested"]), "Tasks passing now": row["passes_current"],
     "Tasks passing at suggested": "—" if row["passes_suggested"] is None else row["passes_suggested"]}
    for name, row in rows.items()
]), hide_index=True, width="stretch")

name = st.selectbox("Verifier", list(rows), index=len(rows) - 1 if report[COMBINED] else 0,
                    help="'combined (the gate)' is every verifier together as the gate combines them (the strictest "
                         "verdict): its suggestion is the one the gate threshold applies to.")
row = rows[name]
suggested = row["suggested_threshold"]
views = {f"today's threshold {threshold:g}": (row["confusion"], row["kappa"], row["f1"])}
if suggested is not None:
    views[f"suggested threshold {suggested:g}"] = (row["confusion_suggested"], row["kappa_suggested"], row["f1_suggested"])
view = st.radio("Confusion matrix at", list(views), horizontal=True)
confusion, kappa, f1 = views[view]
left, right = st.columns([2, 1])
left.dataframe(pd.DataFrame([
    {"People said": human, "Verifier passes": counts["passes"], "Verifier flags": counts["flags"]}
    for human, counts in confusion.items()
]), hide_index=True, width="stretch")
right.metric("Kappa (flagged vs incorrect)", fmt(kappa))
right.metric("ProcessBench F1", fmt(f1))
if row["abstained"]:
    st.caption(f"{name} abstained on {plural(row['abstained'], 'labelled step')} (unverifiable): an abstention never "
               "flags a step.")

# ---------------------------------------------------------------- apply

applied = st.session_state.pop("calibration_applied", None)
if applied is not None:
    st.success(f"The gate threshold is now {applied:g}: the gate and the Overview funnel use it from now on.")
elif suggested is None:
    st.info(f"No threshold to suggest for {name}: F1 needs labelled paths both with and without an error that it "
            "scored.")
elif abs(suggested - threshold) < 1e-9:
    st.success(f"The gate threshold is already {threshold:g}, the one {name} suggests.")
else:
    st.write(f"At {suggested:g}, {row['passes_suggested']:,} tasks would pass the gate (now {row['passes_current']:,}).")
    if st.button(f"Apply {suggested:g} as the gate threshold", type="primary", key="apply"):
        try:
            apply_threshold(db, suggested)
        except CalibrationError as exc:
            st.error(f"Cannot apply it: {exc}")
        else:
            st.session_state["calibration_applied"] = suggested
            st.rerun()
