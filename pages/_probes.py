"""Widgets the Seeds and Student pages share: the latest probe of the student, followed live."""

from __future__ import annotations

import streamlit as st

from pages._shared import job_progress
from workbench.store import Store
from workbench.student.job import KIND as PROBE_KIND


def latest_probe(db: Store, on: str) -> dict | None:
    """Show the latest probe `on` 'seeds' or 'approved': its progress while it runs, its error if it failed; return
    the finished job (its report is `job["result"]`), else None."""
    job = next((j for j in db.list_jobs(limit=50, kind=PROBE_KIND) if j["params"].get("on") == on), None)
    if job is None:
        st.caption("The student has not been probed yet." if on == "seeds" else "No probe of the approved tasks yet.")
        return None
    if job["status"] in ("queued", "running", "paused"):
        job_progress(job)
        return None
    result = job["result"] or {}
    if "error" in result or job["status"] == "failed":
        st.error(result.get("error") or f"The probe (job {job['id']}) failed: {(job['error'] or '').splitlines()[0]}")
        return None
    return job
