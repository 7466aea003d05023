"""The `workbench pii` and `workbench decontam` commands; workbench/cli.py adds them with add_safety_commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli_common import print_json
from workbench.core.queries.jobs import DONE
from workbench.core.wording import plural
from workbench.export.cli import _wait_for_job
from workbench.store import Store


def cmd_pii_scan(args: argparse.Namespace, store: Store) -> int:
    from workbench.safety.pii import scan_samples, shared_analyzer

    ids = store.samples.pii_scan_candidates(only_unscanned=not args.all)
    if ids:
        analyzer = shared_analyzer()
        print(f"scanning {plural(len(ids), 'sample')} for PII ({analyzer.note})", file=sys.stderr)
        for start in range(0, len(ids), 200):
            scan_samples(store, ids[start : start + 200], analyzer)
    counts = store.samples.pii_counts()
    print(f"{plural(counts['flagged'], 'sample')} flagged, {counts['clean']} clean, {counts['unscanned']} not scanned")
    return 0


def cmd_pii_policy(args: argparse.Namespace, store: Store) -> int:
    """Show the PII policy, or change it (which forgets every scan: samples are scanned again before export)."""
    from dataclasses import replace

    from workbench.safety.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES, PiiPolicy, load_policy, save_policy

    policy = PiiPolicy.from_preset(args.preset) if args.preset else PiiPolicy() if args.reset else load_policy(store)
    known = (*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES)
    unknown = [e for e in [*(args.add or []), *(args.remove or [])] if e not in known]
    if unknown:
        print(f"unknown entities: {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    entities = tuple(e for e in known if (e in policy.entities or e in (args.add or [])) and e not in (args.remove or []))
    changed = replace(policy, entities=entities, person_min_words=args.person_min_words or policy.person_min_words).named()
    forgotten = save_policy(store, changed)
    if forgotten:
        print(f"policy changed: {plural(forgotten, 'scan')} forgotten; samples are scanned again before export", file=sys.stderr)
    if args.json:
        print_json(changed.to_dict())
    else:
        print(f"policy: {changed.describe()}\nentities: {', '.join(changed.entities)}\nperson names count from "
              f"{changed.person_min_words} words\nscore threshold: {changed.score_threshold}")
    return 0


def cmd_decontam_add(args: argparse.Namespace, store: Store) -> int:
    from workbench.safety.benchmark_sets import BenchmarkError, register_benchmark_file

    try:
        benchmark = register_benchmark_file(store, args.file, args.field, args.name)
    except BenchmarkError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"registered benchmark '{benchmark.name}': {plural(benchmark.n_items, 'item')} from field "
          f"'{benchmark.field}' of {benchmark.file}; `workbench decontam scan` checks the seeds and samples against it")
    return 0


def cmd_decontam_list(args: argparse.Namespace, store: Store) -> int:
    benchmarks = store.safety.list_benchmarks()
    if args.json:
        print_json(benchmarks)
    elif not benchmarks:
        print("no benchmark registered; add one with `workbench decontam add FILE --field question --name NAME`")
    for b in [] if args.json else benchmarks:
        print(f"{b['name']:<24} {plural(b['n_items'], 'item'):>12}  field '{b['field']}' of {b['file']}; "
              f"{plural(b['flagged'], 'seed or sample', 'seeds or samples')} flagged")
    return 0


def cmd_decontam_remove(args: argparse.Namespace, store: Store) -> int:
    if not store.safety.delete_benchmark(args.name):
        print(f"no benchmark named '{args.name}'; nothing was removed", file=sys.stderr)
        return 2
    print(f"removed benchmark '{args.name}' and its hits")
    return 0


def cmd_decontam_scan(args: argparse.Namespace, store: Store) -> int:
    """The scan job, run here when no worker serves the store (else by the worker); then the hits."""
    from dataclasses import replace

    from workbench.safety.job import contamination_report, load_settings, save_settings, submit_decontam_scan

    try:
        settings = replace(load_settings(store), **{k: v for k, v in (("ngram", args.ngram), ("min_overlap", args.min_overlap),
                                                                          ("min_similarity", args.min_similarity)) if v is not None})
        job_id = submit_decontam_scan(store, settings, similarity=not args.no_similarity)
    except ValueError as exc:
        print(f"scan refused: {exc}", file=sys.stderr)
        return 2
    save_settings(store, settings)
    print(f"scanning seeds and samples against {plural(len(store.safety.list_benchmarks()), 'benchmark')} (job {job_id}; "
          f"{settings.ngram}-grams, overlap >= {settings.min_overlap:g}"
          + ("" if args.no_similarity else f", cosine >= {settings.min_similarity:g}") + ")", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    if job["status"] != DONE:
        print(f"scan {job['status']}: {job['error'] or ''}".strip(), file=sys.stderr)
        return 1
    for error in store.jobs.unit_errors(job_id):
        print(f"  {error['unit_key']} failed: {error['error']}", file=sys.stderr)
    if without := (job["result"] or {}).get("without_vector"):
        print(f"{plural(without, 'seed or sample', 'seeds and samples')} had no vector: checked by n-grams only",
              file=sys.stderr)
    report = contamination_report(store)
    if args.json:
        print_json(report)
        return 0
    print(f"{plural(report['flagged'], 'seed or sample', 'seeds and samples')} match a benchmark item: "
          + (", ".join(f"{name} {n:,}" for name, n in report["by_benchmark"].items()) or "none"))
    for item in report["items"]:
        similarity = "—" if item["similarity"] is None else f"{item['similarity']:.3f}"
        print(f"  {item['type']} {item['id']:>6}  {item['benchmark']}: overlap {item['ngram_overlap']:.2f}, "
              f"cosine {similarity}  {item['match'][:80]!r}")
    return 0


def add_decontam_commands(sub: argparse._SubParsersAction) -> None:
    """decontam add|list|remove|scan."""
    decontam = sub.add_parser("decontam", help="benchmark decontamination: register test sets, scan seeds and samples "
                                               "for their items").add_subparsers(dest="decontam_command", required=True)
    p = decontam.add_parser("add", help="register a benchmark test set (JSONL, CSV, Parquet or a JSON array)")
    p.add_argument("file", type=Path)
    p.add_argument("--field", required=True, help="the field holding each item's text (e.g. question, problem)")
    p.add_argument("--name", help="the benchmark's name (default: the file name without its suffix)")
    p.set_defaults(func=cmd_decontam_add)
    p = decontam.add_parser("list", help="registered benchmarks with their item and hit counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_decontam_list)
    p = decontam.add_parser("remove", help="forget a benchmark and its hits")
    p.add_argument("name")
    p.set_defaults(func=cmd_decontam_remove)
    p = decontam.add_parser("scan", help="check every seed and sample by word n-gram overlap and embedding similarity "
                                         "(settings given here are saved)")
    p.add_argument("--ngram", type=int, help="n-gram size in words (default 13, as in the GPT-3 and Llama 2 recipes)")
    p.add_argument("--min-overlap", type=float, help="flag at this share of an item's n-grams found (default 0.5)")
    p.add_argument("--min-similarity", type=float, help="flag at this cosine similarity (default 0.95)")
    p.add_argument("--no-similarity", action="store_true",
                   help="n-grams only: compute and compare no embeddings")
    p.add_argument("--json", action="store_true", help='print {"flagged", "by_benchmark", "items": [...]}')
    p.set_defaults(func=cmd_decontam_scan)
