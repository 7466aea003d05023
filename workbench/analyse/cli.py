"""The `workbench` commands of the analysis stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli_common import print_json
from workbench.store import Store


def cmd_analyse(args: argparse.Namespace, store: Store) -> int:
    from dataclasses import replace

    from workbench.analyse.maps import current_params, save_params
    from workbench.core.jobs.queue import submit

    params: dict = {"concurrency": 1}
    if args.what == "project":
        map_params = current_params(store)
        if args.text and args.text != map_params.text:  # a map of other texts becomes the one the Maps page shows
            map_params = replace(map_params, text=args.text)
            save_params(store, map_params)
        params.update({"map": map_params.to_dict(), "refit": args.refit})
    if args.what == "uncertainty":
        return _queue_uncertainty(args, store)
    job_id = submit(store, f"analyse.{args.what}", params)
    print(f"queued job {job_id} (analyse.{args.what}); `workbench worker` runs it")
    return 0


def _queue_uncertainty(args: argparse.Namespace, store: Store) -> int:
    from workbench.analyse.job import submit_uncertainty
    from workbench.student.cli import student_overrides

    params: dict = {"k": args.k, "max_tokens": args.max_tokens, "concurrency": 2, "role": args.of}
    if args.of == "student":
        params["student"] = {key: value for key, value in student_overrides(args).items() if key in ("model", "api_base")}
    try:
        job_id = submit_uncertainty(store, params)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    job = store.jobs.get_job(job_id)
    print(f"queued job {job_id} (uncertainty of the {args.of}, `{job['student'] or job['model']}`, k={args.k}); "
          "`workbench worker` runs it. Entropies are in bits.")
    return 0


def cmd_uncertain_seeds(args: argparse.Namespace, store: Store) -> int:
    ranking = store.analyse.seed_uncertainty_ranking(args.top, args.of)
    if args.json:
        print_json(ranking)
        return 0
    if ranking:
        print(f"   id  {args.of} uncertainty (rank)  token entropy (bits)  disagreement (bits)  instruction")

    def bits(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    for row in ranking:
        print(f"{row['id']:>5}  {row['uncertainty']:.2f}  {bits(row['token_entropy']):>8}  "
              f"{bits(row['semantic_disagreement']):>8}  {row['instruction'][:80]}")
    return 0


def add_analyse_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.analyse.maps import TEXTS
    from workbench.analyse.uncertainty import ROLES
    from workbench.student.cli import add_student_flags

    p = sub.add_parser("analyse", help="queue embeddings + metrics, the UMAP map, or the seeds' uncertainty")
    p.add_argument("what", choices=["embed", "project", "uncertainty"])
    p.add_argument("--refit", action="store_true", help="project: fit the map again instead of extending it")
    p.add_argument("--text", choices=list(TEXTS),
                   help="project: what the map embeds (saved as the map's setting; default: the current setting)")
    p.add_argument("--k", type=int, default=5, help="uncertainty: answers sampled per seed")
    p.add_argument("--max-tokens", type=int, help="uncertainty: tokens per answer (default: the model's setting)")
    p.add_argument("--of", choices=list(ROLES), default="student",
                   help="uncertainty: whose uncertainty, the student's (default; where data helps) or the teacher's")
    add_student_flags(p)
    p.set_defaults(func=cmd_analyse)
    p = sub.add_parser("uncertain-seeds", help="the seeds the student (or the teacher) is least sure about, most "
                                               "uncertain first; entropies in bits")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--of", choices=list(ROLES), default="student")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_uncertain_seeds)
