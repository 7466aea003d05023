"""Jobs: every background run with its progress, usage, cache hits, errors; pause / resume / cancel / run again."""

import pandas as pd
import streamlit as st

from views._shared import bypass_cache_checkbox, empty_state, format_seconds, job_progress, store
from workbench.core.jobs.queue import job_cost, rerun
from workbench.core.jobs.worker import worker_alive, worker_stop_reason
from workbench.core.queries.jobs import FINISHED
from workbench.core.wording import plural

st.title("Jobs")
db = store()



def worker_status() -> None:
    """Whether a worker serves this store and, when the last one stopped for its Ray cluster, why."""
    if worker_alive(db.path):
        st.caption(":material/check_circle: A worker is serving this store.")
        return
    st.warning("No worker is running for this store; queued jobs wait. Start one with `workbench worker`.")
    stopped = worker_stop_reason(db.path)
    if stopped:
        st.error(f"The last worker stopped: {stopped}", icon=":material/cloud_off:")


def job_buttons(job: dict) -> None:
    """One fixed order for every active job: Pause or Resume (the same slot), then Cancel."""
    toggle, cancel, _ = st.columns([1, 1, 6])
    if job["status"] == "paused":
        if toggle.button("Resume", key=f"resume-{job['id']}", icon=":material/play_arrow:"):
            db.jobs.request_job_status(job["id"], "queued")
            st.rerun(scope="fragment")
    elif toggle.button("Pause", key=f"pause-{job['id']}", icon=":material/pause:"):
        db.jobs.request_job_status(job["id"], "paused")
        st.rerun(scope="fragment")
    if cancel.button("Cancel", key=f"cancel-{job['id']}", icon=":material/cancel:"):
        db.jobs.request_job_status(job["id"], "cancelled")
        st.rerun(scope="fragment")


@st.fragment(run_every=2.0)
def live_jobs() -> None:
    worker_status()  # refreshed with the jobs: a worker that starts, or stops, shows at once
    jobs = db.jobs.list_jobs(limit=50)
    if not jobs:
        empty_state("No jobs yet. Start one from the Evolution, Magpie or Verifier pages.")
        return
    for job in (j for j in jobs if j["status"] in ("queued", "running", "paused")):
        job_progress(job)
        job_buttons(job)
    table = pd.DataFrame(
        [
            {
                "id": j["id"],
                "kind": j["kind"],
                "status": j["status"],
                "done": j["done_units"],
                "failed": j["failed_units"],
                "total": j["total_units"],
                "model calls": j["model_calls"],
                "cache hits": j["cache_hits"],
                "tokens": j["prompt_tokens"] + j["completion_tokens"],
                "cost ($)": job_cost(j),
                "teacher": j["model"] or "—",
                "student": j["student"] or "—",
                "elapsed": format_seconds(j["elapsed_s"]),
                "ran on": j["ran_on"] or "—",
                "note": j["note"] or "",
            }
            for j in jobs
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "model calls": st.column_config.NumberColumn(help="calls sent to the model (and paid)"),
            "cache hits": st.column_config.NumberColumn(
                help="calls answered from the response cache: identical model, prompt, parameters and sample"),
            "cost ($)": st.column_config.NumberColumn(
                help="empty when the job made model calls and the provider gave no price", format="$%.4f"),
            "teacher": st.column_config.TextColumn(help="the teacher the job calls (it evolves, answers and judges)"),
            "student": st.column_config.TextColumn(help="the student the job uses (the model the data is for): the "
                                                        "model a probe samples, or whose frontier chose the seeds"),
            "ran on": st.column_config.TextColumn(
                help="where its CPU-bound batches ran: this machine, or a Ray cluster (model calls and store writes "
                     "are always the worker's)"),
            "note": st.column_config.TextColumn(help="how it ran, e.g. which embedding backend"),
        },
    )


live_jobs()

finished = [j for j in db.jobs.list_jobs(limit=50) if j["status"] in FINISHED]
if finished:
    with st.expander("Run a finished job again"):
        labels = {f"Job {j['id']} · {j['kind']} · {j['status']} · {j['model'] or j['student'] or '-'}": j["id"]
                  for j in finished}
        chosen = labels[st.selectbox("Job", list(labels))]
        bypass = bypass_cache_checkbox()
        st.caption("Same parameters. Calls the cache already answered cost nothing; a new sample at temperature > 0 "
                   "is always asked of the model.")
        if st.button("Run again", icon=":material/replay:"):
            new_id = rerun(db, chosen, bypass_cache=bypass)
            st.success(f"Job {new_id} queued from job {chosen}.")

st.subheader("Failed units")
jobs_with_failures = [j for j in db.jobs.list_jobs(limit=50) if j["failed_units"] or j["status"] == "failed"]
if not jobs_with_failures:
    st.caption("No failures recorded.")
for job in jobs_with_failures:
    with st.expander(f"Job {job['id']} ({job['kind']}): {plural(job['failed_units'], 'failed unit')}"):
        if job["error"]:
            st.code(job["error"], language=None)
        errors = db.jobs.unit_errors(job["id"])
        if errors:
            st.dataframe(pd.DataFrame(errors), hide_index=True, width="stretch")
        if job["status"] in FINISHED and st.button("Retry failed units", key=f"retry-{job['id']}"):
            db.jobs.clear_failed_units(job["id"])
            db.jobs.request_job_status(job["id"], "queued")
            st.rerun()
