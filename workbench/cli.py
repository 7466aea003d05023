"""The `workbench` command: the same pipeline as the app, headless.

Each subcommand is registered by a `add_*_commands(subparsers)` function so that every part of the
pipeline keeps its command-line surface next to its own arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
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

# ---------------------------------------------------------------- magpie

# ---------------------------------------------------------------- reasoning and verification

# ---------------------------------------------------------------- metrics and maps


def cmd_analyse(args: argparse.Namespace, store: Store) -> int:
    from workbench.jobs import submit
    from workbench.maps import current_params

    params: dict = {"concurrency": 1}
    if args.what == "project":
        params.update({"map": current_params(store).to_dict(), "refit": args.refit})
    if args.what == "uncertainty":
        params.update({"k": args.k, "max_tokens": args.max_tokens, "concurrency": 2})
    job_id = submit(store, args.what, params)
    print(f"queued job {job_id} ({args.what}); `workbench worker` runs it")
    return 0


def cmd_uncertain_seeds(args: argparse.Namespace, store: Store) -> int:
    ranking = store.seed_uncertainty_ranking(args.top)
    if args.json:
        _print_json(ranking)
    for row in [] if args.json else ranking:
        print(f"{row['id']:>5}  {row['uncertainty']:.2f}  {row['instruction'][:90]}")
    return 0


def add_maps_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyse", help="queue embeddings + metrics, the UMAP map, or the seeds' uncertainty")
    p.add_argument("what", choices=["embed", "project", "uncertainty"])
    p.add_argument("--refit", action="store_true", help="project: fit the map again instead of extending it")
    p.add_argument("--k", type=int, default=5, help="uncertainty: answers sampled per seed")
    p.add_argument("--max-tokens", type=int, default=64, help="uncertainty: tokens per answer")
    p.set_defaults(func=cmd_analyse)
    p = sub.add_parser("uncertain-seeds", help="the seeds the teacher is least sure about, most uncertain first")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_uncertain_seeds)


# ---------------------------------------------------------------- review and export


def _command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Functions above that add the subcommands of each pipeline stage."""
    return [
        add_maps_commands,
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
