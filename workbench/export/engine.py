"""Export reviewed samples: OpenAI chat, ShareGPT, Alpaca, TRL stepwise, PRM800K-style ratings, Parquet, and
preference pairs (TRL DPO and KTO, LLaMA-Factory's ShareGPT preference layout, OpenAI preference fine-tuning).

What ships is what was verified (workbench.export.verified_answer): a chat row's assistant message is the reasoning
path that passed the gate, or the sample's own answer marked unverified in the lineage (the user may ship the own
answers, or leave the unverified ones out). Preference rows are the gate's pairs and Step-DPO pairs
(workbench.export.preference_pairs) and the pairs imported with the samples. Reasoning traces can be written R1-style
or apart (workbench.formats.reasoning_traces).

Samples stream from the store in batches of ids (memory stays flat in N), are blocked or redacted for
PII, optionally stripped of GSM8K calculator annotations and mixed with natural data, written by the
format's writer (workbench.formats.sample_formats, the same module import reads with), and land in a
temporary file in the target folder that replaces the target only once complete (a crash leaves no
partial file). Targets must lie inside the export folder; an existing file is kept unless
overwrite=True. Each export is recorded in the `exports` / `export_items` tables.

Samples a format cannot hold are skipped and counted per reason (a stepwise format takes single-turn
samples whose every step is rated; Alpaca has no place for tool turns; a preference layout needs a pair); ShareGPT
and Alpaca drop a conversation's trailing user turn and count it.

The dataset card is one per export, named after the file: `approved.jsonl` gets `approved.README.md`
beside it (rename it README.md when the file is published alone on the Hugging Face Hub). A card that
belongs to another export's file is never overwritten.

The `export` job (page and CLI alike) first scans the samples the export takes that were never scanned
for PII, with progress, then writes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import yaml

from workbench.core.model_names import is_bundled_model
from workbench.core.wording import plural
from workbench.export import contamination as contamination_export
from workbench.export import dataset_card
from workbench.export.items import Item, PairCounts, build_items, natural_item
from workbench.export.options import BATCH_SIZE, ExportOptions
from workbench.export.preference_pairs import PairingSettings, load_pairing
from workbench.export.verified_answer import ANSWERS
from workbench.formats.reasoning_traces import STYLES, check_tags
from workbench.formats.sample_formats import FORMATS as LAYOUTS
from workbench.formats.sample_formats import NO_PAIR, SampleFormat, SampleRecord, Skip
from workbench.review.mix import MixPlan, mix_counts, plan_mix
from workbench.safety.pii import load_policy
from workbench.store import Store
from workbench.student.report import student_summary
from workbench.verify.calibration import human_label_summary

__all__ = ["BATCH_SIZE", "EXTENSIONS", "FORMATS", "ExportError", "ExportOptions", "ExportResult", "Item", "export", "preview_card"]

CHAT = ("openai", "sharegpt", "alpaca")
PREFERENCE = ("dpo", "dpo-conversational", "kto", "kto-conversational", "sharegpt-preference", "openai-preference")
FORMATS = (*CHAT, "trl-stepwise", "prm800k", "parquet", *PREFERENCE)
WRITERS: dict[str, SampleFormat] = {fmt: LAYOUTS["workbench" if fmt == "parquet" else fmt] for fmt in FORMATS}
STEPWISE = tuple(fmt for fmt, layout in WRITERS.items() if layout.stepwise)
EXTENSIONS = {fmt: ".parquet" if fmt == "parquet" else ".jsonl" for fmt in FORMATS}
CALCULATOR_ANNOTATION = re.compile(r"<<[^<>\n]*=[^<>\n]*>>")
CARD_SUFFIX = ".README.md"


class ExportError(Exception):
    """An export refused with a message for the user; nothing was written."""


def strip_calculator_annotations(text: str) -> str:
    """GSM8K's calculator annotations removed: "48/2 = <<48/2=24>>24 clips" -> "48/2 = 24 clips"."""
    return CALCULATOR_ANNOTATION.sub("", text)


