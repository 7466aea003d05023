"""The `workbench` command: the same pipeline as the app, headless.

Each subcommand is registered by a `add_*_commands(subparsers)` function so that every part of the
pipeline keeps its command-line surface next to its own arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workbench.env import default_db_path
from workbench.store import Store, StoreError, open_store

Command = Callable[[argparse.Namespace, Store], int]


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def cmd_seeds_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds import SeedImportError, import_seed_file

    try:
        ids = import_seed_file(store, args.file)
    except SeedImportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"imported {len(ids)} seeds from {args.file}")
    return 0


def cmd_seeds_list(args: argparse.Namespace, store: Store) -> int:
    seeds = store.list_seeds(search=args.search or "", domain=args.domain)
    if args.json:
        _print_json(seeds)
    else:
        for seed in seeds:
            flag = " [known failure]" if seed["known_failure"] else ""
            print(f"{seed['id']:>5}  {seed['domain'] or '-':<14} {seed['instruction'][:90]}{flag}")
    return 0


def cmd_seeds_load_samples(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds import load_sample_seeds

    ids = load_sample_seeds(store)
    print(f"loaded {len(ids)} sample seeds")
    return 0


def cmd_worker(args: argparse.Namespace, store: Store) -> int:
    from workbench.jobs import run_worker

    store.close()
    return run_worker(args.db, exit_when_idle=args.exit_when_idle, log=lambda m: print(m, flush=True))


def cmd_jobs_list(args: argparse.Namespace, store: Store) -> int:
    jobs = store.list_jobs(limit=args.limit)
    if args.json:
        _print_json(jobs)
        return 0
    for job in jobs:
        print(
            f"{job['id']:>5}  {job['kind']:<10} {job['status']:<10} "
            f"{job['done_units']}/{job['total_units']} done, {job['failed_units']} failed"
        )
    return 0


def _job_action(status: str) -> Command:
    def action(args: argparse.Namespace, store: Store) -> int:
        if store.get_job(args.job_id) is None:
            print(f"no job {args.job_id}", file=sys.stderr)
            return 2
        if status == "queued":
            store.clear_failed_units(args.job_id)
        if not store.request_job_status(args.job_id, status):
            print(f"job {args.job_id} is {store.job_status(args.job_id)}; cannot set it to {status}", file=sys.stderr)
            return 2
        print(f"job {args.job_id}: {status}")
        return 0

    return action


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Entropy Workbench, headless.")
    parser.add_argument("--db", type=Path, default=None, help="store path (default: $WORKBENCH_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True)

    seeds = sub.add_parser("seeds", help="gold seeds").add_subparsers(dest="seeds_command", required=True)
    p = seeds.add_parser("import", help="import seeds from CSV, JSONL, JSON or TXT (all or nothing)")
    p.add_argument("file", type=Path)
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

    for register in _command_registrars():
        register(sub)
    return parser


# ---------------------------------------------------------------- evolution


def _seed_choice(text: str) -> str | list[int]:
    if text in ("all", "known-failures"):
        return text
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes all, known-failures or ids like 1,2,3 (got {text!r})") from None


def _follow_job(store: Store, job_id: int, db_path: Path) -> str:
    """Print a job's progress until it stops; runs a worker in this process when none serves the store."""
    import threading

    from workbench.jobs import eta_seconds, run_worker, worker_alive

    thread = None
    if not worker_alive(db_path):
        thread = threading.Thread(target=run_worker, args=(db_path, True, lambda m: None), daemon=True)
        thread.start()
    last = None
    try:
        while True:
            job = store.get_job(job_id)
            nodes = store.evol_job_seed_summary(job_id)
            line = (
                f"job {job_id} {job['status']}: {job['done_units']}/{job['total_units']} units, "
                f"{job['failed_units']} failed; {sum(n['nodes'] for n in nodes)} nodes, "
                f"{sum(n['survived'] for n in nodes)} survived"
            )
            if line != last:
                eta = eta_seconds(job)
                print(line + (f", ETA {eta:.0f}s" if eta is not None and job["status"] == "running" else ""), flush=True)
                last = line
            if job["status"] in ("done", "failed", "cancelled", "paused"):
                return job["status"]
            if thread is not None and not thread.is_alive() and job["status"] == "queued":
                return "queued"
            time.sleep(0.5)
    except KeyboardInterrupt:
        store.request_job_status(job_id, "paused")
        print(f"\npausing job {job_id}; resume it with `workbench jobs resume {job_id}`", file=sys.stderr)
        if thread is not None:
            thread.join()
        return "paused"
    finally:
        if thread is not None:
            thread.join()


