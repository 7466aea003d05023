"""The student's probe on the pages: the Seeds page's probe action, its figures and evidence, and the latest probe the
Seeds and Student pages follow live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from views._shared import bundled_model_note, job_progress, show_model_text
from workbench.core.wording import plural
from workbench.store import Store
from workbench.student.job import KIND as PROBE_KIND
from workbench.student.job import submit_probe
from workbench.student.report import latest_results
from workbench.student.settings import models_line, student_settings


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def latest_probe(db: Store, on: str) -> dict | None:
    """Show the latest probe `on` 'seeds' or 'approved': its progress while it runs, its error if it failed; return
    the finished job (its report is `job["result"]`), else None."""
    job = next((j for j in db.jobs.list_jobs(limit=50, kind=PROBE_KIND) if j["params"].get("on") == on), None)
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


def probe_summary(report: dict) -> None:
    """A probe's figures: pass@1 and pass@k overall and per domain, known failures, what was not probed."""
    k = report["k"]
    probed, rate_1, rate_k, failures = st.columns(4)
    probed.metric("Seeds probed", f"{report['probed']:,}", help=f"{k} attempts each")
    rate_1.metric("pass@1", percent(report["pass_at_1"]),
                  help="the share of attempts that were correct, averaged over the probed seeds")
    rate_k.metric(f"pass@{k}", percent(report["pass_at_k"]),
                  help=f"the chance that at least one of {k} attempts is correct (Chen et al. 2021's unbiased "
                       "estimator), averaged over the probed seeds")
    failures.metric("Known failures by probe", f"{len(report['known_failures']):,}",
                    help=f"probed seeds whose pass rate is at most {report['threshold']:g}")
    domains = pd.DataFrame([{"domain": row["domain"], "seeds probed": row["probed"], "pass@1": percent(row["pass_at_1"]),
                             f"pass@{k}": percent(row["pass_at_k"]), "known failures": row["failed"]}
                            for row in report["by_domain"]])
    st.dataframe(domains, hide_index=True, width="stretch")
    if report["not_probed"]:
        with st.expander(f"{plural(len(report['not_probed']), 'seed')} not probed, and why"):
            st.dataframe(pd.DataFrame(report["not_probed"]), hide_index=True, width="stretch")


def probe_section(db: Store, total: int) -> None:
    """The Seeds page's probe: the student and k, the button that queues the probe, and its latest result, live."""

    @st.fragment(run_every=2.0)
    def live_probe() -> None:
        job = latest_probe(db, "seeds")
        if job is not None:
            st.caption(f"Last probe: job {job['id']}, {job['status']}, student `{job['student']}`.")
            if job["result"]:
                probe_summary(job["result"])

    with st.expander("The student's failures: probe the student", expanded=True):
        student = student_settings(db)
        st.caption(
            f"Samples the student k times on every seed with a reference answer or tests, and checks each answer (the "
            f"answer checker, or the code's tests). {models_line(db, student.model)} Change the student in Settings."
        )
        with st.form("probe"):
            k_column, button_column = st.columns([1, 3], vertical_alignment="bottom")
            k = k_column.number_input("Attempts per seed (k)", 1, 100, int(student.k))
            if button_column.form_submit_button(f"Probe the student on {plural(total, 'seed')}", type="primary"):
                try:
                    job_id = submit_probe(db, "seeds", student={"k": int(k)})
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    st.session_state["seeds_message"] = f"Probe job {job_id} queued: the worker samples the student."
                    st.rerun()
        live_probe()


def probe_column(db: Store, seeds: list[dict]) -> tuple[str | None, list[str]]:
    """(the student of the latest probe, per seed its correct attempts there: '2 of 4 right', or '' if not probed)."""
    student = (db.student.latest_probe_student("seed") or {}).get("student")
    probed = {r.id: r for r in latest_results(db, student, "seed")} if student else {}
    return student, [f"{probed[s['id']].correct} of {probed[s['id']].attempts} right" if s["id"] in probed else ""
                     for s in seeds]


def student_evidence(db: Store, student: str | None, seed: dict) -> None:
    """The student's attempts at this seed in its latest probe: each answer and its verdict, and a wrong answer beside
    the reference (or the tests)."""
    attempts = db.student.latest_task_attempts(student, "seed", seed["id"]) if student else []
    if not attempts:
        return
    right = sum(a["correct"] is True for a in attempts)
    flag = f" Known failure ({seed['known_failure_source']})." if seed["known_failure"] else ""
    with st.expander(f"The student's answers: {right} of {plural(len(attempts), 'attempt')} right.{flag}",
                     expanded=seed["known_failure"]):
        bundled_model_note([student], "These answers", role="student")
        rows = pd.DataFrame([{"attempt": a["attempt"] + 1, "verdict": "right" if a["correct"] else
                              "cannot tell" if a["correct"] is None else "wrong", "final answer": a["final_answer"],
                              "why": a["verdict"]} for a in attempts])
        st.dataframe(rows, hide_index=True, width="stretch")
        wrong = [a for a in attempts if a["correct"] is not True]
        if not wrong:
            return
        tests = attempts[0]["checked_against"] == "tests"
        reference, answer = st.columns(2)
        reference.markdown("**The tests**" if tests else "**The reference answer**")
        show_model_text(reference.container(border=True), seed["tests"] if tests else seed["reference_answer"])
        shown = answer.selectbox("**A wrong answer of the student**", [a["attempt"] + 1 for a in wrong],
                                 format_func=lambda n: f"attempt {n}", key=f"seed-{seed['id']}-attempt")
        show_model_text(answer.container(border=True), next(a for a in wrong if a["attempt"] + 1 == shown)["text"])
