"""The `workbench` commands of the review stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli_common import print_json
from workbench.core.wording import plural
from workbench.store import Store

if TYPE_CHECKING:
    from workbench.review.preference_pairs import PairingSettings


def cmd_samples_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.review.sample_import import SampleImportError, import_samples

    try:
        result = import_samples(store, args.file, args.file.name)
    except SampleImportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return 0


def cmd_samples_list(args: argparse.Namespace, store: Store) -> int:
    """Samples as one JSON array (streamed page by page), or one line each."""
    status = None if args.status == "all" else args.status
    pages = (store.list_samples(status=status, source=args.source, include_filtered=args.include_filtered, limit=500,
                                offset=offset) for offset in range(0, args.limit or 2**62, 500))
    shown = 0
    if args.json:
        print("[", end="")
    for page in pages:
        for sample in page[: (args.limit - shown) if args.limit else None]:
            sample.pop("text_hash", None)
            if args.json:
                print(("," if shown else "") + json.dumps(sample, ensure_ascii=False, default=str), end="")
            else:
                turns = f" [{plural(len(sample['turns']), 'turn')}]" if sample["turns"] else ""
                print(f"{sample['id']:>6}  {sample['source']:<7} {sample['status']:<9}{turns} {sample['instruction'][:90]!r}")
            shown += 1
        if len(page) < 500 or (args.limit and shown >= args.limit):
            break
    if args.json:
        print("]")
    return 0


def cmd_review(args: argparse.Namespace, store: Store) -> int:
    from workbench.review.decisions import set_status

    ids = store.query_sample_ids(status="pending") if args.all_pending else args.ids
    missing = set(ids) - set(store.query_sample_ids(ids=ids, status=None))
    if missing:
        print(f"no such samples: {', '.join(map(str, sorted(missing)))}; nothing was changed", file=sys.stderr)
        return 2
    status = {"approve": "approved", "reject": "rejected"}[args.review_command]
    changed = set_status(store, ids, status, args.note)
    print(f"{status} {plural(changed, 'sample')}")
    return 0


def cmd_pii_scan(args: argparse.Namespace, store: Store) -> int:
    from workbench.review.pii import scan_samples, shared_analyzer

    ids = store.pii_scan_candidates(only_unscanned=not args.all)
    if ids:
        analyzer = shared_analyzer()
        print(f"scanning {plural(len(ids), 'sample')} for PII ({analyzer.note})", file=sys.stderr)
        for start in range(0, len(ids), 200):
            scan_samples(store, ids[start : start + 200], analyzer)
    counts = store.pii_counts()
    print(f"{plural(counts['flagged'], 'sample')} flagged, {counts['clean']} clean, {counts['unscanned']} not scanned")
    return 0


def cmd_pii_policy(args: argparse.Namespace, store: Store) -> int:
    """Show the PII policy, or change it (which forgets every scan: samples are scanned again before export)."""
    from dataclasses import replace

    from workbench.review.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES, PiiPolicy, load_policy, save_policy

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


def _wait_for_job(store: Store, job_id: int, db_path: Path) -> dict:
    """Run a queued job here when no worker serves the store, else wait for the worker to finish it."""
    import os

    from workbench.core.jobs import run_job, worker_alive

    if not worker_alive(db_path) and (job := store.claim_job(job_id, os.getpid())) is not None:
        run_job(store, job)
    while (job := store.get_job(job_id))["status"] in ("queued", "running"):
        time.sleep(0.5)
    return job


def pairing_from_args(args: argparse.Namespace, store: Store) -> PairingSettings:
    """The saved pairing settings with the command's overrides, saved when any is given (ValueError when invalid)."""
    from dataclasses import replace

    from workbench.review.preference_pairs import load_pairing, save_pairing

    overrides = {k: v for k, v in (("policy", args.pairing), ("max_per_task", args.max_pairs_per_task),
                                   ("step_pairs", False if args.no_step_pairs else None)) if v is not None}
    pairing = replace(load_pairing(store), **overrides)
    if overrides:
        save_pairing(store, pairing)
    return pairing


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    """The export job, as the page runs it: scan what was never scanned for PII, then write."""
    from workbench.core.env import export_dir
    from workbench.review.export import ExportError, ExportOptions, submit_export
    from workbench.review.mix import NaturalDataError, load_natural_file

    try:
        natural = load_natural_file(args.mix_natural) if args.mix_natural else None
    except NaturalDataError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        pairing = pairing_from_args(args, store)
    except ValueError as exc:
        print(f"export refused: {exc}", file=sys.stderr)
        return 2
    options = ExportOptions(
        fmt=args.format, status=None if args.status == "all" else args.status, lineage=args.lineage,
        metrics=args.metrics, pii="redact" if args.redact_pii else "block", natural=natural,
        synthetic_ratio=args.synthetic_ratio, seed=args.seed, overwrite=args.overwrite, card=args.card,
        license=args.license, strip_calculator=args.strip_calculator_annotations,
        contaminated="allow" if args.allow_contaminated else "block", answer=args.answer,
        unverified="leave_out" if args.leave_out_unverified else "keep", trace=args.trace,
        trace_tags=tuple(args.think_tags) if args.think_tags else ExportOptions.trace_tags, pairing=asdict(pairing),
    )
    try:
        job_id = submit_export(store, options, args.out, args.export_dir or export_dir(), args.mix_natural)
    except ExportError as exc:
        print(f"export refused: {exc}", file=sys.stderr)
        return 2
    unscanned = len(store.pii_scan_candidates(only_unscanned=True, status=options.status))
    if unscanned:
        print(f"scanning {plural(unscanned, 'sample')} for PII before the export (job {job_id})", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    result = job["result"] or {}
    if job["status"] != "done" or "error" in result:
        print(f"export refused: {result.get('error') or job['error'] or job['status']}", file=sys.stderr)
        return 2
    print(result["summary"])
    return 0


def add_ship_commands(sub: argparse._SubParsersAction) -> None:
    """samples import|list, review approve|reject, pii scan|policy, export."""
    from workbench.review.export import FORMATS
    from workbench.review.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES, PRESETS
    from workbench.review.preference_pairs import POLICIES
    from workbench.review.reasoning_traces import STYLES
    from workbench.review.verified_answer import ANSWERS

    samples = sub.add_parser("samples", help="samples").add_subparsers(dest="samples_command", required=True)
    p = samples.add_parser("import", help="import samples: OpenAI messages, ShareGPT, Alpaca, TRL stepwise, PRM800K, "
                                          "ProcessBench, preference pairs (TRL DPO/KTO, LLaMA-Factory, OpenAI, "
                                          "chosen_messages) or our own exports (JSONL, JSON, CSV or Parquet; all or nothing)")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_samples_import)
    p = samples.add_parser("list", help="list samples (not the ones a filter dropped, unless --include-filtered)")
    p.add_argument("--status", choices=("pending", "approved", "rejected", "all"), default="all")
    p.add_argument("--source", choices=("seed", "evol", "magpie", "import"))
    p.add_argument("--include-filtered", action="store_true", help="also samples a filter dropped")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--json", action="store_true", help="one JSON array of sample objects")
    p.set_defaults(func=cmd_samples_list)

    review = sub.add_parser("review", help="approve or reject samples").add_subparsers(dest="review_command", required=True)
    for name in ("approve", "reject"):
        p = review.add_parser(name)
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--ids", type=int, nargs="+")
        which.add_argument("--all-pending", action="store_true")
        p.add_argument("--note")
        p.set_defaults(func=cmd_review)

    pii = sub.add_parser("pii", help="PII scanning").add_subparsers(dest="pii_command", required=True)
    p = pii.add_parser("scan", help="scan samples not yet scanned (or --all)")
    p.add_argument("--all", action="store_true", help="rescan every sample")
    p.set_defaults(func=cmd_pii_scan)
    p = pii.add_parser("policy", help="show or change what the scan looks for (a change forgets every scan)")
    entities = ", ".join((*DEFAULT_ENTITIES, *OPTIONAL_ENTITIES))
    p.add_argument("--add", nargs="+", metavar="ENTITY", help=f"entities to add (of {entities})")
    p.add_argument("--remove", nargs="+", metavar="ENTITY", help="entities to remove")
    p.add_argument("--reset", action="store_true", help="back to the default rules (then --add/--remove apply)")
    p.add_argument("--preset", choices=PRESETS, help="'records': identifiers always, a person's name only in a record about "
                                                    "that person (the default); 'strict': every person and place")
    p.add_argument("--person-min-words", type=int, help="a PERSON counts from this many name words (default 2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pii_policy)

    p = sub.add_parser("export", help="export samples (unscanned samples are scanned for PII first)")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, type=Path, help="file inside the export folder (relative paths go there)")
    p.add_argument("--export-dir", type=Path, help="the export folder (default: $WORKBENCH_EXPORT_DIR or the data dir)")
    p.add_argument("--status", choices=("approved", "all"), default="approved")
    p.add_argument("--redact-pii", action="store_true", help="redact PII instead of leaving flagged samples out")
    p.add_argument("--mix-natural", type=Path, help="natural dataset (JSONL, JSON, CSV or Parquet) to mix in")
    p.add_argument("--synthetic-ratio", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0, help="shuffle seed of the mix (recorded)")
    p.add_argument("--lineage", action="store_true", help="add lineage columns")
    p.add_argument("--metrics", action="store_true", help="add metric columns")
    p.add_argument("--strip-calculator-annotations", action="store_true",
                   help="remove GSM8K calculator annotations (<<48/2=24>>) from every exported text")
    p.add_argument("--allow-contaminated", action="store_true",
                   help="keep samples the decontamination scan matched to a benchmark item (left out by default)")
    p.add_argument("--answer", choices=ANSWERS, default="verified",
                   help="a chat row's assistant message: the reasoning path that passed the gate, else the sample's own "
                        "answer marked unverified (verified, the default); or the sample's own answer, verified only "
                        "when it is such a path (original)")
    p.add_argument("--leave-out-unverified", action="store_true",
                   help="leave out the samples whose answer no verifier checked (counted), instead of marking them")
    p.add_argument("--trace", choices=STYLES, help="write reasoning traces R1-style in the message (r1) or in "
                                                   "reasoning_content (separate); a verified path's steps before its "
                                                   "final answer are its trace")
    p.add_argument("--think-tags", nargs=2, metavar=("OPEN", "CLOSE"), help="the R1-style trace tags (default <think> </think>)")
    p.add_argument("--pairing", choices=POLICIES, help="preference layouts: the best passing path against each failing "
                                                        "path (default), against the worst, or every pair (saved)")
    p.add_argument("--max-pairs-per-task", type=int, help="preference layouts: at most this many pairs of each kind per "
                                                            "task (default 4; saved)")
    p.add_argument("--no-step-pairs", action="store_true", help="preference layouts: no Step-DPO step pairs (saved)")
    p.add_argument("--card", action="store_true", help="write the dataset card beside the file (out.jsonl -> out.README.md)")
    p.add_argument("--license", default="other", help="license named in the dataset card")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file (and its own card)")
    p.set_defaults(func=cmd_export)


