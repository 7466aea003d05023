"""Widgets the Maps and Distributions pages share: metric names and the analysis jobs' live progress."""

from __future__ import annotations

import streamlit as st

from pages._shared import job_progress
from workbench import jobs
from workbench.maps import MapParams
from workbench.store import Store

ANALYSIS_KINDS = ("embed", "project", "uncertainty")

METRIC_LABELS = {
    "token_entropy_mean": "Token entropy (mean, nats)",
    "lexical_entropy": "Lexical entropy (bits)",
    "novelty_seeds": "Novelty vs seeds",
    "novelty_accepted": "Novelty vs accepted samples",
    "entropy_gain_parent": "Entropy gain over parent",
    "entropy_gain_seed": "Entropy gain over seed",
    "best_path_score": "Best-path score (verifier)",
    "distinct_2": "Distinct-2",
    "compression_ratio": "Compression ratio (repetition)",
    "uncertainty": "Teacher uncertainty (seeds)",
}


def queue_embed_and_project(db: Store, params: MapParams, refit: bool = False) -> list[int]:
    """Queue embeddings + metrics, then the map (the worker runs them in order)."""
    return [
        jobs.submit(db, "embed", {"concurrency": 1}),
        jobs.submit(db, "project", {"map": params.to_dict(), "refit": refit, "concurrency": 1}),
    ]


def active_analysis_jobs(db: Store) -> list[dict]:
    return [j for j in db.list_jobs(limit=20, statuses=("queued", "running", "paused")) if j["kind"] in ANALYSIS_KINDS]


def show_analysis_jobs(db: Store) -> None:
    """Progress of running analysis jobs, refreshed live while any runs; reruns the page when they end."""

    @st.fragment(run_every=2.0 if active_analysis_jobs(db) else None)
    def live() -> None:
        active = active_analysis_jobs(db)
        for job in active:
            job_progress(job)
        if st.session_state.get("analysis_jobs_active") and not active:
            st.session_state["analysis_jobs_active"] = False
            st.rerun()  # results landed: redraw the whole page
        st.session_state["analysis_jobs_active"] = bool(active)

    live()
