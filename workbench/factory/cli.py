"""The `workbench` commands of the factory stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import sys
import time

from workbench.cli_common import print_json
from workbench.core.queries.jobs import DONE, UNDER_WAY
from workbench.core.wording import plural
from workbench.store import Store


def cmd_demo(args: argparse.Namespace, store: Store) -> int:
    """Build the demo project; the last line says what the gate decided (with --json: one JSON object)."""
    from workbench.core.jobs.worker import run_worker, worker_alive
    from workbench.factory.demo import RESULT_KEYS, STAGES, STUDENT_KEYS, passes_summary
    from workbench.factory.job import submit_demo
    from workbench.student.cli import student_overrides

    progress = sys.stderr if args.json else sys.stdout
    try:
        job_id = submit_demo(store, student_overrides(args))
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"demo job {job_id} queued: {', '.join(STAGES)}", file=progress, flush=True)
    if not worker_alive(args.db):
        run_worker(args.db, exit_when_idle=True, log=lambda message: print(message, file=progress, flush=True))
    while (job := store.jobs.get_job(job_id))["status"] in UNDER_WAY:
        time.sleep(1.0)
    result = job["result"] or {}
    for error in store.jobs.unit_errors(job_id):
        print(f"  {error['unit_key']}: {error['error']}", file=sys.stderr)
    notes = ("blocked_for_pii", "export_path", "export_note", "preference_path", "preference_note", "probe_note",
             "headroom_note")
    if args.json:
        print_json({"job_id": job_id, "status": job["status"], "elapsed_s": round(job["elapsed_s"], 1),
                     **{key: result.get(key) for key in (*RESULT_KEYS, *STUDENT_KEYS, "passes", "rejections")},
                     **{key: result.get(key) for key in notes if key in result}})
    else:
        print(f"demo job {job_id} {job['status']}: {job['done_units']}/{plural(job['total_units'], 'stage')} done, "
              f"{job['failed_units']} failed, {job['elapsed_s']:.0f}s")
        print(", ".join(f"{key.replace('_', ' ')} {result.get(key, '-')}" for key in RESULT_KEYS if key != "passed_by")
              + (f" (to {result['export_path']})" if result.get("export_path") else f" ({result.get('export_note', '')})"))
        print(passes_summary(result))
        print("student: " + ", ".join(f"{key.replace('_', ' ')} {result.get(key, '-')}" for key in STUDENT_KEYS)
              + "".join(f" ({result[key]})" for key in ("probe_note", "headroom_note") if key in result))
    return 0 if job["status"] == DONE and not job["failed_units"] else 1


def add_demo_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.student.cli import add_student_flags

    p = sub.add_parser("demo", help="build the demo project with the real pipeline (a few minutes on the bundled model)")
    p.add_argument("--json", action="store_true", help="print one JSON line at the end: tasks verified, passed the "
                                                       "gate and what checked each pass (passed_by: reference answer, "
                                                       "tests, majority vote), rejected, approved, exported, the first "
                                                       "passes and rejections with their reasons, and the student's "
                                                       "figures (seeds probed, pass@1, known failures, headroom)")
    add_student_flags(p)
    p.set_defaults(func=cmd_demo)


def cmd_overview(args: argparse.Namespace, store: Store) -> int:
    from workbench.factory.overview import approved_beside_the_gate, overview_report

    report = overview_report(store)
    if args.json:
        print_json(report)
        return 0
    print(f"{plural(report['seeds'], 'gold seed')}")
    print_student(report["student"])
    print("funnel (each stage counts a subset of the stage before):")
    for row in report["funnel"]:
        rate = f"  {row['rate']:.0%} of the stage before" if row["rate"] is not None else ""
        print(f"  {row['stage']:<20} {row['count']:>8,}{rate}")
    approved, outside = report["approved"], report["outside_funnel"]
    print(f"approved samples in all (what an export of approved samples takes): {approved['total']:,}, "
          f"{approved['passed']:,} of them passed the gate")
    if outside["approved"]:
        print(f"beside the funnel: {approved_beside_the_gate(approved)}")
    if outside["exported"]:
        print(f"beside the funnel: {plural(outside['exported'], 'sample')} exported without passing the gate and "
              "being approved")
    gate = report["gate"]
    print(f"gate (a step is wrong under {gate['threshold']:g}; majority margin {gate['margin']:g}; best path by "
          f"{gate['selection_rule']}): {gate['decided']:,} decided, {gate['passed']:,} passed, "
          f"{gate['unverified']:,} unverified, {gate['failed']:,} failed")
    for status in ("unverified", "failure"):
        for reason in gate[f"{status}_reasons"]:
            print(f"  {reason['count']:>8,}  {'unverified' if status == 'unverified' else 'failed'}: {reason['reason']}")
    for kind in ("seeds", "removed_samples"):
        other = gate[kind]
        if other["decided"]:
            print(f"{kind.replace('_', ' ')}: {other['decided']:,} decided, {other['passed']:,} passed the gate, "
                  f"{other['unverified']:,} unverified, {other['failed']:,} failed")
    return 0


def print_student(student: dict) -> None:
    """The overview's student lines: seeds probed and the student's pass@1 on them, the headroom, per domain."""
    from workbench.student.cli import rate

    if student["student"] is None:
        print(f"student `{student['configured']}`: not probed yet (`workbench probe`)")
        return
    seeds, headroom = student["seeds"], student["headroom"]
    print(f"student `{student['student']}`{' (also the teacher)' if student['same_as_teacher'] else ''}: "
          f"{plural(seeds['probed'], 'seed')} probed, pass@1 {rate(seeds['pass_at_1'])}; "
          f"headroom {rate(headroom['headroom'])} (fails {headroom['failed']:,} of "
          f"{plural(headroom['probed'], 'approved task')} probed)")
    for row in student["by_domain"]:
        print(f"  {row['domain']:<16} {plural(row['seeds_probed'], 'seed'):>10} probed, pass@1 "
              f"{rate(row['seeds_pass_at_1'])}; headroom {rate(row['headroom'])} on "
              f"{plural(row['approved_probed'], 'approved task')}")


def add_overview_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("overview", help="the factory at a glance: funnel, gate decisions (the Overview page's numbers)")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    p.set_defaults(func=cmd_overview)