@dataclass
class ExportResult:
    path: Path
    export_id: int
    written: int
    synthetic: int
    natural: int = 0
    blocked: int = 0
    redacted: int = 0
    contaminated: int = 0  # samples left out because they match a benchmark item
    skipped: Counter = field(default_factory=Counter)  # reason -> samples the format cannot hold
    trailing_user_dropped: int = 0
    seed: int | None = None
    card_path: Path | None = None
    card: str = ""
    sample_ids: array = field(default_factory=lambda: array("q"))
    verified: int = 0  # chat rows whose assistant message is a text that passed the gate
    unverified: Counter = field(default_factory=Counter)  # why -> chat rows shipped marked unverified
    left_unverified: Counter = field(default_factory=Counter)  # why -> samples left out as unverified (on request)
    pairs: PairCounts = field(default_factory=PairCounts)  # preference rows by kind, and pairs the gate did not make

    def summary(self) -> str:
        """One sentence for the page and the CLI."""
        kinds = [plural(n, f"{kind} row") for kind, n in sorted(self.pairs.made.items())]
        made = f" ({', '.join(kinds)})" if kinds else ""
        synthetic = plural(self.synthetic, "synthetic sample") if self.pairs.made else f"{self.synthetic:,} synthetic"
        text = (f"Wrote {plural(self.written, 'row')}{made} to {self.path}: {synthetic}"
                + (f" + {self.natural:,} natural (seed {self.seed})" if self.natural else "")
                + f"; {self.blocked:,} left out for PII, {self.redacted:,} redacted")
        if self.verified or self.unverified:
            text += f"; {self.verified:,} with an answer that passed the gate"
        if self.unverified:
            text += (f", {sum(self.unverified.values()):,} shipped unverified (so marked in the lineage: "
                     + ", ".join(f"{why} {n:,}" for why, n in self.unverified.most_common()) + ")")
        for why, n in self.left_unverified.most_common():
            text += f"; {n:,} left out as unverified: {why}"
        if self.contaminated:
            text += f"; {plural(self.contaminated, 'sample')} left out as matching a benchmark item"
        if self.trailing_user_dropped:
            text += f"; a trailing user turn dropped from {plural(self.trailing_user_dropped, 'conversation')}"
        for reason, count in self.skipped.most_common():
            text += f"; {count:,} skipped: {reason}"
        return text + "." + (f" Dataset card: {self.card_path.name}." if self.card_path else "")

    def to_dict(self) -> dict:
        return {"path": str(self.path), "export_id": self.export_id, "written": self.written, "synthetic": self.synthetic,
                "natural": self.natural, "blocked": self.blocked, "redacted": self.redacted,
                "contaminated": self.contaminated, "skipped": dict(self.skipped),
                "trailing_user_dropped": self.trailing_user_dropped, "seed": self.seed, "verified": self.verified,
                "unverified": dict(self.unverified), "left_unverified": dict(self.left_unverified),
                "pairs": dict(self.pairs.made), "pairs_not_made": dict(self.pairs.not_made),
                "card_path": str(self.card_path) if self.card_path else None, "summary": self.summary()}


# ---------------------------------------------------------------- paths and atomic writes


def resolve_target(out: str | Path, export_root: str | Path) -> Path:
    """The absolute target path; relative paths are taken inside the export folder, paths outside it are refused."""
    root = Path(export_root).expanduser().resolve()
    candidate = Path(out).expanduser()
    target = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if target == root or not target.is_relative_to(root):
        raise ExportError(f"{out} is outside the export folder {root}; choose a file name inside it, or set the folder "
                          "(WORKBENCH_EXPORT_DIR, or --export-dir on the command line)")
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name")
    return target


def card_path(target: Path) -> Path:
    """The dataset card of an export: `approved.jsonl` -> `approved.README.md` beside it."""
    return target.with_name(target.stem + CARD_SUFFIX)


def card_owner(card: Path) -> str | None:
    """The data file an existing card describes (its header's `configs.data_files`), or None if unreadable."""
    try:
        header = yaml.safe_load(card.read_text(encoding="utf-8").split("---\n", 2)[1])
        return header["configs"][0]["data_files"]
    except (OSError, IndexError, KeyError, TypeError, yaml.YAMLError):
        return None


def existing_targets(target: Path, card: bool) -> list[Path]:
    """The files an export would replace. Raises ExportError when the card belongs to another export."""
    existing = [target] if target.exists() else []
    if card and (path := card_path(target)).exists():
        owner = card_owner(path)
        if owner != target.name:
            raise ExportError(f"{path.name} is the dataset card of {owner or 'another file'}; name this export differently")
        existing.append(path)
    return existing


