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


def cmd_magpie(args: argparse.Namespace, store: Store) -> int:
    """Queue a magpie job and, unless --no-wait, run it here and print what was kept and dropped."""
    from workbench.jobs import run_worker
    from workbench.magpie import (
        TemplateError,
        all_templates,
        chat_only_error,
        detect_template,
        get_template,
        summarise_reasons,
    )
    from workbench.magpie_job import submit_magpie
    from workbench.settings import teacher_config

    if args.list_templates:
        for name, template in all_templates(store).items():
            kind = "built-in" if template.builtin else "custom"
            print(f"{name:<12} {kind:<9} {template.description}  pre-query: {template.pre_query(add_bos=True)!r}")
        return 0
    overrides = {k: v for k, v in {"model": args.model, "api_base": args.api_base}.items() if v}
    config = teacher_config(store, overrides)
    if message := chat_only_error(config):
        print(f"Magpie needs raw text completion. {message}", file=sys.stderr)
        return 2
    name = args.template or detect_template(config.model)[0]
    if name is None:
        print(f"cannot tell the chat template of {config.model}; name one with --template "
              "(see --list-templates)", file=sys.stderr)
        return 2
    try:
        template = get_template(name, store)
    except TemplateError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    options = {
        "n": args.n, "turns": args.turns, "system": args.system, "query_temperature": args.query_temperature,
        "query_top_p": args.query_top_p, "answer_temperature": args.answer_temperature,
        "max_query_tokens": args.max_query_tokens, "max_answer_tokens": args.max_answer_tokens,
        "single_line": args.single_line, "add_bos": args.add_bos or None, "primer_examples": args.primer,
        "entropy_cut": args.entropy_cut,
    }
    if args.language is not None:
        options["filters"] = {"language": None if args.language in ("", "any") else args.language}
    job_id = submit_magpie(store, config, template, options)
    print(f"queued magpie job {job_id}: {args.n} samples from {config.model} with the {template.name} template")
    if args.no_wait:
        return 0
    if run_worker(args.db, exit_when_idle=True, log=lambda m: None) != 0:
        print("a worker already serves this store; it will run the job (see `workbench jobs list`)")
        return 0
    job = store.get_job(job_id)
    counts = store.job_filter_counts(job_id)
    print(f"job {job_id} {job['status']}: {counts.get('kept', 0)} kept, "
          f"{sum(counts.values()) - counts.get('kept', 0)} filtered, {job['failed_units']} failed units")
    for reason, count in summarise_reasons(counts).items():
        print(f"  {count:>4}  {reason}")
    if job["error"]:
        print(job["error"].splitlines()[0], file=sys.stderr)
    return 0 if job["status"] == "done" else 1


def add_magpie_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("magpie", help="Magpie self-synthesis: the model writes its own queries, then answers them")
    p.add_argument("--n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument("--model", help="teacher model (default: the one in Settings); needs raw completion")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible /completions server")
    p.add_argument("--template", help="chat template name (default: detected from the model)")
    p.add_argument("--list-templates", action="store_true", help="list the templates and exit")
    p.add_argument("--system", default="", help="optional system prompt to steer the domain")
    p.add_argument("--turns", type=int, default=1, help="turns per conversation (default 1)")
    p.add_argument("--query-temperature", type=float, help="default 1.0")
    p.add_argument("--query-top-p", type=float, help="default 1.0")
    p.add_argument("--answer-temperature", type=float, help="default 0.2")
    p.add_argument("--max-query-tokens", type=int)
    p.add_argument("--max-answer-tokens", type=int)
    p.add_argument("--single-line", action=argparse.BooleanOptionalAction, default=None,
                   help="stop each query at its first newline (default: on for base models)")
    p.add_argument("--add-bos", action="store_true", help="write the BOS token into the prompt text")
    p.add_argument("--primer", type=int, help="example exchanges before the pre-query (default: 3 for base models)")
    p.add_argument("--entropy-cut", type=float, help="end a turn at a token drawn from a flatter distribution (nats)")
    p.add_argument("--language", help="target language code for the filter ('any' turns it off; default en)")
    p.add_argument("--no-wait", action="store_true", help="only queue the job")
    p.set_defaults(func=cmd_magpie)


# ---------------------------------------------------------------- reasoning and verification

# ---------------------------------------------------------------- metrics and maps

# ---------------------------------------------------------------- review and export


def _command_registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Functions above that add the subcommands of each pipeline stage."""
    return [
        add_magpie_commands,
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
