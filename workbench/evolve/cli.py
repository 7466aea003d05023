"""The `workbench` commands of the evolve stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from workbench.cli_common import add_bypass_cache_flag, follow_job
from workbench.core.queries.jobs import DONE
from workbench.core.wording import plural
from workbench.store import Store

SEED_CHOICE_HELP = ("frontier (the student's known failures plus the 10 seeds it is most unsure about; frontier:N for "
                    "N), all, known-failures, most-uncertain:N, or ids like 1,2,3 (default: frontier once the student "
                    "was probed, else all)")


def _seed_choice(text: str) -> str | list[int]:
    if text in ("all", "known-failures", "frontier") or text.startswith(("most-uncertain:", "frontier:")):
        return text
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes {SEED_CHOICE_HELP} (got {text!r})") from None


def _progress(store: Store) -> Callable[[dict], str]:
    def describe(job: dict) -> str:
        nodes = store.evolve.evol_job_seed_summary(job["id"])
        return (f"job {job['id']} {job['status']}: {job['done_units']}/{plural(job['total_units'], 'unit')}, "
                f"{job['failed_units']} failed; {plural(sum(n['nodes'] for n in nodes), 'node')}, "
                f"{sum(n['survived'] for n in nodes)} survived")

    return describe


def cmd_evolve(args: argparse.Namespace, store: Store) -> int:
    from workbench.evolve.job import (
        EvolveParams,
        choose_seeds,
        default_seed_choice,
        describe_choice,
        submit_evolve,
    )

    teacher = {"model": args.model, "api_base": args.api_base, "concurrency": args.concurrency}
    try:
        chosen = choose_seeds(store, args.seeds if args.seeds is not None else default_seed_choice(store))
        params = EvolveParams(
            seeds=chosen["seeds"],
            seed_choice=chosen,
            operators=args.operators.split(",") if args.operators else list(_operator_names(store)),
            depth=args.depth,
            branching=args.branching,
            schedule=args.schedule,
            max_tries=args.max_tries,
            concurrency=args.concurrency or 8,
            teacher={k: v for k, v in teacher.items() if v is not None},
            bypass_cache=args.bypass_cache,
        )
        job_id = submit_evolve(store, params)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"job {job_id}: evolving {plural(len(params.seeds), 'seed')} ({describe_choice(chosen)}), depth {params.depth}, "
          f"branching {params.branching}")
    status = follow_job(store, job_id, args.db, _progress(store))
    job = store.jobs.get_job(job_id)
    cost = "unknown" if job["cost"] is None else f"${job['cost']:.4f}"
    print(
        f"job {job_id} {status}: {job['prompt_tokens']} prompt + {job['completion_tokens']} completion tokens, "
        f"cost {cost}, {job['elapsed_s']:.1f}s"
    )
    for error in store.jobs.unit_errors(job_id)[:10]:
        print(f"  failed {error['unit_key']}: {error['error']}", file=sys.stderr)
    return 0 if status == DONE and not job["failed_units"] else 1


def _operator_names(store: Store) -> list[str]:
    from workbench.evolve.engine import load_operators

    return list(load_operators(store))


def cmd_operators_list(args: argparse.Namespace, store: Store) -> int:
    from workbench.evolve.engine import load_operators

    for op in load_operators(store).values():
        origin = "built-in" if op.builtin else "custom"
        print(f"{op.name:<24} {op.kind:<12} {origin:<9} {op.description[:70]}")
    return 0


def cmd_operators_reset(args: argparse.Namespace, store: Store) -> int:
    from workbench.evolve.engine import reset_builtin_operators

    reset_builtin_operators(store)
    print("built-in operators reset to their shipped templates")
    return 0


def add_evolution_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.evolve.engine import SCHEDULES

    p = sub.add_parser("evolve", help="evolve seeds with Evol-Instruct (prints progress; exits 0 when done with no failed unit)")
    p.add_argument("--seeds", type=_seed_choice, default=None, help=SEED_CHOICE_HELP)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--branching", type=int, default=1)
    p.add_argument("--operators", help="comma-separated operator names (default: all)")
    p.add_argument("--schedule", choices=SCHEDULES, default="round-robin")
    p.add_argument("--max-tries", type=int, default=3, help="attempts per tree position, each with another operator")
    p.add_argument("--model", help="teacher model (default: the saved teacher)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    p.add_argument("--concurrency", type=int, help="concurrent calls and units")
    add_bypass_cache_flag(p)
    p.set_defaults(func=cmd_evolve)
    ops = sub.add_parser("operators", help="evolution operators").add_subparsers(dest="operators_command", required=True)
    ops.add_parser("list").set_defaults(func=cmd_operators_list)
    ops.add_parser("reset", help="reset built-in operators").set_defaults(func=cmd_operators_reset)