@contextmanager
def atomic_file(target: Path, mode: str = "w") -> Iterator[IO]:
    """A temporary file beside the target, moved over it with os.replace only when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- Parquet columns

LINEAGE_COLUMNS = {
    "sample_id": "int64", "source": "string", "seed_id": "int64", "node_id": "int64", "operators": "list", "depth": "int64",
    "path_id": "int64", "path": "string", "verifiers": "list", "decision": "string", "reviewer": "string",
    "decision_automatic": "bool", "teacher_model": "string",
    "teacher_params": "json", "job_id": "int64", "origin": "string", "file": "string", "row": "int64",
    "answer": "string", "verified": "bool", "unverified_reason": "string",
}


def parquet_schema(options: ExportOptions, metric_names: list[str]):
    import pyarrow as pa

    types = {"int64": pa.int64(), "string": pa.string(), "json": pa.string(), "list": pa.list_(pa.string()),
             "bool": pa.bool_()}
    message = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string()), pa.field("extra", pa.string())])
    fields = [
        pa.field("source", pa.string()), pa.field("instruction", pa.string()), pa.field("input", pa.string()),
        pa.field("output", pa.string()), pa.field("messages", pa.list_(message)), pa.field("tags", pa.list_(pa.string())),
        pa.field("steps", pa.list_(pa.string())), pa.field("step_ratings", pa.list_(pa.int8())), pa.field("tools", pa.string()),
    ]
    if options.lineage:
        fields += [pa.field(f"lineage_{name}", types[kind]) for name, kind in LINEAGE_COLUMNS.items()]
    if options.metrics:
        fields += [pa.field(f"metric_{name}", pa.float64()) for name in metric_names]
    return pa.schema(fields)


def parquet_row(row: dict, record: SampleRecord, metric_names: list[str]) -> dict:
    """The workbench layout's row with the lineage and metric columns flattened in."""
    if record.lineage is not None:
        for name, kind in LINEAGE_COLUMNS.items():
            value = record.lineage.get(name)
            row[f"lineage_{name}"] = json.dumps(value, sort_keys=True) if kind == "json" and value is not None else value
    if record.metrics is not None:
        row.update({f"metric_{name}": record.metrics.get(name) for name in metric_names})
    return row


# ---------------------------------------------------------------- the export


