"""The `workbench` commands of the review stage; workbench/cli.py adds them with this module's
add_*_commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.cli_common import print_json
from workbench.core.wording import plural
from workbench.export.cli import cmd_export
from workbench.safety.cli import cmd_pii_policy, cmd_pii_scan
from workbench.store import Store


def cmd_samples_import(args: argparse.Namespace, store: Store) -> int:
    from workbench.formats.sample_import import SampleImportError, import_samples

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
    pages = (store.samples.list_samples(status=status, source=args.source, include_filtered=args.include_filtered, limit=500,
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

    ids = store.queue.query_sample_ids(status="pending") if args.all_pending else args.ids
    missing = set(ids) - set(store.queue.query_sample_ids(ids=ids, status=None))
    if missing:
        print(f"no such samples: {', '.join(map(str, sorted(missing)))}; nothing was changed", file=sys.stderr)
        return 2
    status = {"approve": "approved", "reject": "rejected"}[args.review_command]
    changed = set_status(store, ids, status, args.note)
    print(f"{status} {plural(changed, 'sample')}")
    return 0


def add_review_commands(sub: argparse._SubParsersAction) -> None:
    """samples import|list, review approve|reject, pii scan|policy, export."""
    from workbench.export.engine import FORMATS
    from workbench.export.preference_pairs import POLICIES
    from workbench.export.verified_answer import ANSWERS
    from workbench.formats.reasoning_traces import STYLES
    from workbench.safety.pii import DEFAULT_ENTITIES, OPTIONAL_ENTITIES, PRESETS

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