def cmd_evolve(args: argparse.Namespace, store: Store) -> int:
    from workbench.evolve_job import EvolveParams, resolve_seeds, submit_evolve

    teacher = {"model": args.model, "api_base": args.api_base, "concurrency": args.concurrency}
    try:
        params = EvolveParams(
            seeds=resolve_seeds(store, args.seeds),
            operators=args.operators.split(",") if args.operators else list(_operator_names(store)),
            depth=args.depth,
            branching=args.branching,
            schedule=args.schedule,
            max_tries=args.max_tries,
            concurrency=args.concurrency or 8,
            teacher={k: v for k, v in teacher.items() if v is not None},
        )
        job_id = submit_evolve(store, params)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"job {job_id}: evolving {len(params.seeds)} seeds, depth {params.depth}, branching {params.branching}")
    status = _follow_job(store, job_id, args.db)
    job = store.get_job(job_id)
    cost = "unknown" if job["cost"] is None else f"${job['cost']:.4f}"
    print(
        f"job {job_id} {status}: {job['prompt_tokens']} prompt + {job['completion_tokens']} completion tokens, "
        f"cost {cost}, {job['elapsed_s']:.1f}s"
    )
    for error in store.unit_errors(job_id)[:10]:
        print(f"  failed {error['unit_key']}: {error['error']}", file=sys.stderr)
    return 0 if status == "done" and not job["failed_units"] else 1


def _operator_names(store: Store) -> list[str]:
    from workbench.evol import load_operators

    return list(load_operators(store))


def cmd_operators_list(args: argparse.Namespace, store: Store) -> int:
    from workbench.evol import load_operators

    for op in load_operators(store).values():
        origin = "built-in" if op.builtin else "custom"
        print(f"{op.name:<24} {op.kind:<12} {origin:<9} {op.description[:70]}")
    return 0


def cmd_operators_reset(args: argparse.Namespace, store: Store) -> int:
    from workbench.evol import reset_builtin_operators

    reset_builtin_operators(store)
    print("built-in operators reset to their shipped templates")
    return 0


def add_evolution_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.evol import SCHEDULES

    p = sub.add_parser("evolve", help="evolve seeds with Evol-Instruct (prints progress; exits 0 when done with no failed unit)")
    p.add_argument("--seeds", type=_seed_choice, default="all", help="all, known-failures, or ids like 1,2,3")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--branching", type=int, default=1)
    p.add_argument("--operators", help="comma-separated operator names (default: all)")
    p.add_argument("--schedule", choices=SCHEDULES, default="round-robin")
    p.add_argument("--max-tries", type=int, default=3, help="attempts per tree position, each with another operator")
    p.add_argument("--model", help="teacher model (default: the saved teacher)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    p.add_argument("--concurrency", type=int, help="concurrent calls and units")
    p.set_defaults(func=cmd_evolve)
    ops = sub.add_parser("operators", help="evolution operators").add_subparsers(dest="operators_command", required=True)
    ops.add_parser("list").set_defaults(func=cmd_operators_list)
    ops.add_parser("reset", help="reset built-in operators").set_defaults(func=cmd_operators_reset)


# ---------------------------------------------------------------- magpie

# ---------------------------------------------------------------- reasoning and verification

# ---------------------------------------------------------------- metrics and maps

# ---------------------------------------------------------------- review and export


def _command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Functions above that add the subcommands of each pipeline stage."""
    return [
        add_evolution_commands,
    ]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