def _id_batches(ids: list[int] | array, size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _stream(store: Store, options: ExportOptions, ids: array, plan: MixPlan | None, counts: PairCounts) -> Iterator[list[Item]]:
    """Batches of items in output order."""
    for batch in _id_batches(plan.order if plan else ids, options.batch_size):
        wanted = [i for i in batch if i > 0]
        built = build_items(store, wanted, options, counts) if wanted else {}
        yield [item for i in batch for item in (built[i] if i > 0 else [natural_item(options.natural, -i - 1, options)])]


def check_options(options: ExportOptions) -> None:
    """Refuse options that cannot make an export (raises ExportError)."""
    if options.fmt not in FORMATS:
        raise ExportError(f"unknown format {options.fmt!r}; use one of {', '.join(FORMATS)}")
    if options.pii not in ("block", "redact"):
        raise ExportError("PII handling must be 'block' or 'redact'")
    if options.contaminated not in contamination_export.POLICIES:
        raise ExportError("benchmark-contaminated samples must be 'block'ed or 'allow'ed")
    if options.natural and options.fmt in STEPWISE:
        raise ExportError(f"{options.fmt} needs rated reasoning steps; natural rows have none, so it cannot be mixed")
    if options.natural and options.fmt in PREFERENCE:
        raise ExportError(f"{options.fmt} holds preference pairs; natural rows have none, so it cannot be mixed")
    if options.answer not in ANSWERS:
        raise ExportError(f"the answer to ship must be one of {', '.join(ANSWERS)}")
    if options.unverified not in ("keep", "leave_out"):
        raise ExportError("unverified answers must be kept ('keep', marked in the lineage) or left out ('leave_out')")
    if options.trace is not None and options.trace not in STYLES:
        raise ExportError(f"the reasoning trace style must be one of {', '.join(STYLES)} (or none)")
    if options.trace == "separate" and options.fmt in ("sharegpt", "alpaca", "dpo", "kto", "sharegpt-preference"):
        raise ExportError(f"{options.fmt} holds text only, so a trace cannot go in a field of its own: choose R1-style "
                          "traces (in the message, between tags) or a layout with messages")
    try:
        check_tags(options.trace_tags)
        PairingSettings(**options.pairing) if options.pairing else None
    except (ValueError, TypeError) as exc:
        raise ExportError(str(exc)) from exc
    if options.natural and not 0 < options.synthetic_ratio < 1:
        raise ExportError("the synthetic ratio must be between 0 and 1 (for example 0.3)")


def _check(store: Store, options: ExportOptions) -> dict[str, int]:
    check_options(options)
    counts = store.samples.pii_counts(options.status)
    if counts["unscanned"]:
        raise ExportError(
            f"{plural(counts['unscanned'], 'sample')} not scanned for PII yet; run the PII scan first "
            "(Review page, or `workbench pii scan`)"
        )
    return counts


def preview_card(store: Store, options: ExportOptions, file_name: str) -> str:
    """The dataset card an export with these options would write (counts estimated before skipping)."""
    counts = store.samples.pii_counts(options.status)
    available = counts["clean"] + (counts["flagged"] if options.pii == "redact" else 0)
    synthetic, natural = available, 0
    if options.natural:
        synthetic, natural = mix_counts(available, len(options.natural.rows), options.synthetic_ratio)
    candidates = array("q", store.samples.export_sample_ids(options.status, exclude_flagged=options.pii == "block"))
    kept, contaminated = contamination_export.without_contaminated(store, candidates)
    if options.contaminated == "block":
        synthetic -= len(contaminated)
    else:
        kept, contaminated = candidates, []
    decontamination = contamination_export.card_facts(store, options.contaminated, contaminated, kept)
    info = _card_info(store, options, file_name, synthetic, natural, counts["flagged"] if options.pii == "block" else 0, 0,
                      decontamination)
    return dataset_card.render(_card_facts(store, kept), info)


def _card_facts(store: Store, sample_ids: list[int] | array) -> dict:
    """store.export.dataset_facts of the exported samples, plus people's step labels on them (`human_labels`), the student
    (`student`: workbench.student.report.student_summary) and the bundled demo models among their teachers
    (`demonstration`: what they wrote is demonstration data)."""
    facts = store.export.dataset_facts(sample_ids)
    return {**facts, "human_labels": human_label_summary(store, list(sample_ids)), "student": student_summary(store),
            "demonstration": [row["model"] for row in facts["models"] if is_bundled_model(row["model"])]}


def _card_info(store: Store, options: ExportOptions, file_name: str, synthetic: int, natural: int, blocked: int,
               redacted: int, decontamination: dict | None = None, result: ExportResult | None = None) -> dataset_card.CardInfo:
    """What the export contributes to its card; `result` (None in a preview) brings what the written rows hold."""
    preference = WRITERS[options.fmt].preference
    pairing = PairingSettings(**options.pairing) if options.pairing else load_pairing(store)
    return dataset_card.CardInfo(
        fmt=options.fmt, file_name=file_name, written=result.written if result else synthetic + natural,
        synthetic=synthetic, natural=natural,
        answer=None if preference or options.fmt in STEPWISE else options.answer,
        verified=result.verified if result else None, unverified=dict(result.unverified) if result else {},
        left_unverified=dict(result.left_unverified) if result else {},
        pairs=dict(result.pairs.made) if result else {}, pairing=asdict(pairing) if preference else None,
        trace=options.trace, trace_tags=tuple(options.trace_tags), pii_policy=load_policy(store).describe(),
        natural_file=options.natural.name if options.natural else None, mix_seed=options.seed if options.natural else None,
        synthetic_ratio=options.synthetic_ratio if options.natural else None, status=options.status, pii=options.pii,
        blocked=blocked, redacted=redacted, license=options.license, pii_entities=list(load_policy(store).entities),
        calculator_annotations_stripped=options.strip_calculator, decontamination=decontamination,
    )


def export(store: Store, options: ExportOptions, out: str | Path, export_root: str | Path) -> ExportResult:
    """Write one export atomically inside export_root and record it. Raises ExportError on refusal."""
    target = resolve_target(out, export_root)
    existing = existing_targets(target, options.card)
    if existing and not options.overwrite:
        raise ExportError(f"{existing[0]} already exists; confirm overwriting it (overwrite=True, --overwrite)")
    counts = _check(store, options)
    ids = array("q", store.samples.export_sample_ids(options.status, exclude_flagged=options.pii == "block"))
    contaminated: list[int] = []
    if options.contaminated == "block":
        if missed := contamination_export.unchecked(store, ids):
            raise ExportError(
                f"{plural(missed, 'sample')} to export {'was' if missed == 1 else 'were'} not checked against the "
                "registered benchmarks (made or edited after the last decontamination scan, or never scanned): run the "
                "scan first (Decontamination page, or `workbench decontam scan`), or let unchecked and flagged samples "
                "through (the Export page's option, or --allow-contaminated)")
        ids, contaminated = contamination_export.without_contaminated(store, ids)
    plan = plan_mix(ids, len(options.natural.rows), options.synthetic_ratio, options.seed) if options.natural else None
    metric_names = store.metrics.sample_metric_names() if options.metrics else []
    writer = WRITERS[options.fmt]
    result = ExportResult(path=target, export_id=0, written=0, synthetic=0, seed=options.seed if plan else None,
                          blocked=counts["flagged"] if options.pii == "block" else 0, contaminated=len(contaminated))

    def rows(items: list[Item]) -> Iterator[tuple[dict, SampleRecord]]:
        written = written_rows(items)
        yield from grouped_rows(written, writer) if writer.preference else written

    def written_rows(items: list[Item]) -> Iterator[tuple[dict, SampleRecord]]:
        for item in items:
            shipped = item.shipped
            if shipped is not None and not shipped.verified and options.unverified == "leave_out":
                result.left_unverified[shipped.category] += 1
                continue
            record = item.record.map_texts(strip_calculator_annotations) if options.strip_calculator else item.record
            try:
                row, dropped = writer.write_row(record)
            except Skip as reason:
                result.skipped[str(reason)] += 1
                continue
            result.trailing_user_dropped += dropped
            result.redacted += item.redacted
            result.written += 1
            result.natural += item.sample_id is None
            if shipped is not None:
                result.verified += shipped.verified
                if not shipped.verified:
                    result.unverified[shipped.category] += 1
            if item.sample_id is not None and (not result.sample_ids or result.sample_ids[-1] != item.sample_id):
                result.sample_ids.append(item.sample_id)
            yield row, record

    def finished() -> None:  # raised inside the atomic block: no empty file is left behind
        if result.pairs.samples_without:
            result.skipped[NO_PAIR] = result.pairs.samples_without
        if result.written == 0:
            reasons = "".join(f", and {n:,} skipped: {reason}" for reason, n in result.skipped.most_common())
            if contaminated:
                reasons += (f" ({plural(len(contaminated), 'other')} left out as matching a benchmark item; "
                            "let them through with the export's decontamination option)")
            raise ExportError(f"nothing to export: {plural(len(ids), (options.status or 'eligible') + ' sample')}{reasons}")

    if options.fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = parquet_schema(options, metric_names)
        with atomic_file(target, "wb") as handle, pq.ParquetWriter(handle, schema) as parquet:
            for items in _stream(store, options, ids, plan, result.pairs):
                written = [parquet_row(row, record, metric_names) for row, record in rows(items)]
                if written:
                    parquet.write_table(pa.Table.from_pylist(written, schema=schema))
            finished()
    else:
        with atomic_file(target) as handle:
            for items in _stream(store, options, ids, plan, result.pairs):
                handle.writelines(json.dumps(_with_extras(row, record), ensure_ascii=False) + "\n" for row, record in rows(items))
            finished()

    result.synthetic = len(result.sample_ids)
    decontamination = contamination_export.card_facts(store, options.contaminated, contaminated, result.sample_ids)
    info = _card_info(store, options, target.name, result.synthetic, result.natural, result.blocked, result.redacted,
                      decontamination, result)
    result.card = dataset_card.render(_card_facts(store, result.sample_ids), info)
    if options.card:
        result.card_path = card_path(target)
        with atomic_file(result.card_path) as handle:
            handle.write(result.card)
    recorded = {**options.recorded(), "synthetic": result.synthetic, "natural": result.natural, "blocked": result.blocked,
                "redacted": result.redacted, "contaminated": result.contaminated, "skipped": dict(result.skipped),
                "trailing_user_dropped": result.trailing_user_dropped, "card": str(result.card_path or "")}
    result.export_id = store.export.record_export(options.fmt, str(target), recorded, result.sample_ids)
    return result


def grouped_rows(rows: Iterator[tuple[dict, SampleRecord]], layout: SampleFormat) -> Iterator[tuple[dict, SampleRecord]]:
    """Preference rows with the rows that import into the same sample (the same prompt and chosen reply, as the
    layout writes them) next to each other, in order of first appearance: the order an import gives back, so that
    a re-export is byte-identical (within a batch of samples)."""
    from workbench.formats.sample_import import unit_key

    groups: dict[tuple, list[tuple[dict, SampleRecord]]] = {}
    for row, record in rows:
        read = layout.read(row)
        groups.setdefault(unit_key(read), []).append((row, record))
    for group in groups.values():
        yield from group


def _with_extras(row: dict, record: SampleRecord) -> dict:
    """A JSONL row with our lineage and metrics objects when the export asked for them."""
    if record.lineage is not None:
        row["lineage"] = record.lineage
    if record.metrics is not None:
        row["metrics"] = record.metrics
    return row