def cmd_decontam_add(args: argparse.Namespace, store: Store) -> int:
    from workbench.review.benchmark_sets import BenchmarkError, register_benchmark_file

    try:
        benchmark = register_benchmark_file(store, args.file, args.field, args.name)
    except BenchmarkError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"registered benchmark '{benchmark.name}': {plural(benchmark.n_items, 'item')} from field "
          f"'{benchmark.field}' of {benchmark.file}; `workbench decontam scan` checks the seeds and samples against it")
    return 0


def cmd_decontam_list(args: argparse.Namespace, store: Store) -> int:
    benchmarks = store.list_benchmarks()
    if args.json:
        print_json(benchmarks)
    elif not benchmarks:
        print("no benchmark registered; add one with `workbench decontam add FILE --field question --name NAME`")
    for b in [] if args.json else benchmarks:
        print(f"{b['name']:<24} {plural(b['n_items'], 'item'):>12}  field '{b['field']}' of {b['file']}; "
              f"{plural(b['flagged'], 'seed or sample', 'seeds or samples')} flagged")
    return 0


def cmd_decontam_remove(args: argparse.Namespace, store: Store) -> int:
    if not store.delete_benchmark(args.name):
        print(f"no benchmark named '{args.name}'; nothing was removed", file=sys.stderr)
        return 2
    print(f"removed benchmark '{args.name}' and its hits")
    return 0


def cmd_decontam_scan(args: argparse.Namespace, store: Store) -> int:
    """The scan job, run here when no worker serves the store (else by the worker); then the hits."""
    from dataclasses import replace

    from workbench.review.decontam_job import contamination_report, load_settings, save_settings, submit_scan

    try:
        settings = replace(load_settings(store), **{k: v for k, v in (("ngram", args.ngram), ("min_overlap", args.min_overlap),
                                                                          ("min_similarity", args.min_similarity)) if v is not None})
        job_id = submit_scan(store, settings, similarity=not args.no_similarity)
    except ValueError as exc:
        print(f"scan refused: {exc}", file=sys.stderr)
        return 2
    save_settings(store, settings)
    print(f"scanning seeds and samples against {plural(len(store.list_benchmarks()), 'benchmark')} (job {job_id}; "
          f"{settings.ngram}-grams, overlap >= {settings.min_overlap:g}"
          + ("" if args.no_similarity else f", cosine >= {settings.min_similarity:g}") + ")", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    if job["status"] != "done":
        print(f"scan {job['status']}: {job['error'] or ''}".strip(), file=sys.stderr)
        return 1
    for error in store.unit_errors(job_id):
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
