"""The `workbench` commands of the analysis stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse

from workbench.cli_common import print_json
from workbench.store import Store


def cmd_analyse(args: argparse.Namespace, store: Store) -> int:
    from dataclasses import replace

    from workbench.analysis.maps import current_params, save_params
    from workbench.core.jobs import submit

    params: dict = {"concurrency": 1}
    if args.what == "project":
        map_params = current_params(store)
        if args.text and args.text != map_params.text:  # a map of other texts becomes the one the Maps page shows
            map_params = replace(map_params, text=args.text)
            save_params(store, map_params)
        params.update({"map": map_params.to_dict(), "refit": args.refit})
    if args.what == "uncertainty":
        params.update({"k": args.k, "max_tokens": args.max_tokens, "concurrency": 2})
    job_id = submit(store, args.what, params)
    print(f"queued job {job_id} ({args.what}); `workbench worker` runs it")
    return 0


def cmd_uncertain_seeds(args: argparse.Namespace, store: Store) -> int:
    ranking = store.seed_uncertainty_ranking(args.top)
    if args.json:
        print_json(ranking)
    for row in [] if args.json else ranking:
        print(f"{row['id']:>5}  {row['uncertainty']:.2f}  {row['instruction'][:90]}")
    return 0


def add_maps_commands(sub: argparse._SubParsersAction) -> None:
    from workbench.analysis.maps import TEXTS

    p = sub.add_parser("analyse", help="queue embeddings + metrics, the UMAP map, or the seeds' uncertainty")
    p.add_argument("what", choices=["embed", "project", "uncertainty"])
    p.add_argument("--refit", action="store_true", help="project: fit the map again instead of extending it")
    p.add_argument("--text", choices=list(TEXTS),
                   help="project: what the map embeds (saved as the map's setting; default: the current setting)")
    p.add_argument("--k", type=int, default=5, help="uncertainty: answers sampled per seed")
    p.add_argument("--max-tokens", type=int, default=64, help="uncertainty: tokens per answer")
    p.set_defaults(func=cmd_analyse)
    p = sub.add_parser("uncertain-seeds", help="the seeds the teacher is least sure about, most uncertain first")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_uncertain_seeds)
