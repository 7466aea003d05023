"""Jobs: every background run with its progress, usage, errors, and pause / resume / cancel."""

import pandas as pd
import streamlit as st

from pages._shared import empty_state, format_seconds, job_progress, store
from workbench.jobs import worker_alive

st.title("Jobs")
db = store()

if worker_alive(db.path):
    st.caption(":material/check_circle: A worker is serving this store.")
else:
    st.warning("No worker is running for this store; queued jobs wait. Start one with `workbench worker`.")


@st.fragment(run_every=2.0)
def live_jobs() -> None:
    jobs = db.list_jobs(limit=50)
    if not jobs:
        empty_state("No jobs yet. Start one from the Evolution, Magpie or Verifier pages.")
        return
    active = [j for j in jobs if j["status"] in ("queued", "running", "paused")]
    for job in active:
        job_progress(job)
        pause, resume, cancel = st.columns([1, 1, 6])[:3]
        if job["status"] in ("queued", "running") and pause.button("Pause", key=f"pause-{job['id']}"):
            db.request_job_status(job["id"], "paused")
            st.rerun(scope="fragment")
        if job["status"] == "paused" and resume.button("Resume", key=f"resume-{job['id']}"):
            db.request_job_status(job["id"], "queued")
            st.rerun(scope="fragment")
        if cancel.button("Cancel", key=f"cancel-{job['id']}"):
            db.request_job_status(job["id"], "cancelled")
            st.rerun(scope="fragment")
    table = pd.DataFrame(
        [
            {
                "id": j["id"],
                "kind": j["kind"],
                "status": j["status"],
                "done": j["done_units"],
                "failed": j["failed_units"],
                "total": j["total_units"],
                "tokens": j["prompt_tokens"] + j["completion_tokens"],
                "cost ($)": j["cost"],
                "model": j["model"],
                "elapsed": format_seconds(j["elapsed_s"]),
            }
            for j in jobs
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")


live_jobs()

st.subheader("Failed units")
jobs_with_failures = [j for j in db.list_jobs(limit=50) if j["failed_units"] or j["status"] == "failed"]
if not jobs_with_failures:
    st.caption("No failures recorded.")
for job in jobs_with_failures:
    with st.expander(f"Job {job['id']} ({job['kind']}): {job['failed_units']} failed units"):
        if job["error"]:
            st.code(job["error"], language=None)
        errors = db.unit_errors(job["id"])
        if errors:
            st.dataframe(pd.DataFrame(errors), hide_index=True, width="stretch")
        if job["status"] in ("done", "failed", "cancelled") and st.button("Retry failed units", key=f"retry-{job['id']}"):
            db.clear_failed_units(job["id"])
            db.request_job_status(job["id"], "queued")
            st.rerun()
