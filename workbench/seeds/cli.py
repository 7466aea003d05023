"""The `workbench` commands of the seeds stage; workbench/cli.py adds them with this module's add_*_commands."""

from __future__ import annotations

import argparse
import sys

from workbench.cli_common import print_json
from workbench.store import Store


def cmd_seeds_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds.engine import SeedImportError, import_seed_file

    try:
        result = import_seed_file(store, args.file)
    except SeedImportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print_json(result.to_dict())
    else:
        print("\n".join(result.lines()))
    return 0


def cmd_seeds_list(args: argparse.Namespace, store: Store) -> int:
    seeds = store.seeds.list_seeds(search=args.search or "", domain=args.domain)
    if args.json:
        print_json(seeds)
    else:
        for seed in seeds:
            flag = f" [known failure: {seed['known_failure_source'] or 'manual'}]" if seed["known_failure"] else ""
            given = " [input]" if seed["input"] else ""
            print(f"{seed['id']:>5}  {seed['domain'] or '-':<14} {seed['instruction'][:90]}{given}{flag}")
    return 0


def cmd_seeds_load_samples(args: argparse.Namespace, store: Store) -> int:
    from workbench.seeds.engine import load_sample_seeds

    ids = load_sample_seeds(store)
    print(f"loaded {len(ids)} sample seeds")
    return 0
