"""The `workbench` command: the same pipeline as the app, headless.

Each subcommand is registered by a `add_*_commands(subparsers)` function so that every part of the
pipeline keeps its command-line surface next to its own arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from workbench.analyse.cli import add_analyse_commands
from workbench.cli_common import add_bypass_cache_flag, print_json
from workbench.core.env import default_db_path
from workbench.core.queries.jobs import QUEUED
from workbench.core.wording import plural
from workbench.evolve.cli import add_evolution_commands
from workbench.factory.cli import add_demo_commands, add_overview_commands
from workbench.magpie.cli import add_magpie_commands
from workbench.review.cli import add_review_commands
from workbench.safety.cli import add_decontam_commands
from workbench.seeds.cli import cmd_seeds_import, cmd_seeds_list, cmd_seeds_load_samples
from workbench.store import Store, StoreError, open_store
from workbench.student.cli import add_probe_commands
from workbench.verify.cli import add_verify_commands

Command = Callable[[argparse.Namespace, Store], int]


def cmd_worker(args: argparse.Namespace, store: Store) -> int:
    from workbench.core.jobs.worker import run_worker

    store.close()
    return run_worker(args.db, exit_when_idle=args.exit_when_idle, log=lambda m: print(m, flush=True),
                      stop_with_parent=args.stop_with_parent, ray_address=args.ray_address)


def cmd_jobs_list(args: argparse.Namespace, store: Store) -> int:
    jobs = store.jobs.list_jobs(limit=args.limit)
    if args.json:
        print_json(jobs)
        return 0
    for job in jobs:
        models = "; ".join(f"{role} {name}" for role, name in (("teacher", job["model"]), ("student", job["student"]))
                           if name)
        print(
            f"{job['id']:>5}  {job['kind']:<10} {job['status']:<10} "
            f"{job['done_units']}/{plural(job['total_units'], 'unit')} done, {job['failed_units']} failed; "
            f"{plural(job['model_calls'], 'model call')}, {job['cache_hits']} from the cache"
            + (f"; {models}" if models else "")
        )
    return 0


def cmd_jobs_rerun(args: argparse.Namespace, store: Store) -> int:
    from workbench.core.jobs.queue import rerun

    try:
        job_id = rerun(store, args.job_id, bypass_cache=args.bypass_cache)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    source = "every call to the model" if args.bypass_cache else "repeated calls from the response cache"
    print(f"job {job_id}: queued again from job {args.job_id} ({source}); the worker runs it")
    return 0


def cmd_cache(args: argparse.Namespace, store: Store) -> int:
    if args.clear:
        print(f"forgot {store.response_cache.clear_response_cache(args.model)} cached responses")
        return 0
    rows = store.response_cache.response_cache_stats()
    if args.json:
        print_json(rows)
    elif not rows:
        print("the response cache is empty")
    for row in rows if not args.json else []:
        print(f"{row['entries']:>8} responses  {row['bytes'] / 1e6:8.1f} MB  {row['model']}")
    return 0


def _job_action(status: str) -> Command:
    def action(args: argparse.Namespace, store: Store) -> int:
        if store.jobs.get_job(args.job_id) is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 2
        if status == QUEUED:
            store.jobs.clear_failed_units(args.job_id)
        if not store.jobs.request_job_status(args.job_id, status):
            print(f"job {args.job_id} is {store.jobs.job_status(args.job_id)}; cannot set it to {status}", file=sys.stderr)
            return 2
        print(f"job {args.job_id}: {status}")
        return 0

    return action


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Entropy Workbench, headless.")
    parser.add_argument("--db", type=Path, default=None, help="store path (default: $WORKBENCH_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True)

    seeds = sub.add_parser("seeds", help="gold seeds").add_subparsers(dest="seeds_command", required=True)
    p = seeds.add_parser(
        "import",
        help="import seeds from CSV, JSONL, JSON, TXT or Parquet: Self-Instruct, Alpaca, Dolly, GSM8K, MATH or plain "
             "fields (malformed rows refuse the file; duplicates are skipped and reported)",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print the import result as JSON")
    p.set_defaults(func=cmd_seeds_import)
    p = seeds.add_parser("list", help="list seeds")
    p.add_argument("--json", action="store_true")
    p.add_argument("--search")
    p.add_argument("--domain")
    p.set_defaults(func=cmd_seeds_list)
    p = seeds.add_parser("load-samples", help="load the sample seeds that ship with the app")
    p.set_defaults(func=cmd_seeds_load_samples)

    p = sub.add_parser("worker", help="run the job worker for this store")
    p.add_argument("--exit-when-idle", action="store_true", help="exit once the queue is empty")
    p.add_argument("--stop-with-parent", action="store_true",
                   help="stop (at a safe point, requeueing a running job) when the process that started this worker "
                        "ends; the app starts its worker this way")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="run the CPU-bound stages (embedding, PII scan, offline verifiers, decontamination) as Ray tasks "
                        "on the cluster at ADDRESS (host:port, ray://host:port or auto; default: $WORKBENCH_RAY_ADDRESS, "
                        "else the ray_address setting, else this machine); the worker stays the store's only writer")
    p.set_defaults(func=cmd_worker)

    jobs = sub.add_parser("jobs", help="background jobs").add_subparsers(dest="jobs_command", required=True)
    p = jobs.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_jobs_list)
    for name, status in (("pause", "paused"), ("cancel", "cancelled"), ("resume", "queued")):
        p = jobs.add_parser(name)
        p.add_argument("job_id", type=int)
        p.set_defaults(func=_job_action(status))
    p = jobs.add_parser("rerun", help="queue a finished job again with the same parameters")
    p.add_argument("job_id", type=int)
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_jobs_rerun)

    p = sub.add_parser("cache", help="the response cache: what it holds, or --clear")
    p.add_argument("--clear", action="store_true", help="forget cached responses")
    p.add_argument("--model", help="with --clear: only this model's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cache)

    for register in _command_registrars():
        register(sub)
    return parser


def _command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The functions (each in its stage's cli.py) that add the subcommands of each pipeline stage."""
    return [
        add_overview_commands,
        add_demo_commands,
        add_review_commands,
        add_analyse_commands,
        add_verify_commands,
        add_evolution_commands,
        add_magpie_commands,
        add_decontam_commands,
        add_probe_commands,
    ]


# Old spellings of commands, kept as aliases: each runs the command of its stage's name and says so on stderr.
ALIASES = {
    "reason": ("verify", "run"),
    "verify-eval": ("verify", "eval"),
    "calibrate": ("verify", "calibrate"),
}


def resolve_alias(argv: list[str]) -> list[str]:
    """`argv` with an old command spelling (ALIASES) replaced by its new one, printing a one-line notice to stderr;
    any other command line comes back as it is."""
    position = 0
    while position < len(argv) and argv[position].startswith("-"):
        position += 2 if argv[position] == "--db" else 1
    if position >= len(argv) or argv[position] not in ALIASES:
        return argv
    old, new = argv[position], ALIASES[argv[position]]
    print(f"`workbench {old}` is now `workbench {' '.join(new)}`; the old name will go", file=sys.stderr)
    return [*argv[:position], *new, *argv[position + 1:]]

def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(resolve_alias(sys.argv[1:] if argv is None else list(argv)))
    args.db = args.db or default_db_path()
    try:
        store = open_store(args.db)
    except (StoreError, OSError) as exc:
        print(f"cannot open the store at {args.db}: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, store)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
