"""The `workbench` commands of the student stage; workbench/cli.py adds them with this module's add_*_commands."""

from __future__ import annotations

import argparse
import sys

from workbench.cli_common import add_bypass_cache_flag, follow_job, print_json
from workbench.core.queries.jobs import DONE
from workbench.core.wording import plural
from workbench.store import Store


def add_student_flags(parser: argparse.ArgumentParser) -> None:
    """`--student MODEL` and `--student-api-base URL`: the student for this job (default: the one in Settings)."""
    parser.add_argument("--student", help="the student model, any litellm model string (default: the student in "
                                          "Settings, else the bundled local/gemma-3-270m)")
    parser.add_argument("--student-api-base", help="base URL of an OpenAI-compatible server for the student")


def student_overrides(args: argparse.Namespace) -> dict:
    """The student settings a command's flags override (the rest come from Settings)."""
    names = {"student": "model", "student_api_base": "api_base", "k": "k", "threshold": "threshold",
             "temperature": "temperature", "max_tokens": "max_tokens", "concurrency": "concurrency"}
    return {key: getattr(args, flag) for flag, key in names.items() if getattr(args, flag, None) is not None}


def rate(value: float | None) -> str:
    """A pass rate or share for the terminal (— when there is none)."""
    return "—" if value is None else f"{value:.3f}"


def _print_report(report: dict) -> None:
    on_seeds = report["on"] == "seeds"
    what = "seed" if on_seeds else "approved task"
    print(f"student `{report['student']}` on {plural(report['probed'], what)}, k={report['k']}: "
          f"pass@1 {rate(report['pass_at_1'])}, pass@{report['k']} {rate(report['pass_at_k'])}")
    failing = report["known_failures"] if on_seeds else report["failed"]
    label = "known failures by probe" if on_seeds else "failed"
    print(f"{label} (pass rate at most {report['threshold']:g}): {len(failing)}"
          + (f": {', '.join(map(str, failing))}" if failing else ""))
    if not on_seeds:
        print(f"headroom (share of the probed approved tasks the student fails): {rate(report['headroom'])}")
    for row in report["by_domain"]:
        print(f"  {row['domain']:<16} {plural(row['probed'], what):>18}  pass@1 {rate(row['pass_at_1'])}  "
              f"pass@{report['k']} {rate(row['pass_at_k'])}  {row['failed']} failing")
    if report["not_probed"]:
        print(f"not probed: {plural(len(report['not_probed']), what)}")
        for row in report["not_probed"]:
            print(f"  {what} {row['id']}: {row['reason']}")


def cmd_probe(args: argparse.Namespace, store: Store) -> int:
    from workbench.student.job import submit_probe
    from workbench.student.settings import models_line

    progress = sys.stderr if args.json else sys.stdout
    seed_ids = [int(part) for part in args.seeds.split(",") if part.strip()] if args.seeds else None
    try:
        job_id = submit_probe(store, args.on, seed_ids, student_overrides(args), bypass_cache=args.bypass_cache)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    job = store.jobs.get_job(job_id)
    params = job["params"]
    print(f"probe job {job_id}: {len(params['tasks'])} {'seeds' if args.on == 'seeds' else 'approved tasks'} x "
          f"k={params['k']} attempts. {models_line(store, job['student'])}", file=progress, flush=True)
    status = follow_job(store, job_id, args.db, lambda j: (
        f"job {j['id']} {j['status']}: {j['done_units']}/{plural(j['total_units'], 'attempt')}, "
        f"{j['failed_units']} failed"), out=progress)
    job = store.jobs.get_job(job_id)
    report = job["result"] or {}
    if "error" in report:
        print(report["error"], file=sys.stderr)
        return 2
    for error in store.jobs.unit_errors(job_id)[:10]:
        print(f"  failed {error['unit_key']}: {error['error']}", file=sys.stderr)
    if status != DONE:
        print(f"probe job {job_id} {status}" + (f": {job['error'].splitlines()[0]}" if job["error"] else ""),
              file=sys.stderr)
        return 1
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return 0 if not job["failed_units"] else 1


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None


def add_probe_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="sample the student k times on each seed (or approved task) whose answer can be "
                                     "checked: pass@1, pass@k, known failures (or the headroom)")
    p.add_argument("--on", choices=["seeds", "approved"], default="seeds",
                   help="seeds: the gold seeds (known failures); approved: the approved tasks whose answer is verified "
                        "(the headroom)")
    p.add_argument("--seeds", help="with --on seeds: only these seed ids, like 1,2,3")
    add_student_flags(p)
    p.add_argument("--k", type=int, help="attempts per task (default: the student setting, 4)")
    p.add_argument("--threshold", type=_fraction,
                   help="a pass rate at most this makes a known failure (default: the setting, 0 = never passed)")
    p.add_argument("--temperature", type=float, help="the student's sampling temperature (default: the setting)")
    p.add_argument("--max-tokens", type=int, help="tokens per attempt (default: the setting)")
    p.add_argument("--concurrency", type=int, help="attempts in flight (default: the setting)")
    p.add_argument("--json", action="store_true", help="print the probe's report as one JSON object")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_probe)
