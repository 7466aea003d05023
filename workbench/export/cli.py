"""The `workbench export` command; workbench/cli.py adds it with this module's add_export_commands."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.queries.jobs import DONE, UNDER_WAY
from workbench.core.wording import plural
from workbench.store import Store

if TYPE_CHECKING:
    from workbench.export.preference_pairs import PairingSettings

def _wait_for_job(store: Store, job_id: int, db_path: Path) -> dict:
    """Run a queued job here when no worker serves the store, else wait for the worker to finish it."""
    from workbench.core.jobs.runner import run_here
    from workbench.core.jobs.worker import worker_alive

    if not worker_alive(db_path):
        run_here(store, job_id)
    while (job := store.jobs.get_job(job_id))["status"] in UNDER_WAY:
        time.sleep(0.5)
    return job


def pairing_from_args(args: argparse.Namespace, store: Store) -> PairingSettings:
    """The saved pairing settings with the command's overrides, saved when any is given (ValueError when invalid)."""
    from dataclasses import replace

    from workbench.export.preference_pairs import load_pairing, save_pairing

    overrides = {k: v for k, v in (("policy", args.pairing), ("max_per_task", args.max_pairs_per_task),
                                   ("step_pairs", False if args.no_step_pairs else None)) if v is not None}
    pairing = replace(load_pairing(store), **overrides)
    if overrides:
        save_pairing(store, pairing)
    return pairing


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    """The export job, as the page runs it: scan what was never scanned for PII, then write."""
    from workbench.core.env import export_dir
    from workbench.export.engine import ExportError, ExportOptions
    from workbench.export.job import submit_export
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
    unscanned = len(store.samples.pii_scan_candidates(only_unscanned=True, status=options.status))
    if unscanned:
        print(f"scanning {plural(unscanned, 'sample')} for PII before the export (job {job_id})", file=sys.stderr)
    job = _wait_for_job(store, job_id, args.db)
    result = job["result"] or {}
    if job["status"] != DONE or "error" in result:
        print(f"export refused: {result.get('error') or job['error'] or job['status']}", file=sys.stderr)
        return 2
    print(result["summary"])
    return 0
